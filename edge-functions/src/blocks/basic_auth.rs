//! HTTP Basic authentication at the edge, with passwords kept only as salted PBKDF2-HMAC-SHA256
//! hashes (`edgekit hash-password` makes them), never in plain text.
//!
//! Viewer-request: it must see every request, cached or not, and it answers 401 before the
//! cache. Deriving a hash is deliberately slow (the iterations), so each instance remembers the
//! credentials it has accepted (a SHA-256 of the header, never the password) and pays the
//! derivation once per visitor.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use base64::Engine;
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::data::Supplied;
use crate::event::Response;
use crate::function::{Flow, HeaderReads, RequestEdit, ViewerRequestStep};

/// The scheme name in a stored hash.
const SCHEME: &str = "pbkdf2-sha256";

/// What `edgekit hash-password` uses unless told: about 3 ms of an edge instance's time for a
/// visitor's first request, and 10,000 guesses cost an attacker 30 s of CPU per password.
pub const DEFAULT_ITERATIONS: u32 = 10_000;

/// The most iterations a declaration may ask for: a viewer-request function has 5 s in all.
const MAX_ITERATIONS: u32 = 1_000_000;

/// How many accepted credentials an instance remembers (then it forgets them all and derives
/// again: a visitor pays the derivation once more).
const REMEMBERED: usize = 256;

/// A stored password: `pbkdf2-sha256$<iterations>$<salt, base64>$<hash, base64>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordHash {
    iterations: u32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

impl PasswordHash {
    pub fn new(password: &str, salt: &[u8], iterations: u32) -> PasswordHash {
        PasswordHash {
            iterations,
            salt: salt.to_vec(),
            hash: pbkdf2_sha256(password.as_bytes(), salt, iterations).to_vec(),
        }
    }

    pub fn parse(text: &str) -> Result<PasswordHash, String> {
        let bad = || {
            "is not a password hash (pbkdf2-sha256$<iterations>$<salt>$<hash>): make one with \
             `edgekit hash-password`; a declaration never holds a plain password"
                .to_owned()
        };
        let mut parts = text.split('$');
        let (Some(SCHEME), Some(iterations), Some(salt), Some(hash), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(bad());
        };
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
        let iterations: u32 = iterations.parse().map_err(|_| bad())?;
        let salt = b64.decode(salt.trim_end_matches('=')).map_err(|_| bad())?;
        let hash = b64.decode(hash.trim_end_matches('=')).map_err(|_| bad())?;
        if !(1_000..=MAX_ITERATIONS).contains(&iterations) {
            return Err(format!(
                "has {iterations} iterations; use 1,000 to {MAX_ITERATIONS} (fewer are guessed \
                 too easily, more take an edge instance too long)"
            ));
        }
        if salt.len() < 8 || hash.len() != 32 {
            return Err(bad());
        }
        Ok(PasswordHash {
            iterations,
            salt,
            hash,
        })
    }

    pub fn verify(&self, password: &str) -> bool {
        let derived = pbkdf2_sha256(password.as_bytes(), &self.salt, self.iterations);
        // Compared in constant time: how far a guess matches must not show in the timing.
        derived
            .iter()
            .zip(&self.hash)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl std::fmt::Display for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
        write!(
            f,
            "{SCHEME}${}${}${}",
            self.iterations,
            b64.encode(&self.salt),
            b64.encode(&self.hash)
        )
    }
}

/// PBKDF2 (RFC 8018) with HMAC-SHA256, one 32-byte block.
fn pbkdf2_sha256(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    type HmacSha256 = hmac::Hmac<Sha256>;
    // The keyed state is made once and copied for each round.
    let keyed = <HmacSha256 as KeyInit>::new_from_slice(password).expect("HMAC takes any key");
    let mut mac = keyed.clone();
    mac.update(salt);
    mac.update(&1u32.to_be_bytes());
    let mut u: [u8; 32] = mac.finalize().into_bytes().into();
    let mut out = u;
    for _ in 1..iterations {
        let mut mac = keyed.clone();
        mac.update(&u);
        u = mac.finalize().into_bytes().into();
        for (o, x) in out.iter_mut().zip(u) {
            *o ^= x;
        }
    }
    out
}

/// The `basic-auth` block's settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuthSettings {
    /// The name a browser shows in its sign-in prompt.
    pub realm: String,
    /// User name → password hash (`edgekit hash-password`).
    pub users: BTreeMap<String, String>,
    /// Only paths under these prefixes are protected; none: every path.
    #[serde(default)]
    pub prefixes: Vec<String>,
    /// What a visitor who cancels the browser's prompt reads (plain text, the site's own
    /// words); none: an empty page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
}

