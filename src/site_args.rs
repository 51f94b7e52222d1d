//! Which site declaration a command works on.

use std::path::{Path, PathBuf};

use cloudfront::DistributionConfig;
use edge_functions::EventType;

/// The declaration that the config's function for `trigger` names (the first such function),
/// or, when no function has that trigger, the one the config's functions share.
pub fn site_of(
    config: &DistributionConfig,
    config_path: &Path,
    trigger: EventType,
) -> Result<PathBuf, String> {
    let base = config_path.parent().unwrap_or(Path::new("."));
    let functions: Vec<_> = config.functions.iter().map(|f| f.get_ref()).collect();
    let function = functions
        .iter()
        .find(|f| f.trigger == trigger)
        .or(functions.first())
        .ok_or_else(|| {
            format!(
                "{} has no [[functions]], so there is no site to run: give --site FILE",
                config_path.display()
            )
        })?;
    Ok(cloudfront::distribution::site_file(base, &function.site))
}

/// The declaration the config's functions run, when they all run one; with several, the user
/// says which.
#[cfg(feature = "dynamodb")]
pub fn any_site_of(config: &DistributionConfig, config_path: &Path) -> Result<PathBuf, String> {
    let base = config_path.parent().unwrap_or(Path::new("."));
    let mut sites: Vec<&str> = config
        .functions
        .iter()
        .map(|f| f.get_ref().site.as_str())
        .collect();
    sites.sort();
    sites.dedup();
    match sites.as_slice() {
        [site] => Ok(cloudfront::distribution::site_file(base, site)),
        [] => Err(format!(
            "{} has no [[functions]], so there is no site: give --site FILE",
            config_path.display()
        )),
        several => Err(format!(
            "{} runs {} sites ({}): give --site FILE",
            config_path.display(),
            several.len(),
            several.join(", ")
        )),
    }
}
