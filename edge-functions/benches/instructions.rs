//! Instruction counts (callgrind, through gungraun) of each trigger's function of the example
//! sites on representative fixtures: the function alone on a parsed event with its data supplied
//! (`function`), event bytes in → result bytes out (`bytes`), and the validator. Counts do not
//! drift with a busy machine as times do, so `benches/guard` compares them with the committed
//! baselines (`benches/instructions.json`) and fails on a regression.
//!
//! Run through the guard (it installs what is missing and prints a table):
//! `benches/guard`, or `benches/guard --bless` after an intended change.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use edge_functions::EventType;
use edge_functions::data::{EmbeddedStore, MemoryStore, MemoryTemplates, NoCalls, Supplied};
use edge_functions::event::{Cf, FunctionResult, parse_event};
use edge_functions::function::EdgeFunctions;
use edge_functions::rules;
use gungraun::{LibraryBenchmarkConfig, library_benchmark, library_benchmark_group, main};

/// The checkout, as `benches/guard` names it: always the same path (a symlink), so that the
/// allocations made while loading the sites are the same in every checkout. Counts follow the
/// heap's state, and a longer path left it different enough to move them by up to 3.7 %
/// (BENCHMARKS.md, "Latency guard"). Run without the guard, the checkout is the parent of the
/// working directory `cargo bench` gives a bench: the package's own.
fn root() -> PathBuf {
    match std::env::var_os("EDGEKIT_GUARD_ROOT") {
        Some(root) => PathBuf::from(root),
        None => std::env::current_dir()
            .expect("a working directory")
            .join(".."),
    }
}

/// A site's functions, items and templates, loaded once per benchmark process (setup, not
/// counted) and kept for the process's life.
struct Site {
    functions: EdgeFunctions,
    store: MemoryStore,
    templates: MemoryTemplates,
    fixtures: PathBuf,
}

fn load_site(name: &str) -> &'static Site {
    let (declaration, origin, fixtures) = match name {
        "alien-cards" => (
            "cloudfront/alien-cards.site.toml",
            "origin-site",
            "tests/fixtures",
        ),
        "docs" => (
            "examples/docs-site/docs.site.toml",
            "examples/docs-site/origin",
            "examples/docs-site/fixtures",
        ),
        "catalogue" => (
            "examples/catalogue-site/catalogue.site.toml",
            "examples/catalogue-site/origin",
            "examples/catalogue-site/fixtures",
        ),
        other => panic!("no example site {other}"),
    };
    let declaration = root().join(declaration);
    let site = edge_functions::site::load_file(
        &declaration,
        &edge_functions::site::Registry::builtin(),
        None,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let store = EmbeddedStore::snapshot(
        Path::new("/nonexistent-edgekit-bench"),
        &site.seeded_tables(&declaration),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // In name order: the order a directory lists in differs between file systems. A site that
    // renders no pages has no templates.
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(origin).join("templates"))
        .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    let templates = MemoryTemplates(
        files
            .iter()
            .map(|path| {
                let name = path
                    .file_name()
                    .expect("a name")
                    .to_string_lossy()
                    .into_owned();
                (name, std::fs::read_to_string(path).expect("a template"))
            })
            .collect(),
    );
    Box::leak(Box::new(Site {
        functions: site.functions,
        store,
        templates,
        fixtures: root().join(fixtures),
    }))
}

/// One case: its site, trigger, event (compact JSON, as Lambda delivers it; and parsed) and the
/// data its function asks for.
struct Case {
    site: &'static Site,
    trigger: EventType,
    bytes: Vec<u8>,
    cf: Cf,
    data: Supplied,
}

fn case(site: &str, fixture: &str) -> Case {
    let site = load_site(site);
    let trigger: EventType = fixture
        .split('/')
        .next()
        .and_then(|t| t.parse().ok())
        .expect("a fixture under its trigger");
    let pretty = std::fs::read(site.fixtures.join(format!("{fixture}.json"))).expect("fixture");
    let value: serde_json::Value = serde_json::from_slice(&pretty).expect("JSON");
    let bytes = serde_json::to_vec(&value).expect("JSON");
    let cf = parse_event(&bytes)
        .expect("an event")
        .records
        .swap_remove(0)
        .cf;
    let needs = site.functions.needs(trigger, &cf);
    let data = Supplied::fetch(
        &needs,
        &site.store,
        &site.templates,
        &NoCalls("the benches make no network calls"),
    );
    Case {
        site,
        trigger,
        bytes,
        cf,
        data,
    }
}

