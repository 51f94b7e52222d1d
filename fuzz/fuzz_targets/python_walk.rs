//! The Python host's in-place walk of an event dict: the first byte picks the trigger, the rest is
//! JSON that Python's `json` turns into the dict (or list, or string...) the handler is given, as
//! Lambda's runtime does. The module runs Alien Cards; a bad event is a ValueError or
//! RuntimeError, never a Rust panic (PyO3 would raise it as PanicException).
#![no_main]

use std::sync::OnceLock;

use edgekit_fuzz::{TRIGGERS, registry, root};
use libfuzzer_sys::fuzz_target;
use pyo3::prelude::*;
use pyo3::types::PyModule;

/// The `edgekit` module, made in this process with the library's blocks, and Python's `json`.
fn module() -> &'static (Py<PyModule>, Py<PyModule>) {
    static MODULE: OnceLock<(Py<PyModule>, Py<PyModule>)> = OnceLock::new();
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
            (module.unbind(), json.unbind())
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, json)) = data.split_first() else {
        return;
    };
    let trigger = TRIGGERS[selector as usize % TRIGGERS.len()];
    let (module, json_module) = module();
    Python::attach(|py| {
        let Ok(event) = json_module.bind(py).call_method1("loads", (json,)) else {
            return;
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
