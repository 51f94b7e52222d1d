//! The proof that a new site needs no Rust: a small docs site written in a temporary folder
//! (declaration, distribution config, origin files) is served by `serve` and run by the Python
//! module, with the tool and the module built as they are.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const DECLARATION: &str = r#"name = "docs"

[functions]
viewer-request = ["moved", "static-site", "security"]
origin-request = ["by-country", "security"]
origin-response = ["caching", "security"]

[blocks.by-country]
block = "country-redirect"
countries = { DE = "/de", FR = "/fr" }

[blocks.moved]
block = "redirects"
status = 301
rules = [
  { prefix = "/old/", to = "/docs/" },
  { pattern = "/blog/{year}/{slug}", to = "/docs/{slug}.html" },
]

[blocks.static-site]
block = "pretty-urls"
index_document = "index.html"

[blocks.security]
block = "security-headers"
preset = "strict-same-origin"
headers = { "Content-Security-Policy" = "default-src 'self'; img-src 'self' https://cdn.docs.example" }

[blocks.caching]
block = "default-cache-control"
fallback = "public, max-age=600"
rules = [{ suffixes = [".html"], value = "public, max-age=60" }]
"#;

const DISTRIBUTION: &str = r#"[distribution]
comment = "Docs"
default_root_object = "index.html"

[[origins]]
id = "docs-s3"
kind = "s3"
domain_name = "docs-origin.s3.us-east-1.amazonaws.com"
local_dir = "site"

[cache_policies.pages]
min_ttl = 0
default_ttl = 60
max_ttl = 3600
headers = ["CloudFront-Viewer-Country"]
cookies = []
query_strings = "none"

[[functions]]
name = "docs-viewer-request"
site = "docs.site.toml"
trigger = "viewer-request"

[[functions]]
name = "docs-origin-request"
site = "docs.site.toml"
trigger = "origin-request"

[[functions]]
name = "docs-origin-response"
site = "docs.site.toml"
trigger = "origin-response"

[default_behavior]
origin = "docs-s3"
cache_policy = "pages"
functions = [
  { event = "viewer-request", function = "docs-viewer-request" },
  { event = "origin-request", function = "docs-origin-request" },
  { event = "origin-response", function = "docs-origin-response" },
]

[viewer]
country_header = "X-Country"
"#;

/// The folder a content engineer would write: no Rust in it.
fn write_site(dir: &Path) {
    std::fs::create_dir_all(dir.join("site/guide")).unwrap();
    std::fs::create_dir_all(dir.join("site/docs")).unwrap();
    std::fs::write(dir.join("docs.site.toml"), DECLARATION).unwrap();
    std::fs::write(dir.join("distribution.toml"), DISTRIBUTION).unwrap();
    std::fs::write(dir.join("site/index.html"), "<h1>Docs home</h1>\n").unwrap();
    std::fs::write(dir.join("site/guide/index.html"), "<h1>The guide</h1>\n").unwrap();
    std::fs::write(dir.join("site/docs/intro.html"), "<h1>Intro</h1>\n").unwrap();
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("edgekit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Status line, lowercase headers and body of a GET.
fn get(address: &str, path: &str) -> (String, Vec<(String, String)>, String) {
    get_from(address, path, "US")
}

/// The same, from a visitor in `country`.
fn get_from(address: &str, path: &str, country: &str) -> (String, Vec<(String, String)>, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {address}\r\nX-Country: {country}\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let mut lines = head.lines();
    let status = lines.next().unwrap_or("").to_owned();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn a_site_written_as_files_is_served_with_no_rust() {
    let dir = scratch("third-site");
    write_site(&dir);
    let mut child = Command::new(env!("CARGO_BIN_EXE_edgekit"))
        .args(["serve", "--port", "0", "--quiet", "--config"])
        .arg(dir.join("distribution.toml"))
        .arg("--store")
        .arg(dir.join("store"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    if !line.starts_with("Docs is served at http://") {
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

    let (status, headers, _) = get(&address, "/old/intro.html");
    assert!(status.contains(" 301 "), "{status}");
    assert_eq!(header(&headers, "location"), Some("/docs/intro.html"));
    assert_eq!(
        header(&headers, "cache-control"),
        Some("public, max-age=86400")
    );
    assert!(
        header(&headers, "content-security-policy")
            .unwrap()
            .contains("https://cdn.docs.example")
    );

    let (status, headers, _) = get(&address, "/blog/2026/intro");
    assert!(status.contains(" 301 "), "{status}");
    assert_eq!(header(&headers, "location"), Some("/docs/intro.html"));

    let (status, headers, body) = get(&address, "/guide/");
    assert!(status.contains(" 200 "), "{status}");
    assert_eq!(
        body, "<h1>The guide</h1>\n",
        "the index document of /guide/"
    );
    assert_eq!(
        header(&headers, "cache-control"),
        Some("public, max-age=60")
    );
    assert!(header(&headers, "strict-transport-security").is_some());

    let (status, _, body) = get(&address, "/docs/intro.html");
    assert!(status.contains(" 200 "), "{status}");
    assert_eq!(body, "<h1>Intro</h1>\n");

    // A visitor from Germany is sent to /de/ (country in the cache key: the US visitor above
    // got the page, the German one the redirect, for the same path).
    let (status, headers, _) = get_from(&address, "/docs/intro.html", "DE");
    assert!(status.contains(" 302 "), "{status}");
    assert_eq!(header(&headers, "location"), Some("/de/docs/intro.html"));
    assert!(header(&headers, "strict-transport-security").is_some());
    let (status, _, _) = get_from(&address, "/docs/intro.html", "JP");
    assert!(status.contains(" 200 "), "{status}");

    let _ = child.kill();
    let _ = child.wait();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The same declaration in the viewer package's module, as Lambda@Edge runs it.
#[test]
fn the_python_module_runs_a_site_written_as_files() {
    let Ok(module) = std::env::var("EDGEKIT_PYTHON_VIEWER_MODULE") else {
        eprintln!("SKIPPED: EDGEKIT_PYTHON_VIEWER_MODULE is not set (scripts/test sets it)");
        return;
    };
    let dir = scratch("third-site-python");
    write_site(&dir);
    std::os::unix::fs::symlink(
        std::fs::canonicalize(&module).unwrap(),
        dir.join("edgekit.abi3.so"),
    )
    .unwrap();
    std::fs::write(dir.join("edgekit.json"), r#"{"site": "docs.site.toml"}"#).unwrap();
    let script = r#"
import json, sys
sys.path.insert(0, sys.argv[1])
import edgekit
def event(uri):
    return {"Records": [{"cf": {"config": {"distributionDomainName": "d.cloudfront.net", "distributionId": "E1", "eventType": "viewer-request", "requestId": "r"},
        "request": {"clientIp": "203.0.113.10", "method": "GET", "uri": uri, "querystring": "", "headers": {"host": [{"key": "Host", "value": "docs.example"}]}}}}]}
out = {}
for uri in ["/old/intro.html", "/guide/", "/docs/intro.html"]:
    out[uri] = edgekit.viewer_request(event(uri), None)
print(json.dumps(out))
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
    assert_eq!(out["/old/intro.html"]["status"], "301");
    assert_eq!(
        out["/old/intro.html"]["headers"]["location"][0]["value"],
        "/docs/intro.html"
    );
    assert_eq!(out["/guide/"]["uri"], "/guide/index.html");
    assert_eq!(out["/docs/intro.html"]["uri"], "/docs/intro.html");
    std::fs::remove_dir_all(&dir).unwrap();
}
