//! Parity: the `bootstrap` binary (lambda_runtime, provided.al2023) driven by a minimal local
//! Lambda Runtime API gives, on every data-free fixture, exactly what `invoke` gives; a bad
//! event is reported to the Runtime API as an invocation error.
//!
//! `scripts/test` builds the binary and names it in `EDGEKIT_BOOTSTRAP`; without it this test
//! says loudly that it was skipped.

mod fixture_index;
mod stand_in;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// What the function reported for one invocation.
#[derive(Debug)]
enum Outcome {
    Response(serde_json::Value),
    Error(String),
}

/// Events waiting to be handed out, with their invocation ids.
type Queue = Arc<Mutex<VecDeque<(usize, Vec<u8>)>>>;

/// The Runtime API, as much of it as a runtime client uses: `next`, `response`, `error`.
fn runtime_api(events: Vec<Vec<u8>>, done: mpsc::Sender<(usize, Outcome)>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let queue = Arc::new(Mutex::new(
        events.into_iter().enumerate().collect::<VecDeque<_>>(),
    ));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let queue = queue.clone();
            let done = done.clone();
            std::thread::spawn(move || serve_connection(stream, queue, done));
        }
    });
    port
}

fn serve_connection(stream: TcpStream, queue: Queue, done: mpsc::Sender<(usize, Outcome)>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or("").to_owned(),
            parts.next().unwrap_or("").to_owned(),
        );
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        if method == "GET" && path.ends_with("/runtime/invocation/next") {
            let next = queue.lock().unwrap().pop_front();
            let Some((id, event)) = next else {
                // No more events: hold the connection, as the real API does until one comes.
                std::thread::sleep(Duration::from_secs(3600));
                return;
            };
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
                + 30_000;
            write!(
                writer,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: {id}\r\n\
Lambda-Runtime-Deadline-Ms: {deadline}\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:alien-cards\r\n\
Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000\r\nContent-Length: {}\r\n\r\n",
                event.len()
            )
            .unwrap();
            writer.write_all(&event).unwrap();
        } else {
            let id: usize = path
                .split('/')
                .nth(4)
                .and_then(|s| s.parse().ok())
                .unwrap_or(usize::MAX);
            let outcome = if path.ends_with("/response") {
                Outcome::Response(serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null))
            } else {
                Outcome::Error(String::from_utf8_lossy(&body).into_owned())
            };
            let _ = done.send((id, outcome));
            write!(
                writer,
                "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{{}}"
            )
            .unwrap();
        }
        writer.flush().unwrap();
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `events` through one `bootstrap` process for `trigger`, as Lambda would, and returns
/// what it reported for each, in order.
fn run_bootstrap(
    bootstrap: &str,
    site: &fixture_index::Site,
    trigger: &str,
    events: Vec<Vec<u8>>,
    env: &[(&str, &str)],
) -> Vec<Outcome> {
    let count = events.len();
    let (tx, rx) = mpsc::channel();
    let port = runtime_api(events, tx);
    let mut child = std::process::Command::new(bootstrap)
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("_HANDLER", trigger)
        .env("AWS_LAMBDA_FUNCTION_NAME", format!("example-{trigger}"))
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/example")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
        .env("AWS_REGION", "us-east-1")
        .env("EDGEKIT_TEMPLATES", &site.templates)
        .env("EDGEKIT_SITE", fixture_index::packaged(&site.declaration))
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut outcomes: Vec<Option<Outcome>> = (0..count).map(|_| None).collect();
    for _ in 0..count {
        let (id, outcome) = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the runtime answered every event");
        outcomes[id] = Some(outcome);
    }
    let _ = child.kill();
    let _ = child.wait();
    outcomes.into_iter().map(Option::unwrap).collect()
}

