//! The Alien Cards declaration (cloudfront/alien-cards.site.toml) run in-process: likes, pages,
//! outages, security headers, greetings and device assets, as its visitors see them.

use std::sync::Arc;

use edge_functions::data::Supplied;
use edge_functions::function::{
    EdgeFunctions, Flow, FunctionError, HeaderNames, HeaderReads, OriginResponseStep, RequestEdit,
    ResponseEdit, ViewerRequestStep,
};

mod support;

fn functions() -> EdgeFunctions {
    support::alien_cards_functions()
}
use edge_functions::data::{DataError, Item, ItemStore, MemoryStore, MemoryTemplates, Table};
use edge_functions::event::{Cf, Config, EventType, FunctionResult, Request, Response};
use edge_functions::rules;
use edge_functions::runner::{self, Invocation};

fn origin_site() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("origin-site")
}

fn templates() -> MemoryTemplates {
    let dir = origin_site().join("templates");
    MemoryTemplates(
        ["base.html", "home.html", "card.html", "error.html"]
            .iter()
            .map(|n| {
                (
                    (*n).to_owned(),
                    std::fs::read_to_string(dir.join(n)).unwrap(),
                )
            })
            .collect(),
    )
}

fn seeded_store() -> MemoryStore {
    MemoryStore::new().with_table(&support::cards_table(), support::seed_cards())
}

/// A store whose backend is down.
struct DownStore;
impl ItemStore for DownStore {
    fn get(&self, _: &Table, _: &str) -> Result<Option<Item>, DataError> {
        Err(DataError::Unavailable(
            "connection refused (table alien-cards-prod)".into(),
        ))
    }
    fn scan(&self, _: &Table) -> Result<Vec<Item>, DataError> {
        Err(DataError::Timeout("after 800 ms".into()))
    }
    fn add(&self, _: &Table, _: &str, _: &str, _: i64) -> Result<Option<Item>, DataError> {
        Err(DataError::Unavailable("connection refused".into()))
    }
}

fn event(trigger: EventType, method: &str, uri: &str, query: &str, headers: &[(&str, &str)]) -> Cf {
    let mut request = Request {
        client_ip: "198.51.100.7".into(),
        method: method.into(),
        uri: uri.into(),
        querystring: query.into(),
        ..Default::default()
    };
    for (k, v) in headers {
        request.headers.set(k, *v);
    }
    let response = (!trigger.is_request()).then(|| Response::new(200));
    Cf {
        config: Config {
            event_type: trigger,
            ..Default::default()
        },
        request,
        response,
        extra: Default::default(),
    }
}

fn run(store: &dyn ItemStore, cf: Cf, trigger: EventType) -> Invocation {
    let invocation = runner::run(
        &functions(),
        trigger,
        cf,
        runner::Sources::offline(store, &templates()),
    );
    assert_eq!(
        invocation.violations,
        vec![],
        "CloudFront would accept every result"
    );
    invocation
}

fn response(invocation: &Invocation) -> &Response {
    match &invocation.result {
        Ok(FunctionResult::Response(r)) => r,
        other => panic!("expected a response, got {other:?}"),
    }
}

fn assert_security_headers(response: &Response) {
    for name in [
        "strict-transport-security",
        "content-security-policy",
        "x-content-type-options",
        "x-frame-options",
        "referrer-policy",
        "permissions-policy",
    ] {
        assert!(
            response.headers.contains(name),
            "{name} missing on a {} response",
            response.status
        );
    }
}

