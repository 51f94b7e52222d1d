//! Where the tool finds the site: the origin directory and the embedded store.

use std::path::{Path, PathBuf};

/// The origin directory: `./origin-site` when run from a checkout, else the one beside the
/// sources this binary was built from.
pub fn default_origin_dir() -> PathBuf {
    let local = PathBuf::from("origin-site");
    if local.is_dir() {
        local
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("origin-site")
    }
}

/// The embedded store's directory, where `serve` keeps each table in `<table_name>.json`.
pub fn default_store_dir() -> PathBuf {
    PathBuf::from(".edgekit")
}
