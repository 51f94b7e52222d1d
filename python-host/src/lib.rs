//! The generic Lambda@Edge host, a CPython extension module, `edgekit`: each trigger's function
//! is a Lambda handler itself (`edgekit.viewer_request(event, context)`), so the package needs
//! no Python code. Which functions: the site's declaration beside the module, as `edgekit package`
//! checked and wrote it (`site.json`).
//!
//! Lambda@Edge has no environment variables, so configuration (the tables' replicas per region,
//! where the templates are; the tables themselves are the site's) is `edgekit.json` beside the
//! module (`package`), read once, on the first event. `EDGEKIT_CONFIG` may name another file, for
//! local tests.
//!
//! Events are handled in place (`in_place`): the headers a function reads are copied out, its
//! edits written back into the dict. Origin-request events (they carry the origin, which their
//! function may change) and events whose function needs data cross as JSON into the typed model,
//! the same code path as `invoke`. That route is in origin packages only (feature
//! `typed-route`), so viewer packages stay small.

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: allocator::MiMalloc = allocator::MiMalloc;

#[cfg(feature = "mimalloc")]
mod allocator;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use edge_functions::EventType;
#[cfg(feature = "typed-route")]
use edge_functions::data::{DirTemplates, ItemStore, KeptTemplates};
use edge_functions::function::EdgeFunctions;
use edge_functions::site::Declaration;
use package::PackageConfig;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

pub(crate) struct Host {
    pub(crate) functions: EdgeFunctions,
    /// The triggers whose function this build cannot run (a viewer package lacks the page
    /// blocks), and why.
    missing: Vec<(EventType, String)>,
    #[cfg(feature = "typed-route")]
    store: LazyStore,
    #[cfg(feature = "typed-route")]
    templates: KeptTemplates<DirTemplates>,
}

/// The item store, built on the first event whose function reads data: building the DynamoDB
/// client (its runtime, its TLS trust store) took 4.5 ms of a new instance's first answer, which
/// an event that reads nothing (a stylesheet, a redirect) need not wait for.
#[cfg(feature = "typed-route")]
struct LazyStore {
    config: edge_functions::data::StoreConfig,
    built: OnceLock<Result<Box<dyn ItemStore>, String>>,
}

#[cfg(feature = "typed-route")]
impl LazyStore {
    fn get(&self) -> Result<&dyn ItemStore, String> {
        match self.built.get_or_init(|| store(&self.config)) {
            Ok(store) => Ok(store.as_ref()),
            Err(why) => Err(format!("its item store cannot be built: {why}")),
        }
    }
}

static HOST: OnceLock<Result<Host, String>> = OnceLock::new();

/// Makes the registry the site's declaration is read with: the library's blocks, unless the
/// module was built by a team's crate with its own (`init`).
static REGISTRY: OnceLock<fn() -> edge_functions::site::Registry> = OnceLock::new();

/// A store for packages built without a DynamoDB client: every query fails cleanly, so a page
/// function answers its 503 page rather than crashing.
#[cfg(all(feature = "typed-route", not(feature = "dynamodb")))]
mod no_store {
    use edge_functions::data::{DataError, Item, ItemStore, Table};

    pub struct NoStore;

    fn unavailable() -> DataError {
        DataError::Unavailable("this package has no item store".into())
    }

    impl ItemStore for NoStore {
        fn get(&self, _: &Table, _: &str) -> Result<Option<Item>, DataError> {
            Err(unavailable())
        }
        fn scan(&self, _: &Table) -> Result<Vec<Item>, DataError> {
            Err(unavailable())
        }
        fn add(&self, _: &Table, _: &str, _: &str, _: i64) -> Result<Option<Item>, DataError> {
            Err(unavailable())
        }
    }
}

fn config_path(py: Python<'_>) -> PyResult<PathBuf> {
    if let Some(path) = std::env::var_os("EDGEKIT_CONFIG") {
        return Ok(PathBuf::from(path));
    }
    let module = py.import("edgekit")?;
    let file: String = module.getattr("__file__")?.extract()?;
    Ok(Path::new(&file).with_file_name("edgekit.json"))
}

