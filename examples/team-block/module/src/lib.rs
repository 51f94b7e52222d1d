//! The `edgekit` Python module with the team's blocks registered beside the library's.
//! `edgekit package --module target/.../libteam_block_module.so` ships it; the handler strings
//! stay `edgekit.<trigger>`. Built as it is here, it is a viewer package's module; an origin
//! package's needs python-host's `pages` and `dynamodb` features too.

use pyo3::prelude::*;

#[pymodule]
fn edgekit(m: &Bound<'_, PyModule>) -> PyResult<()> {
    python_host::init(m, team_block_example::registry)
}
