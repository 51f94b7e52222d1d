//! `new`: from an empty folder to a site that is invoked on an event, served, templated (and, when
//! scripts/test has built the modules, packaged), each step one command.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn edgekit(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_edgekit"))
        .args(args)
        .output()
        .expect("edgekit runs")
}

fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("edgekit-new-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `invoke` on an event `event` writes for the site in `dir`; the result.
fn invoke(dir: &Path, trigger: &str, args: &[&str]) -> serde_json::Value {
    let config = dir.join("distribution.toml");
    let mut event_args: Vec<&std::ffi::OsStr> = vec![
        "event".as_ref(),
        trigger.as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
    ];
    event_args.extend(args.iter().map(std::ffi::OsStr::new));
    let event = dir.join("event.json");
    std::fs::write(&event, ok(&edgekit(&event_args))).unwrap();
    let output = edgekit(&[
        "invoke".as_ref(),
        trigger.as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
        "--store".as_ref(),
        dir.join("no-store").as_os_str(),
        "--event".as_ref(),
        event.as_os_str(),
    ]);
    serde_json::from_str(&ok(&output)).unwrap()
}

#[test]
fn a_new_site_is_invoked_served_and_templated() {
    let parent = scratch("site");
    let dir = parent.join("my-notes");
    let said = ok(&edgekit(&["new".as_ref(), dir.as_os_str()]));
    assert!(said.contains("wrote the site `my-notes`"), "{said}");
    assert!(said.contains("edgekit serve --watch --config"), "{said}");

    // Invoked on events, as `event` writes them for its config.
    let home = invoke(&dir, "origin-request", &["--uri", "/"]);
    assert_eq!(home["status"], "200");
    let body = home["body"].as_str().unwrap();
    assert!(
        body.contains("<title>My Notes</title>") && body.contains("A second post"),
        "{body}"
    );
    let moved = invoke(&dir, "viewer-request", &["--uri", "/old/hello.html"]);
    assert_eq!(moved["status"], "301");
    assert_eq!(
        moved["headers"]["location"][0]["value"],
        "/posts/hello.html"
    );

    // Served.
    let mut child = Command::new(env!("CARGO_BIN_EXE_edgekit"))
        .args(["serve", "--port", "0", "--quiet", "--config"])
        .arg(dir.join("distribution.toml"))
        .arg("--store")
        .arg(dir.join(".edgekit"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    if !line.starts_with("My Notes is served at http://") {
        let _ = child.kill();
        let mut stderr = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
        panic!("serve did not start: {line}{stderr}");
    }
    let address = line
        .trim()
        .rsplit("http://")
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let exchange = |request: &str| {
        let mut stream = TcpStream::connect(&address).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    };
    let liked = exchange(&format!(
        "POST /api/like?post=hello HTTP/1.0\r\nHost: {address}\r\nContent-Length: 0\r\n\r\n"
    ));
    assert!(
        liked.starts_with("HTTP/1.1 200 ") || liked.starts_with("HTTP/1.0 200 "),
        "{liked}"
    );
    assert!(liked.ends_with(r#"{"likes":1,"post":"hello"}"#), "{liked}");
    let about = exchange(&format!("GET /about/ HTTP/1.0\r\nHost: {address}\r\n\r\n"));
    assert!(about.contains("<h1>About</h1>"), "{about}");
    let home = exchange(&format!("GET / HTTP/1.0\r\nHost: {address}\r\n\r\n"));
    assert!(
        home.contains("Hello</a> · 1 likes"),
        "the liked post first: {home}"
    );
    let _ = child.kill();
    let _ = child.wait();

    // Templated: the site's table with its key, and each function's role.
    let template_file = dir.join("template.json");
    ok(&edgekit(&[
        "template".as_ref(),
        "--config".as_ref(),
        dir.join("distribution.toml").as_os_str(),
        "-o".as_ref(),
        template_file.as_os_str(),
    ]));
    let template: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&template_file).unwrap()).unwrap();
    let table = &template["Resources"]["MyNotesPostsTable"]["Properties"];
    assert_eq!(table["TableName"], "my-notes-posts");
    assert_eq!(table["KeySchema"][0]["AttributeName"], "Slug");
    if let Ok(cfn_lint) = std::env::var("CFN_LINT") {
        let linted = Command::new(cfn_lint).arg(&template_file).output().unwrap();
        assert!(
            linted.status.success(),
            "cfn-lint: {}",
            String::from_utf8_lossy(&linted.stdout)
        );
    }

    // Packaged, with the modules scripts/test built (a first `package` builds its own).
    if let (Ok(module), Ok(viewer)) = (
        std::env::var("EDGEKIT_PYTHON_MODULE"),
        std::env::var("EDGEKIT_PYTHON_VIEWER_MODULE"),
    ) {
        let out = dir.join("package");
        let said = edgekit(&[
            "package".as_ref(),
            "--config".as_ref(),
            dir.join("distribution.toml").as_os_str(),
            "--module".as_ref(),
            module.as_ref(),
            "--viewer-module".as_ref(),
            viewer.as_ref(),
            "--no-bootstrap".as_ref(),
            "--out".as_ref(),
            out.as_os_str(),
        ]);
        ok(&said);
        let zips = std::fs::read_dir(&out)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".zip")
            })
            .count();
        assert_eq!(zips, 3, "one zip per function");
    }
    std::fs::remove_dir_all(&parent).unwrap();
}

#[test]
fn new_refuses_a_folder_with_something_in_it_and_a_bad_name() {
    let dir = scratch("refused");
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    let output = edgekit(&[
        "new".as_ref(),
        dir.as_os_str(),
        "--name".as_ref(),
        "ok-name".as_ref(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not empty"));
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "mine"
    );
    let output = edgekit(&[
        "new".as_ref(),
        dir.join("fresh").as_os_str(),
        "--name".as_ref(),
        "Bad Name".as_ref(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot name a site"));
    assert!(!dir.join("fresh").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
