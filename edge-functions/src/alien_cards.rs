//! The Alien Cards site: the example that composes the blocks into four functions.
//!
//! Everything site-specific is data here (routes, greetings, policies, template names); the
//! blocks themselves know nothing of this site. Without the `pages` feature (the viewer-trigger
//! packages), only the functions that need no templates are built.

use std::sync::Arc;

use crate::blocks::cache_control::CacheRule;
#[cfg(feature = "pages")]
use crate::blocks::{
    CardPage, CardSite, DeviceAssets, FriendlyErrors, Greeting, HomePage, LikeApi,
};
use crate::blocks::{
    DefaultCacheControl, Experiment, NormalizeRequest, PrettyUrls, Redirects, SecurityHeaders,
    Variant,
};
use crate::function::{
    EdgeFunctions, OriginRequestFunction, OriginResponseFunction, ViewerRequestFunction,
    ViewerResponseFunction,
};

/// Where the card pages are: `/card/<id>`.
pub const CARD_PREFIX: &str = "/card/";

/// Short names of the cards: `/<name>` shows the card, `/r/<name>` redirects to it.
pub const CARD_NAMES: [(&str, &str); 6] = [
    ("music", "bcbd2481"),
    ("tree", "da8398f4"),
    ("food", "e51c848c"),
    ("computer", "fe2f80a7"),
    ("cat", "k9b430fc"),
    ("beer", "vc7efa69"),
];

/// The request header that carries the A/B variant to the origin side.
pub const VARIANT_HEADER: &str = "X-Experiment-Variant";

/// The greetings on the home page, by `CloudFront-Viewer-Country`.
#[cfg(feature = "pages")]
pub fn greetings() -> std::collections::BTreeMap<String, Greeting> {
    let greet = |text: &str, language: &str| Greeting {
        text: text.to_owned(),
        language: Some(language.to_owned()),
    };
    [
        (
            "US",
            greet("Howdy, visitor from the United States!", "en-US"),
        ),
        (
            "GB",
            greet("Hello, visitor from the United Kingdom!", "en-GB"),
        ),
        ("IE", greet("Dia duit, visitor from Ireland!", "en-IE")),
        ("FR", greet("Bonjour, visiteur venu de France !", "fr")),
        ("DE", greet("Hallo, Besucher aus Deutschland!", "de")),
        ("ES", greet("¡Hola, visitante de España!", "es")),
        ("IT", greet("Ciao, visitatore dall'Italia!", "it")),
        ("NL", greet("Hallo, bezoeker uit Nederland!", "nl")),
        ("BR", greet("Olá, visitante do Brasil!", "pt-BR")),
        ("JP", greet("日本からようこそ！", "ja")),
    ]
    .into_iter()
    .map(|(country, greeting)| (country.to_owned(), greeting))
    .collect()
}

/// What every Alien Cards page shares.
#[cfg(feature = "pages")]
pub fn site() -> Arc<CardSite> {
    Arc::new(CardSite {
        site_name: "Alien Cards".into(),
        card_prefix: CARD_PREFIX.into(),
        image_path: "/images/{id}.svg".into(),
        liked_cookie: "liked".into(),
        liked_cookie_max_age_secs: 365 * 24 * 3600,
        secure_cookies: true,
        variant_header: Some(VARIANT_HEADER.into()),
        layout_template: "base.html".into(),
        error_template: "error.html".into(),
        default_language: "en".into(),
        greetings: greetings(),
    })
}

pub fn experiment() -> Experiment {
    Experiment {
        cookie: "alien-variant".into(),
        header: VARIANT_HEADER.into(),
        variants: vec![
            Variant {
                name: "a".into(),
                weight: 50,
            },
            Variant {
                name: "b".into(),
                weight: 50,
            },
        ],
        max_age_secs: 30 * 24 * 3600,
        secure_cookie: true,
    }
}

/// The four Alien Cards functions (origin-request only with the `pages` feature).
pub fn functions() -> EdgeFunctions {
    let security = Arc::new(SecurityHeaders::strict_same_origin());
    let experiment = Arc::new(experiment());
    EdgeFunctions {
        viewer_request: Some(viewer_request(security.clone(), experiment.clone())),
        origin_request: origin_request(security.clone()),
        origin_response: Some(origin_response(security)),
        viewer_response: Some(ViewerResponseFunction {
            steps: vec![experiment],
        }),
    }
}

fn viewer_request(
    security: Arc<SecurityHeaders>,
    experiment: Arc<Experiment>,
) -> ViewerRequestFunction {
    let card_url = |id: &str| format!("{CARD_PREFIX}{id}");
    ViewerRequestFunction {
        steps: vec![
            Arc::new(NormalizeRequest {
                strip_trailing_slash: true,
                index_document: Some("index.html".into()),
                drop_params: [
                    "utm_*", "fbclid", "gclid", "msclkid", "mc_cid", "mc_eid", "_ga",
                ]
                .map(String::from)
                .to_vec(),
                sort_params: true,
            }),
            Arc::new(Redirects {
                prefix: "/r/".into(),
                targets: CARD_NAMES
                    .iter()
                    .map(|(n, id)| ((*n).into(), card_url(id)))
                    .collect(),
                status: 302,
            }),
            Arc::new(PrettyUrls {
                routes: CARD_NAMES
                    .iter()
                    .map(|(n, id)| (format!("/{n}"), card_url(id)))
                    .collect(),
            }),
            experiment,
        ],
        finish: vec![security],
    }
}

