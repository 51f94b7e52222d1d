//! Sign-in with an Amazon Cognito user pool at the edge (the Authorization@Edge pattern), as one
//! viewer-request block: it checks the ID token on the paths a site protects, sends a visitor
//! without one through the user pool's sign-in (OAuth 2.0 authorization code with PKCE), takes
//! the callback, refreshes an expired token and signs out.
//!
//! What it does better than the reference implementation, on what its users report most:
//! - **Several tabs, apex and www, signing in again after signing out**: each sign-in has its own
//!   nonce cookie, named by its nonce, so a second tab never overwrites the first's; the state
//!   is signed (HMAC), so the callback needs no server-side memory; every cookie it sets is
//!   scoped to the host it was set on (or to `cookie_domain`), and a sign-out leaves nothing a
//!   new sign-in trips on.
//! - **Refresh and sign-out** exist, and never loop: a failed refresh clears the refresh token
//!   and starts a fresh sign-in; a callback that cannot complete answers a page, not a redirect.
//! - **API calls get 401 with a JSON body**, never a redirect to the sign-in page (by path,
//!   `Accept`, `X-Requested-With`, or a method other than GET and HEAD).
//! - **Only the declared paths are protected**; the site's security headers stay its own block.
//! - **No environment variables needed**: the user pool's keys and the nonce signing secret
//!   travel in the package (`edgekit package` fetches the one and generates the other).
//!
//! The token endpoint is the one network call: the block asks for it in its needs, and the host
//! makes it ([`crate::data::calls`]), so the block stays testable on fixtures.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use ring::hmac;
use serde::Deserialize;

use crate::auth::token::{self, Expectations, IdToken, Jwks, TokenError};
use crate::data::{Call, CallError, Needs, Supplied};
use crate::event::{Request, Response};
use crate::function::{Flow, HeaderReads, RequestEdit, ViewerRequestStep};

/// How many verified ID tokens an instance remembers (then it forgets them all).
const REMEMBERED: usize = 256;

/// Bytes of randomness in a nonce (base64url: 22 characters).
const NONCE_BYTES: usize = 16;

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

/// The block's settings in a declaration. No `Debug`: they hold the signing secret.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInSettings {
    /// The user pool's id, `<region>_<id>` (`us-east-1_AbCdEf123`).
    pub user_pool_id: String,
    /// The app client's id (the ID token's audience). A public client: no secret, PKCE instead.
    pub client_id: String,
    /// The user pool's sign-in domain, where `/oauth2/authorize`, `/oauth2/token` and `/logout`
    /// are (`https://auth.example.com`, or `https://<prefix>.auth.<region>.amazoncognito.com`).
    pub domain: String,
    /// Path prefixes that need a signed-in visitor (the rest of the site stays public).
    pub protect: Vec<String>,
    /// Path prefixes of APIs: 401 with a JSON body instead of a redirect to sign in.
    #[serde(default)]
    pub api: Vec<String>,
    /// A `cognito:groups` entry a visitor must have; without it, 403.
    #[serde(default)]
    pub required_group: Option<String>,
    #[serde(default = "defaults::scopes")]
    pub scopes: Vec<String>,
    /// Where a page links to start a sign-in (`?u=<path>` says where to return).
    #[serde(default = "defaults::sign_in_path")]
    pub sign_in_path: String,
    /// The redirect URI the user pool sends the visitor back to (register
    /// `https://<host><callback_path>` as the app client's callback URL; `template` prints it).
    #[serde(default = "defaults::callback_path")]
    pub callback_path: String,
    #[serde(default = "defaults::refresh_path")]
    pub refresh_path: String,
    #[serde(default = "defaults::sign_out_path")]
    pub sign_out_path: String,
    /// Where a visitor lands after signing out (register `https://<host><signed_out_path>` as
    /// the app client's sign-out URL).
    #[serde(default = "defaults::signed_out_path")]
    pub signed_out_path: String,
    /// The `Domain` of the cookies, to share a sign-in between `example.com` and
    /// `www.example.com`; none: each host has its own.
    #[serde(default)]
    pub cookie_domain: Option<String>,
    #[serde(default = "defaults::cookie_prefix")]
    pub cookie_prefix: String,
    /// How long a sign-in may take, from the redirect to the callback.
    #[serde(default = "defaults::sign_in_max_age_secs")]
    pub sign_in_max_age_secs: u64,
    /// How long the refresh token is kept (the app client's refresh token validity).
    #[serde(default = "defaults::refresh_max_age_secs")]
    pub refresh_max_age_secs: u64,
    #[serde(default = "defaults::clock_skew_secs")]
    pub clock_skew_secs: u64,
    /// The token issuer, if not the user pool's own
    /// (`https://cognito-idp.<region>.amazonaws.com/<user_pool_id>`).
    #[serde(default)]
    pub issuer: Option<String>,
    /// Where `serve` and `package` fetch the user pool's keys (default: the issuer's
    /// `/.well-known/jwks.json`).
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// The user pool's keys (a JWKS document): written by `serve` and `package`, not by hand.
    #[serde(default)]
    pub jwks: Option<String>,
    /// The secret that signs states and nonces (base64url, 32 bytes or more): generated by
    /// `serve` and `package`, never logged.
    #[serde(default)]
    pub nonce_secret: Option<String>,
    /// For an app client with a secret: the environment variable `serve` and `package` read it
    /// from (a declaration never holds it). Without one, the client is public (PKCE only).
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// The app client's secret: written by `serve` and `package` from `client_secret_env`.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// What the block's own pages say (plain text), in the site's words.
    #[serde(default)]
    pub messages: SignInMessages,
}

