//! The sign-in block on requests as a browser makes them, with a cookie jar, a fixed clock and
//! the token endpoint's answers supplied as a host would.

use std::cell::Cell;
use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::auth::test_keys::{b64 as encode, jwks_json, sign};
use crate::data::CallAnswer;

const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Test";
const CLIENT: &str = "client123";
const HOST: &str = "www.example.com";
const START: u64 = 1_800_000_000;

thread_local! {
    static NOW: Cell<u64> = const { Cell::new(START) };
    static DRAWN: Cell<u8> = const { Cell::new(0) };
}

fn test_now() -> u64 {
    NOW.with(Cell::get)
}

fn later(secs: u64) {
    NOW.with(|now| now.set(now.get() + secs));
}

/// A different nonce each sign-in, the same sequence each test.
fn test_random(bytes: &mut [u8]) {
    let drawn = DRAWN.with(|d| {
        d.set(d.get().wrapping_add(1));
        d.get()
    });
    bytes
        .iter_mut()
        .enumerate()
        .for_each(|(i, b)| *b = drawn ^ i as u8);
}

fn test_sources() -> Sources {
    Sources {
        now: test_now,
        random: test_random,
    }
}

/// A sign-in started on `target`: the user pool's authorize URL the visitor was sent to.
fn start(block: &SignIn, browser: &mut Browser, target: &str) -> String {
    location(&response(visit(block, browser, target, no_calls).0))
}

/// The callback the user pool would send the visitor to, with `code`, for a sign-in's
/// authorize URL.
fn callback_url(authorize: &str, code: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("code", code)
        .append_pair("state", &param(authorize, "state"))
        .finish();
    format!("/auth/callback?{query}")
}

fn settings() -> SignInSettings {
    serde_json::from_value(json!({
        "user_pool_id": "us-east-1_Test",
        "client_id": CLIENT,
        "domain": "https://auth.example.com",
        "protect": ["/members/"],
        "api": ["/members/api/"],
        "required_group": "members",
        "jwks": jwks_json(),
        "nonce_secret": encode(&[7u8; 32]),
    }))
    .unwrap()
}

fn block() -> SignIn {
    NOW.with(|n| n.set(START));
    settings().into_block(test_sources()).unwrap()
}

fn id_token(nonce: Option<&str>, groups: &[&str], life: u64) -> String {
    let mut claims = json!({"sub": "u-1", "iss": ISSUER, "aud": CLIENT, "token_use": "id",
        "exp": test_now() + life, "iat": test_now(), "cognito:groups": groups});
    if let Some(nonce) = nonce {
        claims["nonce"] = json!(nonce);
    }
    sign(json!({"alg": "RS256", "kid": "k1"}), claims)
}

/// A browser: its cookies (by name, as the host's jar would keep them) and its requests.
#[derive(Default)]
struct Browser {
    jar: BTreeMap<String, (String, String)>,
}

impl Browser {
    fn request(&self, method: &str, target: &str) -> Request {
        let (uri, query) = target.split_once('?').unwrap_or((target, ""));
        let mut request = Request {
            method: method.into(),
            uri: uri.into(),
            querystring: query.into(),
            ..Default::default()
        };
        request.headers.set("Host", HOST);
        let cookies: Vec<String> = self
            .jar
            .iter()
            .filter(|(_, (_, path))| uri.starts_with(path.as_str()))
            .map(|(name, (value, _))| format!("{name}={value}"))
            .collect();
        if !cookies.is_empty() {
            request.headers.set("Cookie", cookies.join("; "));
        }
        request
    }

    fn keep(&mut self, response: &Response) {
        for set in response.headers.get_all("set-cookie") {
            let mut parts = set.split("; ");
            let (name, value) = parts.next().unwrap().split_once('=').unwrap();
            let attributes: Vec<&str> = parts.collect();
            let path = attributes
                .iter()
                .find_map(|a| a.strip_prefix("Path="))
                .unwrap();
            assert!(attributes.contains(&"HttpOnly") && attributes.contains(&"Secure"));
            if attributes.contains(&"Max-Age=0") {
                self.jar.remove(name);
            } else {
                self.jar
                    .insert(name.to_owned(), (value.to_owned(), path.to_owned()));
            }
        }
    }
}

