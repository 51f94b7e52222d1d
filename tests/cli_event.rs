//! The `event` command: what it writes `invoke` accepts, and what CloudFront never sends it refuses.

use std::process::{Command, Output};

fn edgekit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_edgekit"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the edgekit binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn events_for_every_trigger_are_accepted_by_invoke() {
    let dir = std::env::temp_dir().join(format!("edgekit-event-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases: &[&[&str]] = &[
        &[
            "viewer-request",
            "--uri",
            "/beer",
            "--cookie",
            "liked=vc7efa69",
        ],
        &[
            "origin-request",
            "--uri",
            "/",
            "--country",
            "DE",
            "--device",
            "tablet",
        ],
        &[
            "origin-request",
            "--uri",
            "/api/like",
            "--method",
            "POST",
            "--querystring",
            "id=vc7efa69",
            "--body",
            "x=1",
        ],
        &[
            "origin-response",
            "--uri",
            "/css/site.css",
            "--status",
            "200",
        ],
        &[
            "viewer-response",
            "--uri",
            "/",
            "--header",
            "X-Experiment-Variant: a",
        ],
    ];
    for (i, args) in cases.iter().enumerate() {
        let output = edgekit(&[&["event"], *args].concat());
        assert!(
            output.status.success(),
            "event {args:?}: {}",
            stderr(&output)
        );
        let file = dir.join(format!("{i}.json"));
        std::fs::write(&file, &output.stdout).unwrap();
        let store = dir.join("no-store");
        let invoked = edgekit(&[
            "invoke",
            args[0],
            "--event",
            file.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
        ]);
        assert!(
            invoked.status.success(),
            "invoke on the event for {args:?}: {}",
            stderr(&invoked)
        );
        assert!(stderr(&invoked).contains("accepted: CloudFront would accept"));
        assert!(!store.exists(), "invoke never writes the embedded store");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn what_cloudfront_never_sends_is_refused_with_a_reason() {
    let refusals: &[(&[&str], &str)] = &[
        (
            &["viewer-request", "--country", "FR"],
            "CloudFront adds them after viewer-request",
        ),
        (
            &["viewer-request", "--device", "mobile"],
            "CloudFront adds them after viewer-request",
        ),
        (
            &[
                "viewer-request",
                "--header",
                "CloudFront-Is-Mobile-Viewer: true",
            ],
            "CloudFront adds its geo and device headers after viewer-request",
        ),
        (
            &["origin-request", "--body", "x=1"],
            "a GET request has no body",
        ),
        (
            &["origin-response", "--method", "POST", "--body", "x=1"],
            "only to viewer-request and origin-request",
        ),
        (
            &["viewer-request", "--status", "200"],
            "has no response yet",
        ),
        (&["viewer-request", "--uri", "tree"], "must start with `/`"),
        (
            &["origin-request", "--country", "France"],
            "not a two-letter country code",
        ),
        (
            &["viewer-request", "--header", "no-colon"],
            "is not a header",
        ),
    ];
    for (args, reason) in refusals {
        let output = edgekit(&[&["event"], *args].concat());
        assert_eq!(
            output.status.code(),
            Some(2),
            "event {args:?} should be refused"
        );
        assert!(
            output.stdout.is_empty(),
            "a refused event prints nothing on stdout"
        );
        let message = stderr(&output);
        assert!(
            message.contains(reason),
            "event {args:?}: `{message}` lacks `{reason}`"
        );
        assert_eq!(message.lines().count(), 1, "one line: {message}");
    }
}

#[test]
fn oversized_bodies_are_truncated_as_cloudfront_does() {
    let body = "a".repeat(41 * 1024);
    let output = edgekit(&[
        "event",
        "viewer-request",
        "--uri",
        "/api/like",
        "--method",
        "POST",
        "--body",
        &body,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let event: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let body = &event["Records"][0]["cf"]["request"]["body"];
    assert_eq!(body["inputTruncated"], true);
    let data = body["data"].as_str().unwrap();
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(data)
        .unwrap();
    assert_eq!(decoded.len(), 40 * 1024);
    assert!(stderr(&output).contains("inputTruncated"));
}

#[test]
fn malformed_events_get_one_line_and_exit_code_2() {
    let dir = std::env::temp_dir().join(format!("edgekit-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text, needle) in [
        ("empty", "", "not valid JSON"),
        ("array", "[]", "expected an object (Event)"),
        ("no-cf", r#"{"Records":[{}]}"#, "missing field `cf`"),
        (
            "trigger",
            r#"{"Records":[{"cf":{"config":{"distributionDomainName":"d","distributionId":"i","eventType":"origin-sideways","requestId":"r"},"request":{}}}]}"#,
            "unknown variant `origin-sideways`",
        ),
    ] {
        let file = dir.join(format!("{name}.json"));
        std::fs::write(&file, text).unwrap();
        let output = edgekit(&[
            "invoke",
            "viewer-request",
            "--event",
            file.to_str().unwrap(),
        ]);
        assert_eq!(output.status.code(), Some(2), "{name}");
        let message = stderr(&output);
        assert!(message.contains(needle), "{name}: {message}");
        assert_eq!(message.lines().count(), 1, "{name}: {message}");
    }
    let missing = edgekit(&[
        "invoke",
        "viewer-request",
        "--event",
        "/nonexistent/event.json",
    ]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("cannot read /nonexistent/event.json"));
    std::fs::remove_dir_all(&dir).unwrap();
}