/// The guard's self-test (`benches/guard --self-test`): the same work plus a deliberate
/// regression, which the guard must catch.
fn deliberate_regression() {
    if std::env::var_os("EDGEKIT_GUARD_DELIBERATE_REGRESSION").is_some() {
        let mut x = 0u64;
        for i in 0..black_box(40u64) {
            x = black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        black_box(x);
    }
}

#[library_benchmark(setup = case)]
#[bench::alien_viewer_request_pretty_url("alien-cards", "viewer-request/pretty-url")]
#[bench::alien_viewer_request_redirect("alien-cards", "viewer-request/redirect")]
#[bench::alien_viewer_request_normalize_query("alien-cards", "viewer-request/normalize-query")]
#[bench::alien_viewer_request_experiment("alien-cards", "viewer-request/experiment-new-visitor")]
#[bench::alien_origin_request_css_mobile("alien-cards", "origin-request/css-mobile")]
#[bench::alien_origin_request_like("alien-cards", "origin-request/like")]
#[bench::alien_origin_request_card("alien-cards", "origin-request/card")]
#[bench::alien_origin_request_home("alien-cards", "origin-request/home")]
#[bench::alien_origin_response_css("alien-cards", "origin-response/static-css-gets-cache-control")]
#[bench::alien_origin_response_404("alien-cards", "origin-response/s3-404-becomes-friendly-404")]
#[bench::alien_viewer_response_cookie(
    "alien-cards",
    "viewer-response/new-visitor-gets-variant-cookie"
)]
#[bench::docs_viewer_request_old_link("docs", "viewer-request/old-link")]
#[bench::docs_viewer_request_guide_index("docs", "viewer-request/guide-index")]
#[bench::docs_origin_request_home("docs", "origin-request/home")]
#[bench::docs_origin_request_view("docs", "origin-request/view")]
#[bench::docs_origin_request_guide_from_germany("docs", "origin-request/guide-from-germany")]
#[bench::docs_origin_response_missing_page("docs", "origin-response/missing-page")]
#[bench::catalogue_viewer_request_old_link_pattern("catalogue", "viewer-request/old-link-pattern")]
#[bench::catalogue_viewer_request_preflight("catalogue", "viewer-request/preflight-allowed")]
#[bench::catalogue_origin_request_app_route("catalogue", "origin-request/app-route-loads-the-app")]
#[bench::catalogue_origin_response_download(
    "catalogue",
    "origin-response/download-is-an-attachment"
)]
#[bench::catalogue_viewer_response_cors(
    "catalogue",
    "viewer-response/api-answer-echoes-partner-origin"
)]
fn function(case: Case) -> FunctionResult {
    deliberate_regression();
    black_box(
        case.site
            .functions
            .run_owned(case.trigger, case.cf, &case.data)
            .expect("the function answers"),
    )
}

#[library_benchmark(setup = case)]
#[bench::alien_viewer_request_pretty_url("alien-cards", "viewer-request/pretty-url")]
#[bench::alien_origin_request_home("alien-cards", "origin-request/home")]
#[bench::alien_origin_response_css("alien-cards", "origin-response/static-css-gets-cache-control")]
#[bench::docs_viewer_request_old_link("docs", "viewer-request/old-link")]
#[bench::docs_origin_request_home("docs", "origin-request/home")]
fn bytes(case: Case) -> Vec<u8> {
    let mut event = parse_event(black_box(&case.bytes)).expect("an event");
    let cf = event.records.swap_remove(0).cf;
    let result = case
        .site
        .functions
        .run_owned(case.trigger, cf, &case.data)
        .expect("the function answers");
    black_box(serde_json::to_vec(&result).expect("a result serializes"))
}