/// The texts of the pages the block answers itself. Those that send the visitor back to sign
/// in end with the sign-in link.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignInMessages {
    /// 403: signed in, but not in `required_group`.
    pub not_a_member: String,
    /// 503: the user pool cannot be reached.
    pub unavailable: String,
    /// 502: the user pool's answer did not verify.
    pub not_verified: String,
    /// 400: a forged or changed sign-in link.
    pub bad_link: String,
    /// 400: a callback without its nonce cookie.
    pub other_browser: String,
    /// 401: the user pool answered with an error (it follows, in parentheses).
    pub did_not_complete: String,
    /// The 401 JSON's `message`, for API calls.
    pub api: String,
}

impl Default for SignInMessages {
    fn default() -> Self {
        SignInMessages {
            not_a_member: "You are signed in, but your account is not in the group this part \
                of the site is for. Ask the site's team for access."
                .into(),
            unavailable: "Signing in is not possible right now. Please try again in a minute."
                .into(),
            not_verified: "The user pool's answer could not be verified. Please try again later."
                .into(),
            bad_link: "This sign-in link is not valid or was changed.".into(),
            other_browser: "This sign-in was not started in this browser, or the browser did \
                not keep its cookie (are cookies blocked?)."
                .into(),
            did_not_complete: "The sign-in did not complete.".into(),
            api: "Sign in to use this API.".into(),
        }
    }
}

mod defaults {
    pub fn scopes() -> Vec<String> {
        vec!["openid".into(), "email".into(), "profile".into()]
    }
    pub fn sign_in_path() -> String {
        "/auth/sign-in".into()
    }
    pub fn callback_path() -> String {
        "/auth/callback".into()
    }
    pub fn refresh_path() -> String {
        "/auth/refresh".into()
    }
    pub fn sign_out_path() -> String {
        "/auth/sign-out".into()
    }
    pub fn signed_out_path() -> String {
        "/".into()
    }
    pub fn cookie_prefix() -> String {
        "edgekit".into()
    }
    pub fn sign_in_max_age_secs() -> u64 {
        600
    }
    pub fn refresh_max_age_secs() -> u64 {
        30 * 24 * 3600
    }
    pub fn clock_skew_secs() -> u64 {
        30
    }
}

impl SignInSettings {
    fn issuer(&self) -> String {
        self.issuer.clone().unwrap_or_else(|| {
            let region = self.user_pool_id.split('_').next().unwrap_or_default();
            format!(
                "https://cognito-idp.{region}.amazonaws.com/{}",
                self.user_pool_id
            )
        })
    }

    /// Where the user pool's keys are fetched from.
    pub fn jwks_location(&self) -> String {
        self.jwks_url
            .clone()
            .unwrap_or_else(|| format!("{}/.well-known/jwks.json", self.issuer()))
    }
}

/// What a site's sign-in block needs registered with its user pool's app client: the
/// distribution's callback and sign-out URLs (`template` prints them for the distribution).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppClientUrls {
    /// The block's name in the declaration.
    pub block: String,
    pub user_pool_id: String,
    pub client_id: String,
    pub callback_path: String,
    pub signed_out_path: String,
}

/// The sign-in blocks of a declaration, with what each needs registered.
pub fn app_client_urls(declaration: &crate::site::Declaration) -> Vec<AppClientUrls> {
    declaration
        .blocks
        .iter()
        .filter(|(_, settings)| settings.get("block").and_then(|b| b.as_str()) == Some("sign-in"))
        .filter_map(|(name, settings)| {
            let mut settings = settings.clone();
            settings.remove("block");
            let parsed: SignInSettings =
                serde_json::from_value(serde_json::Value::Object(settings)).ok()?;
            Some(AppClientUrls {
                block: name.clone(),
                user_pool_id: parsed.user_pool_id,
                client_id: parsed.client_id,
                callback_path: parsed.callback_path,
                signed_out_path: parsed.signed_out_path,
            })
        })
        .collect()
}

