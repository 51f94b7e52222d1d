//! The Python host's in-place walk of an event dict: the first byte picks the trigger (and how the
//! event is made odd), the rest is JSON that Python's `json` turns into the dict (or list, or
//! string...) the handler is given, as Lambda's runtime does. Then, by the first byte, the event
//! may be given Python types JSON cannot make (tuples, bytes, subclasses of dict and str, floats
//! for integers). The module runs Alien Cards; a bad event is a ValueError or RuntimeError, never
//! a Rust panic (PyO3 would raise it as PanicException).
#![no_main]

use std::sync::OnceLock;

use edgekit_fuzz::{TRIGGERS, registry, root};
use libfuzzer_sys::fuzz_target;
use pyo3::prelude::*;
use pyo3::types::PyModule;

/// Python's own types where JSON has others: `odd(value, how)`.
const ODD: &std::ffi::CStr = c"
class D(dict):
    pass

class S(str):
    pass

def odd(value, how):
    if isinstance(value, dict):
        items = {k: odd(v, how) for k, v in value.items()}
        return D(items) if how == 3 else items
    if isinstance(value, list):
        items = [odd(v, how) for v in value]
        return tuple(items) if how == 1 else items
    if isinstance(value, str):
        return value.encode() if how == 2 else S(value) if how == 4 else value
    if isinstance(value, int) and not isinstance(value, bool) and how == 5:
        return float(value)
    return value
";

/// The `edgekit` module made in this process with the library's blocks, Python's `json`, and
/// `odd`.
type Harness = (Py<PyModule>, Py<PyModule>, Py<PyAny>);

fn module() -> &'static Harness {
    static MODULE: OnceLock<Harness> = OnceLock::new();
    MODULE.get_or_init(|| {
        // The package the module reads: the declaration as `package` writes it, and the config.
        let dir = std::env::temp_dir().join(format!("edgekit-fuzz-python-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        let declaration = edge_functions::site::read_checked(
            &root().join("cloudfront/alien-cards.site.toml"),
            registry(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.join("site.json"), declaration.to_json()).expect("written");
        let config = serde_json::json!({
            "site": "site.json",
            "templates": root().join("origin-site/templates"),
        });
        std::fs::write(dir.join("edgekit.json"), config.to_string()).expect("written");
        // SAFETY: set once, before the interpreter or any other thread of this process starts.
        unsafe { std::env::set_var("EDGEKIT_CONFIG", dir.join("edgekit.json")) };
        Python::initialize();
        Python::attach(|py| {
            let module = PyModule::new(py, "edgekit").expect("a module");
            python_host::init(&module, edge_functions::site::Registry::builtin)
                .expect("the handlers");
            let json = py.import("json").expect("json");
            let odd = PyModule::from_code(py, ODD, c"odd.py", c"odd")
                .and_then(|m| m.getattr("odd"))
                .expect("odd");
            (module.unbind(), json.unbind(), odd.unbind())
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, json)) = data.split_first() else {
        return;
    };
    let trigger = TRIGGERS[selector as usize % TRIGGERS.len()];
    let how = (selector as usize / TRIGGERS.len()) % 6;
    let (module, json_module, odd) = module();
    Python::attach(|py| {
        let Ok(event) = json_module.bind(py).call_method1("loads", (json,)) else {
            return;
        };
        let event = if how == 0 {
            event
        } else {
            match odd.bind(py).call1((event, how)) {
                Ok(event) => event,
                // Nested deeper than Python's recursion limit.
                Err(_) => return,
            }
        };
        let handler = trigger.to_string().replace('-', "_");
        let answered = module
            .bind(py)
            .call_method1(handler.as_str(), (event, py.None()));
        if let Err(error) = answered
            && error.is_instance_of::<pyo3::panic::PanicException>(py)
        {
            panic!("the module panicked on a {trigger} event: {error}");
        }
    });
});