/// Runs the block on a request as a host does: its needs first, answered by `endpoint`.
fn visit(
    block: &SignIn,
    browser: &mut Browser,
    target: &str,
    endpoint: impl Fn(&Call) -> Result<CallAnswer, CallError>,
) -> (Flow, Vec<Call>) {
    visit_as(block, browser, "GET", target, endpoint)
}

fn visit_as(
    block: &SignIn,
    browser: &mut Browser,
    method: &str,
    target: &str,
    endpoint: impl Fn(&Call) -> Result<CallAnswer, CallError>,
) -> (Flow, Vec<Call>) {
    let mut request = browser.request(method, target);
    let mut needs = Needs::default();
    block.needs(&request, &mut needs);
    let data = Supplied {
        calls: needs
            .calls
            .iter()
            .map(|c| (c.clone(), endpoint(c)))
            .collect(),
        ..Default::default()
    };
    let flow = block.viewer_request(&mut RequestEdit::new(&mut request), &data);
    if let Flow::Respond(response) = &flow {
        browser.keep(response);
    }
    (flow, needs.calls)
}

fn no_calls(call: &Call) -> Result<CallAnswer, CallError> {
    panic!("no call was expected: {call}")
}

fn response(flow: Flow) -> Response {
    match flow {
        Flow::Respond(response) => response,
        Flow::Continue => panic!("a response was expected"),
    }
}

fn location(response: &Response) -> String {
    response.headers.get("location").unwrap().to_owned()
}

fn param(url: &str, name: &str) -> String {
    let query = url.split_once('?').unwrap().1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("{url} has no {name}"))
}

fn tokens(id_token: &str, refresh: Option<&str>) -> Result<CallAnswer, CallError> {
    let mut body = json!({"id_token": id_token, "access_token": "a", "expires_in": 3600,
        "token_type": "Bearer"});
    if let Some(refresh) = refresh {
        body["refresh_token"] = json!(refresh);
    }
    Ok(CallAnswer {
        status: 200,
        body: body.to_string(),
    })
}

/// Signs in from `target` as the user pool would let the visitor: the redirect, then the
/// callback with a code the token endpoint exchanges for these groups' tokens.
fn sign_in(block: &SignIn, browser: &mut Browser, target: &str, groups: &[&str]) -> Response {
    let authorize = start(block, browser, target);
    callback(block, browser, &authorize, groups)
}

fn callback(block: &SignIn, browser: &mut Browser, authorize: &str, groups: &[&str]) -> Response {
    let (state, nonce, challenge) = (
        param(authorize, "state"),
        param(authorize, "nonce"),
        param(authorize, "code_challenge"),
    );
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("code", "the-code")
        .append_pair("state", &state)
        .finish();
    let id = id_token(Some(&nonce), groups, 3600);
    let (flow, calls) = visit(block, browser, &format!("/auth/callback?{query}"), |call| {
        let form: BTreeMap<_, _> = call.form.iter().cloned().collect();
        assert_eq!(form["grant_type"], "authorization_code");
        assert_eq!(form["code"], "the-code");
        assert_eq!(
            form["redirect_uri"],
            format!("https://{HOST}/auth/callback")
        );
        // PKCE: the verifier sent now is the one the challenge was made from.
        let digest = ring::digest::digest(&ring::digest::SHA256, form["code_verifier"].as_bytes());
        assert_eq!(encode(digest.as_ref()), challenge);
        tokens(&id, Some("the-refresh-token"))
    });
    assert_eq!(calls.len(), 1);
    response(flow)
}

#[test]
fn a_page_without_a_token_goes_to_the_user_pool_with_pkce_state_and_nonce() {
    let block = block();
    let mut browser = Browser::default();
    let found = response(visit(&block, &mut browser, "/members/cards?page=2", no_calls).0);
    assert_eq!(found.status, "302");
    assert_eq!(found.headers.get("cache-control"), Some("no-store"));
    let url = location(&found);
    assert!(
        url.starts_with("https://auth.example.com/oauth2/authorize?"),
        "{url}"
    );
    assert_eq!(param(&url, "client_id"), CLIENT);
    assert_eq!(param(&url, "response_type"), "code");
    assert_eq!(param(&url, "code_challenge_method"), "S256");
    assert_eq!(param(&url, "scope"), "openid email profile");
    assert_eq!(
        param(&url, "redirect_uri"),
        format!("https://{HOST}/auth/callback")
    );
    let nonce = param(&url, "nonce");
    let cookie = &browser.jar[&format!("edgekit-nonce-{nonce}")];
    assert_eq!(
        cookie.1, "/auth/callback",
        "the nonce cookie goes only to the callback"
    );
}