/// Clock and randomness, which the tests fix.
#[derive(Clone, Copy)]
struct Sources {
    now: fn() -> u64,
    random: fn(&mut [u8]),
}

fn system_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn system_random(bytes: &mut [u8]) {
    use ring::rand::SecureRandom;
    // The system's generator fails only where no program could run.
    if ring::rand::SystemRandom::new().fill(bytes).is_err() {
        bytes.iter_mut().for_each(|b| *b = 0);
    }
}

/// The built block.
pub struct SignIn {
    settings: SignInSettings,
    jwks: Jwks,
    expect: Expectations,
    key: hmac::Key,
    /// Verified ID tokens (the whole token is the key, so no part of one can be swapped).
    verified: Mutex<HashMap<Box<str>, IdToken>>,
    sources: Sources,
    /// `messages.api` as a JSON string, quoted and escaped.
    api_message: String,
}

/// Why a callback or refresh cannot go on: the page the visitor sees says it plainly.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// The state is missing, forged or tampered with.
    BadState,
    /// The state is genuine but older than `sign_in_max_age_secs`: sign in again.
    Stale { target: String },
    /// The browser did not bring this sign-in's nonce cookie (another browser, a replay, a
    /// reload of a callback that completed, or cookies blocked).
    NoNonceCookie { target: String },
    /// The user pool answered with an error (`error=access_denied`).
    Denied(String),
    /// No refresh token: sign in.
    NoRefreshToken { target: String },
}

/// What the state carries, signed.
#[derive(Debug, PartialEq, Eq)]
struct State {
    /// The nonce.
    n: String,
    /// Where to return: a path (and query) of this site.
    u: String,
    /// When the sign-in began.
    t: u64,
}

impl State {
    /// `<t>:<n>:<u>`, base64url: the nonce is base64url and the time digits, so neither holds
    /// a `:` (plain text rather than JSON: a JSON writer would cost the viewer zip 12 KB).
    fn encode(&self) -> String {
        b64().encode(format!("{}:{}:{}", self.t, self.n, self.u))
    }

    fn decode(payload: &str) -> Option<State> {
        let text = String::from_utf8(b64().decode(payload).ok()?).ok()?;
        let mut parts = text.splitn(3, ':');
        let t = parts.next()?.parse().ok()?;
        let n = parts.next()?.to_owned();
        let u = parts.next()?.to_owned();
        Some(State { n, u, t })
    }
}

/// Whether `target` is a path of this site: `/…`, not `//host` or `/\host` (which browsers read
/// as another site), no control characters. Anything else would make the sign-in an open
/// redirect.
fn is_local_target(target: &str) -> bool {
    target.starts_with('/')
        && !target.starts_with("//")
        && !target.starts_with("/\\")
        && target.len() <= 2048
        && !target.chars().any(|c| c.is_control() || c == '\\')
}

/// A host name as a `Host` header may hold it (name or address, optional port).
fn is_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

fn no_store(mut response: Response) -> Response {
    response.headers.set("Cache-Control", "no-store");
    response
}

fn text_page(status: u16, text: String) -> Response {
    let mut response = Response::new(status).with_text_body(text);
    response
        .headers
        .set("Content-Type", "text/plain; charset=utf-8");
    no_store(response)
}

fn redirect(location: String) -> Response {
    let mut response = Response::new(302);
    response.headers.set("Location", location);
    no_store(response)
}

impl SignIn {
    fn now(&self) -> u64 {
        (self.sources.now)()
    }

    fn mac(&self, purpose: &str, value: &str) -> String {
        let tag = hmac::sign(&self.key, format!("{purpose}:{value}").as_bytes());
        b64().encode(tag.as_ref())
    }

    fn mac_matches(&self, purpose: &str, value: &str, given: &str) -> bool {
        let Ok(tag) = b64().decode(given) else {
            return false;
        };
        hmac::verify(&self.key, format!("{purpose}:{value}").as_bytes(), &tag).is_ok()
    }

    fn cookie_name(&self, what: &str) -> String {
        format!("{}-{what}", self.settings.cookie_prefix)
    }

    fn nonce_cookie_name(&self, nonce: &str) -> String {
        self.cookie_name(&format!("nonce-{nonce}"))
    }

    /// A `Set-Cookie` value: HttpOnly, Secure, SameSite=Lax (the callback is a top-level
    /// navigation from the user pool's domain, which Lax lets through).
    fn set_cookie(&self, name: &str, value: &str, path: &str, max_age: u64) -> String {
        let mut cookie = format!(
            "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; Secure; SameSite=Lax"
        );
        if let Some(domain) = &self.settings.cookie_domain {
            cookie.push_str("; Domain=");
            cookie.push_str(domain);
        }
        cookie
    }

    fn clear_cookie(&self, name: &str, path: &str) -> String {
        self.set_cookie(name, "", path, 0)
    }