fn load_host(config: PackageConfig, declaration: Declaration) -> Result<Host, String> {
    let registry = REGISTRY
        .get()
        .map(|make| make())
        .unwrap_or_else(edge_functions::site::Registry::builtin);
    let (functions, missing) = edge_functions::site::build_each_trigger(&declaration, &registry)
        .map_err(|e| {
            format!(
                "{}: {e} (it was checked when it was packaged: was it packaged with other blocks?)",
                config.site.display()
            )
        })?;
    Ok(Host {
        functions,
        missing: missing
            .into_iter()
            .map(|(trigger, e)| (trigger, e.to_string()))
            .collect(),
        #[cfg(feature = "typed-route")]
        store: LazyStore {
            config: config.store.clone(),
            built: OnceLock::new(),
        },
        #[cfg(feature = "typed-route")]
        templates: KeptTemplates::new(DirTemplates::new(config.templates.clone())),
    })
}

#[cfg(feature = "dynamodb")]
fn store(config: &edge_functions::data::StoreConfig) -> Result<Box<dyn ItemStore>, String> {
    use edge_functions::data::dynamodb::{DynamoConfig, DynamoStore};
    // Lambda sets AWS_REGION to the Region the replica of the function runs in.
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
    let replicas = config.replicas_for(&region);
    Ok(Box::new(DynamoStore::connect(DynamoConfig::new(replicas))?))
}

#[cfg(all(feature = "typed-route", not(feature = "dynamodb")))]
fn store(_: &edge_functions::data::StoreConfig) -> Result<Box<dyn ItemStore>, String> {
    Ok(Box::new(no_store::NoStore))
}

