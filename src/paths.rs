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

/// The seed data inside an origin directory.
pub fn seed_file(origin_dir: &Path) -> PathBuf {
    origin_dir.join("data").join("cards.json")
}

/// The embedded store's file, where `serve` keeps likes.
pub fn default_store_file() -> PathBuf {
    PathBuf::from(".edgekit").join("cards.json")
}