#[test]
fn a_signed_in_member_passes_and_public_paths_are_not_touched() {
    let block = block();
    let mut browser = Browser::default();
    let back = sign_in(&block, &mut browser, "/members/cards?page=2", &["members"]);
    assert_eq!(back.status, "302");
    assert_eq!(location(&back), "/members/cards?page=2");
    assert_eq!(browser.jar["edgekit-id"].1, "/");
    assert_eq!(browser.jar["edgekit-refresh"].1, "/auth/refresh");
    assert!(
        !browser.jar.keys().any(|k| k.contains("nonce")),
        "the nonce cookie is spent"
    );
    let (flow, _) = visit(&block, &mut browser, "/members/cards", no_calls);
    assert!(matches!(flow, Flow::Continue));
    let mut stranger = Browser::default();
    assert!(matches!(
        visit(&block, &mut stranger, "/index.html", no_calls).0,
        Flow::Continue
    ));
}

#[test]
fn api_calls_get_401_json_never_a_redirect() {
    let block = block();
    let mut browser = Browser::default();
    let api = response(visit(&block, &mut browser, "/members/api/cards", no_calls).0);
    assert_eq!(api.status, "401");
    let body: serde_json::Value = serde_json::from_str(api.body.as_deref().unwrap()).unwrap();
    assert_eq!(body["error"], "unauthorized");
    assert_eq!(body["sign_in"], "/auth/sign-in");
    assert!(api.headers.get("location").is_none());

    let mut request = browser.request("GET", "/members/cards");
    request.headers.set("Accept", "application/json");
    let flow = block.viewer_request(&mut RequestEdit::new(&mut request), &Supplied::default());
    assert_eq!(response(flow).status, "401");
    let posted = response(visit_as(&block, &mut browser, "POST", "/members/cards", no_calls).0);
    assert_eq!(posted.status, "401", "a redirect would lose the body");
}

#[test]
fn an_expired_token_is_refreshed_without_the_sign_in_page() {
    let block = block();
    let mut browser = Browser::default();
    sign_in(&block, &mut browser, "/members/", &["members"]);
    later(3600 + 31);
    let to_refresh = response(visit(&block, &mut browser, "/members/deck?x=1", no_calls).0);
    let url = location(&to_refresh);
    assert_eq!(url, "/auth/refresh?u=%2Fmembers%2Fdeck%3Fx%3D1");
    let fresh = id_token(None, &["members"], 3600);
    let (flow, calls) = visit(&block, &mut browser, &url, |call| {
        let form: BTreeMap<_, _> = call.form.iter().cloned().collect();
        assert_eq!(form["grant_type"], "refresh_token");
        assert_eq!(form["refresh_token"], "the-refresh-token");
        tokens(&fresh, None)
    });
    assert_eq!(calls.len(), 1);
    assert_eq!(location(&response(flow)), "/members/deck?x=1");
    assert!(matches!(
        visit(&block, &mut browser, "/members/deck", no_calls).0,
        Flow::Continue
    ));
    // An API call with an expired token is told so, not redirected.
    later(3600 + 31);
    let api = response(visit(&block, &mut browser, "/members/api/x", no_calls).0);
    assert_eq!(api.status, "401");
}

#[test]
fn a_refused_refresh_signs_in_afresh_and_never_loops() {
    let block = block();
    let mut browser = Browser::default();
    sign_in(&block, &mut browser, "/members/", &["members"]);
    later(3600 + 31);
    let refused = |_: &Call| {
        Ok(CallAnswer {
            status: 400,
            body: r#"{"error":"invalid_grant"}"#.into(),
        })
    };
    let (flow, _) = visit(
        &block,
        &mut browser,
        "/auth/refresh?u=%2Fmembers%2F",
        refused,
    );
    let url = location(&response(flow));
    assert!(
        url.starts_with("https://auth.example.com/oauth2/authorize?"),
        "{url}"
    );
    assert!(
        !browser.jar.contains_key("edgekit-refresh"),
        "the refresh token is forgotten"
    );
    // Without a refresh token, refreshing is signing in.
    let (flow, calls) = visit(
        &block,
        &mut browser,
        "/auth/refresh?u=%2Fmembers%2F",
        no_calls,
    );
    assert!(calls.is_empty());
    assert!(location(&response(flow)).contains("/oauth2/authorize?"));
}

