//! `new`: from an empty folder to a site that is invoked on an event, served, templated (and, when
//! scripts/test has built the modules, packaged), each step one command.

use std::path::Path;
use std::process::{Command, Output};

mod process;
use process::{Served, scratch};

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
    let parent = scratch("new-site");
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
    let store = dir.join(".edgekit");
    let site = Served::start(
        "My Notes",
        &[
            "--config".as_ref(),
            dir.join("distribution.toml").as_os_str(),
            "--store".as_ref(),
            store.as_os_str(),
        ],
    );
    let liked = site.http("POST", "/api/like?post=hello", &[]);
    assert!(liked.is(200), "{}", liked.status);
    assert_eq!(liked.body, r#"{"likes":1,"post":"hello"}"#);
    let about = site.http("GET", "/about/", &[]);
    assert!(about.body.contains("<h1>About</h1>"), "{}", about.body);
    let home = site.http("GET", "/", &[]);
    assert!(
        home.body.contains("Hello</a> · 1 likes"),
        "the liked post first: {}",
        home.body
    );
    drop(site);

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
    let dir = scratch("new-refused");
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
