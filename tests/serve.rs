//! End-to-end: the local distribution on a real 127.0.0.1 listener, driven over HTTP.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use edge_functions::data::{DataError, Item, ItemStore, MemoryStore, Supplied, Table};
use edge_functions::event::{Origin, Request, Response};
use edge_functions::function::{
    EdgeFunctions, Flow, FunctionError, OriginRequestFunction, OriginRequestStep,
    OriginResponseFunction, OriginResponseStep, RequestEdit, ResponseEdit, ViewerRequestFunction,
    ViewerRequestStep, ViewerResponseFunction, ViewerResponseStep,
};
use edge_functions::{EventType, Headers};
use support::{TestSite, memory_store, shipped_config};

/// A site that counts each trigger's runs, records what the functions saw, and misbehaves on
/// request (paths below).
#[derive(Default)]
struct Probe {
    runs: [AtomicUsize; 4],
    seen_headers: Mutex<Vec<Vec<String>>>,
    seen_bodies: Mutex<Vec<(EventType, bool, usize)>>,
}

impl Probe {
    fn runs(&self, trigger: EventType) -> usize {
        self.runs[trigger as usize].load(Ordering::SeqCst)
    }

    fn count(&self, trigger: EventType) {
        self.runs[trigger as usize].fetch_add(1, Ordering::SeqCst);
    }

    fn body(&self, trigger: EventType, request: &Request) {
        if let Some(body) = &request.body {
            use base64::Engine;
            let len = base64::engine::general_purpose::STANDARD
                .decode(&body.data)
                .unwrap()
                .len();
            self.seen_bodies
                .lock()
                .unwrap()
                .push((trigger, body.input_truncated, len));
        }
    }
}

struct ProbeStep(Arc<Probe>);

impl ViewerRequestStep for ProbeStep {
    fn viewer_request(&self, request: &mut RequestEdit<'_>, _data: &Supplied) -> Flow {
        self.0.count(EventType::ViewerRequest);
        self.0.body(EventType::ViewerRequest, request);
        self.0
            .seen_headers
            .lock()
            .unwrap()
            .push(request.headers.0.keys().cloned().collect());
        match request.uri.as_str() {
            "/vr-answer" => Flow::Respond(Response::new(200).with_text_body("from viewer-request")),
            "/vr-bad" => {
                request.headers_mut().set("Connection", "close");
                Flow::Continue
            }
            "/vr-panic" => panic!("the probe panics on purpose"),
            "/vr-slow" => {
                std::thread::sleep(Duration::from_millis(1500));
                Flow::Continue
            }
            _ => Flow::Continue,
        }
    }
}

impl OriginRequestStep for ProbeStep {
    fn origin_request(
        &self,
        request: &mut RequestEdit<'_>,
        _origin: &mut Option<Origin>,
        _data: &Supplied,
    ) -> Result<Flow, FunctionError> {
        self.0.count(EventType::OriginRequest);
        self.0.body(EventType::OriginRequest, request);
        match request.uri.as_str() {
            "/or-answer" => {
                let mut response = Response::new(200).with_text_body("from origin-request");
                response.headers.set("Cache-Control", "max-age=60");
                Ok(Flow::Respond(response))
            }
            "/or-slow" => {
                std::thread::sleep(Duration::from_millis(300));
                let mut response = Response::new(200).with_text_body("slow");
                response.headers.set("Cache-Control", "max-age=60");
                Ok(Flow::Respond(response))
            }
            "/or-error" => Err(FunctionError::Other("the probe fails on purpose".into())),
            _ => Ok(Flow::Continue),
        }
    }
}

impl OriginResponseStep for ProbeStep {
    fn origin_response(
        &self,
        _request: &Request,
        _response: &mut ResponseEdit<'_>,
        _data: &Supplied,
    ) -> Result<(), FunctionError> {
        self.0.count(EventType::OriginResponse);
        Ok(())
    }
}

impl ViewerResponseStep for ProbeStep {
    fn viewer_response(&self, _request: &Request, _status: u16, headers: &mut Headers) {
        self.0.count(EventType::ViewerResponse);
        headers.set("X-Probe", "viewer-response ran");
    }
}

