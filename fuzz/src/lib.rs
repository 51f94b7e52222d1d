//! What the fuzz targets share: the example sites, loaded once each, with their items (in
//! memory) and templates, and Alien Cards' local distribution.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, RwLock};

use edge_functions::EventType;
use edge_functions::data::{DirTemplates, EmbeddedStore, MemoryStore};
use edge_functions::function::EdgeFunctions;
use edge_functions::site::Registry;

pub const TRIGGERS: [EventType; 4] = [
    EventType::ViewerRequest,
    EventType::OriginRequest,
    EventType::OriginResponse,
    EventType::ViewerResponse,
];

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("fuzz/ is in the repository")
        .to_owned()
}

pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::builtin)
}

/// An example site's functions with what they read.
pub struct ExampleSite {
    pub functions: EdgeFunctions,
    pub store: MemoryStore,
    pub templates: DirTemplates,
}

fn example(declaration: &str, templates: &str) -> ExampleSite {
    let declaration = root().join(declaration);
    let site = edge_functions::site::load_file(&declaration, registry(), None)
        .unwrap_or_else(|e| panic!("{e}"));
    // A folder that does not exist: every table comes from its items file.
    let store = EmbeddedStore::snapshot(
        Path::new("/nonexistent-edgekit-fuzz"),
        &site.seeded_tables(&declaration),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    ExampleSite {
        functions: site.functions,
        store,
        templates: DirTemplates::new(root().join(templates)),
    }
}

/// Alien Cards, Northwind Docs and the Catalogue (which has no templates).
pub fn sites() -> &'static [ExampleSite] {
    static SITES: OnceLock<Vec<ExampleSite>> = OnceLock::new();
    SITES.get_or_init(|| {
        vec![
            example("cloudfront/alien-cards.site.toml", "origin-site/templates"),
            example(
                "examples/docs-site/docs.site.toml",
                "examples/docs-site/origin/templates",
            ),
            example(
                "examples/catalogue-site/catalogue.site.toml",
                "examples/catalogue-site/origin/templates",
            ),
        ]
    })
}

/// Alien Cards' local distribution (`cloudfront/distribution.toml`), its items in memory.
pub fn distribution() -> cloudfront::server::Shared {
    static DISTRIBUTION: OnceLock<cloudfront::server::Shared> = OnceLock::new();
    DISTRIBUTION
        .get_or_init(|| {
            let path = root().join("cloudfront/distribution.toml");
            let config =
                cloudfront::DistributionConfig::load(&path).unwrap_or_else(|e| panic!("{e}"));
            let loaded = cloudfront::distribution::load_sites(&config, &path, registry(), None)
                .unwrap_or_else(|e| panic!("{e}"));
            let tables = loaded.all_tables().unwrap_or_else(|e| panic!("{e}"));
            let store = EmbeddedStore::snapshot(Path::new("/nonexistent-edgekit-fuzz"), &tables)
                .unwrap_or_else(|e| panic!("{e}"));
            let data = cloudfront::DataSources {
                store: Arc::new(store),
                templates: Arc::new(DirTemplates::new(root().join("origin-site/templates"))),
                caller: Arc::new(edge_functions::data::NoCalls(
                    "fuzzing makes no network calls",
                )),
            };
            let distribution = cloudfront::Distribution::new(
                config,
                &loaded.sites,
                data,
                &root().join("cloudfront"),
                8 << 20,
            )
            .unwrap_or_else(|e| panic!("{e}"));
            Arc::new(RwLock::new(Arc::new(distribution)))
        })
        .clone()
}

/// Splits `data` at its first NUL byte (the part after it may be empty).
pub fn split_at_nul(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}
