//! The golden test: every fixture of every example site (Alien Cards in `tests/fixtures/`,
//! Northwind Docs in `examples/docs-site/fixtures/`) run through the real command line, its
//! stdout, stderr and exit code compared with `<case>.expected`.
//!
//! Layout:
//! - `<fixtures>/<trigger>/<case>.json`: `edgekit invoke <trigger> --event <case>.json` (with the
//!   site's config), with `--items <case>.data.json` when that file exists;
//! - `tests/fixtures/validate/<trigger>/<case>.event.json` + `<case>.result.json`:
//!   `edgekit validate <trigger> --event … --result …`.
//!
//! On a mismatch the test prints a unified diff. `BLESS=1 cargo test --test golden` rewrites the
//! expected files from what the tool now prints; review the diff before committing.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const TRIGGERS: [&str; 4] = [
    "viewer-request",
    "origin-request",
    "origin-response",
    "viewer-response",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures() -> PathBuf {
    root().join("tests").join("fixtures")
}

/// One case: the command's arguments and where its expected output lives.
struct Case {
    name: String,
    args: Vec<String>,
    expected: PathBuf,
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// An example site's fixtures: a name for its cases, their folder, and what points `invoke` at
/// the site (its distribution config and origin).
struct SiteFixtures {
    prefix: &'static str,
    dir: PathBuf,
    args: Vec<String>,
}

fn sites() -> Vec<SiteFixtures> {
    let docs = root().join("examples/docs-site");
    vec![
        SiteFixtures {
            prefix: "",
            dir: fixtures(),
            args: vec![
                "--origin-dir".to_owned(),
                root().join("origin-site").display().to_string(),
            ],
        },
        SiteFixtures {
            prefix: "catalogue-site/",
            dir: root().join("examples/catalogue-site/fixtures"),
            args: vec![
                "--config".to_owned(),
                root()
                    .join("examples/catalogue-site/distribution.toml")
                    .display()
                    .to_string(),
                "--origin-dir".to_owned(),
                root()
                    .join("examples/catalogue-site/origin")
                    .display()
                    .to_string(),
            ],
        },
        SiteFixtures {
            prefix: "docs-site/",
            dir: docs.join("fixtures"),
            args: vec![
                "--config".to_owned(),
                docs.join("distribution.toml").display().to_string(),
                "--origin-dir".to_owned(),
                docs.join("origin").display().to_string(),
            ],
        },
    ]
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    // An embedded store that does not exist: `invoke` then reads the seed data, so the golden
    // output never depends on likes a developer clicked locally.
    let store = std::env::temp_dir().join("edgekit-golden-no-store");
    for site in sites() {
        cases.extend(site_cases(&site, &store));
    }
    cases
}

fn site_cases(site: &SiteFixtures, store: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    for trigger in TRIGGERS {
        for event in json_files(&site.dir.join(trigger)) {
            let file = event.file_name().unwrap().to_string_lossy().into_owned();
            if file.ends_with(".data.json") {
                continue;
            }
            let stem = file.trim_end_matches(".json");
            let mut args = vec![
                "invoke".to_owned(),
                trigger.to_owned(),
                "--event".to_owned(),
                event.display().to_string(),
                "--store".to_owned(),
                store.display().to_string(),
            ];
            args.extend(site.args.iter().cloned());
            let data = event.with_file_name(format!("{stem}.data.json"));
            if data.exists() {
                args.extend(["--items".to_owned(), data.display().to_string()]);
            }
            cases.push(Case {
                name: format!("{}{trigger}/{stem}", site.prefix),
                args,
                expected: event.with_file_name(format!("{stem}.expected")),
            });
        }
        let validate_dir = site.dir.join("validate").join(trigger);
        for event in json_files(&validate_dir) {
            let file = event.file_name().unwrap().to_string_lossy().into_owned();
            let Some(stem) = file.strip_suffix(".event.json") else {
                continue;
            };
            cases.push(Case {
                name: format!("{}validate/{trigger}/{stem}", site.prefix),
                args: vec![
                    "validate".to_owned(),
                    trigger.to_owned(),
                    "--event".to_owned(),
                    event.display().to_string(),
                    "--result".to_owned(),
                    event
                        .with_file_name(format!("{stem}.result.json"))
                        .display()
                        .to_string(),
                ],
                expected: event.with_file_name(format!("{stem}.expected")),
            });
        }
    }
    cases
}

/// What the command printed, with the checkout's path replaced so the files are portable.
fn run(case: &Case) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_edgekit"))
        .args(&case.args)
        .output()
        .expect("the edgekit binary runs");
    let root = root().display().to_string();
    let tmp = std::env::temp_dir().display().to_string();
    let clean = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .replace(&root, "<repo>")
            .replace(&tmp, "<tmp>")
    };
    format!(
        "# exit: {}\n# stderr:\n{}# stdout:\n{}",
        output.status.code().unwrap_or(-1),
        clean(&output.stderr),
        clean(&output.stdout)
    )
}

#[test]
fn every_fixture_gives_its_expected_output() {
    let bless = std::env::var_os("BLESS").is_some_and(|v| v != "0");
    let cases = cases();
    assert!(
        cases.len() >= 20,
        "expected the fixture set, found {} cases",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let actual = run(case);
        let expected = fs::read_to_string(&case.expected).unwrap_or_default();
        if actual == expected {
            continue;
        }
        if bless {
            fs::write(&case.expected, &actual).expect("write the expected file");
            eprintln!("blessed {}", case.name);
            continue;
        }
        let diff = similar::TextDiff::from_lines(&expected, &actual)
            .unified_diff()
            .context_radius(3)
            .header("expected", "actual")
            .to_string();
        failures.push(format!(
            "── {} ({}) ──\n{diff}",
            case.name,
            case.expected.display()
        ));
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures differ (re-bless with BLESS=1 once the change is intended):\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Every fixture event survives a round trip exactly: parse → serialize gives the same JSON
/// (unknown fields included), and parsing that again gives an equal event.
#[test]
fn every_fixture_event_round_trips() {
    let mut checked = 0;
    let mut dirs = Vec::new();
    for site in sites() {
        dirs.extend(TRIGGERS.iter().map(|t| site.dir.join(t)));
        dirs.extend(TRIGGERS.iter().map(|t| site.dir.join("validate").join(t)));
    }
    for dir in dirs {
        for file in json_files(&dir) {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".data.json") || name.ends_with(".result.json") {
                continue;
            }
            let bytes = fs::read(&file).unwrap();
            // The malformed fixtures are there to be refused; they have nothing to round-trip.
            let Ok(event) = edge_functions::event::parse_event(&bytes) else {
                continue;
            };
            let written = serde_json::to_value(&event).unwrap();
            let original: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(
                written,
                original,
                "{} changes in a round trip",
                file.display()
            );
            let again = edge_functions::event::parse_event(written.to_string().as_bytes()).unwrap();
            assert_eq!(
                again,
                event,
                "{} parses differently the second time",
                file.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} fixture events round-tripped");
}