const PROBE_CONFIG: &str = r#"
[distribution]
comment = "probe"
error_caching_min_ttl = 1

[[origins]]
id = "files"
kind = "s3"
domain_name = "probe.s3.us-east-1.amazonaws.com"
local_dir = "origin-site"

[[origins]]
id = "nowhere"
kind = "custom"
domain_name = "127.0.0.1"
port = PORT
protocol = "http"
read_timeout_secs = 2

[cache_policies.long]
min_ttl = 0
default_ttl = 60
max_ttl = 60

[cache_policies.short]
min_ttl = 0
default_ttl = 1
max_ttl = 1

[[functions]]
name = "vr"
site = "probe"
trigger = "viewer-request"
timeout_secs = 1

[[functions]]
name = "or"
site = "probe"
trigger = "origin-request"
timeout_secs = 5

[[functions]]
name = "ors"
site = "probe"
trigger = "origin-response"

[[functions]]
name = "vrs"
site = "probe"
trigger = "viewer-response"

[[behaviors]]
path_pattern = "/short/*"
origin = "files"
cache_policy = "short"

[[behaviors]]
path_pattern = "/unreachable/*"
origin = "nowhere"
cache_policy = "long"

[default_behavior]
origin = "files"
allowed_methods = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
cache_policy = "long"
functions = [
  { event = "viewer-request", function = "vr", include_body = true },
  { event = "origin-request", function = "or", include_body = true },
  { event = "origin-response", function = "ors" },
  { event = "viewer-response", function = "vrs" },
]

[viewer]
country_header = "X-Test-Country"
"#;

async fn probe_site() -> (TestSite, Arc<Probe>) {
    let probe = Arc::new(Probe::default());
    let step = Arc::new(ProbeStep(probe.clone()));
    let functions = EdgeFunctions {
        viewer_request: Some(ViewerRequestFunction {
            steps: vec![step.clone()],
            finish: vec![],
        }),
        origin_request: Some(OriginRequestFunction {
            steps: vec![step.clone()],
            finish: vec![],
        }),
        origin_response: Some(OriginResponseFunction {
            steps: vec![step.clone()],
        }),
        viewer_response: Some(ViewerResponseFunction { steps: vec![step] }),
    };
    // A port nothing listens on: bind one, note it, close it.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = PROBE_CONFIG
        .replace("PORT", &closed_port.to_string())
        .replace(
            "\"origin-site\"",
            &format!("{:?}", support::origin_site().display().to_string()),
        );
    let sites = HashMap::from([("probe".to_owned(), Arc::new(functions))]);
    (TestSite::start(&config, sites, memory_store()).await, probe)
}

