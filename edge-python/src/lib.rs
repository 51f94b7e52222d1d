//! The `edgekit` Python module with the library's blocks: what `edgekit package` builds and
//! ships. The host itself is `python-host`; a team with blocks of its own builds a module like
//! this one with its registry (examples/team-block/module).

use pyo3::prelude::*;

#[pymodule]
fn edgekit(m: &Bound<'_, PyModule>) -> PyResult<()> {
    python_host::init(m, edge_functions::site::Registry::builtin)
}
