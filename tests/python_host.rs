//! Parity: every fixture event, run through the extension module exactly as the Lambda Python
//! runtime calls a handler (event dict in, result dict out), gives what `invoke` gives.
//!
//! `scripts/test` builds the module twice and names the builds: `EDGEKIT_PYTHON_MODULE` (the
//! origin-request build, every route) and `EDGEKIT_PYTHON_VIEWER_MODULE` (the viewer package's
//! build, in-place only); without them these tests say loudly that they were skipped.

mod fixture_index;

use std::path::{Path, PathBuf};
use std::process::Command;

const SCRIPT: &str = r#"
import json, sys, importlib.util, pathlib
spec = importlib.util.spec_from_file_location("edgekit", sys.argv[1])
edgekit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(edgekit)
out = {}
for line in sys.stdin:
    trigger, path = line.rstrip("\n").split("\t")
    handler = getattr(edgekit, trigger.replace("-", "_"))
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

/// The Alien Cards declaration as a package carries it, which the module reads as its `site`.
fn site_file() -> PathBuf {
    fixture_index::packaged(&root().join("cloudfront/alien-cards.site.toml"))
}

#[test]
fn the_python_host_gives_what_invoke_gives_on_every_fixture() {
    let Ok(module) = std::env::var("EDGEKIT_PYTHON_MODULE") else {
        eprintln!(
            "SKIPPED: EDGEKIT_PYTHON_MODULE is not set (scripts/test builds the module and sets it)"
        );
        return;
    };
    // Fixtures whose expected output does not depend on card data (the module here has no card
    // store; the ones that read cards run against DynamoDB below), of the origin triggers: an
    // origin module leaves out the sign-in block, so it cannot run the docs site's viewer
    // functions; the viewer module is compared on the viewer fixtures below.
    let origin: Vec<_> = fixture_index::all_data_free()
        .into_iter()
        .filter(|(trigger, _)| trigger.starts_with("origin-"))
        .collect();
    let compared = compare_with_invoke(&module, &origin);
    assert!(compared >= 20, "only {compared} fixtures compared");
}

/// The viewer package's module has no typed route: every viewer event must take the in-place
/// path and still give what `invoke` gives, and an origin-request event gets a clear error.
#[test]
fn the_viewer_package_gives_what_invoke_gives_on_every_viewer_fixture() {
    let Ok(module) = std::env::var("EDGEKIT_PYTHON_VIEWER_MODULE") else {
        eprintln!(
            "SKIPPED: EDGEKIT_PYTHON_VIEWER_MODULE is not set (scripts/test builds the viewer module and sets it)"
        );
        return;
    };
    let viewer: Vec<_> = fixture_index::all_data_free()
        .into_iter()
        .filter(|(trigger, _)| trigger.starts_with("viewer-"))
        .collect();
    let compared = compare_with_invoke(&module, &viewer);
    assert!(compared >= 20, "only {compared} viewer fixtures compared");

    let out = python_with_config(
        &module,
        serde_json::json!({"site": site_file()}),
        "try:\n    edgekit.origin_request(event('origin-request/css-desktop'), None)\n    print(json.dumps('answered'))\nexcept RuntimeError as e:\n    print(json.dumps(str(e)))\n",
    );
    let message = out.as_str().unwrap();
    assert!(
        message.contains("viewer-trigger package") && message.contains("origin package"),
        "{message}"
    );
}