#[test]
fn several_tabs_can_sign_in_at_once() {
    let block = block();
    let mut browser = Browser::default();
    let first = location(&response(
        visit(&block, &mut browser, "/members/a", no_calls).0,
    ));
    let second = location(&response(
        visit(&block, &mut browser, "/members/b", no_calls).0,
    ));
    assert_ne!(param(&first, "nonce"), param(&second, "nonce"));
    // The second tab finishes first; the first tab's sign-in still completes.
    assert_eq!(
        location(&callback(&block, &mut browser, &second, &["members"])),
        "/members/b"
    );
    assert_eq!(
        location(&callback(&block, &mut browser, &first, &["members"])),
        "/members/a"
    );
}

#[test]
fn signing_in_again_after_signing_out_works() {
    let block = block();
    let mut browser = Browser::default();
    sign_in(&block, &mut browser, "/members/", &["members"]);
    let out = response(visit(&block, &mut browser, "/auth/sign-out", no_calls).0);
    let url = location(&out);
    assert!(url.starts_with("https://auth.example.com/logout?"), "{url}");
    assert_eq!(param(&url, "client_id"), CLIENT);
    assert_eq!(param(&url, "logout_uri"), format!("https://{HOST}/"));
    assert!(browser.jar.is_empty(), "{:?}", browser.jar);
    assert!(!matches!(
        visit(&block, &mut browser, "/members/", no_calls).0,
        Flow::Continue
    ));
    let back = sign_in(&block, &mut browser, "/members/", &["members"]);
    assert_eq!(location(&back), "/members/");
    assert!(matches!(
        visit(&block, &mut browser, "/members/", no_calls).0,
        Flow::Continue
    ));
}

#[test]
fn reloading_a_completed_callback_goes_on_to_the_page() {
    let block = block();
    let mut browser = Browser::default();
    let authorize = start(&block, &mut browser, "/members/x");
    callback(&block, &mut browser, &authorize, &["members"]);
    // The nonce cookie is spent and no code is offered again; the member is in.
    let url = callback_url(&authorize, "the-code");
    let (flow, calls) = visit(&block, &mut browser, &url, no_calls);
    assert!(calls.is_empty());
    assert_eq!(location(&response(flow)), "/members/x");
}

#[test]
fn a_visitor_outside_the_group_gets_403_not_a_loop() {
    let block = block();
    let mut browser = Browser::default();
    let answer = sign_in(&block, &mut browser, "/members/", &["visitors"]);
    assert_eq!(answer.status, "403");
    assert!(!browser.jar.contains_key("edgekit-id"));
}

#[test]
fn forged_tampered_stale_and_unbound_callbacks_are_refused() {
    let block = block();
    let mut browser = Browser::default();
    let authorize = location(&response(
        visit(&block, &mut browser, "/members/", no_calls).0,
    ));
    let state = param(&authorize, "state");
    let (payload, tag) = state.split_once('.').unwrap();
    let callback_with = |state: &str| {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("code", "c")
            .append_pair("state", state)
            .finish();
        format!("/auth/callback?{query}")
    };
    // A state that sends the visitor elsewhere, with the genuine tag: refused, no call made.
    let evil = State {
        n: param(&authorize, "nonce"),
        u: "https://evil.example".into(),
        t: START,
    }
    .encode();
    for forged in [
        format!("{evil}.{tag}"),
        format!("{payload}.AAAA"),
        "nonsense".into(),
    ] {
        let (flow, calls) = visit(&block, &mut browser, &callback_with(&forged), no_calls);
        assert!(calls.is_empty());
        assert_eq!(response(flow).status, "400", "{forged}");
    }
    // Without the nonce cookie (another browser, a replay): a page, never a redirect loop.
    let mut other = Browser::default();
    let (flow, calls) = visit(&block, &mut other, &callback_with(&state), no_calls);
    assert!(calls.is_empty());
    let page = response(flow);
    assert_eq!(page.status, "400");
    assert!(page.headers.get("location").is_none());
    // Too old: a new sign-in towards the same page.
    later(601);
    let (flow, calls) = visit(&block, &mut browser, &callback_with(&state), no_calls);
    assert!(calls.is_empty());
    let again = location(&response(flow));
    assert!(again.contains("/oauth2/authorize?"));
    // The user pool's own refusal.
    let (flow, _) = visit(
        &block,
        &mut browser,
        "/auth/callback?error=access_denied",
        no_calls,
    );
    assert_eq!(response(flow).status, "401");
}

