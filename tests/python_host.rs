//! Parity: every fixture event, run through the extension module exactly as the Lambda Python
//! runtime calls a handler (event dict in, result dict out), gives what `invoke` gives.
//!
//! `scripts/test` builds the module (`cargo build -p edge-python`) and names it in
//! `ALIEN_EDGE_PYTHON_MODULE`; without it this test says loudly that it was skipped.

use std::path::PathBuf;
use std::process::Command;

const SCRIPT: &str = r#"
import json, sys, importlib.util, pathlib
spec = importlib.util.spec_from_file_location("alien_edge", sys.argv[1])
alien_edge = importlib.util.module_from_spec(spec)
spec.loader.exec_module(alien_edge)
out = {}
for line in sys.stdin:
    trigger, path = line.rstrip("\n").split("\t")
    handler = getattr(alien_edge, trigger.replace("-", "_"))
    try:
        event = json.loads(pathlib.Path(path).read_text())
    except ValueError:
        out[path] = {"error": "ValueError", "message": "not JSON"}
        continue
    try:
        out[path] = {"result": handler(event, None)}
    except ValueError as e:
        out[path] = {"error": "ValueError", "message": str(e)}
    except RuntimeError as e:
        out[path] = {"error": "RuntimeError", "message": str(e)}
print(json.dumps(out))
"#;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_python_host_gives_what_invoke_gives_on_every_fixture() {
    let Ok(module) = std::env::var("ALIEN_EDGE_PYTHON_MODULE") else {
        eprintln!(
            "SKIPPED: ALIEN_EDGE_PYTHON_MODULE is not set (scripts/test builds the module and sets it)"
        );
        return;
    };
    // The module reads its config beside itself; here, one pointing at the origin's templates.
    let dir = std::env::temp_dir().join(format!("alien-edge-python-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let so = dir.join("alien_edge.abi3.so");
    std::fs::copy(&module, &so).unwrap();
    let config = dir.join("alien_edge.json");
    std::fs::write(
        &config,
        serde_json::json!({
            "site": "alien-cards",
            "table": "alien-cards",
            "templates": root().join("origin-site/templates"),
        })
        .to_string(),
    )
    .unwrap();

    // Fixtures whose expected output does not depend on card data (the module here has no card
    // store; the data paths are covered against DynamoDB in tests/dynamodb.rs).
    let mut cases = Vec::new();
    for trigger in [
        "viewer-request",
        "origin-request",
        "origin-response",
        "viewer-response",
    ] {
        let mut files: Vec<PathBuf> =
            std::fs::read_dir(root().join("tests/fixtures").join(trigger))
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| {
                    p.extension().is_some_and(|e| e == "json")
                        && !p.to_string_lossy().ends_with(".data.json")
                })
                .collect();
        files.sort();
        for file in files {
            let expected = std::fs::read_to_string(file.with_extension("expected")).unwrap();
            let data_file = file.with_file_name(format!(
                "{}.data.json",
                file.file_stem().unwrap().to_string_lossy()
            ));
            let reads_cards = ["\ndata: Get", "\ndata: List", "\ndata: AddLike"]
                .iter()
                .any(|d| expected.contains(d));
            if data_file.exists() || reads_cards {
                continue;
            }
            cases.push((trigger, file, expected));
        }
    }
    let input: String = cases
        .iter()
        .map(|(t, f, _)| format!("{t}\t{}\n", f.display()))
        .collect();
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(&so)
        .env("ALIEN_EDGE_CONFIG", &config)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "the Python host crashed");
    let results: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();

    let mut compared = 0;
    for (_, file, expected) in &cases {
        let got = &results[file.display().to_string()];
        let exit: i32 = expected
            .lines()
            .next()
            .unwrap()
            .trim_start_matches("# exit: ")
            .parse()
            .unwrap();
        let stdout = expected.split("# stdout:\n").nth(1).unwrap_or("");
        if exit == 2 {
            assert_eq!(
                got["error"],
                "ValueError",
                "{}: a bad event raises ValueError, got {got}",
                file.display()
            );
            assert!(
                !got["message"]
                    .as_str()
                    .unwrap()
                    .contains(&root().display().to_string())
            );
        } else {
            let want: serde_json::Value =
                serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            assert_eq!(
                got["result"],
                want,
                "{}: the Python host differs from invoke",
                file.display()
            );
        }
        compared += 1;
    }
    assert!(compared >= 25, "only {compared} fixtures compared");
    std::fs::remove_dir_all(&dir).unwrap();
}
