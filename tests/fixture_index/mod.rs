//! The fixture events the host parity tests replay: those whose expected output does not depend
//! on card data ([`data_free`]: no `.data.json`, no card query in the expected stderr), and those
//! that do ([`with_cards`]), which the tests replay against a table seeded with the same cards.

#![allow(dead_code)] // each test crate uses its part

use std::path::{Path, PathBuf};

pub const TRIGGERS: [&str; 4] = [
    "viewer-request",
    "origin-request",
    "origin-response",
    "viewer-response",
];

fn all(trigger: &str) -> Vec<Case> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(trigger);
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
                cards: (data.exists() || reads_cards)
                    .then(|| if data.exists() { data } else { site_cards() }),
                file,
                expected,
            }
        })
        .collect()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One fixture: its event, the cards its expected output was made with (`None`: it reads no
/// cards), and the expected output of `invoke`.
pub struct Case {
    pub file: PathBuf,
    pub cards: Option<PathBuf>,
    pub expected: String,
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

/// The fixtures of `trigger` that read no cards, in name order.
pub fn data_free(trigger: &str) -> Vec<Case> {
    all(trigger)
        .into_iter()
        .filter(|c| c.cards.is_none())
        .collect()
}

/// [`data_free`] for every trigger, with the trigger.
pub fn all_data_free() -> Vec<(&'static str, Case)> {
    TRIGGERS
        .iter()
        .flat_map(|t| data_free(t).into_iter().map(move |c| (*t, c)))
        .collect()
}

/// The fixtures of `trigger` whose result depends on card data and that `invoke` answers (those
/// it refuses test its reading of a broken cards file, not a host).
pub fn with_cards(trigger: &str) -> Vec<Case> {
    all(trigger)
        .into_iter()
        .filter(|c| c.cards.is_some() && c.exit() == 0)
        .collect()
}

/// [`with_cards`] for every trigger, with the trigger.
pub fn all_with_cards() -> Vec<(&'static str, Case)> {
    TRIGGERS
        .iter()
        .flat_map(|t| with_cards(t).into_iter().map(move |c| (*t, c)))
        .collect()
}

/// The cards the site ships with.
pub fn site_cards() -> PathBuf {
    root().join("origin-site/data/cards.json")
}

/// A table of its own for one test: its DynamoDB name, and the Alien Cards declaration with its
/// cards table renamed to it (in the temporary folder; the hosts read the table's name from it).
pub struct TestTable {
    pub name: String,
    pub site: PathBuf,
}

impl Drop for TestTable {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.site);
    }
}

/// A new table on the test DynamoDB server, in `region` (the server keeps tables per region),
/// holding `cards`, seeded through the CLI as a user would.
pub fn seed_table(endpoint: &str, region: &str, cards: &Path, prefix: &str) -> TestTable {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let name = format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let declaration = std::fs::read_to_string(root().join("cloudfront/alien-cards.site.toml"))
        .unwrap()
        .replace(
            "table_name = \"alien-cards\"",
            &format!("table_name = {name:?}"),
        );
    let site = std::env::temp_dir().join(format!("{name}.site.toml"));
    std::fs::write(&site, declaration).unwrap();
    let seeded = std::process::Command::new(env!("CARGO_BIN_EXE_edgekit"))
        .args(["seed", "--endpoint", endpoint, "--region", region, "--site"])
        .arg(&site)
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
    TestTable { name, site }
}
