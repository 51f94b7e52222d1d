//! The proof that a new site needs no Rust: a small docs site written in a temporary folder
//! (declaration, distribution config, origin files, templates and items) is served by `serve` and
//! run by the Python module, with the tool and the module built as they are.

use std::path::Path;
use std::process::Command;

mod process;
use process::{Served, scratch};

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

#[test]
fn a_site_written_as_files_is_served_with_no_rust() {
    let dir = scratch("third-site");
    write_site(&dir);
    let config = dir.join("distribution.toml");
    let store = dir.join("store");
    let site = Served::start(
        "Docs",
        &[
            "--config".as_ref(),
            config.as_os_str(),
            "--store".as_ref(),
            store.as_os_str(),
        ],
    );
    let get_from = |path: &str, country: &str| site.http("GET", path, &[("X-Country", country)]);
    let get = |path: &str| get_from(path, "US");
    let post = |path: &str| site.http("POST", path, &[]);

    let moved = get("/old/intro.html");
    assert!(moved.is(301), "{}", moved.status);
    assert_eq!(moved.header("location"), Some("/docs/intro.html"));
    assert_eq!(moved.header("cache-control"), Some("public, max-age=86400"));
    assert!(
        moved
            .header("content-security-policy")
            .unwrap()
            .contains("https://cdn.docs.example")
    );

    let blog = get("/blog/2026/intro");
    assert!(blog.is(301), "{}", blog.status);
    assert_eq!(blog.header("location"), Some("/docs/intro.html"));

    let guide = get("/guide/");
    assert!(guide.is(200), "{}", guide.status);
    assert_eq!(
        guide.body, "<h1>The guide</h1>\n",
        "the index document of /guide/"
    );
    assert_eq!(guide.header("cache-control"), Some("public, max-age=60"));
    assert!(guide.header("strict-transport-security").is_some());

    let intro = get("/docs/intro.html");
    assert!(intro.is(200), "{}", intro.status);
    assert_eq!(intro.body, "<h1>Intro</h1>\n");

    // A visitor from Germany is sent to /de/ (country in the cache key: the US visitor above
    // got the page, the German one the redirect, for the same path).
    let german = get_from("/docs/intro.html", "DE");
    assert!(german.is(302), "{}", german.status);
    assert_eq!(german.header("location"), Some("/de/docs/intro.html"));
    assert!(german.header("strict-transport-security").is_some());
    assert!(get_from("/docs/intro.html", "JP").is(200));

    // Its own items, counter and listing: the items file's every attribute reaches the template.
    let view = post("/api/view?slug=deploy");
    assert!(view.is(200), "{}", view.status);
    let item: serde_json::Value = serde_json::from_str(&view.body).unwrap();
    assert_eq!(
        (item["views"].as_i64(), &item["tags"]),
        (Some(6), &serde_json::json!(["ops", "aws"]))
    );
    assert!(post("/api/view?slug=nope").is(404));
    let popular = get("/popular");
    assert!(popular.is(200), "{}", popular.status);
    assert_eq!(
        popular.body, "<title>Third</title><li>Deploy: 6 (ops,aws)</li><li>Intro: 5 (start)</li>",
        "most viewed first, at most two"
    );
    let kept = std::fs::read_to_string(dir.join("store/third-site-articles.json")).unwrap();
    assert!(
        kept.contains("\"views\": 6") && kept.contains("\"aws\""),
        "{kept}"
    );

    drop(site);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The declaration as a package carries it, written by the tool as a user would: `edgekit check
/// --site docs.site.toml --out site.json`.
fn packaged_declaration(dir: &Path) {
    let checked = Command::new(env!("CARGO_BIN_EXE_edgekit"))
        .args(["check", "--site", "docs.site.toml", "--out", "site.json"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "check: {}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let said = String::from_utf8_lossy(&checked.stdout);
    assert!(
        said.contains("viewer-request") && said.contains("written as site.json"),
        "{said}"
    );
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
    packaged_declaration(&dir);
    std::fs::write(dir.join("edgekit.json"), r#"{"site": "site.json"}"#).unwrap();
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
    packaged_declaration(&dir);
    std::fs::write(
        dir.join("edgekit.json"),
        serde_json::json!({
            "site": "site.json",
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
