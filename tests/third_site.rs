//! The proof that a new site needs no Rust: a small docs site written in a temporary folder
//! (declaration, distribution config, origin files, templates and items) is served by `serve` and
//! run by the Python module, with the tool and the module built as they are.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const DECLARATION: &str = r#"name = "docs"

[functions]
viewer-request = ["moved", "static-site", "security"]
origin-request = ["by-country", "views", "popular", "security"]
origin-response = ["caching", "security"]

[tables.articles]
table_name = "third-site-articles"
key = "slug"
counters = ["views"]
items = "articles.json"

[pages]
site_name = "Third"
layout_template = "layout.html"
error_template = "layout.html"
default_language = "en"
errors = { not_found = { title = "Nothing here", message = "No such page." }, unavailable = { title = "Later", message = "Try again soon." } }

[blocks.views]
block = "counter-api"
path = "/api/view"
parameter = "slug"
table = "articles"
attribute = "views"

[blocks.popular]
block = "page"
routes = ["/popular"]
template = "popular.html"
cache_control = "no-store"
lists = { articles = { table = "articles", sort_by = "views", descending = true, then_by = "title", limit = 2 } }

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

[cache_policies.disabled]
min_ttl = 0
default_ttl = 0
max_ttl = 0
headers = []
cookies = []
query_strings = "none"

[origin_request_policies.api]
headers = []
cookies = []
query_strings = "all"

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

[[behaviors]]
path_pattern = "/api/*"
origin = "docs-s3"
allowed_methods = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
cache_policy = "disabled"
origin_request_policy = "api"
functions = [{ event = "origin-request", function = "docs-origin-request" }]

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
    std::fs::create_dir_all(dir.join("site/templates")).unwrap();
    std::fs::write(
        dir.join("site/templates/layout.html"),
        "<title>{{ site_name }}</title>{% block content %}<h1>{{ title }}</h1>{% endblock %}",
    )
    .unwrap();
    std::fs::write(
        dir.join("site/templates/popular.html"),
        "{% extends \"layout.html\" %}{% block content %}{% for a in articles %}<li>{{ a.title }}: {{ a.views }} ({{ a.tags|join(\",\") }})</li>{% endfor %}{% endblock %}",
    )
    .unwrap();
    std::fs::write(
        dir.join("articles.json"),
        r#"[{"slug": "intro", "title": "Intro", "views": 5, "tags": ["start"]},
            {"slug": "deploy", "title": "Deploy", "views": 5, "tags": ["ops", "aws"]},
            {"slug": "faq", "title": "FAQ", "views": 1, "tags": []}]"#,
    )
    .unwrap();
}

/// A POST, as a browser's fetch sends it; status line and body.
fn post(address: &str, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.0\r\nHost: {address}\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (
        head.lines().next().unwrap_or("").to_owned(),
        body.to_owned(),
    )
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

    // Its own items, counter and listing: the items file's every attribute reaches the template.
    let (status, body) = post(&address, "/api/view?slug=deploy");
    assert!(status.contains(" 200 "), "{status}");
    let item: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (item["views"].as_i64(), &item["tags"]),
        (Some(6), &serde_json::json!(["ops", "aws"]))
    );
    let (status, _) = post(&address, "/api/view?slug=nope");
    assert!(status.contains(" 404 "), "{status}");
    let (status, _, body) = get(&address, "/popular");
    assert!(status.contains(" 200 "), "{status}");
    assert_eq!(
        body, "<title>Third</title><li>Deploy: 6 (ops,aws)</li><li>Intro: 5 (start)</li>",
        "most viewed first, at most two"
    );
    let kept = std::fs::read_to_string(dir.join("store/third-site-articles.json")).unwrap();
    assert!(
        kept.contains("\"views\": 6") && kept.contains("\"aws\""),
        "{kept}"
    );

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

/// The same site's origin function in the origin package's module, on DynamoDB: its table is
/// created and filled by `seed` from the site's own items file, and the listing comes out of the
/// module as it came out of `serve`.
#[test]
fn the_origin_module_lists_the_sites_own_items_from_dynamodb() {
    let (Ok(module), Ok(endpoint)) = (
        std::env::var("EDGEKIT_PYTHON_MODULE"),
        std::env::var("EDGEKIT_DYNAMODB"),
    ) else {
        eprintln!(
            "SKIPPED: EDGEKIT_PYTHON_MODULE or EDGEKIT_DYNAMODB is not set (scripts/test sets them)"
        );
        return;
    };
    let dir = scratch("third-site-dynamodb");
    write_site(&dir);
    // A table of this run's own: the test server outlives it.
    let declaration = dir.join("docs.site.toml");
    let table = format!("third-site-{}", std::process::id());
    let text = std::fs::read_to_string(&declaration)
        .unwrap()
        .replace("\"third-site-articles\"", &format!("{table:?}"));
    std::fs::write(&declaration, text).unwrap();
    let seeded = Command::new(env!("CARGO_BIN_EXE_edgekit"))
        .args([
            "seed",
            "--region",
            "us-east-1",
            "--endpoint",
            &endpoint,
            "--site",
        ])
        .arg(&declaration)
        .output()
        .unwrap();
    assert!(
        seeded.status.success(),
        "seed: {}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    assert!(String::from_utf8_lossy(&seeded.stdout).contains("3 added"));
    std::os::unix::fs::symlink(
        std::fs::canonicalize(&module).unwrap(),
        dir.join("edgekit.abi3.so"),
    )
    .unwrap();
    std::fs::write(
        dir.join("edgekit.json"),
        serde_json::json!({
            "site": "docs.site.toml",
            "templates": "site/templates",
            "endpoints": {"us-east-1": endpoint},
        })
        .to_string(),
    )
    .unwrap();
    let script = r#"
import json, sys
sys.path.insert(0, sys.argv[1])
import edgekit
def event(method, uri, query=""):
    return {"Records": [{"cf": {"config": {"distributionDomainName": "d.cloudfront.net", "distributionId": "E1", "eventType": "origin-request", "requestId": "r"},
        "request": {"clientIp": "203.0.113.10", "method": method, "uri": uri, "querystring": query,
                    "headers": {"host": [{"key": "Host", "value": "docs-origin.s3.us-east-1.amazonaws.com"}]},
                    "origin": {"s3": {"authMethod": "none", "customHeaders": {}, "domainName": "docs-origin.s3.us-east-1.amazonaws.com", "path": "", "region": "us-east-1"}}}}}]}
view = edgekit.origin_request(event("POST", "/api/view", "slug=faq"), None)
view = edgekit.origin_request(event("POST", "/api/view", "slug=faq"), None)
view = edgekit.origin_request(event("POST", "/api/view", "slug=faq"), None)
view = edgekit.origin_request(event("POST", "/api/view", "slug=faq"), None)
view = edgekit.origin_request(event("POST", "/api/view", "slug=faq"), None)
popular = edgekit.origin_request(event("GET", "/popular"), None)
print(json.dumps({"view": json.loads(view["body"]), "popular": popular["body"]}))
"#;
    let output = Command::new("python3")
        .args(["-c", script])
        .arg(&dir)
        .env_remove("EDGEKIT_CONFIG")
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "python: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(out["view"]["views"], 6);
    assert_eq!(out["view"]["tags"], serde_json::json!([]));
    assert_eq!(
        out["popular"],
        "<title>Third</title><li>FAQ: 6 ()</li><li>Deploy: 5 (ops,aws)</li>"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
