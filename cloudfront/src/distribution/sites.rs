//! The site declarations a config's functions run: loaded once each, their tables, and the
//! check of what their origin functions read against each behavior's policies.

use super::*;

/// The functions of each site declaration the config's functions name, by the name as written.
pub type Sites = HashMap<String, Arc<EdgeFunctions>>;

/// Where a function's site declaration is: its `site`, relative to the config's directory.
pub fn site_file(base_dir: &std::path::Path, site: &str) -> std::path::PathBuf {
    base_dir.join(site)
}

/// The sites a config's functions run, and what the check of their reads against the
/// behaviors' policies warns about.
pub struct LoadedSites {
    pub sites: Sites,
    /// Each site's tables, by the config's `site` (the items files resolved).
    pub tables: HashMap<String, Vec<edge_functions::data::SeededTable>>,
    pub warnings: Vec<String>,
}

impl LoadedSites {
    /// Every table of every site, once each (two sites may share a table: the same name must be
    /// the same table).
    pub fn all_tables(&self) -> Result<Vec<edge_functions::data::SeededTable>, String> {
        let mut all: std::collections::BTreeMap<String, edge_functions::data::SeededTable> =
            std::collections::BTreeMap::new();
        let mut sites: Vec<&String> = self.tables.keys().collect();
        sites.sort();
        for site in sites {
            for table in &self.tables[site] {
                match all.get(&table.spec.table_name) {
                    Some(kept) if kept.spec.key != table.spec.key => {
                        return Err(format!(
                            "table {} has key {} in one site and {} in {site}",
                            table.spec.table_name, kept.spec.key, table.spec.key
                        ));
                    }
                    Some(_) => {}
                    None => {
                        all.insert(table.spec.table_name.clone(), table.clone());
                    }
                }
            }
        }
        Ok(all.into_values().collect())
    }
}

/// Loads every site declaration the config's functions name (each once), with the blocks of
/// `registry`, and checks what their origin functions read against each behavior's policies.
/// A declaration with a mistake is refused with its `file:line`; a function that would cache one
/// visitor's answer for others is refused; a read no policy gives is a warning.
pub fn load_sites(
    config: &DistributionConfig,
    config_path: &std::path::Path,
    registry: &edge_functions::site::Registry,
    prepare: Option<&dyn edge_functions::site::Prepare>,
) -> Result<LoadedSites, String> {
    let base_dir = config_path.parent().unwrap_or(std::path::Path::new("."));
    let mut sites = Sites::new();
    let mut tables = HashMap::new();
    for function in config.functions.iter().map(|f| f.get_ref()) {
        if sites.contains_key(&function.site) {
            continue;
        }
        let path = site_file(base_dir, &function.site);
        // Served: blocks complete their settings (a sign-in block's keys) as a package would.
        let site = match prepare {
            Some(with) => edge_functions::site::load_file_prepared(&path, registry, with),
            None => edge_functions::site::load_file(&path, registry, None),
        }
        .map_err(|e| e.to_string())?;
        tables.insert(function.site.clone(), site.seeded_tables(&path));
        sites.insert(function.site.clone(), Arc::new(site.functions));
    }
    let (refused, warned) =
        crate::policy_check::messages(&crate::policy_check::check(config, &sites));
    let at = |message: String| format!("{}: {message}", config_path.display());
    if !refused.is_empty() {
        return Err(refused.into_iter().map(at).collect::<Vec<_>>().join("\n"));
    }
    let warnings = warned.into_iter().map(at).collect();
    let loaded = LoadedSites {
        sites,
        tables,
        warnings,
    };
    loaded.all_tables()?;
    Ok(loaded)
}

/// The sign-in blocks of the sites the config's functions name, each with the URLs its user
/// pool's app client must list (`template` outputs them for the distribution).
pub fn app_client_urls(
    config: &DistributionConfig,
    config_path: &std::path::Path,
    registry: &edge_functions::site::Registry,
) -> Result<Vec<edge_functions::blocks::sign_in::AppClientUrls>, String> {
    let base_dir = config_path.parent().unwrap_or(std::path::Path::new("."));
    let mut read = std::collections::BTreeSet::new();
    let mut urls = Vec::new();
    for function in config.functions.iter().map(|f| f.get_ref()) {
        if read.insert(function.site.clone()) {
            let file = site_file(base_dir, &function.site);
            let declaration =
                edge_functions::site::read_checked(&file, registry).map_err(|e| e.to_string())?;
            urls.extend(edge_functions::blocks::sign_in::app_client_urls(
                &declaration,
            ));
        }
    }
    Ok(urls)
}