#[test]
fn likes_change_the_home_page_order_and_unknown_ids_create_nothing() {
    let store = seeded_store();
    for _ in 0..2 {
        let like = run(
            &store,
            event(
                EventType::OriginRequest,
                "POST",
                "/api/like",
                "id=k9b430fc",
                &[],
            ),
            EventType::OriginRequest,
        );
        assert_eq!(response(&like).status, "200");
        assert_security_headers(response(&like));
    }
    let unknown = run(
        &store,
        event(
            EventType::OriginRequest,
            "POST",
            "/api/like",
            "id=zzzzzzzz",
            &[],
        ),
        EventType::OriginRequest,
    );
    assert_eq!(response(&unknown).status, "404");
    assert_eq!(store.scan(&support::cards_table()).unwrap().len(), 6);
    assert_eq!(
        store.get(&support::cards_table(), "zzzzzzzz").unwrap(),
        None
    );
    let home = run(
        &store,
        event(EventType::OriginRequest, "GET", "/", "", &[]),
        EventType::OriginRequest,
    );
    let body = response(&home).body.as_deref().unwrap();
    let cat = body.find(">Cat<").unwrap();
    let music = body.find(">Music<").unwrap();
    assert!(cat < music, "the most liked card comes first");
    assert!(body.contains(r#"data-card-id="k9b430fc">2</span>"#));
}

#[test]
fn the_like_answer_remembers_the_card_in_a_cookie() {
    let store = seeded_store();
    let like = run(
        &store,
        event(
            EventType::OriginRequest,
            "POST",
            "/api/like",
            "id=da8398f4",
            &[("Cookie", "liked=k9b430fc.da8398f4")],
        ),
        EventType::OriginRequest,
    );
    let response = response(&like);
    let cookie = response.headers.get("set-cookie").unwrap();
    assert!(cookie.starts_with("liked=k9b430fc.da8398f4;"), "{cookie}");
    assert_eq!(response.headers.get("cache-control"), Some("no-store"));
    let json: serde_json::Value = serde_json::from_str(response.body.as_deref().unwrap()).unwrap();
    assert_eq!(json["likes"], 1);
    assert_eq!(json["liked"], true);
}

#[test]
fn a_store_outage_gives_clean_pages_without_internals() {
    for (method, uri, query, status) in [
        ("GET", "/", "", "503"),
        ("GET", "/card/da8398f4", "", "503"),
        ("POST", "/api/like", "id=da8398f4", "503"),
    ] {
        let invocation = run(
            &DownStore,
            event(EventType::OriginRequest, method, uri, query, &[]),
            EventType::OriginRequest,
        );
        let response = response(&invocation);
        assert_eq!(response.status, status, "{uri}");
        assert_eq!(
            response.headers.get("cache-control"),
            Some("no-store"),
            "{uri}"
        );
        assert_eq!(response.headers.get("retry-after"), Some("5"), "{uri}");
        assert_security_headers(response);
        let body = response.body.as_deref().unwrap();
        assert!(
            !body.contains("alien-cards-prod") && !body.contains("refused"),
            "{body}"
        );
    }
}

#[test]
fn a_missing_template_is_a_function_error() {
    let invocation = runner::run(
        &functions(),
        EventType::OriginRequest,
        event(EventType::OriginRequest, "GET", "/", "", &[]),
        runner::Sources::offline(&seeded_store(), &MemoryTemplates::default()),
    );
    assert!(matches!(
        invocation.result,
        Err(FunctionError::MissingTemplate { .. })
    ));
    assert_eq!(
        invocation.failure(),
        Some(rules::Failure::LambdaExecutionError)
    );
}

#[test]
fn every_generated_or_origin_response_carries_the_security_headers() {
    let store = seeded_store();
    let redirect = run(
        &store,
        event(EventType::ViewerRequest, "GET", "/r/beer", "", &[]),
        EventType::ViewerRequest,
    );
    assert_eq!(response(&redirect).status, "302");
    assert_security_headers(response(&redirect));
    for uri in ["/", "/card/vc7efa69", "/card/nope0000"] {
        let page = run(
            &store,
            event(EventType::OriginRequest, "GET", uri, "", &[]),
            EventType::OriginRequest,
        );
        assert_security_headers(response(&page));
    }
    let wrong_method = run(
        &store,
        event(
            EventType::OriginRequest,
            "DELETE",
            "/api/like",
            "id=vc7efa69",
            &[],
        ),
        EventType::OriginRequest,
    );
    assert_eq!(response(&wrong_method).status, "405");
    assert_eq!(response(&wrong_method).headers.get("allow"), Some("POST"));
    for status in [200, 304, 403, 404, 500] {
        let mut cf = event(EventType::OriginResponse, "GET", "/js/like.js", "", &[]);
        cf.response = Some(Response::new(status));
        let invocation = run(&store, cf, EventType::OriginResponse);
        assert_security_headers(response(&invocation));
    }
}

#[test]
fn greetings_set_content_language_only_where_known() {
    let store = seeded_store();
    let fr = run(
        &store,
        event(
            EventType::OriginRequest,
            "GET",
            "/",
            "",
            &[("CloudFront-Viewer-Country", "FR")],
        ),
        EventType::OriginRequest,
    );
    assert_eq!(response(&fr).headers.get("content-language"), Some("fr"));
    assert!(response(&fr).body.as_deref().unwrap().contains("Bonjour"));
    let ke = run(
        &store,
        event(
            EventType::OriginRequest,
            "GET",
            "/",
            "",
            &[("CloudFront-Viewer-Country", "KE")],
        ),
        EventType::OriginRequest,
    );
    assert_eq!(response(&ke).headers.get("content-language"), None);
}

#[test]
fn device_assets_only_for_listed_devices() {
    let store = seeded_store();
    for (device, expected) in [
        ("Mobile", "/css/mobile/site.css"),
        ("Tablet", "/css/mobile/site.css"),
        ("SmartTV", "/css/mobile/site.css"),
        ("Desktop", "/css/site.css"),
    ] {
        let header = format!("CloudFront-Is-{device}-Viewer");
        let invocation = run(
            &store,
            event(
                EventType::OriginRequest,
                "GET",
                "/css/site.css",
                "",
                &[(&header, "true")],
            ),
            EventType::OriginRequest,
        );
        let Ok(FunctionResult::Request(request)) = &invocation.result else {
            panic!()
        };
        assert_eq!(request.uri, expected, "{device}");
    }
}

// What the declared functions read of an event's headers.

struct Undeclared;
impl ViewerRequestStep for Undeclared {
    fn viewer_request(&self, _request: &mut RequestEdit<'_>, _data: &Supplied) -> Flow {
        Flow::Continue
    }
}

#[test]
fn header_reads_are_the_union_of_the_steps_and_all_when_one_does_not_say() {
    let declared = functions();
    let reads = declared.header_reads(EventType::ViewerRequest);
    let HeaderNames::Only(names) = &reads.request else {
        panic!("the Alien Cards viewer-request steps all declare their reads");
    };
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_eq!(names, ["cookie", "user-agent", "x-experiment-variant"]);
    let reads = declared.header_reads(EventType::ViewerResponse);
    assert!(reads.response.contains("set-cookie") && !reads.response.contains("etag"));

    let mut with_undeclared = declared.clone();
    if let Some(f) = with_undeclared.viewer_request.as_mut() {
        f.steps.push(Arc::new(Undeclared));
    }
    assert_eq!(
        with_undeclared.header_reads(EventType::ViewerRequest),
        HeaderReads::all()
    );
    assert_eq!(
        EdgeFunctions::default().header_reads(EventType::OriginResponse),
        HeaderReads::default()
    );
}

#[test]
fn origin_response_reads_less_on_statuses_no_step_acts_on() {
    let functions = functions();
    let all = functions.header_reads(EventType::OriginResponse);
    // The friendly error pages replace a 403/404 and the headers that described its body.
    for status in [403, 404] {
        assert_eq!(functions.origin_response_reads(status), all);
    }
    let ok = functions.origin_response_reads(200);
    assert!(all.response.contains("etag") && !ok.response.contains("etag"));
    assert!(ok.response.contains("cache-control"));
    assert!(
        all.request.contains("x-experiment-variant")
            && !ok.request.contains("x-experiment-variant")
    );

    // After a step that may change the status, the friendly pages may see a 404 on any
    // origin status: they read what they read on any status.
    struct SetsStatus;
    impl OriginResponseStep for SetsStatus {
        fn origin_response(
            &self,
            _request: &Request,
            response: &mut ResponseEdit<'_>,
            _data: &Supplied,
        ) -> Result<(), FunctionError> {
            response.set_status(404);
            Ok(())
        }
        fn header_reads(&self, _reads: &mut HeaderReads) {}
    }
    let mut status_first = functions.clone();
    if let Some(f) = status_first.origin_response.as_mut() {
        f.steps.insert(0, Arc::new(SetsStatus));
    }
    assert_eq!(status_first.origin_response_reads(200), all);
}
