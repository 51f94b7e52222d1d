//! The Alien Cards site: the example that composes the blocks into four functions.
//!
//! Everything site-specific is data here (routes, greetings, policies, template names); the
//! blocks themselves know nothing of this site.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::blocks::cache_control::CacheRule;
use crate::blocks::{
    CardPage, CardSite, DefaultCacheControl, DeviceAssets, Experiment, FriendlyErrors, Greeting,
    HomePage, LikeApi, NormalizeRequest, PrettyUrls, Redirects, SecurityHeaders, Variant,
};
use crate::function::{
    EdgeFunctions, OriginRequestFunction, OriginResponseFunction, ViewerRequestFunction,
    ViewerResponseFunction,
};

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
pub fn greetings() -> BTreeMap<String, Greeting> {
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
pub fn site() -> Arc<CardSite> {
    Arc::new(CardSite {
        site_name: "Alien Cards".into(),
        card_prefix: "/card/".into(),
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

/// The four Alien Cards functions.
pub fn functions() -> EdgeFunctions {
    let site = site();
    let security = Arc::new(SecurityHeaders::strict_same_origin());
    let experiment = Arc::new(experiment());
    let names = CARD_NAMES.iter();
    let viewer_request = ViewerRequestFunction {
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
                targets: names
                    .clone()
                    .map(|(n, id)| ((*n).into(), site.card_url(id)))
                    .collect(),
                status: 302,
            }),
            Arc::new(PrettyUrls {
                routes: names
                    .map(|(n, id)| (format!("/{n}"), site.card_url(id)))
                    .collect(),
            }),
            experiment.clone(),
        ],
        finish: vec![security.clone()],
    };
    let origin_request = OriginRequestFunction {
        steps: vec![
            Arc::new(LikeApi {
                site: site.clone(),
                path: "/api/like".into(),
            }),
            Arc::new(HomePage {
                site: site.clone(),
                paths: vec!["/".into(), "/index.html".into()],
                template: "home.html".into(),
                cache_control: "public, max-age=10".into(),
            }),
            Arc::new(CardPage {
                site: site.clone(),
                template: "card.html".into(),
                cache_control: "public, max-age=30".into(),
            }),
            Arc::new(DeviceAssets {
                prefix: "/css/".into(),
                device_prefix: "/css/mobile/".into(),
                devices: vec!["mobile".into(), "tablet".into(), "smarttv".into()],
            }),
        ],
        finish: vec![security.clone()],
    };
    let rule = |suffixes: &[&str], value: &str| CacheRule {
        suffixes: suffixes.iter().map(|s| (*s).to_owned()).collect(),
        value: value.to_owned(),
    };
    let origin_response = OriginResponseFunction {
        steps: vec![
            Arc::new(FriendlyErrors {
                site: site.clone(),
                statuses: vec![403, 404],
                cache_control: "public, max-age=60".into(),
            }),
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
            // Last, so that the pages the steps above make carry the headers too.
            security,
        ],
    };
    let viewer_response = ViewerResponseFunction {
        steps: vec![experiment],
    };
    EdgeFunctions {
        viewer_request: Some(viewer_request),
        origin_request: Some(origin_request),
        origin_response: Some(origin_response),
        viewer_response: Some(viewer_response),
    }
}
