//! Sites as declarations on the command line: `blocks` prints the reference, `invoke --site` runs
//! any declaration, and a declaration with a mistake is refused with its `file:line`.

use std::path::PathBuf;
use std::process::{Command, Output};

fn edgekit(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_edgekit"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the edgekit binary runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("edgekit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_block_reference_lists_every_block_with_settings_and_example() {
    let output = edgekit(&["blocks".as_ref()]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for name in [
        "normalize",
        "redirects",
        "pretty-urls",
        "experiment",
        "security-headers",
        "default-cache-control",
        "device-assets",
        "page",
        "counter-api",
        "friendly-errors",
        "country-redirect",
    ] {
        assert!(
            text.contains(&format!("\n{name}\n  runs on: ")),
            "{name} is in the reference"
        );
        assert!(
            text.contains(&format!("    block = \"{name}\"\n")),
            "{name}"
        );
    }
    assert!(text.contains("  settings: rules, status, keep_query, permanent_max_age_secs\n"));

    let one = edgekit(&["blocks".as_ref(), "redirects".as_ref()]);
    assert!(one.status.success());
    assert!(
        String::from_utf8_lossy(&one.stdout).starts_with("redirects\n  runs on: viewer-request\n")
    );
    let unknown = edgekit(&["blocks".as_ref(), "redirect".as_ref()]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no block `redirect`"));
}

/// A small site of a team's own, written in a temporary folder: no Rust.
const DOCS_SITE: &str = r#"name = "docs"

[functions]
viewer-request = ["old-links", "guide", "security"]
origin-response = ["security"]

[blocks.old-links]
block = "redirects"
status = 301
rules = [{ prefix = "/old/", to = "/docs/" }]

[blocks.guide]
block = "pretty-urls"
routes = { "/guide" = "/guide/index.html" }

[blocks.security]
block = "security-headers"
preset = "strict-same-origin"
headers = { "Content-Security-Policy" = "default-src 'self'; img-src 'self' https://cdn.example.com" }
"#;

#[test]
fn invoke_runs_any_declaration_and_refuses_a_broken_one_with_its_line() {
    let dir = scratch("cli-site");
    let site = dir.join("docs.site.toml");
    std::fs::write(&site, DOCS_SITE).unwrap();
    let event = dir.join("event.json");
    let made = edgekit(&[
        "event".as_ref(),
        "viewer-request".as_ref(),
        "--uri".as_ref(),
        "/old/intro".as_ref(),
    ]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    std::fs::write(&event, &made.stdout).unwrap();
    let invoke = |site: &std::path::Path| {
        edgekit(&[
            "invoke".as_ref(),
            "viewer-request".as_ref(),
            "--site".as_ref(),
            site.as_os_str(),
            "--event".as_ref(),
            event.as_os_str(),
        ])
    };
    let output = invoke(&site);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result["status"], "301");
    assert_eq!(result["headers"]["location"][0]["value"], "/docs/intro");
    assert!(
        result["headers"]["content-security-policy"][0]["value"]
            .as_str()
            .unwrap()
            .contains("https://cdn.example.com")
    );

    std::fs::write(&site, DOCS_SITE.replace("status = 301", "stattus = 301")).unwrap();
    let output = invoke(&site);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("docs.site.toml:9: block `old-links` (redirects)")
            && stderr.contains("stattus"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A function that reads a cookie the origin request policy forwards but the cache key leaves
/// out would cache one visitor's page for everyone: `serve` refuses the config, saying so.
#[test]
fn a_read_outside_the_cache_key_is_refused() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = scratch("cache-key");
    std::fs::copy(
        root.join("cloudfront/alien-cards.site.toml"),
        dir.join("alien-cards.site.toml"),
    )
    .unwrap();
    let shipped = std::fs::read_to_string(root.join("cloudfront/distribution.toml")).unwrap();
    let local_dir = root.join("origin-site");
    let config = shipped
        .replace(
            "local_dir = \"../origin-site\"",
            &format!("local_dir = {:?}", local_dir.display().to_string()),
        )
        // The home page's cache key without the liked cookie, which the api policy forwards.
        .replacen("cookies = [\"liked\"]", "cookies = []", 1)
        .replacen(
            "path_pattern = \"/\"\norigin = \"alien-cards-s3\"\ncache_policy = \"home\"",
            "path_pattern = \"/\"\norigin = \"alien-cards-s3\"\ncache_policy = \"home\"\norigin_request_policy = \"api\"",
            1,
        );
    assert_ne!(config, shipped);
    let config_file = dir.join("distribution.toml");
    std::fs::write(&config_file, config).unwrap();
    let output = edgekit(&[
        "serve".as_ref(),
        "--port".as_ref(),
        "0".as_ref(),
        "--config".as_ref(),
        config_file.as_os_str(),
        "--store".as_ref(),
        dir.join("store").as_os_str(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("behavior `/`: the origin-request function `alien-cards-origin-request` reads cookie liked")
            && stderr.contains("cache key"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn hash_password_reads_stdin_and_its_hash_opens_a_basic_auth_block() {
    use std::io::Write;
    let hash_of = |password: &str, args: &[&str]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_edgekit"))
            .arg("hash-password")
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(password.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = hash_of("open sesame\n", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hash = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(hash.starts_with("pbkdf2-sha256$10000$"), "{hash}");
    assert!(!hash.contains("open sesame"));
    let parsed = edge_functions::blocks::basic_auth::PasswordHash::parse(&hash).unwrap();
    assert!(
        parsed.verify("open sesame"),
        "the newline is not part of it"
    );
    assert!(!parsed.verify("open sesame\n"));
    // A new salt each time.
    let again = hash_of("open sesame", &[]);
    assert_ne!(String::from_utf8(again.stdout).unwrap().trim(), hash);
    // Nonsense is refused with a reason.
    let empty = hash_of("", &[]);
    assert_eq!(empty.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&empty.stderr).contains("empty"));
    let weak = hash_of("x", &["--iterations", "10"]);
    assert_eq!(weak.status.code(), Some(2));
}