#[cfg(feature = "pages")]
fn origin_request(security: Arc<SecurityHeaders>) -> Option<OriginRequestFunction> {
    let site = site();
    Some(OriginRequestFunction {
        steps: vec![
            Arc::new(LikeApi {
                site: site.clone(),
                path: "/api/like".into(),
            }),
            Arc::new(HomePage {
                site: site.clone(),
                paths: vec!["/".into(), "/index.html".into()],
                template: "home.html".into(),
                // Browsers revalidate every time (likes change, and the liked cookie changes the
                // page); the edge keeps it a few seconds.
                cache_control: "public, max-age=0, s-maxage=10".into(),
            }),
            Arc::new(CardPage {
                site,
                template: "card.html".into(),
                cache_control: "public, max-age=0, s-maxage=30".into(),
            }),
            Arc::new(DeviceAssets {
                prefix: "/css/".into(),
                device_prefix: "/css/mobile/".into(),
                devices: vec!["mobile".into(), "tablet".into(), "smarttv".into()],
            }),
        ],
        finish: vec![security],
    })
}

#[cfg(not(feature = "pages"))]
fn origin_request(_security: Arc<SecurityHeaders>) -> Option<OriginRequestFunction> {
    None
}

fn origin_response(security: Arc<SecurityHeaders>) -> OriginResponseFunction {
    let rule = |suffixes: &[&str], value: &str| CacheRule {
        suffixes: suffixes.iter().map(|s| (*s).to_owned()).collect(),
        value: value.to_owned(),
    };
    #[cfg_attr(not(feature = "pages"), allow(unused_mut))]
    let mut steps: Vec<Arc<dyn crate::function::OriginResponseStep>> = vec![
        Arc::new(DefaultCacheControl {
            rules: vec![
                rule(&[".css", ".js"], "public, max-age=86400"),
                rule(
                    &[".svg", ".png", ".jpg", ".webp", ".ico"],
                    "public, max-age=604800",
                ),
                rule(&[".json"], "public, max-age=60"),
            ],
            fallback: Some("public, max-age=300".into()),
        }),
        // Last, so that the pages the steps before it make carry the headers too.
        security,
    ];
    #[cfg(feature = "pages")]
    steps.insert(
        0,
        Arc::new(FriendlyErrors {
            site: site(),
            statuses: vec![403, 404],
            cache_control: "public, max-age=60".into(),
        }),
    );
    OriginResponseFunction { steps }
}

#[cfg(all(test, feature = "pages"))]
mod tests {
    use super::*;
    use crate::data::{Card, CardStore, DataError, MemoryStore, MemoryTemplates, read_cards_file};
    use crate::event::{Cf, Config, EventType, FunctionResult, Request, Response};
    use crate::rules;
    use crate::runner::{self, Invocation};

    fn origin_site() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../origin-site")
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

    fn seed() -> Vec<Card> {
        read_cards_file(&origin_site().join("data/cards.json")).unwrap()
    }

    /// A store whose backend is down.
    struct DownStore;
    impl CardStore for DownStore {
        fn get_card(&self, _: &str) -> Result<Option<Card>, DataError> {
            Err(DataError::Unavailable(
                "connection refused (table alien-cards-prod)".into(),
            ))
        }
        fn list_cards(&self) -> Result<Vec<Card>, DataError> {
            Err(DataError::Timeout("after 800 ms".into()))
        }
        fn add_like(&self, _: &str) -> Result<Option<Card>, DataError> {
            Err(DataError::Unavailable("connection refused".into()))
        }
    }

    fn event(
        trigger: EventType,
        method: &str,
        uri: &str,
        query: &str,
        headers: &[(&str, &str)],
    ) -> Cf {
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

    fn run(store: &dyn CardStore, cf: Cf, trigger: EventType) -> Invocation {
        let invocation = runner::run(&functions(), trigger, cf, store, &templates());
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
        let store = MemoryStore::new(seed());
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
        assert_eq!(store.list_cards().unwrap().len(), 6);
        assert_eq!(store.get_card("zzzzzzzz").unwrap(), None);
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
        let store = MemoryStore::new(seed());
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
        let json: serde_json::Value =
            serde_json::from_str(response.body.as_deref().unwrap()).unwrap();
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
            &MemoryStore::new(seed()),
            &MemoryTemplates::default(),
        );
        assert!(matches!(
            invocation.result,
            Err(crate::function::FunctionError::MissingTemplate { .. })
        ));
        assert_eq!(
            invocation.failure(),
            Some(rules::Failure::LambdaExecutionError)
        );
    }

    #[test]
    fn every_generated_or_origin_response_carries_the_security_headers() {
        let store = MemoryStore::new(seed());
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
        let store = MemoryStore::new(seed());
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
        let store = MemoryStore::new(seed());
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
}