/// A member's valid ID token on a protected page, checked by the sign-in block: the first time
/// an instance sees the token (the RS256 verification) or again (`remembered`: the instance
/// keeps the tokens it has verified). The key is the tests' own (`src/auth/test-key.der`).
fn sign_in_case(remembered: bool) -> Case {
    use base64::Engine;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let pair = ring::signature::RsaKeyPair::from_der(include_bytes!("../src/auth/test-key.der"))
        .expect("the test key");
    let public = ring::signature::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
    let jwks = serde_json::json!({"keys": [{"kid": "k1", "kty": "RSA", "alg": "RS256",
        "use": "sig", "n": b64(&public.n), "e": b64(&public.e)}]});
    let issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Bench";
    let claims = serde_json::json!({"sub": "u-1", "iss": issuer, "aud": "benchclient",
        "token_use": "id", "exp": 4_000_000_000u64, "iat": 1_700_000_000u64,
        "email": "reader@example.com", "cognito:groups": ["members"]});
    let signed = format!(
        "{}.{}",
        b64(br#"{"alg":"RS256","kid":"k1"}"#),
        b64(claims.to_string().as_bytes())
    );
    let mut signature = vec![0; pair.public().modulus_len()];
    pair.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signed.as_bytes(),
        &mut signature,
    )
    .expect("signs");
    let token = format!("{signed}.{}", b64(&signature));
    let declaration = format!(
        r#"name = "members"
[functions]
viewer-request = ["members"]
[blocks.members]
block = "sign-in"
user_pool_id = "us-east-1_Bench"
client_id = "benchclient"
domain = "https://auth.example.com"
protect = ["/members/"]
required_group = "members"
jwks = '{jwks}'
nonce_secret = "{secret}"
"#,
        secret = b64(&[7; 32])
    );
    // Each load is a new instance, with no token verified yet.
    let instance = || -> &'static Site {
        let site = edge_functions::site::load(
            &declaration,
            Path::new("members.site.toml"),
            &edge_functions::site::Registry::builtin(),
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        Box::leak(Box::new(Site {
            functions: site.functions,
            store: MemoryStore::new(),
            templates: MemoryTemplates::default(),
            fixtures: PathBuf::new(),
        }))
    };
    let event = serde_json::json!({"Records": [{"cf": {
        "config": {"eventType": "viewer-request", "distributionId": "E1",
                   "distributionDomainName": "d1.cloudfront.net", "requestId": "r"},
        "request": {"clientIp": "203.0.113.9", "method": "GET", "uri": "/members/notes",
            "querystring": "", "headers": {
                "host": [{"key": "Host", "value": "docs.example.com"}],
                "cookie": [{"key": "Cookie", "value": format!("theme=dark; edgekit-id={token}")}]}}}}]});
    let bytes = serde_json::to_vec(&event).expect("JSON");
    let cf = parse_event(&bytes)
        .expect("an event")
        .records
        .swap_remove(0)
        .cf;
    let trigger = EventType::ViewerRequest;
    let data = Supplied::default();
    let site = instance();
    let first = site
        .functions
        .run(trigger, &cf, &data)
        .expect("the function answers");
    assert!(
        matches!(first, FunctionResult::Request(_)),
        "the member is let through"
    );
    Case {
        site: if remembered { site } else { instance() },
        trigger,
        bytes,
        cf,
        data,
    }
}

#[library_benchmark(setup = sign_in_case)]
#[bench::sign_in_member_new_token(false)]
#[bench::sign_in_member_remembered_token(true)]
fn sign_in(case: Case) -> FunctionResult {
    deliberate_regression();
    black_box(
        case.site
            .functions
            .run_owned(case.trigger, case.cf, &case.data)
            .expect("the function answers"),
    )
}

/// The validator on the function's own result.
fn validated(site: &str, fixture: &str) -> (Case, FunctionResult) {
    let case = case(site, fixture);
    let result = case
        .site
        .functions
        .run(case.trigger, &case.cf, &case.data)
        .expect("the function answers");
    (case, result)
}

#[library_benchmark(setup = validated)]
#[bench::alien_viewer_request_pretty_url("alien-cards", "viewer-request/pretty-url")]
#[bench::alien_origin_request_home("alien-cards", "origin-request/home")]
fn validator((case, result): (Case, FunctionResult)) -> usize {
    black_box(rules::validate(case.trigger, &case.cf, &result).len())
}

library_benchmark_group!(name = functions; benchmarks = function, bytes, validator, sign_in);

// The benches run with a cleared environment, except the checkout's path and the self-test's
// switch.
main!(
    config = LibraryBenchmarkConfig::default()
        .pass_through_env("EDGEKIT_GUARD_ROOT")
        .pass_through_env("EDGEKIT_GUARD_DELIBERATE_REGRESSION");
    library_benchmark_groups = functions
);