/// A package config the module cannot use is refused on the first event with what is wrong,
/// as a RuntimeError (Lambda reports it; CloudFront answers 503), never a crash.
#[test]
fn a_bad_package_config_is_refused_clearly() {
    let Ok(module) = std::env::var("EDGEKIT_PYTHON_VIEWER_MODULE") else {
        eprintln!("SKIPPED: EDGEKIT_PYTHON_VIEWER_MODULE is not set");
        return;
    };
    let script = "try:\n    edgekit.viewer_request(event('viewer-request/pretty-url'), None)\n    print(json.dumps('answered'))\nexcept RuntimeError as e:\n    print(json.dumps(str(e)))\n";
    for (config, wanted) in [
        (
            serde_json::json!({"site": site_file(), "tabel": "t"}),
            "unknown field `tabel`",
        ),
        (
            serde_json::json!({"templates": "templates"}),
            "cannot read", // site.json beside the config, by default
        ),
        (
            serde_json::json!({"site": site_file(), "templates": 7}),
            "invalid type: integer `7`",
        ),
        (
            serde_json::json!({"site": "other-site.json"}),
            "cannot read",
        ),
        (
            serde_json::json!({"site": root().join("cloudfront/alien-cards.site.toml")}),
            "is a declaration's TOML source",
        ),
        (
            serde_json::json!({"site": root().join("tests/fixtures/viewer-request/pretty-url.json")}),
            "is not a site declaration: unknown field `Records`",
        ),
    ] {
        let out = python_with_config(&module, config, script);
        let message = out.as_str().unwrap();
        assert!(
            message.contains("edgekit is not configured") && message.contains(wanted),
            "{message}"
        );
    }
}

/// Runs each case's event through the module as Lambda's Python runtime would and requires what
/// `invoke` gave (for a bad event, a ValueError that names no path of this machine). Returns how
/// many were compared.
fn compare_with_invoke(module: &str, cases: &[(&str, fixture_index::Case)]) -> usize {
    fixture_index::sites()
        .iter()
        .map(|site| {
            let of_site: Vec<(&str, fixture_index::Case)> = cases
                .iter()
                .filter(|(_, case)| case.site == *site)
                .map(|(trigger, case)| (*trigger, case.clone()))
                .collect();
            if of_site.is_empty() {
                0
            } else {
                compare_site_with_invoke(module, site, &of_site)
            }
        })
        .sum()
}

/// [`compare_with_invoke`] for the cases of one site.
fn compare_site_with_invoke(
    module: &str,
    site: &fixture_index::Site,
    cases: &[(&str, fixture_index::Case)],
) -> usize {
    // The module reads its config beside itself; here, one pointing at the origin's templates.
    let scratch = Scratch::new("edgekit-python");
    let dir = &scratch.0;
    let so = link_module(module, dir);
    let config = dir.join("edgekit.json");
    std::fs::write(
        &config,
        serde_json::json!({
            "site": fixture_index::packaged(&site.declaration),
            "templates": site.templates,
        })
        .to_string(),
    )
    .unwrap();

    let input: String = cases
        .iter()
        .map(|(t, c)| format!("{t}\t{}\n", c.file.display()))
        .collect();
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(&so)
        .env("EDGEKIT_CONFIG", &config)
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
    for (_, case) in cases {
        let got = &results[case.file.display().to_string()];
        if case.exit() == 2 {
            assert_eq!(
                got["error"],
                "ValueError",
                "{}: a bad event raises ValueError, got {got}",
                case.file.display()
            );
            assert!(
                !got["message"]
                    .as_str()
                    .unwrap()
                    .contains(&root().display().to_string())
            );
        } else {
            assert_eq!(
                got["result"],
                case.result(),
                "{}: the Python host differs from invoke",
                case.file.display()
            );
        }
        compared += 1;
    }
    compared
}

