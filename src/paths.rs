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

/// The origin directory: the config's S3 origin's `local_dir`, else `./origin-site`.
pub fn origin_dir(config_path: &Path) -> PathBuf {
    cloudfront::DistributionConfig::load(config_path)
        .ok()
        .and_then(|config| origin_dir_of(&config, config_path))
        .unwrap_or_else(|| PathBuf::from("origin-site"))
}

/// The embedded store's directory, where `serve` keeps each table in `<table_name>.json`.
pub fn default_store_dir() -> PathBuf {
    PathBuf::from(".edgekit")
}