#[test]
fn a_token_answer_for_another_sign_in_is_refused() {
    let block = block();
    let mut browser = Browser::default();
    let authorize = start(&block, &mut browser, "/members/");
    let url = callback_url(&authorize, "c");
    let other_nonce = id_token(Some("someone-elses-nonce"), &["members"], 3600);
    let (flow, _) = visit(&block, &mut browser, &url, |_| tokens(&other_nonce, None));
    assert_eq!(response(flow).status, "400");
    assert!(!browser.jar.contains_key("edgekit-id"));
}

#[test]
fn an_unreachable_token_endpoint_is_a_clean_503() {
    let block = block();
    let mut browser = Browser::default();
    let authorize = start(&block, &mut browser, "/members/");
    let url = callback_url(&authorize, "c");
    let (flow, _) = visit(&block, &mut browser, &url, |c| {
        Err(CallError::ServerError {
            url: c.url.clone(),
            status: 503,
            attempts: 3,
        })
    });
    let page = response(flow);
    assert_eq!(page.status, "503");
    assert_eq!(page.headers.get("retry-after"), Some("30"));
}

#[test]
fn hostile_tokens_are_not_believed() {
    let block = block();
    let good = id_token(None, &["members"], 3600);
    let (signed, signature) = good.rsplit_once('.').unwrap();
    let mut flipped = signature.as_bytes().to_vec();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
    let payload = signed.split_once('.').unwrap().1;
    let none = format!("{}.{payload}.", encode(br#"{"alg":"none","kid":"k1"}"#));
    let access = sign(
        json!({"alg": "RS256", "kid": "k1"}),
        json!({"sub": "u-1", "iss": ISSUER, "client_id": CLIENT, "token_use": "access",
               "exp": START + 3600, "cognito:groups": ["members"]}),
    );
    let unknown_kid = sign(
        json!({"alg": "RS256", "kid": "other"}),
        json!({"sub": "u-1", "iss": ISSUER, "aud": CLIENT, "token_use": "id",
               "exp": START + 3600, "cognito:groups": ["members"]}),
    );
    let oversized = "a".repeat(9000);
    for token in [
        format!("{signed}.{}", String::from_utf8(flipped).unwrap()),
        none,
        access,
        unknown_kid,
        oversized,
        "not-a-token".into(),
    ] {
        let mut browser = Browser::default();
        browser
            .jar
            .insert("edgekit-id".into(), (token.clone(), "/".into()));
        let answer = response(visit(&block, &mut browser, "/members/", no_calls).0);
        assert!(
            location(&answer).contains("/oauth2/authorize?"),
            "{token:.40} was believed"
        );
    }
}

#[test]
fn the_sign_in_link_never_leaves_the_site() {
    let block = block();
    for (asked, kept) in [
        ("/members/deck", "/members/deck"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
    ] {
        let mut browser = Browser::default();
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("u", asked)
            .finish();
        let url = location(&response(
            visit(
                &block,
                &mut browser,
                &format!("/auth/sign-in?{query}"),
                no_calls,
            )
            .0,
        ));
        let state = param(&url, "state");
        let state = State::decode(state.split_once('.').unwrap().0).unwrap();
        assert_eq!(state.u, kept, "{asked}");
    }
}

#[test]
fn settings_that_cannot_work_are_refused() {
    let refused = |change: serde_json::Value| {
        let mut value = serde_json::to_value(json!({
            "user_pool_id": "us-east-1_Test", "client_id": CLIENT,
            "domain": "https://auth.example.com", "protect": ["/members/"],
        }))
        .unwrap();
        for (k, v) in change.as_object().unwrap() {
            value[k] = v.clone();
        }
        let settings: SignInSettings = serde_json::from_value(value).unwrap();
        match settings.into_block(test_sources()) {
            Ok(_) => panic!("{change} was accepted"),
            Err(e) => e,
        }
    };
    assert!(refused(json!({"domain": "http://auth.example.com"})).contains("domain"));
    assert!(refused(json!({"protect": []})).contains("protect"));
    assert!(refused(json!({"sign_in_path": "/members/sign-in"})).contains("protected"));
    assert!(refused(json!({"refresh_path": "/auth/callback"})).contains("two purposes"));
    assert!(refused(json!({"user_pool_id": "nope"})).contains("user_pool_id"));
    assert!(refused(json!({"scopes": ["email"]})).contains("openid"));
    assert!(refused(json!({"jwks": "{}"})).contains("jwks"));
    assert!(refused(json!({"nonce_secret": "c2hvcnQ"})).contains("32 bytes"));
}

struct FakePreparation;

impl crate::site::Prepare for FakePreparation {
    fn fetch(&self, url: &str) -> Result<Option<String>, String> {
        assert_eq!(
            url,
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Test/.well-known/jwks.json"
        );
        Ok(Some(jwks_json()))
    }
    fn secret(&self) -> Result<String, String> {
        Ok(encode(&[9u8; 32]))
    }
    fn environment(&self, name: &str) -> Option<String> {
        (name == "DOCS_CLIENT_SECRET").then(|| "s3cr3t".to_owned())
    }
}

#[test]
fn preparing_brings_the_keys_and_a_secret_into_the_settings() {
    use crate::site::Block;
    let mut settings = json!({"user_pool_id": "us-east-1_Test", "client_id": CLIENT,
        "domain": "https://auth.example.com", "protect": ["/members/"]})
    .as_object()
    .unwrap()
    .clone();
    SignInSettings::prepare(&mut settings, &FakePreparation).unwrap();
    assert_eq!(settings["jwks"], json!(jwks_json()));
    assert_eq!(settings["nonce_secret"], json!(encode(&[9u8; 32])));
    // Already prepared (a package's own settings): nothing is fetched again.
    struct Offline;
    impl crate::site::Prepare for Offline {
        fn fetch(&self, url: &str) -> Result<Option<String>, String> {
            Err(format!("{url}: offline"))
        }
        fn secret(&self) -> Result<String, String> {
            Err("no secret is asked for twice".into())
        }
        fn environment(&self, _: &str) -> Option<String> {
            None
        }
    }
    SignInSettings::prepare(&mut settings, &Offline).unwrap();
    settings.remove("jwks");
    let error = SignInSettings::prepare(&mut settings, &Offline).unwrap_err();
    assert!(
        error.contains("cannot fetch the user pool's keys"),
        "{error}"
    );
}

#[test]
fn the_block_never_shows_its_secret() {
    let shown = format!("{:?}", block());
    assert!(!shown.contains(&encode(&[7u8; 32])) && shown.contains("us-east-1_Test"));
}

#[test]
fn a_confidential_clients_secret_comes_from_the_environment_and_is_never_shown() {
    use crate::site::Block;
    let mut settings = json!({"user_pool_id": "us-east-1_Test", "client_id": CLIENT,
        "domain": "https://auth.example.com", "protect": ["/members/"],
        "client_secret_env": "DOCS_CLIENT_SECRET"})
    .as_object()
    .unwrap()
    .clone();
    SignInSettings::prepare(&mut settings, &FakePreparation).unwrap();
    assert_eq!(settings["client_secret"], "s3cr3t");
    let mut block: SignInSettings =
        serde_json::from_value(serde_json::Value::Object(settings)).unwrap();
    block.jwks = Some(jwks_json());
    let block = block.into_block(test_sources()).unwrap();
    let mut browser = Browser::default();
    browser.jar.insert(
        "edgekit-refresh".into(),
        ("r".into(), "/auth/refresh".into()),
    );
    let (_, calls) = visit(&block, &mut browser, "/auth/refresh?u=%2F", |_| {
        Ok(CallAnswer {
            status: 400,
            body: String::new(),
        })
    });
    // HTTP Basic with the client's id and secret, as Cognito takes them.
    assert_eq!(
        calls[0].authorization.as_deref(),
        Some("Basic Y2xpZW50MTIzOnMzY3IzdA==")
    );
    let shown = format!("{:?} {} {block:?}", calls[0], calls[0]);
    assert!(
        !shown.contains("s3cr3t") && !shown.contains("Y2xpZW50MTIzOnMzY3IzdA"),
        "{shown}"
    );

    let mut unset = json!({"user_pool_id": "us-east-1_Test", "client_id": CLIENT,
        "domain": "https://auth.example.com", "protect": ["/members/"],
        "client_secret_env": "NOT_SET_ANYWHERE", "jwks": jwks_json(), "nonce_secret": encode(&[1; 32])})
    .as_object()
    .unwrap()
    .clone();
    let error = SignInSettings::prepare(&mut unset, &FakePreparation).unwrap_err();
    assert!(error.contains("NOT_SET_ANYWHERE"), "{error}");

    let mut written = json!({"user_pool_id": "us-east-1_Test", "client_id": CLIENT,
        "domain": "https://auth.example.com", "protect": ["/members/"],
        "client_secret": "pasted-by-hand"})
    .as_object()
    .unwrap()
    .clone();
    let error = SignInSettings::prepare(&mut written, &FakePreparation).unwrap_err();
    assert!(
        error.contains("client_secret_env") && !error.contains("pasted-by-hand"),
        "{error}"
    );
}

#[test]
fn a_domain_cookie_is_shared_and_any_of_the_visitors_id_cookies_may_be_the_good_one() {
    let mut settings = settings();
    settings.cookie_domain = Some("example.com".into());
    let block = settings.into_block(test_sources()).unwrap();
    let mut browser = Browser::default();
    let found = response(visit(&block, &mut browser, "/members/", no_calls).0);
    assert!(
        found
            .headers
            .get_all("set-cookie")
            .all(|c| c.ends_with("; Domain=example.com")),
        "{:?}",
        found.headers.get("set-cookie")
    );
    // A stale host cookie (from before the domain was set) beside a good domain cookie: both
    // reach the site under one name, and the good one lets the member in.
    let mut request = browser.request("GET", "/members/");
    let good = id_token(None, &["members"], 3600);
    request.headers.set(
        "Cookie",
        format!("edgekit-id=stale.token.here; edgekit-id={good}"),
    );
    let flow = block.viewer_request(&mut RequestEdit::new(&mut request), &Supplied::default());
    assert!(matches!(flow, Flow::Continue));
}

#[test]
fn a_state_keeps_any_target_the_site_may_name() {
    let state = State {
        n: "bm9uY2U".into(),
        u: "/members/a:b?q=\"x\":1&r=%2F".into(),
        t: START,
    };
    assert_eq!(State::decode(&state.encode()), Some(state));
    assert_eq!(State::decode("not base64!"), None);
    assert_eq!(State::decode(&encode(b"12:only-two")), None);
    assert_eq!(State::decode(&encode(b"soon:n:/")), None);
}

#[test]
fn an_escaped_path_to_the_protected_area_is_protected_too() {
    let block = block();
    for uri in [
        "/%6Dembers/notes",
        "/%6dembers/api/notes.json",
        "/members%2Fnotes",
    ] {
        let mut browser = Browser::default();
        let flow = visit(&block, &mut browser, uri, no_calls).0;
        assert!(!matches!(flow, Flow::Continue), "{uri} was let through");
    }
    // The API's escaped path is still an API call: 401, not a redirect.
    let mut browser = Browser::default();
    let api = response(visit(&block, &mut browser, "/members/%61pi/notes.json", no_calls).0);
    assert_eq!(api.status, "401");
    assert_eq!(crate::blocks::path_as_origin_reads("/a%zz%4"), "/a%zz%4");
}

#[test]
fn the_pages_say_what_the_site_declares() {
    let mut settings = settings();
    settings.messages.not_a_member = "Nur für Mitglieder.".into();
    settings.messages.api = r#"Bitte "anmelden" \ zuerst"#.into();
    let block = settings.into_block(test_sources()).unwrap();
    let mut browser = Browser::default();
    let api = response(visit(&block, &mut browser, "/members/api/x", no_calls).0);
    let body: serde_json::Value = serde_json::from_str(api.body.as_deref().unwrap()).unwrap();
    assert_eq!(body["message"], r#"Bitte "anmelden" \ zuerst"#);
    let answer = sign_in(&block, &mut browser, "/members/", &["visitors"]);
    assert_eq!(answer.status, "403");
    assert_eq!(answer.body.as_deref(), Some("Nur für Mitglieder."));
}