fn runs(probe: &Probe) -> [usize; 4] {
    EventType::ALL.map(|t| probe.runs(t))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewer_triggers_run_on_every_request_origin_triggers_only_on_a_miss() {
    let (site, probe) = probe_site().await;
    let first = site.get("/css/site.css").await;
    assert_eq!(
        (first.status, first.x_cache()),
        (200, "Miss from cloudfront")
    );
    assert_eq!(first.header("x-probe"), Some("viewer-response ran"));
    assert_eq!(runs(&probe), [1, 1, 1, 1], "a miss runs all four");
    let second = site.get("/css/site.css").await;
    assert_eq!(second.x_cache(), "Hit from cloudfront");
    assert!(second.header("age").is_some(), "hits carry an age");
    assert_eq!(
        runs(&probe),
        [2, 1, 1, 2],
        "a hit runs only the viewer triggers"
    );
    assert_eq!(second.body, first.body);
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_request_answer_skips_the_cache_and_viewer_response() {
    let (site, probe) = probe_site().await;
    for _ in 0..2 {
        let reply = site.get("/vr-answer").await;
        assert_eq!(reply.text(), "from viewer-request");
        assert_eq!(reply.x_cache(), "LambdaGeneratedResponse from cloudfront");
        assert_eq!(reply.header("x-probe"), None);
    }
    assert_eq!(runs(&probe), [2, 0, 0, 0]);
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_request_answer_is_cached_and_skips_origin_response() {
    let (site, probe) = probe_site().await;
    let first = site.get("/or-answer").await;
    assert_eq!(first.text(), "from origin-request");
    assert_eq!(runs(&probe), [1, 1, 0, 1], "origin-response does not run");
    let second = site.get("/or-answer").await;
    assert_eq!(second.text(), "from origin-request");
    assert_eq!(second.x_cache(), "Hit from cloudfront");
    assert_eq!(
        runs(&probe),
        [2, 1, 0, 2],
        "cached: origin-request does not run again"
    );
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origin_errors_skip_viewer_response() {
    let (site, probe) = probe_site().await;
    let reply = site.get("/no-such-object.html").await;
    assert_eq!(reply.status, 403, "S3 without list permission");
    assert_eq!(reply.header("x-probe"), None);
    assert_eq!(
        runs(&probe),
        [1, 1, 1, 0],
        "origin-response runs for errors, viewer-response does not"
    );
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_answers_expire_after_their_ttl() {
    let (site, _probe) = probe_site().await;
    // /short/* has no functions; the S3 403 for a missing key is kept for the distribution's
    // error caching min TTL, 1 s here.
    assert_eq!(
        site.get("/short/x.css").await.x_cache(),
        "Miss from cloudfront"
    );
    assert_eq!(
        site.get("/short/x.css").await.x_cache(),
        "Hit from cloudfront"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        site.get("/short/x.css").await.x_cache(),
        "Miss from cloudfront"
    );
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faithful_failures() {
    let (site, _probe) = probe_site().await;
    let bad = site.get("/vr-bad").await;
    assert_eq!(
        (bad.status, bad.x_cache()),
        (502, "LambdaValidationError from cloudfront")
    );
    let panic = site.get("/vr-panic").await;
    assert_eq!(
        (panic.status, panic.x_cache()),
        (503, "LambdaExecutionError from cloudfront")
    );
    let error = site.get("/or-error").await;
    assert_eq!(
        (error.status, error.x_cache()),
        (503, "LambdaExecutionError from cloudfront")
    );
    let slow = site.get("/vr-slow").await;
    assert_eq!(
        (slow.status, slow.x_cache()),
        (503, "LambdaLimitExceeded from cloudfront")
    );
    let unreachable = site.get("/unreachable/x").await;
    assert_eq!(
        (unreachable.status, unreachable.x_cache()),
        (502, "Error from cloudfront")
    );
    // Failures are not cached: the next request tries again.
    assert_eq!(site.get("/or-error").await.status, 503);
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_share_one_origin_fetch() {
    let (site, probe) = probe_site().await;
    let site = Arc::new(site);
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let site = site.clone();
        tasks.push(tokio::spawn(async move { site.get("/or-slow").await }));
    }
    for task in tasks {
        let reply = task.await.unwrap();
        assert_eq!((reply.status, reply.text().as_str()), (200, "slow"));
    }
    assert_eq!(
        probe.runs(EventType::OriginRequest),
        1,
        "one origin fetch for twelve viewers"
    );
    assert_eq!(probe.runs(EventType::ViewerRequest), 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_truncated_at_the_include_body_limit() {
    let (site, probe) = probe_site().await;
    let body = Bytes::from(vec![b'x'; 50 * 1024]);
    let reply = site
        .request("POST", "/form", &[("content-type", "text/plain")], body)
        .await;
    assert_eq!(reply.status, 405, "S3 refuses POST");
    let seen = probe.seen_bodies.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            (EventType::ViewerRequest, true, 40 * 1024),
            (EventType::OriginRequest, false, 50 * 1024)
        ]
    );
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_urls_and_headers_get_cdn_errors() {
    let (site, probe) = probe_site().await;
    let long = format!("/{}", "a".repeat(9000));
    assert_eq!(site.get(&long).await.status, 414);
    let big = "b".repeat(21_000);
    assert_eq!(
        site.get_with("/", &[("x-big", big.as_str())]).await.status,
        494
    );
    assert_eq!(runs(&probe), [0, 0, 0, 0], "no function sees them");
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_country_override_header_never_reaches_a_function() {
    let (site, probe) = probe_site().await;
    site.get_with(
        "/css/site.css",
        &[("x-test-country", "FR"), ("connection", "keep-alive")],
    )
    .await;
    let seen = probe.seen_headers.lock().unwrap().clone();
    assert!(
        !seen[0]
            .iter()
            .any(|h| h == "x-test-country" || h == "connection"),
        "{seen:?}"
    );
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_conditional_and_range_requests_on_static_objects() {
    let site = TestSite::alien_cards(&shipped_config(), memory_store()).await;
    let full = site.get("/js/like.js").await;
    assert_eq!(full.status, 200);
    let etag = full.header("etag").unwrap().to_owned();
    let head = site.request("HEAD", "/js/like.js", &[], Bytes::new()).await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        head.header("content-length"),
        Some(full.body.len().to_string().as_str())
    );
    let not_modified = site
        .get_with("/js/like.js", &[("if-none-match", &etag)])
        .await;
    assert_eq!(not_modified.status, 304);
    assert!(not_modified.body.is_empty());
    let last_modified = full.header("last-modified").unwrap().to_owned();
    assert_eq!(
        site.get_with("/js/like.js", &[("if-modified-since", &last_modified)])
            .await
            .status,
        304
    );
    let range = site
        .get_with("/js/like.js", &[("range", "bytes=0-9")])
        .await;
    assert_eq!(range.status, 206);
    assert_eq!(range.body, full.body.slice(0..10));
    assert_eq!(
        range.header("content-range"),
        Some(format!("bytes 0-9/{}", full.body.len()).as_str())
    );
    let beyond = site
        .get_with("/js/like.js", &[("range", "bytes=999999-")])
        .await;
    assert_eq!(beyond.status, 416);
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mobile_and_desktop_viewers_never_get_each_others_css() {
    let site = TestSite::alien_cards(&shipped_config(), memory_store()).await;
    let phone = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";
    let desktop = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
    let mobile_css = std::fs::read(support::origin_site().join("css/mobile/site.css")).unwrap();
    let desktop_css = std::fs::read(support::origin_site().join("css/site.css")).unwrap();
    for _ in 0..2 {
        for (ua, expected) in [(phone, &mobile_css), (desktop, &desktop_css)] {
            let reply = site.get_with("/css/site.css", &[("user-agent", ua)]).await;
            assert_eq!(&reply.body[..], &expected[..], "{ua} ({})", reply.x_cache());
        }
    }
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_countries_never_get_each_others_greeting() {
    let site = TestSite::alien_cards(&shipped_config(), memory_store()).await;
    for _ in 0..2 {
        let fr = site.get_with("/", &[("x-edgekit-country", "FR")]).await;
        assert!(fr.text().contains("Bonjour"), "{}", fr.x_cache());
        assert_eq!(fr.header("content-language"), Some("fr"));
        let jp = site.get_with("/", &[("x-edgekit-country", "JP")]).await;
        assert!(jp.text().contains("日本からようこそ"));
        assert!(!jp.text().contains("Bonjour"));
    }
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn likes_change_the_home_page_order_after_its_ttl() {
    // The shipped home page TTL is 10 s; a 1 s one keeps the test short.
    let config = shipped_config().replacen(
        "default_ttl = 10\nmax_ttl = 10",
        "default_ttl = 1\nmax_ttl = 1",
        1,
    );
    let store = memory_store();
    let site = TestSite::alien_cards(&config, store.clone()).await;
    let cookie = [("cookie", "alien-variant=a")];
    let order = |html: String| {
        let first = html.find("class=\"tile-title\">").unwrap();
        html[first..]
            .split('>')
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .to_owned()
    };
    let before = site.get_with("/", &cookie).await;
    assert_ne!(order(before.text()), "Music");
    for _ in 0..3 {
        let like = site
            .request("POST", "/api/like?id=bcbd2481", &[], Bytes::new())
            .await;
        assert_eq!(like.status, 200);
        assert!(
            like.header("set-cookie")
                .unwrap()
                .starts_with("liked=bcbd2481")
        );
    }
    let cached = site.get_with("/", &cookie).await;
    assert_eq!(
        cached.x_cache(),
        "Hit from cloudfront",
        "still the cached page"
    );
    assert_ne!(order(cached.text()), "Music");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let after = site.get_with("/", &cookie).await;
    assert_eq!(
        order(after.text()),
        "Music",
        "the most liked card leads once the TTL is over"
    );
    let music = store
        .get(&support::cards_table(), "bcbd2481")
        .unwrap()
        .unwrap();
    assert_eq!(support::likes(&music), 3);
    site.stop().await;
}

/// A store that can be taken down and brought back.
struct FlakyStore {
    inner: MemoryStore,
    down: std::sync::atomic::AtomicBool,
}

impl FlakyStore {
    fn check(&self) -> Result<(), DataError> {
        if self.down.load(Ordering::SeqCst) {
            Err(DataError::Unavailable("connection refused".into()))
        } else {
            Ok(())
        }
    }
}

impl ItemStore for FlakyStore {
    fn get(&self, table: &Table, key: &str) -> Result<Option<Item>, DataError> {
        self.check()?;
        self.inner.get(table, key)
    }
    fn scan(&self, table: &Table) -> Result<Vec<Item>, DataError> {
        self.check()?;
        self.inner.scan(table)
    }
    fn add(
        &self,
        table: &Table,
        key: &str,
        attribute: &str,
        amount: i64,
    ) -> Result<Option<Item>, DataError> {
        self.check()?;
        self.inner.add(table, key, attribute, amount)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_outage_gives_a_clean_page_and_the_site_recovers_by_itself() {
    let store = Arc::new(FlakyStore {
        inner: MemoryStore::new().with_table(&support::cards_table(), support::seed_cards()),
        down: true.into(),
    });
    let site = TestSite::alien_cards(&shipped_config(), store.clone()).await;
    let down = site.get("/card/k9b430fc").await;
    assert_eq!(down.status, 503);
    assert!(down.text().contains("Taking a short break"));
    assert!(!down.text().contains("refused"));
    assert_eq!(down.header("cache-control"), Some("no-store"));
    let like = site
        .request("POST", "/api/like?id=k9b430fc", &[], Bytes::new())
        .await;
    assert_eq!(like.status, 503);
    store.down.store(false, Ordering::SeqCst);
    let up = site.get("/card/k9b430fc").await;
    assert_eq!(up.status, 200, "the 503 was not cached");
    assert!(up.text().contains("Cat"));
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pretty_urls_redirects_and_security_headers_everywhere() {
    let site = TestSite::alien_cards(&shipped_config(), memory_store()).await;
    let tree = site.get("/tree").await;
    assert_eq!(tree.status, 200);
    assert!(tree.text().contains("<title>Tree · Alien Cards</title>"));
    let redirect = site.get("/r/beer").await;
    assert_eq!(
        (redirect.status, redirect.header("location")),
        (302, Some("/card/vc7efa69"))
    );
    let missing = site.get("/no/such/page").await;
    assert_eq!(missing.status, 404);
    assert!(missing.text().contains("Card not found"));
    for reply in [
        &tree,
        &redirect,
        &missing,
        &site.get("/images/k9b430fc.svg").await,
        &site.get("/").await,
    ] {
        for header in [
            "strict-transport-security",
            "content-security-policy",
            "x-content-type-options",
            "x-frame-options",
            "referrer-policy",
            "permissions-policy",
        ] {
            assert!(
                reply.header(header).is_some(),
                "{header} missing on a {}",
                reply.status
            );
        }
        assert!(reply.header("via").unwrap().ends_with("(CloudFront)"));
        assert!(reply.header("x-amz-cf-id").is_some());
    }
    let post_home = site.request("POST", "/", &[], Bytes::new()).await;
    assert_eq!(
        post_home.status, 403,
        "the behavior allows GET and HEAD only"
    );
    site.stop().await;
}
