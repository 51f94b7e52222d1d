//! The fixture events the host parity tests replay, for each example site ([`Site`]): those whose
//! expected output does not depend on items ([`data_free`]: no `.data.json`, no query in the
//! expected stderr), and those that do ([`with_cards`]), which the tests replay against a table
//! seeded with the same items.

#![allow(dead_code)] // each test crate uses its part

use std::path::{Path, PathBuf};

pub const TRIGGERS: [&str; 4] = [
    "viewer-request",
    "origin-request",
    "origin-response",
    "viewer-response",
];

/// An example site whose fixtures the hosts replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub fixtures: PathBuf,
    pub declaration: PathBuf,
    pub config: PathBuf,
    pub templates: PathBuf,
    /// The items file of its one table (`None`: a site without data).
    pub items: Option<PathBuf>,
    /// The DynamoDB name its declaration gives that table.
    pub table_name: &'static str,
}

pub fn alien_cards() -> Site {
    Site {
        fixtures: root().join("tests/fixtures"),
        declaration: root().join("cloudfront/alien-cards.site.toml"),
        config: root().join("cloudfront/distribution.toml"),
        templates: root().join("origin-site/templates"),
        items: Some(root().join("origin-site/data/cards.json")),
        table_name: "alien-cards",
    }
}

pub fn docs_site() -> Site {
    let dir = root().join("examples/docs-site");
    Site {
        fixtures: dir.join("fixtures"),
        declaration: dir.join("docs.site.toml"),
        config: dir.join("distribution.toml"),
        templates: dir.join("origin/templates"),
        items: Some(dir.join("origin/data/articles.json")),
        table_name: "northwind-docs-articles",
    }
}

/// The Catalogue: the blocks the other two examples have no use for. It reads no data.
pub fn catalogue_site() -> Site {
    let dir = root().join("examples/catalogue-site");
    Site {
        fixtures: dir.join("fixtures"),
        declaration: dir.join("catalogue.site.toml"),
        config: dir.join("distribution.toml"),
        templates: dir.join("origin/templates"),
        items: None,
        table_name: "",
    }
}

/// The declaration as a package carries it (`site.json`, written by the same code as `edgekit
/// package`), in a file of its own: what the Python module and the bootstrap read.
pub fn packaged(declaration: &Path) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let checked =
        edge_functions::site::read_checked(declaration, &edge_functions::site::Registry::builtin())
            .unwrap_or_else(|e| panic!("{e}"));
    let file = std::env::temp_dir().join(format!(
        "edgekit-site-{}-{}.json",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::write(&file, checked.to_json()).unwrap();
    file
}

pub fn sites() -> [Site; 3] {
    [alien_cards(), docs_site(), catalogue_site()]
}

fn all(site: &Site, trigger: &str) -> Vec<Case> {
    let dir = site.fixtures.join(trigger);
    if !dir.is_dir() {
        return Vec::new();
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && !p.to_string_lossy().ends_with(".data.json")
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let expected = std::fs::read_to_string(file.with_extension("expected")).unwrap();
            let data = file.with_file_name(format!(
                "{}.data.json",
                file.file_stem().unwrap().to_string_lossy()
            ));
            let reads_cards = ["\ndata: get ", "\ndata: list ", "\ndata: add "]
                .iter()
                .any(|d| expected.contains(d));
            Case {
                cards: (data.exists() || reads_cards).then(|| {
                    if data.exists() {
                        data
                    } else {
                        site.items.clone().expect("its items file: it reads items")
                    }
                }),
                file,
                expected,
                site: site.clone(),
            }
        })
        .collect()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One fixture: its event, the cards its expected output was made with (`None`: it reads no
/// cards), and the expected output of `invoke`.
#[derive(Clone)]
pub struct Case {
    pub file: PathBuf,
    pub cards: Option<PathBuf>,
    pub expected: String,
    pub site: Site,
}

impl Case {
    /// `invoke`'s exit code.
    pub fn exit(&self) -> i32 {
        self.expected
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# exit: "))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("{}: no exit line", self.file.display()))
    }

    /// What `invoke` printed as the result.
    pub fn result(&self) -> serde_json::Value {
        let stdout = self.expected.split("# stdout:\n").nth(1).unwrap_or("");
        serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{}: {e}", self.file.display()))
    }

    /// The file name without `.json`, as the fixture is called.
    pub fn name(&self) -> String {
        self.file
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }
}

/// The fixtures of `trigger` of `site` that read no items, in name order.
pub fn data_free(site: &Site, trigger: &str) -> Vec<Case> {
    all(site, trigger)
        .into_iter()
        .filter(|c| c.cards.is_none())
        .collect()
}

/// [`data_free`] for every site and trigger, with the trigger.
pub fn all_data_free() -> Vec<(&'static str, Case)> {
    sites()
        .iter()
        .flat_map(|site| {
            TRIGGERS
                .iter()
                .flat_map(move |t| data_free(site, t).into_iter().map(move |c| (*t, c)))
        })
        .collect()
}

/// The fixtures of `trigger` whose result depends on card data and that `invoke` answers (those
/// it refuses test its reading of a broken cards file, not a host).
pub fn with_cards(site: &Site, trigger: &str) -> Vec<Case> {
    all(site, trigger)
        .into_iter()
        .filter(|c| c.cards.is_some() && c.exit() == 0)
        .collect()
}

/// [`with_cards`] for every site and trigger, with the trigger.
pub fn all_with_cards() -> Vec<(&'static str, Case)> {
    sites()
        .iter()
        .flat_map(|site| {
            TRIGGERS
                .iter()
                .flat_map(move |t| with_cards(site, t).into_iter().map(move |c| (*t, c)))
        })
        .collect()
}

/// The cards the site ships with.
pub fn site_cards() -> PathBuf {
    root().join("origin-site/data/cards.json")
}

/// A table of its own for one test: its DynamoDB name, and the site's declaration with its table
/// renamed to it (in the temporary folder; the hosts read the table's name from it).
pub struct TestTable {
    pub name: String,
    pub site: PathBuf,
}

impl Drop for TestTable {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.site);
    }
}

/// A new table for `site` on the test DynamoDB server, in `region` (the server keeps tables per
/// region), holding `cards`, seeded through the CLI as a user would.
pub fn seed_table(
    site: &Site,
    endpoint: &str,
    region: &str,
    cards: &Path,
    prefix: &str,
) -> TestTable {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let name = format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let declaration = std::fs::read_to_string(&site.declaration).unwrap().replace(
        &format!("table_name = {:?}", site.table_name),
        &format!("table_name = {name:?}"),
    );
    let declaration_file = std::env::temp_dir().join(format!("{name}.site.toml"));
    std::fs::write(&declaration_file, declaration).unwrap();
    let seeded = std::process::Command::new(env!("CARGO_BIN_EXE_edgekit"))
        .args(["seed", "--endpoint", endpoint, "--region", region, "--site"])
        .arg(&declaration_file)
        .arg("--items")
        .arg(cards)
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        seeded.status.success(),
        "seed: {}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    TestTable {
        name,
        site: declaration_file,
    }
}
