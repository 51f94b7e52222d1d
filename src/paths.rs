//! Where the tool finds the site: the origin directory and the embedded store.

use std::path::{Path, PathBuf};

/// The origin directory a distribution config serves its S3 origin from (`local_dir`, relative
/// to the config), if it has one.
pub fn origin_dir_of(
    config: &cloudfront::DistributionConfig,
    config_path: &Path,
) -> Option<PathBuf> {
    let dir = config
        .origins
        .iter()
        .map(|o| o.get_ref())
        .find(|o| o.kind == cloudfront::config::OriginKind::S3)
        .and_then(|o| o.local_dir.clone())?;
    Some(if dir.is_absolute() {
        dir
    } else {
        config_path.parent().unwrap_or(Path::new(".")).join(dir)
    })
}

/// The embedded store's directory, where `serve` keeps each table in `<table_name>.json`.
pub fn default_store_dir() -> PathBuf {
    PathBuf::from(".edgekit")
}