/// The built block.
pub struct BasicAuth {
    realm: String,
    users: BTreeMap<String, PasswordHash>,
    prefixes: Vec<String>,
    page: Option<String>,
    /// SHA-256 of `Authorization` values already accepted by this instance.
    accepted: Mutex<HashSet<[u8; 32]>>,
}

impl BasicAuth {
    /// Whether the `Authorization` header names a user and their password.
    fn accepts(&self, authorization: &str) -> bool {
        let fingerprint: [u8; 32] = Sha256::digest(authorization.as_bytes()).into();
        if self
            .accepted
            .lock()
            .is_ok_and(|known| known.contains(&fingerprint))
        {
            return true;
        }
        let Some(encoded) = authorization
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
            .map(|(_, rest)| rest.trim())
        else {
            return false;
        };
        let Some(decoded) = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
        else {
            return false;
        };
        let Some((user, password)) = decoded.split_once(':') else {
            return false;
        };
        let ok = self
            .users
            .get(user)
            .is_some_and(|hash| hash.verify(password));
        if ok && let Ok(mut known) = self.accepted.lock() {
            if known.len() >= REMEMBERED {
                known.clear();
            }
            known.insert(fingerprint);
        }
        ok
    }

    fn challenge(&self) -> Response {
        let mut response = Response::new(401);
        response.headers.set(
            "WWW-Authenticate",
            format!("Basic realm=\"{}\", charset=\"UTF-8\"", self.realm),
        );
        response.headers.set("Cache-Control", "no-store");
        if let Some(page) = &self.page {
            response
                .headers
                .set("Content-Type", "text/plain; charset=utf-8");
            response.body = Some(page.clone());
        }
        response
    }
}

impl ViewerRequestStep for BasicAuth {
    fn viewer_request(&self, request: &mut RequestEdit<'_>, _data: &Supplied) -> Flow {
        if !crate::blocks::guarded(&self.prefixes, &request.uri) {
            return Flow::Continue;
        }
        match request.headers.get("authorization") {
            Some(value) if self.accepts(value) => Flow::Continue,
            _ => Flow::Respond(self.challenge()),
        }
    }

    fn header_reads(&self, reads: &mut HeaderReads) {
        reads.request("authorization");
    }
}

impl crate::site::Block for BasicAuthSettings {
    const NAME: &'static str = "basic-auth";
    const SUMMARY: &'static str = "HTTP Basic authentication: a request without a listed user and password gets \
401 with `WWW-Authenticate` (the browser asks for them). Passwords are stored only as salted \
PBKDF2-SHA256 hashes, made with `edgekit hash-password`; a plain password is refused. With \
`prefixes`, only paths under them are protected. Viewer-request: it must see every request, \
also those the cache would answer; an instance derives a visitor's hash once and remembers that \
it accepted it. For a staging site or a preview, not for visitors' accounts (see the sign-in \
blocks).";
    const RUNS_ON: &'static [crate::EventType] = &[crate::EventType::ViewerRequest];
    const EXAMPLE: &'static str = r#"realm = "Staging"
users = { editor = "pbkdf2-sha256$10000$c3RhZ2luZy1zYWx0$zXuq0NyoGkpY18IhXwtmCyGiOt8TJv+pPL7YzbcJ1dk" }
prefixes = ["/drafts/"]
page = "The drafts are for the editors. Ask the team for the password.""#;

    fn build(self, _site: &crate::site::SiteContext) -> Result<crate::site::Steps, String> {
        if self.users.is_empty() {
            return Err("`users` is empty: nobody could sign in".into());
        }
        if self.realm.is_empty()
            || self.realm.contains(['"', '\\'])
            || self.realm.chars().any(char::is_control)
        {
            return Err("`realm` must be a non-empty name without quotes or backslashes".into());
        }
        if let Some(bad) = self.prefixes.iter().find(|p| !p.starts_with('/')) {
            return Err(format!("`prefixes`: `{bad}` does not start with /"));
        }
        let mut users = BTreeMap::new();
        for (user, hash) in &self.users {
            if user.is_empty() || user.contains(':') {
                return Err(format!(
                    "user `{user}`: a user name is not empty and has no `:`"
                ));
            }
            let hash = PasswordHash::parse(hash)
                .map_err(|e| format!("user `{user}`: the password {e}"))?;
            users.insert(user.clone(), hash);
        }
        Ok(crate::site::Steps {
            viewer_request: Some(std::sync::Arc::new(BasicAuth {
                realm: self.realm,
                users,
                prefixes: self.prefixes,
                page: self.page,
                accepted: Mutex::new(HashSet::new()),
            })),
            ..Default::default()
        })
    }
}

#[cfg(all(test, feature = "toml"))]
mod tests {
    use super::*;
    use crate::event::Request;
    use crate::site::Block;