#[test]
fn the_lambda_runtime_binary_gives_what_invoke_gives() {
    let Ok(bootstrap) = std::env::var("EDGEKIT_BOOTSTRAP") else {
        eprintln!(
            "SKIPPED: EDGEKIT_BOOTSTRAP is not set (scripts/test builds the binary and sets it)"
        );
        return;
    };
    let mut compared = 0;
    let sites = fixture_index::sites();
    let runs = sites
        .iter()
        .flat_map(|site| fixture_index::TRIGGERS.map(|trigger| (site, trigger)));
    for (site, trigger) in runs {
        // Only JSON the runtime client can hand over (a malformed file is not an event).
        let cases: Vec<(fixture_index::Case, Vec<u8>)> = fixture_index::data_free(site, trigger)
            .into_iter()
            .map(|case| {
                let bytes = std::fs::read(&case.file).unwrap();
                (case, bytes)
            })
            .filter(|(_, bytes)| serde_json::from_slice::<serde_json::Value>(bytes).is_ok())
            .collect();
        if cases.is_empty() {
            continue;
        }
        let outcomes = run_bootstrap(
            &bootstrap,
            site,
            trigger,
            cases.iter().map(|(_, b)| b.clone()).collect(),
            &[],
        );
        for ((case, _), outcome) in cases.iter().zip(outcomes) {
            let file = case.file.display();
            match (case.exit(), outcome) {
                (2, Outcome::Error(message)) => {
                    assert!(
                        message.contains(&format!("bad {trigger} event")),
                        "{file}: {message}"
                    );
                    assert!(
                        !message.contains(&root().display().to_string()),
                        "no paths leak: {message}"
                    );
                }
                (2, other) => {
                    panic!("{file}: a bad event must be an invocation error, got {other:?}")
                }
                (_, Outcome::Response(got)) => assert_eq!(
                    got,
                    case.result(),
                    "{file}: the lambda_runtime binary differs from invoke"
                ),
                (_, other) => panic!("{file}: expected a result, got {other:?}"),
            }
            compared += 1;
        }
    }
    assert!(compared >= 35, "only {compared} fixtures compared");
}

/// Parity on the fixtures that read cards: one `bootstrap` per fixture, on a table seeded with the
/// cards its expected output was made with.
#[test]
fn the_lambda_runtime_binary_gives_what_invoke_gives_on_every_fixture_that_reads_cards() {
    let (Ok(bootstrap), Ok(endpoint)) = (
        std::env::var("EDGEKIT_BOOTSTRAP"),
        std::env::var("EDGEKIT_DYNAMODB"),
    ) else {
        eprintln!(
            "SKIPPED: EDGEKIT_BOOTSTRAP or EDGEKIT_DYNAMODB is not set (scripts/test sets both)"
        );
        return;
    };
    let mut compared = 0;
    for (trigger, case) in fixture_index::all_with_cards() {
        let table = fixture_index::seed_table(
            &case.site,
            &endpoint,
            "us-east-1",
            case.cards.as_ref().unwrap(),
            "rt",
        );
        let outcome = run_bootstrap(
            &bootstrap,
            &case.site,
            trigger,
            vec![std::fs::read(&case.file).unwrap()],
            &[
                (
                    "EDGEKIT_SITE",
                    &fixture_index::packaged(&table.site).display().to_string(),
                ),
                ("EDGEKIT_DYNAMODB_ENDPOINT", &endpoint),
            ],
        );
        match &outcome[..] {
            [Outcome::Response(got)] => assert_eq!(
                *got,
                case.result(),
                "{}: the lambda_runtime binary differs from invoke",
                case.file.display()
            ),
            other => panic!("{}: expected a result, got {other:?}", case.file.display()),
        }
        compared += 1;
    }
    assert!(compared >= 12, "only {compared} fixtures that read items");
}

/// Every zip `package` writes loads as AWS's own Python runtime loads a handler: awslambdaric
/// (the runtime interface client on PyPI) imports the handler string the template declares from
/// the unzipped package, takes events from a local Runtime API, and answers what `invoke` gives.
/// The zips carry the debug modules `scripts/test` built (`package --module`): the layout,
/// config, declaration and handler names are the shipped ones; the module's build is not.
#[test]
fn every_package_loads_under_awslambdaric_with_the_templates_handler() {
    let (Ok(ric), Ok(module), Ok(viewer), Ok(stand_in)) = (
        std::env::var("EDGEKIT_RIC_PYTHON"),
        std::env::var("EDGEKIT_PYTHON_MODULE"),
        std::env::var("EDGEKIT_PYTHON_VIEWER_MODULE"),
        std::env::var("EDGEKIT_COGNITO_STAND_IN"),
    ) else {
        eprintln!(
            "SKIPPED: EDGEKIT_RIC_PYTHON, EDGEKIT_COGNITO_STAND_IN or the module variables are not set (scripts/test sets them)"
        );
        return;
    };
    let loaded = packages_load(&fixture_index::alien_cards(), &ric, &module, &viewer);
    assert_eq!(loaded, 4, "a zip for each of Alien Cards' four functions");
    // Packaging the docs site fetches its members' pool keys from the stand-in it declares.
    let _stand_in = stand_in::StandIn::on_the_docs_port(&stand_in);
    let loaded = packages_load(&fixture_index::docs_site(), &ric, &module, &viewer);
    assert_eq!(
        loaded, 3,
        "a zip for each of the docs site's three functions"
    );
    // A site without templates (it renders no pages) packages too.
    let loaded = packages_load(&fixture_index::catalogue_site(), &ric, &module, &viewer);
    assert_eq!(
        loaded, 4,
        "a zip for each of the Catalogue's four functions"
    );
}