/// Runs `script` in Python with the module loaded from a directory holding `config`.
fn python_with_config(module: &str, config: serde_json::Value, script: &str) -> serde_json::Value {
    let scratch = Scratch::new("edgekit-python-db");
    let dir = &scratch.0;
    link_module(module, dir);
    std::fs::write(dir.join("edgekit.json"), config.to_string()).unwrap();
    let prelude = format!(
        "import json, sys, time, importlib.util\nspec = importlib.util.spec_from_file_location('edgekit', {:?})\nedgekit = importlib.util.module_from_spec(spec)\nspec.loader.exec_module(edgekit)\nF = {:?}\ndef event(name):\n    return json.load(open(F + '/' + name + '.json'))\n",
        dir.join("edgekit.abi3.so").display().to_string(),
        root().join("tests/fixtures").display().to_string(),
    );
    let output = Command::new("python3")
        .args(["-c", &(prelude + script)])
        .env("EDGEKIT_CONFIG", dir.join("edgekit.json"))
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "python: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A directory of its own under the system's temp dir, removed when the test ends, passed or
/// failed (a failed test left each of its copies of the module behind).
struct Scratch(PathBuf);

impl Scratch {
    fn new(prefix: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let next = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("{prefix}-{}-{next}", std::process::id()));
        // Left over from an earlier process with the same id: it is not anybody's now.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Puts the module in `dir` under the name Lambda's runtime imports, as a link: a debug build is
/// large, and every test would copy it.
fn link_module(module: &str, dir: &Path) -> PathBuf {
    let so = dir.join("edgekit.abi3.so");
    let module = std::fs::canonicalize(module).expect("the module exists");
    std::os::unix::fs::symlink(module, &so).unwrap();
    so
}

/// The built module and the test DynamoDB server, which `scripts/test` names; `None` (saying
/// so) when either is missing.
fn module_and_dynamodb() -> Option<(String, String)> {
    match (
        std::env::var("EDGEKIT_PYTHON_MODULE"),
        std::env::var("EDGEKIT_DYNAMODB"),
    ) {
        (Ok(module), Ok(endpoint)) => Some((module, endpoint)),
        _ => {
            eprintln!(
                "SKIPPED: EDGEKIT_PYTHON_MODULE or EDGEKIT_DYNAMODB is not set (scripts/test sets both)"
            );
            None
        }
    }
}

/// The module's DynamoDB path (the origin-request package), against the test server: pages, the
/// like API with an unknown card, and a table that is down.
#[test]
fn the_python_host_reads_and_likes_through_dynamodb() {
    let Some((module, endpoint)) = module_and_dynamodb() else {
        return;
    };
    let table = fixture_index::seed_table(
        &fixture_index::alien_cards(),
        &endpoint,
        "us-east-1",
        &fixture_index::site_cards(),
        "python",
    );
    let config = |endpoint: &str| {
        serde_json::json!({
            "site": fixture_index::packaged(&table.site),
            "replicas": {"us-east-1": ["us-east-1"]},
            "endpoints": {"us-east-1": endpoint},
            "templates": root().join("origin-site/templates"),
        })
    };
    let up = python_with_config(
        &module,
        config(&endpoint),
        r#"
home = edgekit.origin_request(event('origin-request/home'), None)
card = edgekit.origin_request(event('origin-request/card-unknown-id'), None)
like = edgekit.origin_request(event('origin-request/like'), None)
again = edgekit.origin_request(event('origin-request/like'), None)
unknown = edgekit.origin_request(event('origin-request/like-unknown-id'), None)
print(json.dumps({'home': home['status'], 'tiles': home['body'].count('class="tile-title"'),
                  'card': card['status'], 'like': like['status'], 'likes': json.loads(again['body'])['likes'],
                  'unknown': unknown['status']}))
"#,
    );
    assert_eq!(
        up,
        serde_json::json!({"home": "200", "tiles": 6, "card": "404", "like": "200", "likes": 2, "unknown": "404"})
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = python_with_config(
        &module,
        config(&format!("http://127.0.0.1:{closed}")),
        r#"
start = time.perf_counter()
home = edgekit.origin_request(event('origin-request/home'), None)
print(json.dumps({'status': home['status'], 'ms': (time.perf_counter() - start) * 1000,
                  'leaks': '127.0.0.1' in home['body'] or 'python-' in home['body']}))
"#,
    );
    assert_eq!(
        down["status"], "503",
        "a clean 503 page while the table is down"
    );
    assert_eq!(down["leaks"], false);
    assert!(
        down["ms"].as_f64().unwrap() < 2500.0,
        "answered within the budget: {down}"
    );
}

/// Parity on the fixtures that read cards: each runs through the module against a table seeded
/// with the cards its expected output was made with, and gives what `invoke` gave.
#[test]
fn the_python_host_gives_what_invoke_gives_on_every_fixture_that_reads_cards() {
    let Some((module, endpoint)) = module_and_dynamodb() else {
        return;
    };
    let mut compared = 0;
    for (trigger, case) in fixture_index::all_with_cards() {
        let table = fixture_index::seed_table(
            &case.site,
            &endpoint,
            "us-east-1",
            case.cards.as_ref().unwrap(),
            "py",
        );
        let got = python_with_config(
            &module,
            serde_json::json!({
                "site": fixture_index::packaged(&table.site),
                "endpoints": {"us-east-1": endpoint},
                "templates": case.site.templates,
            }),
            &format!(
                "print(json.dumps(edgekit.{}(json.load(open({:?})), None)))",
                trigger.replace('-', "_"),
                case.file.display().to_string()
            ),
        );
        assert_eq!(
            got,
            case.result(),
            "{}: the Python host differs from invoke",
            case.file.display()
        );
        compared += 1;
    }
    assert!(compared >= 12, "only {compared} fixtures that read items");
}

/// A DynamoDB endpoint that throttles every request, as DynamoDB does when a table is over its
/// throughput: HTTP 400 with `ProvisionedThroughputExceededException`. Returns its URL and the
/// count of requests it refused.
fn throttling_endpoint() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let refused = std::sync::Arc::new(AtomicUsize::new(0));
    let count = refused.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let count = count.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                loop {
                    // One request: its head, then the body its Content-Length announces.
                    let mut length = 0;
                    let mut first = true;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" && !first {
                            break;
                        }
                        first = false;
                        if let Some((name, value)) = line.split_once(':')
                            && name.eq_ignore_ascii_case("content-length")
                        {
                            length = value.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    count.fetch_add(1, Ordering::SeqCst);
                    let error = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"The level of configured provisioned throughput for the table was exceeded."}"#;
                    let answer = format!(
                        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.0\r\nx-amzn-RequestId: THROTTLED\r\nContent-Length: {}\r\n\r\n{error}",
                        error.len()
                    );
                    if writer.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, refused)
}

/// Throttling: with the nearest replica throttled, the module answers from the next one; with
/// every replica throttled, a page is a clean 503 and a like a 503 that says to retry, both
/// within the budget and naming nothing internal.
#[test]
fn the_python_host_fails_over_when_dynamodb_throttles() {
    let Some((module, endpoint)) = module_and_dynamodb() else {
        return;
    };
    // The healthy replica: the test server, as us-west-2.
    let table = fixture_index::seed_table(
        &fixture_index::alien_cards(),
        &endpoint,
        "us-west-2",
        &fixture_index::site_cards(),
        "throttled",
    );
    let (throttled, refused) = throttling_endpoint();
    let script = r#"
out = {}
for name in ['home', 'card', 'like']:
    start = time.perf_counter()
    result = edgekit.origin_request(event('origin-request/' + name), None)
    out[name] = {'status': result['status'], 'ms': (time.perf_counter() - start) * 1000,
                 'retry': result['headers'].get('retry-after', [{}])[0].get('value'),
                 'leaks': any(s in result.get('body', '') for s in ('throttled-', '127.0.0.1', 'Throughput'))}
print(json.dumps(out))
"#;
    let failed_over = python_with_config(
        &module,
        serde_json::json!({
            "site": fixture_index::packaged(&table.site),
            "replicas": {"us-east-1": ["us-east-1", "us-west-2"]},
            "endpoints": {"us-east-1": throttled, "us-west-2": endpoint},
            "templates": root().join("origin-site/templates"),
        }),
        script,
    );
    for name in ["home", "card", "like"] {
        assert_eq!(
            failed_over[name]["status"], "200",
            "{name} is served by the next replica: {failed_over}"
        );
    }
    let tried = refused.load(std::sync::atomic::Ordering::SeqCst);
    assert!(tried >= 1, "the throttled replica was tried first");

    let all_throttled = python_with_config(
        &module,
        serde_json::json!({
            "site": fixture_index::packaged(&table.site),
            "endpoints": {"us-east-1": throttled},
            "templates": root().join("origin-site/templates"),
        }),
        script,
    );
    for name in ["home", "card", "like"] {
        let answer = &all_throttled[name];
        assert_eq!(answer["status"], "503", "{name}: {all_throttled}");
        assert_eq!(answer["retry"], "5", "{name} says when to retry");
        assert_eq!(answer["leaks"], false, "{name} names nothing internal");
        assert!(
            answer["ms"].as_f64().unwrap() < 2500.0,
            "{name} answered within the budget: {all_throttled}"
        );
    }
    assert!(
        refused.load(std::sync::atomic::Ordering::SeqCst) > tried,
        "the only replica was asked"
    );
}