    /// The PKCE code verifier of a sign-in: derived from its nonce with the secret, so it needs
    /// no cookie of its own and only the edge can know it (43 characters, as RFC 7636 asks).
    fn code_verifier(&self, nonce: &str) -> String {
        self.mac("pkce", nonce)
    }

    fn host<'r>(&self, request: &'r Request) -> Option<&'r str> {
        request.headers.get("host").filter(|h| is_host(h))
    }

    fn redirect_uri(&self, host: &str) -> String {
        format!("https://{host}{}", self.settings.callback_path)
    }

    /// Sends the visitor to the user pool's sign-in, to come back to `target`.
    fn start_sign_in(&self, request: &Request, target: &str) -> Response {
        let Some(host) = self.host(request) else {
            return text_page(400, "The request has no valid Host header.".into());
        };
        let mut bytes = [0u8; NONCE_BYTES];
        (self.sources.random)(&mut bytes);
        let nonce = b64().encode(bytes);
        let state = State {
            n: nonce.clone(),
            u: target.to_owned(),
            t: self.now(),
        };
        let payload = state.encode();
        let state = format!("{payload}.{}", self.mac("state", &payload));
        let challenge = b64().encode(
            ring::digest::digest(&ring::digest::SHA256, self.code_verifier(&nonce).as_bytes())
                .as_ref(),
        );
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", &self.redirect_uri(host))
            .append_pair("scope", &self.settings.scopes.join(" "))
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .finish();
        let mut response = redirect(format!("{}/oauth2/authorize?{query}", self.settings.domain));
        let binding = self.mac("nonce", &nonce);
        response.headers.append(
            "Set-Cookie",
            self.set_cookie(
                &self.nonce_cookie_name(&nonce),
                &binding,
                &self.settings.callback_path,
                self.settings.sign_in_max_age_secs,
            ),
        );
        response
    }

    /// The ID token from its cookie, if one of the visitor's verifies.
    fn signed_in(&self, request: &Request) -> Result<IdToken, TokenError> {
        let now = self.now();
        let mut last = TokenError::Malformed;
        for token in request.headers.cookies(&self.cookie_name("id")) {
            if let Ok(known) = self.verified.lock()
                && let Some(id) = known.get(token)
            {
                if now <= id.expires_at.saturating_add(self.expect.clock_skew_secs) {
                    return Ok(id.clone());
                }
                last = TokenError::Expired;
                continue;
            }
            match token::verify(token, &self.jwks, &self.expect, now) {
                Ok(id) => {
                    if let Ok(mut known) = self.verified.lock() {
                        if known.len() >= REMEMBERED {
                            known.clear();
                        }
                        known.insert(token.into(), id.clone());
                    }
                    return Ok(id);
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Whether the request is an API call: it gets a 401, never a redirect.
    fn is_api_call(&self, request: &Request) -> bool {
        let accept = request.headers.get("accept").unwrap_or("");
        self.settings
            .api
            .iter()
            .any(|p| crate::blocks::path_as_origin_reads(&request.uri).starts_with(p.as_str()))
            || !matches!(request.method.as_str(), "GET" | "HEAD")
            || request
                .headers
                .get("x-requested-with")
                .is_some_and(|v| v.eq_ignore_ascii_case("xmlhttprequest"))
            || (accept.contains("application/json") && !accept.contains("text/html"))
    }

    fn unauthorized(&self) -> Response {
        // The path holds only letters, digits and `/-_.` (checked when built); the message is
        // escaped once, when built.
        let body = format!(
            r#"{{"error":"unauthorized","message":{},"sign_in":"{}"}}"#,
            self.api_message, self.settings.sign_in_path
        );
        let mut response = Response::new(401).with_text_body(body);
        response
            .headers
            .set("Content-Type", "application/json; charset=utf-8");
        no_store(response)
    }

    fn not_a_member(&self) -> Response {
        text_page(403, self.settings.messages.not_a_member.clone())
    }

    fn requested(request: &Request) -> String {
        if request.querystring.is_empty() {
            request.uri.clone()
        } else {
            format!("{}?{}", request.uri, request.querystring)
        }
    }

    /// The callback's state, checked: genuine, recent, and bound to this browser.
    fn checked_state(&self, request: &Request) -> Result<State, Refusal> {
        if let Some(error) = crate::blocks::query_value(&request.querystring, "error") {
            let error: String = error
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(64)
                .collect();
            return Err(Refusal::Denied(error));
        }
        let state =
            crate::blocks::query_value(&request.querystring, "state").ok_or(Refusal::BadState)?;
        let (payload, tag) = state.split_once('.').ok_or(Refusal::BadState)?;
        if !self.mac_matches("state", payload, tag) {
            return Err(Refusal::BadState);
        }
        let state = State::decode(payload).ok_or(Refusal::BadState)?;
        if !is_local_target(&state.u) {
            return Err(Refusal::BadState);
        }
        if self.now() > state.t.saturating_add(self.settings.sign_in_max_age_secs) {
            return Err(Refusal::Stale { target: state.u });
        }
        let bound = request
            .headers
            .cookies(&self.nonce_cookie_name(&state.n))
            .any(|value| self.mac_matches("nonce", &state.n, value));
        if !bound {
            return Err(Refusal::NoNonceCookie { target: state.u });
        }
        Ok(state)
    }

    /// A confidential client's credentials for the token endpoint (HTTP Basic, as Cognito
    /// takes them); none for a public client.
    fn client_authorization(&self) -> Option<String> {
        self.settings.client_secret.as_ref().map(|secret| {
            let pair = format!("{}:{secret}", self.settings.client_id);
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )
        })
    }

    fn token_url(&self) -> String {
        format!("{}/oauth2/token", self.settings.domain)
    }

    /// The code exchange a callback needs, with its state.
    fn code_exchange(&self, request: &Request) -> Result<(Call, State), Refusal> {
        let state = self.checked_state(request)?;
        let code =
            crate::blocks::query_value(&request.querystring, "code").ok_or(Refusal::BadState)?;
        let host = self.host(request).ok_or(Refusal::BadState)?;
        let call = Call {
            url: self.token_url(),
            form: vec![
                ("grant_type".into(), "authorization_code".into()),
                ("client_id".into(), self.settings.client_id.clone()),
                ("code".into(), code),
                ("redirect_uri".into(), self.redirect_uri(host)),
                ("code_verifier".into(), self.code_verifier(&state.n)),
            ],
            authorization: self.client_authorization(),
        };
        Ok((call, state))
    }

    fn refresh_target(request: &Request) -> String {
        crate::blocks::query_value(&request.querystring, "u")
            .filter(|u| is_local_target(u))
            .unwrap_or_else(|| "/".into())
    }

    /// The refresh a refresh request needs, with where to return.
    fn refresh_exchange(&self, request: &Request) -> Result<(Call, String), Refusal> {
        let target = Self::refresh_target(request);
        let name = self.cookie_name("refresh");
        let Some(refresh_token) = request
            .headers
            .cookies(&name)
            .find(|v| !v.is_empty() && v.len() <= token::MAX_TOKEN_BYTES)
        else {
            return Err(Refusal::NoRefreshToken { target });
        };
        let call = Call {
            url: self.token_url(),
            form: vec![
                ("grant_type".into(), "refresh_token".into()),
                ("client_id".into(), self.settings.client_id.clone()),
                ("refresh_token".into(), refresh_token.to_owned()),
            ],
            authorization: self.client_authorization(),
        };
        Ok((call, target))
    }

    fn refused(&self, request: &Request, refusal: Refusal) -> Response {
        let again = format!("{}?u=%2F", self.settings.sign_in_path);
        let texts = &self.settings.messages;
        match refusal {
            Refusal::Stale { target } | Refusal::NoRefreshToken { target } => {
                self.start_sign_in(request, &target)
            }
            Refusal::BadState => text_page(400, format!("{} {again}", texts.bad_link)),
            // A reload of a callback that completed: the visitor is in, so on to the page.
            Refusal::NoNonceCookie { target } if self.signed_in(request).is_ok() => {
                redirect(target)
            }
            Refusal::NoNonceCookie { .. } => {
                text_page(400, format!("{} {again}", texts.other_browser))
            }
            Refusal::Denied(error) => {
                text_page(401, format!("{} ({error}) {again}", texts.did_not_complete))
            }
        }
    }

    /// The token endpoint's answer to `call`, as the host supplied it.
    fn tokens(&self, call: &Call, data: &Supplied) -> TokenAnswer {
        match data.call_answer(call) {
            None => TokenAnswer::Unavailable("the token endpoint was not called"),
            Some(Err(CallError::NotAvailable(_))) => {
                TokenAnswer::Unavailable("this host makes no network calls")
            }
            Some(Err(_)) => TokenAnswer::Unavailable("the token endpoint is unavailable"),
            Some(Ok(answer)) if answer.status >= 500 => {
                TokenAnswer::Unavailable("the token endpoint is unavailable")
            }
            Some(Ok(answer)) if answer.status != 200 => TokenAnswer::Refused,
            Some(Ok(answer)) => match serde_json::from_str::<TokenBody>(&answer.body) {
                Ok(body) => TokenAnswer::Tokens(body),
                Err(_) => TokenAnswer::Unavailable("the token endpoint's answer is not tokens"),
            },
        }
    }

    /// What a visitor sees when the user pool cannot be reached: try again soon.
    fn unavailable(&self, why: &str) -> Response {
        let mut response = text_page(503, self.settings.messages.unavailable.clone());
        response.headers.set("Retry-After", "30");
        // For the operator reading the distribution's log; never the call's form.
        response.headers.set("X-Edgekit-Sign-In", why.to_owned());
        response
    }

    fn callback(&self, request: &Request, data: &Supplied) -> Response {
        let (call, state) = match self.code_exchange(request) {
            Ok(exchange) => exchange,
            Err(refusal) => return self.refused(request, refusal),
        };
        let body = match self.tokens(&call, data) {
            TokenAnswer::Unavailable(why) => return self.unavailable(why),
            // A code is good once: a reload of the callback finds it used. A visitor already
            // signed in goes on; anyone else starts again (a page, so a loop is impossible).
            TokenAnswer::Refused => {
                return match self.signed_in(request) {
                    Ok(_) => redirect(state.u),
                    Err(_) => self.refused(request, Refusal::BadState),
                };
            }
            TokenAnswer::Tokens(body) => body,
        };
        let id = match token::verify(&body.id_token, &self.jwks, &self.expect, self.now()) {
            Ok(id) => id,
            Err(TokenError::MissingGroup) => return self.not_a_member(),
            Err(_) => return text_page(502, self.settings.messages.not_verified.clone()),
        };
        if id.nonce.as_deref().is_some_and(|n| n != state.n) {
            return self.refused(request, Refusal::BadState);
        }
        let mut response = redirect(state.u);
        let cookies = &mut response.headers;
        let max_age = self.settings.refresh_max_age_secs;
        cookies.append(
            "Set-Cookie",
            self.set_cookie(&self.cookie_name("id"), &body.id_token, "/", max_age),
        );
        if let Some(refresh) = &body.refresh_token {
            cookies.append(
                "Set-Cookie",
                self.set_cookie(
                    &self.cookie_name("refresh"),
                    refresh,
                    &self.settings.refresh_path,
                    max_age,
                ),
            );
        }
        cookies.append(
            "Set-Cookie",
            self.clear_cookie(
                &self.nonce_cookie_name(&state.n),
                &self.settings.callback_path,
            ),
        );
        response
    }

    fn refresh(&self, request: &Request, data: &Supplied) -> Response {
        let (call, target) = match self.refresh_exchange(request) {
            Ok(exchange) => exchange,
            Err(refusal) => return self.refused(request, refusal),
        };
        let fresh = match self.tokens(&call, data) {
            TokenAnswer::Unavailable(why) => return self.unavailable(why),
            TokenAnswer::Refused => None,
            TokenAnswer::Tokens(body) => {
                match token::verify(&body.id_token, &self.jwks, &self.expect, self.now()) {
                    Ok(_) => Some(body.id_token),
                    Err(TokenError::MissingGroup) => return self.not_a_member(),
                    Err(_) => None,
                }
            }
        };
        match fresh {
            Some(id_token) => {
                let mut response = redirect(target);
                response.headers.append(
                    "Set-Cookie",
                    self.set_cookie(
                        &self.cookie_name("id"),
                        &id_token,
                        "/",
                        self.settings.refresh_max_age_secs,
                    ),
                );
                response
            }
            // Revoked or expired: forget it and sign in afresh (never back to refresh).
            None => {
                let mut response = self.start_sign_in(request, &target);
                response.headers.append(
                    "Set-Cookie",
                    self.clear_cookie(&self.cookie_name("refresh"), &self.settings.refresh_path),
                );
                response
            }
        }
    }

    fn sign_out(&self, request: &Request) -> Response {
        let Some(host) = self.host(request) else {
            return text_page(400, "The request has no valid Host header.".into());
        };
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &self.settings.client_id)
            .append_pair(
                "logout_uri",
                &format!("https://{host}{}", self.settings.signed_out_path),
            )
            .finish();
        let mut response = redirect(format!("{}/logout?{query}", self.settings.domain));
        response.headers.append(
            "Set-Cookie",
            self.clear_cookie(&self.cookie_name("id"), "/"),
        );
        response.headers.append(
            "Set-Cookie",
            self.clear_cookie(&self.cookie_name("refresh"), &self.settings.refresh_path),
        );
        response
    }

    fn protects(&self, uri: &str) -> bool {
        let path = crate::blocks::path_as_origin_reads(uri);
        self.settings
            .protect
            .iter()
            .any(|p| path.starts_with(p.as_str()))
    }
}

/// What a token endpoint answered.
enum TokenAnswer {
    /// 4xx: the code or refresh token is not good (used, expired, revoked).
    Refused,
    Tokens(TokenBody),
    /// No answer (unreachable, timed out, 5xx after the retries, not JSON): why.
    Unavailable(&'static str),
}

#[derive(Deserialize)]
struct TokenBody {
    id_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
}

impl ViewerRequestStep for SignIn {
    fn needs(&self, request: &Request, needs: &mut Needs) {
        let exchange = if request.uri == self.settings.callback_path {
            self.code_exchange(request).ok().map(|(call, _)| call)
        } else if request.uri == self.settings.refresh_path {
            self.refresh_exchange(request).ok().map(|(call, _)| call)
        } else {
            None
        };
        if let Some(call) = exchange {
            needs.call(call);
        }
    }

    fn viewer_request(&self, request: &mut RequestEdit<'_>, data: &Supplied) -> Flow {
        let uri = request.uri.as_str();
        let s = &self.settings;
        let response = if uri == s.callback_path {
            self.callback(request, data)
        } else if uri == s.refresh_path {
            self.refresh(request, data)
        } else if uri == s.sign_out_path {
            self.sign_out(request)
        } else if uri == s.sign_in_path {
            let target = Self::refresh_target(request);
            self.start_sign_in(request, &target)
        } else if self.protects(uri) {
            match self.signed_in(request) {
                Ok(_) => return Flow::Continue,
                Err(TokenError::MissingGroup) => self.not_a_member(),
                Err(_) if self.is_api_call(request) => self.unauthorized(),
                // An expired token may be refreshed; the refresh path signs in if it cannot.
                Err(TokenError::Expired) => {
                    let query = form_urlencoded::Serializer::new(String::new())
                        .append_pair("u", &Self::requested(request))
                        .finish();
                    redirect(format!("{}?{query}", s.refresh_path))
                }
                Err(_) => self.start_sign_in(request, &Self::requested(request)),
            }
        } else {
            return Flow::Continue;
        };
        Flow::Respond(response)
    }

    fn header_reads(&self, reads: &mut HeaderReads) {
        for name in ["cookie", "host", "accept", "x-requested-with"] {
            reads.request(name);
        }
    }
}

/// `text` as a JSON string (quoted, escaped), written by hand: a JSON writer would cost the
/// viewer zip about 12 KB.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A path setting: `/…`, of characters that need no escaping in a URL or a cookie's `Path`.
fn check_path(what: &str, path: &str) -> Result<(), String> {
    let ok = path.starts_with('/')
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{what}` = `{path}`: a path starts with / and holds letters, digits, / - _ ."
        ))
    }
}

impl crate::site::Block for SignInSettings {
    const NAME: &'static str = "sign-in";
    const SUMMARY: &'static str = "Sign-in with an Amazon Cognito user pool (Authorization@Edge): \
paths under `protect` need a valid ID token (RS256 against the pool's keys; issuer, audience, \
expiry, optional `required_group`). A page without one goes through the pool's sign-in \
(authorization code with PKCE; the state signed, a nonce cookie per sign-in so several tabs work) \
and comes back; an expired token is refreshed; API calls (`api` prefixes, JSON `Accept`, XHR, \
not GET) get 401 JSON, never a redirect. It also answers `sign_in_path`, `callback_path`, \
`refresh_path` and `sign_out_path`. `serve` and `package` fetch the pool's keys and generate the \
signing secret; `template` prints the callback and sign-out URLs to register. Put it first on \
viewer-request (a normalizing block would drop the callback's query).";
    const RUNS_ON: &'static [crate::EventType] = &[crate::EventType::ViewerRequest];
    const EXAMPLE: &'static str = r#"user_pool_id = "us-east-1_AbCdEf123"
client_id = "1example23456789"
domain = "https://auth.example.com"
protect = ["/members/"]
api = ["/members/api/"]"#;

    fn prepare(
        settings: &mut serde_json::Map<String, serde_json::Value>,
        with: &dyn crate::site::Prepare,
    ) -> Result<(), String> {
        let parsed: SignInSettings =
            serde_json::from_value(serde_json::Value::Object(settings.clone()))
                .map_err(|e| e.to_string())?;
        if parsed.jwks.is_none() {
            let url = parsed.jwks_location();
            let jwks = with
                .fetch(&url)
                .map_err(|e| format!("cannot fetch the user pool's keys from {url}: {e}"))?;
            // Without them (`serve` with the user pool unreachable), no token is believed.
            if let Some(jwks) = jwks {
                Jwks::from_json(&jwks).map_err(|e| format!("{url}: {e}"))?;
                settings.insert("jwks".into(), jwks.into());
            }
        }
        if parsed.nonce_secret.is_none() {
            settings.insert("nonce_secret".into(), with.secret()?.into());
        }
        // Prepared settings come from a declaration file: a secret there would be in version
        // control.
        if parsed.client_secret.is_some() {
            return Err(
                "`client_secret`: a declaration never holds the app client's secret; \
                 name the environment variable that does in `client_secret_env`"
                    .into(),
            );
        }
        if let Some(name) = &parsed.client_secret_env {
            let secret = with.environment(name).ok_or_else(|| {
                format!(
                    "`client_secret_env`: set {name} to the app client's secret in the \
                     environment of `edgekit package` (and `serve`)"
                )
            })?;
            settings.insert("client_secret".into(), secret.into());
        }
        Ok(())
    }

    fn build(self, _site: &crate::site::SiteContext) -> Result<crate::site::Steps, String> {
        let block = self.into_block(Sources {
            now: system_now,
            random: system_random,
        })?;
        Ok(crate::site::Steps {
            viewer_request: Some(Arc::new(block)),
            ..Default::default()
        })
    }
}

impl SignInSettings {
    /// The checked settings as the block, with its clock and randomness.
    fn into_block(self, sources: Sources) -> Result<SignIn, String> {
        let pool = &self.user_pool_id;
        let valid_pool = pool.split_once('_').is_some_and(|(region, id)| {
            !region.is_empty()
                && !id.is_empty()
                && region
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && id.bytes().all(|b| b.is_ascii_alphanumeric())
        });
        if !valid_pool {
            return Err(format!(
                "`user_pool_id` = `{pool}` is not a user pool id (<region>_<id>)"
            ));
        }
        if self.client_id.is_empty() || !self.client_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err("`client_id` must be the app client's id (letters and digits)".into());
        }
        if !crate::data::calls::is_callable_url(&self.domain)
            || self.domain.ends_with('/')
            || self.domain.contains(['?', '#'])
        {
            return Err(format!(
                "`domain` = `{}`: the user pool's sign-in domain, https:// (or http:// on a \
                 loopback address, for a local stand-in), without a trailing /",
                self.domain
            ));
        }
        if self.protect.is_empty() {
            return Err("`protect` is empty: list the path prefixes that need sign-in".into());
        }
        for prefix in self.protect.iter().chain(&self.api) {
            check_path("protect/api", prefix)?;
        }
        let paths = [
            ("sign_in_path", &self.sign_in_path),
            ("callback_path", &self.callback_path),
            ("refresh_path", &self.refresh_path),
            ("sign_out_path", &self.sign_out_path),
            ("signed_out_path", &self.signed_out_path),
        ];
        for (what, path) in paths {
            check_path(what, path)?;
        }
        for (i, (what, path)) in paths[..4].iter().enumerate() {
            if paths[..4][i + 1..].iter().any(|(_, other)| other == path) {
                return Err(format!("`{what}` = `{path}` is used for two purposes"));
            }
            if self.protect.iter().any(|p| path.starts_with(p.as_str())) {
                return Err(format!(
                    "`{what}` = `{path}` is under a protected prefix: a visitor could never \
                     reach it to sign in"
                ));
            }
        }
        if self.cookie_prefix.is_empty()
            || !self
                .cookie_prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        {
            return Err("`cookie_prefix` holds letters, digits, - and _".into());
        }
        if let Some(domain) = &self.cookie_domain
            && !is_host(domain)
        {
            return Err(format!("`cookie_domain` = `{domain}` is not a host name"));
        }
        if let Some(scope) = self
            .scopes
            .iter()
            .find(|s| s.is_empty() || !s.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(format!("`scopes`: `{scope}` is not a scope name"));
        }
        if !self.scopes.iter().any(|s| s == "openid") {
            return Err("`scopes` must include `openid` (there is no ID token without it)".into());
        }
        if !(60..=3600).contains(&self.sign_in_max_age_secs) {
            return Err("`sign_in_max_age_secs` is between 60 and 3600".into());
        }
        if self.clock_skew_secs > 300 {
            return Err("`clock_skew_secs` is at most 300".into());
        }
        // Keys: what `serve` and `package` fetched. A build without them (`check`, the block
        // reference) believes no token: every visitor is sent to sign in.
        let jwks = match &self.jwks {
            Some(text) => Jwks::from_json(text).map_err(|e| format!("`jwks`: {e}"))?,
            None => Jwks::default(),
        };
        let secret = match &self.nonce_secret {
            Some(text) => {
                let bytes = b64()
                    .decode(text.trim_end_matches('='))
                    .map_err(|_| "`nonce_secret` is not base64url".to_owned())?;
                if bytes.len() < 32 {
                    return Err("`nonce_secret` must hold 32 bytes or more".into());
                }
                bytes
            }
            // Unprepared: a secret for this process only.
            None => {
                let mut bytes = vec![0u8; 32];
                system_random(&mut bytes);
                bytes
            }
        };
        let expect = Expectations {
            issuer: self.issuer(),
            audience: self.client_id.clone(),
            required_group: self.required_group.clone(),
            clock_skew_secs: self.clock_skew_secs,
        };
        let api_message = json_string(&self.messages.api);
        Ok(SignIn {
            api_message,
            key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
            settings: self,
            jwks,
            expect,
            verified: Mutex::new(HashMap::new()),
            sources,
        })
    }
}

impl std::fmt::Debug for SignIn {
    /// Never the secret or the tokens it remembers.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("user_pool_id", &self.settings.user_pool_id)
            .field("protect", &self.settings.protect)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
