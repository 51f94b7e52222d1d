//! The `edgekit` Python module with the team's `noindex-hosts` registered beside the library's
//! blocks. `edgekit package --module target/.../libteam_block_module.so` ships it; the handler
//! strings stay `edgekit.<trigger>`.

use edge_functions::site::Registry;
use pyo3::prelude::*;

fn registry() -> Registry {
    Registry::builtin().register::<team_block_example::NoindexHosts>()
}

#[pymodule]
fn edgekit(m: &Bound<'_, PyModule>) -> PyResult<()> {
    python_host::init(m, registry)
}