/// Packages `site` with the given modules, templates it, and runs each zip under awslambdaric on
/// a few of the site's fixtures; returns how many zips loaded.
fn packages_load(site: &fixture_index::Site, ric: &str, module: &str, viewer: &str) -> usize {
    let dir = std::env::temp_dir().join(format!(
        "edgekit-ric-{}-{}",
        site.table_name,
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let tool = |args: &[&std::ffi::OsStr]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_edgekit"))
            .args(args)
            .current_dir(root())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "edgekit {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    tool(&[
        "package".as_ref(),
        "--config".as_ref(),
        site.config.as_os_str(),
        "--out".as_ref(),
        dir.as_os_str(),
        "--module".as_ref(),
        module.as_ref(),
        "--viewer-module".as_ref(),
        viewer.as_ref(),
        "--no-bootstrap".as_ref(),
    ]);
    let template_file = dir.join("template.json");
    tool(&[
        "template".as_ref(),
        "--config".as_ref(),
        site.config.as_os_str(),
        "--packages".as_ref(),
        dir.as_os_str(),
        "-o".as_ref(),
        template_file.as_os_str(),
    ]);
    let template: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&template_file).unwrap()).unwrap();

    let mut loaded = 0;
    for resource in template["Resources"].as_object().unwrap().values() {
        if resource["Type"] != "AWS::Lambda::Function" {
            continue;
        }
        let properties = &resource["Properties"];
        let handler = properties["Handler"].as_str().unwrap();
        let key_parameter = properties["Code"]["S3Key"]["Ref"].as_str().unwrap();
        let key = template["Parameters"][key_parameter]["Default"]
            .as_str()
            .unwrap();
        let trigger = [
            "viewer-request",
            "origin-request",
            "origin-response",
            "viewer-response",
        ]
        .into_iter()
        .find(|t| handler.ends_with(&t.replace('-', "_")))
        .unwrap_or_else(|| panic!("handler {handler} names no trigger"));

        // Unzipped as Lambda unzips it into the task root.
        let task_root = dir.join(properties["FunctionName"].as_str().unwrap());
        let unzip = std::process::Command::new("python3")
            .args(["-m", "zipfile", "-e"])
            .arg(dir.join(key))
            .arg(&task_root)
            .status()
            .unwrap();
        assert!(unzip.success(), "{key} unzips");

        let cases: Vec<(fixture_index::Case, Vec<u8>)> = fixture_index::data_free(site, trigger)
            .into_iter()
            .filter(|case| case.exit() != 2)
            .take(4)
            .map(|case| {
                let bytes = std::fs::read(&case.file).unwrap();
                (case, bytes)
            })
            .collect();
        let count = cases.len();
        let (tx, rx) = mpsc::channel();
        let port = runtime_api(cases.iter().map(|(_, b)| b.clone()).collect(), tx);
        let mut child = std::process::Command::new(ric)
            .args(["-m", "awslambdaric", handler])
            .current_dir(&task_root)
            .env("PYTHONPATH", &task_root)
            .env("LAMBDA_TASK_ROOT", &task_root)
            .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
            .env("AWS_REGION", "us-east-1")
            .env_remove("EDGEKIT_CONFIG")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut outcomes: Vec<Option<Outcome>> = (0..count).map(|_| None).collect();
        for _ in 0..count {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok((id, outcome)) => outcomes[id] = Some(outcome),
                Err(_) => {
                    let _ = child.kill();
                    let mut stderr = String::new();
                    let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
                    panic!("{key} ({handler}) answered no event: {stderr}");
                }
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        for ((case, _), outcome) in cases.iter().zip(outcomes) {
            match outcome {
                Some(Outcome::Response(got)) => assert_eq!(
                    got,
                    case.result(),
                    "{}: {key} under awslambdaric differs from invoke",
                    case.file.display()
                ),
                other => panic!("{}: {key} gave {other:?}", case.file.display()),
            }
        }
        loaded += 1;
    }
    std::fs::remove_dir_all(&dir).unwrap();
    loaded
}