pub(crate) fn host(py: Python<'_>) -> PyResult<&'static Host> {
    if HOST.get().is_none() {
        let path = config_path(py)?;
        let loaded = package::read_config(py, &path).and_then(|config| {
            let declaration = package::read_declaration(py, &config.site)?;
            py.detach(|| load_host(config, declaration))
        });
        let _ = HOST.set(loaded);
    }
    match HOST.get() {
        Some(Ok(host)) => Ok(host),
        Some(Err(message)) => Err(PyRuntimeError::new_err(format!(
            "edgekit is not configured: {message}"
        ))),
        None => Err(PyRuntimeError::new_err("edgekit is not configured")),
    }
}

/// Runs one trigger's function on a Lambda@Edge event dict and returns the result dict: in place
/// when it can, else through the typed model.
fn handle(py: Python<'_>, trigger: EventType, event: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    // Only a trigger without a function can be one this build could not make (per event, the
    // common case costs one boolean).
    let host = host(py)?;
    if !host.functions.has(trigger)
        && let Some((_, why)) = host.missing.iter().find(|(t, _)| *t == trigger)
    {
        let package = if cfg!(feature = "typed-route") {
            ""
        } else {
            "; this is a viewer-trigger package: attach the origin package to origin triggers"
        };
        return Err(PyRuntimeError::new_err(format!(
            "this package cannot run the site's {trigger} function: {why}{package}"
        )));
    }
    match in_place::handle(py, trigger, event)? {
        Some(result) => Ok(result),
        None => typed_route::handle(py, trigger, event),
    }
}

/// The event as JSON into the typed model and the result back, with the data its function needs.
#[cfg(feature = "typed-route")]
mod typed_route {
    use super::*;
    use edge_functions::data::Supplied;
    use edge_functions::runner;
    use pyo3::exceptions::PyValueError;
    use pyo3::sync::PyOnceLock;
    use pyo3::types::PyModule;

    static JSON: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

    fn json(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
        Ok(JSON
            .get_or_try_init(py, || py.import("json").map(|m| m.unbind()))?
            .bind(py))
    }

    pub(crate) fn handle(
        py: Python<'_>,
        trigger: EventType,
        event: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let host = host(py)?;
        let json = json(py)?;
        let text: String = json.call_method1("dumps", (event,))?.extract()?;
        let cf = runner::read_event(trigger, text.as_bytes())
            .map_err(|e| PyValueError::new_err(format!("bad {trigger} event: {e}")))?;
        let needs = host.functions.needs(trigger, &cf);
        // Building the store may block on its first connection: let other threads run.
        let result = py.detach(|| {
            let data = if needs.is_empty() {
                Supplied::default()
            } else {
                Supplied::fetch(&needs, host.store.get()?, &host.templates, &calls::CALLER)
            };
            host.functions
                .run_owned(trigger, cf, &data)
                .map_err(|e| e.to_string())
        });
        let result = result
            .map_err(|e| PyRuntimeError::new_err(format!("the {trigger} function failed: {e}")))?;
        let out = serde_json::to_string(&result).map_err(|e| {
            PyRuntimeError::new_err(format!("the {trigger} result cannot be written: {e}"))
        })?;
        Ok(json.call_method1("loads", (out,))?.unbind())
    }
}

/// A viewer package has no typed route: the events that need it are not viewer events.
#[cfg(not(feature = "typed-route"))]
mod typed_route {
    use super::*;

    pub(crate) fn handle(
        _py: Python<'_>,
        trigger: EventType,
        _event: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        Err(PyRuntimeError::new_err(format!(
            "this is a viewer-trigger package: it cannot run {trigger} events (origin-request \
             events, and events whose function reads data); attach the origin package to origin \
             triggers"
        )))
    }
}

#[cfg(feature = "calls")]
mod calls;
/// A module built without `calls` answers a call as an outage (no block of its own makes one).
#[cfg(not(feature = "calls"))]
mod calls {
    use edge_functions::data::{Call, CallError, NoCalls, Supplied};

    const WHY: &str = "this module was built without python-host's `calls`";

    #[cfg_attr(not(feature = "typed-route"), allow(dead_code))]
    pub(crate) static CALLER: NoCalls = NoCalls(WHY);

    pub(crate) fn supply(_: pyo3::Python<'_>, calls: &[Call]) -> Supplied {
        Supplied {
            calls: calls
                .iter()
                .map(|c| (c.clone(), Err(CallError::NotAvailable(WHY.into()))))
                .collect(),
            ..Default::default()
        }
    }
}
mod in_place;
mod package;

/// The viewer-request handler: `handler(event, context)`.
#[pyfunction]
#[pyo3(signature = (event, context=None))]
fn viewer_request(
    py: Python<'_>,
    event: &Bound<'_, PyAny>,
    context: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let _ = context;
    handle(py, EventType::ViewerRequest, event)
}

/// The origin-request handler.
#[pyfunction]
#[pyo3(signature = (event, context=None))]
fn origin_request(
    py: Python<'_>,
    event: &Bound<'_, PyAny>,
    context: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let _ = context;
    handle(py, EventType::OriginRequest, event)
}

/// The origin-response handler.
#[pyfunction]
#[pyo3(signature = (event, context=None))]
fn origin_response(
    py: Python<'_>,
    event: &Bound<'_, PyAny>,
    context: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let _ = context;
    handle(py, EventType::OriginResponse, event)
}

/// The viewer-response handler.
#[pyfunction]
#[pyo3(signature = (event, context=None))]
fn viewer_response(
    py: Python<'_>,
    event: &Bound<'_, PyAny>,
    context: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let _ = context;
    handle(py, EventType::ViewerResponse, event)
}

/// Fills a module with the four handlers, whose site is read with `registry`'s blocks. A module
/// crate (edge-python, or a team's) calls it from its own `#[pymodule]` named `edgekit`, so the
/// handler strings stay `edgekit.<trigger>`:
///
/// ```ignore
/// #[pymodule]
/// fn edgekit(m: &Bound<'_, PyModule>) -> PyResult<()> {
///     python_host::init(m, || Registry::builtin().register::<MyBlock>())
/// }
/// ```
pub fn init(
    m: &Bound<'_, PyModule>,
    registry: fn() -> edge_functions::site::Registry,
) -> PyResult<()> {
    // One module per process: a second init keeps the first registry.
    let _ = REGISTRY.set(registry);
    m.add_function(wrap_pyfunction!(viewer_request, m)?)?;
    m.add_function(wrap_pyfunction!(origin_request, m)?)?;
    m.add_function(wrap_pyfunction!(origin_response, m)?)?;
    m.add_function(wrap_pyfunction!(viewer_response, m)?)?;
    Ok(())
}