    #[test]
    fn pbkdf2_matches_the_rfc_7914_vector() {
        // RFC 7914, section 11: PBKDF2-HMAC-SHA256, P = "passwd", S = "salt", c = 1.
        let out = pbkdf2_sha256(b"passwd", b"salt", 1);
        assert_eq!(
            out[..16],
            [
                0x55, 0xac, 0x04, 0x6e, 0x56, 0xe3, 0x08, 0x9f, 0xec, 0x16, 0x91, 0xc2, 0x25, 0x44,
                0xb6, 0x05
            ]
        );
        // And c = 80,000 with P = "Password", S = "NaCl".
        let out = pbkdf2_sha256(b"Password", b"NaCl", 80_000);
        assert_eq!(
            out[..16],
            [
                0x4d, 0xdc, 0xd8, 0xf6, 0x0b, 0x98, 0xbe, 0x21, 0x83, 0x0c, 0xee, 0x5e, 0xf2, 0x27,
                0x01, 0xf9
            ]
        );
    }

    fn block(prefixes: &[&str]) -> crate::site::Steps {
        let hash = PasswordHash::new("correct horse", b"0123456789abcdef", 1_000).to_string();
        BasicAuthSettings {
            realm: "Staging".into(),
            users: [("editor".to_owned(), hash)].into(),
            prefixes: prefixes.iter().map(|p| (*p).to_owned()).collect(),
            page: Some("Ask the team.".into()),
        }
        .build(&Default::default())
        .unwrap()
    }

    fn run(steps: &crate::site::Steps, uri: &str, authorization: Option<&str>) -> Flow {
        let mut request = Request {
            uri: uri.into(),
            ..Default::default()
        };
        if let Some(value) = authorization {
            request.headers.set("Authorization", value);
        }
        steps
            .viewer_request
            .as_ref()
            .unwrap()
            .viewer_request(&mut RequestEdit::new(&mut request), &Supplied::default())
    }

    fn basic(credentials: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials)
        )
    }

    #[test]
    fn only_a_listed_user_with_the_right_password_gets_in() {
        let steps = block(&[]);
        assert_eq!(
            run(&steps, "/", Some(&basic("editor:correct horse"))),
            Flow::Continue
        );
        // Remembered, and still right.
        assert_eq!(
            run(&steps, "/a", Some(&basic("editor:correct horse"))),
            Flow::Continue
        );
        for refused in [
            None,
            Some(basic("editor:wrong")),
            Some(basic("editor:correct horse ")),
            Some(basic("someone:correct horse")),
            Some(basic("editor")),
            Some("Bearer abc".to_owned()),
            Some("Basic !!!not-base64".to_owned()),
            Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode([0xff, 0xfe, b':', b'x'])
            )),
        ] {
            let Flow::Respond(response) = run(&steps, "/", refused.as_deref()) else {
                panic!("{refused:?} got in");
            };
            assert_eq!(response.status, "401");
            assert_eq!(
                response.headers.get("www-authenticate"),
                Some("Basic realm=\"Staging\", charset=\"UTF-8\"")
            );
            assert_eq!(response.headers.get("cache-control"), Some("no-store"));
            assert_eq!(
                response.body.as_deref(),
                Some("Ask the team."),
                "the site's words"
            );
        }
    }

    #[test]
    fn prefixes_limit_what_is_protected() {
        let steps = block(&["/drafts/"]);
        assert_eq!(run(&steps, "/index.html", None), Flow::Continue);
        assert!(matches!(
            run(&steps, "/drafts/a.html", None),
            Flow::Respond(_)
        ));
        // S3 decodes escapes: `/%64rafts/` is the drafts' object too.
        assert!(matches!(
            run(&steps, "/%64rafts/a.html", None),
            Flow::Respond(_)
        ));
    }

    #[test]
    fn plain_passwords_and_weak_hashes_are_refused() {
        let refused = |hash: &str| {
            BasicAuthSettings {
                realm: "R".into(),
                users: [("u".to_owned(), hash.to_owned())].into(),
                prefixes: vec![],
                page: None,
            }
            .build(&Default::default())
            .err()
            .unwrap()
        };
        assert!(refused("hunter2").contains("edgekit hash-password"));
        let weak = PasswordHash::new("p", b"0123456789", 1_000)
            .to_string()
            .replace("$1000$", "$10$");
        assert!(refused(&weak).contains("10 iterations"));
        let example: BasicAuthSettings = toml::from_str(BasicAuthSettings::EXAMPLE).unwrap();
        let hash = PasswordHash::parse(&example.users["editor"]).unwrap();
        assert!(
            hash.verify("staging-password"),
            "the reference's example is real"
        );
    }
}
