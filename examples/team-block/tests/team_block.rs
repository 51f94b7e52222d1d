//! The team's block through the tool built with it: listed in the reference, run by `invoke` on
//! a declaration, and refused by the library's own tool, which does not have it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn here() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn team_edge(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_team-edge"))
        .args(args)
        .output()
        .expect("team-edge runs")
}

fn event(dir: &Path, host: &str) -> PathBuf {
    let made = team_edge(&[
        "event".as_ref(),
        "viewer-response".as_ref(),
        "--uri".as_ref(),
        "/docs/intro".as_ref(),
        "--header".as_ref(),
        format!("Host: {host}").as_ref(),
        "--status".as_ref(),
        "200".as_ref(),
    ]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let file = dir.join(format!("{host}.json"));
    std::fs::write(&file, made.stdout).unwrap();
    file
}

#[test]
fn the_team_block_is_in_the_reference_and_runs_from_a_declaration() {
    let reference = team_edge(&["blocks".as_ref(), "noindex-hosts".as_ref()]);
    assert!(reference.status.success());
    let text = String::from_utf8_lossy(&reference.stdout);
    assert!(
        text.starts_with("noindex-hosts\n  runs on: viewer-response\n"),
        "{text}"
    );
    assert!(text.contains("settings: hosts, value"), "{text}");

    let dir = std::env::temp_dir().join(format!("team-block-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let site = here().join("site.toml");
    for (host, tagged) in [
        ("staging.docs.example.com", true),
        ("docs.example.com", false),
    ] {
        let output = team_edge(&[
            "invoke".as_ref(),
            "viewer-response".as_ref(),
            "--site".as_ref(),
            site.as_os_str(),
            "--event".as_ref(),
            event(&dir, host).as_os_str(),
        ]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            result["headers"]["x-robots-tag"][0]["value"].as_str(),
            tagged.then_some("noindex, nofollow"),
            "{host}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The team's block in the Python module built with it, as Lambda@Edge runs it.
#[test]
fn the_team_block_runs_in_the_python_module_built_with_it() {
    let Ok(module) = std::env::var("TEAM_EDGEKIT_MODULE") else {
        eprintln!(
            "SKIPPED: TEAM_EDGEKIT_MODULE is not set (scripts/test builds team-block-module and sets it)"
        );
        return;
    };
    let dir = std::env::temp_dir().join(format!("team-block-python-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(
        std::fs::canonicalize(&module).unwrap(),
        dir.join("edgekit.abi3.so"),
    )
    .unwrap();
    // The declaration as the team's package carries it, written by the team's tool.
    let checked = Command::new(env!("CARGO_BIN_EXE_team-edge"))
        .args(["check", "--site"])
        .arg(here().join("site.toml"))
        .arg("--out")
        .arg(dir.join("site.json"))
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "check: {}",
        String::from_utf8_lossy(&checked.stderr)
    );
    std::fs::write(dir.join("edgekit.json"), r#"{"site": "site.json"}"#).unwrap();
    let script = r#"
import json, sys
sys.path.insert(0, sys.argv[1])
import edgekit
def event(host):
    return {"Records": [{"cf": {"config": {"distributionDomainName": "d.cloudfront.net", "distributionId": "E1", "eventType": "viewer-response", "requestId": "r"},
        "request": {"clientIp": "203.0.113.10", "method": "GET", "uri": "/docs/intro", "querystring": "", "headers": {"host": [{"key": "Host", "value": host}]}},
        "response": {"status": "200", "statusDescription": "OK", "headers": {}}}}]}
print(json.dumps({h: edgekit.viewer_response(event(h), None) for h in ["staging.docs.example.com", "docs.example.com"]}))
"#;
    let output = Command::new("python3")
        .args(["-c", script])
        .arg(&dir)
        .env_remove("EDGEKIT_CONFIG")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "python: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        out["staging.docs.example.com"]["headers"]["x-robots-tag"][0]["value"],
        "noindex, nofollow"
    );
    assert!(
        out["docs.example.com"]["headers"]
            .get("x-robots-tag")
            .is_none()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The team's block that reads items: `invoke` supplies the item from the site's items file, the
/// block answers with the fields it is told to show, and a malformed key reaches no store.
#[test]
fn the_team_block_reads_items_of_a_declared_table() {
    let reference = team_edge(&["blocks".as_ref(), "item-json".as_ref()]);
    assert!(reference.status.success());
    let dir = std::env::temp_dir().join(format!("team-block-items-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let site = here().join("site.toml");
    for (uri, status, notes) in [
        (
            "/releases/1.2.0.json",
            "200",
            Some("Webhooks are signed with SHA-256."),
        ),
        ("/releases/9.9.9.json", "404", None),
        ("/releases/1_2.json", "404", None),
    ] {
        let made = team_edge(&[
            "event".as_ref(),
            "origin-request".as_ref(),
            "--uri".as_ref(),
            uri.as_ref(),
            "--origin-domain".as_ref(),
            "staging-docs.s3.us-east-1.amazonaws.com".as_ref(),
        ]);
        assert!(made.status.success());
        let event = dir.join("event.json");
        std::fs::write(&event, made.stdout).unwrap();
        let output = team_edge(&[
            "invoke".as_ref(),
            "origin-request".as_ref(),
            "--site".as_ref(),
            site.as_os_str(),
            "--store".as_ref(),
            dir.join("no-store").as_os_str(),
            "--event".as_ref(),
            event.as_os_str(),
        ]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{uri}: {stderr}");
        let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(result["status"], status, "{uri}");
        if let Some(notes) = notes {
            let body: serde_json::Value =
                serde_json::from_str(result["body"].as_str().unwrap()).unwrap();
            assert_eq!(body["Notes"], notes);
            assert!(body.get("Internal").is_none(), "only the listed fields");
            assert!(
                stderr.contains("data: get staging-docs-releases[1.2.0]"),
                "{stderr}"
            );
        } else if uri.contains('_') {
            assert!(
                !stderr.contains("data: get"),
                "a malformed key asks no store: {stderr}"
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
