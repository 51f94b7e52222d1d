//! Verifying a Cognito ID token (a JWT signed RS256) against the user pool's keys (its JWKS,
//! which the package carries: fetched when packaging, as Lambda@Edge has no configuration at
//! run time). Everything a token says is checked before it is believed, in an order that does
//! the cheap refusals first: size, shape, algorithm, key, signature, then the claims.

use std::collections::BTreeMap;

use base64::Engine;
use serde::Deserialize;

/// The longest token looked at: a browser keeps 4 KB per cookie, Cognito's ID tokens are 1-2 KB.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Why a token is not believed. None of them says more than a log needs (never the token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is longer than {MAX_TOKEN_BYTES} bytes")]
    TooLarge,
    #[error("the token is not a signed JWT (header.payload.signature, base64url, JSON)")]
    Malformed,
    #[error("the token is signed with {0:?}; only RS256 is accepted")]
    Algorithm(String),
    #[error("the token names a key the user pool does not have")]
    UnknownKey,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued by another user pool")]
    WrongIssuer,
    #[error("the token was issued to another app client")]
    WrongAudience,
    #[error("the token is a {0:?} token; an ID token is required")]
    WrongUse(String),
    #[error("the user is not in the group this path requires")]
    MissingGroup,
}

/// A user pool's signing keys, by `kid`.
#[derive(Debug, Clone, Default)]
pub struct Jwks {
    keys: BTreeMap<String, RsaKey>,
}

#[derive(Debug, Clone)]
struct RsaKey {
    n: Vec<u8>,
    e: Vec<u8>,
}

#[derive(Deserialize)]
struct JwksFile {
    keys: Vec<JwkEntry>,
}

#[derive(Deserialize)]
struct JwkEntry {
    kid: String,
    kty: String,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default, rename = "use")]
    key_use: Option<String>,
    #[serde(default)]
    n: String,
    #[serde(default)]
    e: String,
}

impl Jwks {
    /// The keys of a JWKS document (`{"keys": [{"kid", "kty": "RSA", "n", "e", ...}]}`, as
    /// `https://cognito-idp.<region>.amazonaws.com/<pool>/.well-known/jwks.json` serves it).
    /// Keys that are not RSA signing keys for RS256 are left out; none left is an error.
    pub fn from_json(text: &str) -> Result<Jwks, String> {
        let file: JwksFile =
            serde_json::from_str(text).map_err(|e| format!("not a JWKS document: {e}"))?;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut keys = BTreeMap::new();
        for entry in file.keys {
            let signing = entry.kty == "RSA"
                && entry.alg.as_deref().is_none_or(|a| a == "RS256")
                && entry.key_use.as_deref().is_none_or(|u| u == "sig");
            if !signing {
                continue;
            }
            let decode = |field: &str, value: &str| {
                b64.decode(value.trim_end_matches('='))
                    .map_err(|_| format!("key {}: `{field}` is not base64url", entry.kid))
            };
            let key = RsaKey {
                n: decode("n", &entry.n)?,
                e: decode("e", &entry.e)?,
            };
            if key.n.len() < 256 {
                return Err(format!(
                    "key {}: {} bits; RS256 keys have 2048 or more",
                    entry.kid,
                    key.n.len() * 8
                ));
            }
            keys.insert(entry.kid, key);
        }
        if keys.is_empty() {
            return Err("the JWKS has no RS256 signing key".into());
        }
        Ok(Jwks { keys })
    }

    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }
}

/// What a token must say to be believed.
#[derive(Debug, Clone)]
pub struct Expectations {
    /// `https://cognito-idp.<region>.amazonaws.com/<user pool id>`.
    pub issuer: String,
    /// The app client's id (an ID token's `aud`).
    pub audience: String,
    /// A `cognito:groups` entry the user must have, if any.
    pub required_group: Option<String>,
    /// How far the edge's clock may be from Cognito's, both ways.
    pub clock_skew_secs: u64,
}

/// What a believed ID token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdToken {
    pub subject: String,
    pub expires_at: u64,
    pub email: Option<String>,
    pub groups: Vec<String>,
    /// The `nonce` the sign-in asked the user pool to put in the token, if any.
    pub nonce: Option<String>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    aud: Option<serde_json::Value>,
    #[serde(default)]
    token_use: Option<String>,
    #[serde(default)]
    exp: Option<u64>,
    #[serde(default)]
    nbf: Option<u64>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default, rename = "cognito:groups")]
    groups: Vec<String>,
    #[serde(default)]
    nonce: Option<String>,
}

fn decode_part<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, TokenError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

/// Verifies `token` at `now` (seconds since the epoch).
pub fn verify(
    token: &str,
    jwks: &Jwks,
    expect: &Expectations,
    now: u64,
) -> Result<IdToken, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLarge);
    }
    // The signature covers `header.payload`, everything before the last dot.
    let (signed, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let (header, payload) = signed.split_once('.').ok_or(TokenError::Malformed)?;
    if payload.contains('.') {
        return Err(TokenError::Malformed);
    }
    let header: Header = decode_part(header)?;
    // Only RS256: `none`, and HS256 keyed with the public key, are the classic forgeries.
    if header.alg != "RS256" {
        return Err(TokenError::Algorithm(header.alg));
    }
    let key = header
        .kid
        .as_ref()
        .and_then(|kid| jwks.keys.get(kid))
        .ok_or(TokenError::UnknownKey)?;
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| TokenError::Malformed)?;
    ring::signature::RsaPublicKeyComponents {
        n: &key.n,
        e: &key.e,
    }
    .verify(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        signed.as_bytes(),
        &signature,
    )
    .map_err(|_| TokenError::BadSignature)?;

    let claims: Claims = decode_part(payload)?;
    let exp = claims.exp.ok_or(TokenError::Malformed)?;
    if now > exp.saturating_add(expect.clock_skew_secs) {
        return Err(TokenError::Expired);
    }
    if claims
        .nbf
        .is_some_and(|nbf| nbf > now.saturating_add(expect.clock_skew_secs))
    {
        return Err(TokenError::NotYetValid);
    }
    if claims.iss.as_deref() != Some(expect.issuer.as_str()) {
        return Err(TokenError::WrongIssuer);
    }
    match claims.token_use.as_deref() {
        Some("id") => {}
        other => return Err(TokenError::WrongUse(other.unwrap_or("(none)").to_owned())),
    }
    let audience_matches = match &claims.aud {
        Some(serde_json::Value::String(aud)) => *aud == expect.audience,
        Some(serde_json::Value::Array(auds)) => auds.iter().any(|a| *a == *expect.audience),
        _ => false,
    };
    if !audience_matches {
        return Err(TokenError::WrongAudience);
    }
    if let Some(group) = &expect.required_group
        && !claims.groups.contains(group)
    {
        return Err(TokenError::MissingGroup);
    }
    Ok(IdToken {
        subject: claims.sub.ok_or(TokenError::Malformed)?,
        expires_at: exp,
        email: claims.email,
        groups: claims.groups,
        nonce: claims.nonce,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::auth::test_keys::{b64, jwks_json, sign};

    const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Test";
    const CLIENT: &str = "client123";
    const NOW: u64 = 1_800_000_000;

    fn jwks() -> Jwks {
        Jwks::from_json(&jwks_json()).unwrap()
    }

    fn claims() -> serde_json::Value {
        json!({"sub": "u-1", "iss": ISSUER, "aud": CLIENT, "token_use": "id", "exp": NOW + 600,
               "iat": NOW - 60, "email": "a@example.com", "cognito:groups": ["members"]})
    }

    fn header() -> serde_json::Value {
        json!({"alg": "RS256", "kid": "k1"})
    }

    fn expect(group: Option<&str>) -> Expectations {
        Expectations {
            issuer: ISSUER.into(),
            audience: CLIENT.into(),
            required_group: group.map(str::to_owned),
            clock_skew_secs: 30,
        }
    }

    fn check(token: &str) -> Result<IdToken, TokenError> {
        verify(token, &jwks(), &expect(Some("members")), NOW)
    }

    fn with(claim: &str, value: serde_json::Value) -> String {
        let mut c = claims();
        c[claim] = value;
        sign(header(), c)
    }

    #[test]
    fn a_valid_id_token_is_believed() {
        let token = check(&sign(header(), claims())).unwrap();
        assert_eq!(token.subject, "u-1");
        assert_eq!(token.email.as_deref(), Some("a@example.com"));
        assert_eq!(token.groups, ["members"]);
        assert_eq!(
            jwks().kids().collect::<Vec<_>>(),
            ["k1"],
            "the encryption key is left out"
        );
        // Within the clock skew either way.
        assert!(check(&with("exp", json!(NOW - 20))).is_ok());
        assert!(check(&with("nbf", json!(NOW + 20))).is_ok());
    }

    #[test]
    fn hostile_and_wrong_tokens_are_refused_each_for_its_reason() {
        let good = sign(header(), claims());
        let (signed, signature) = good.rsplit_once('.').unwrap();
        let mut flipped = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(signature)
            .unwrap();
        flipped[0] ^= 1;
        let tampered_claims = {
            let (h, _) = signed.split_once('.').unwrap();
            let mut c = claims();
            c["cognito:groups"] = json!(["members", "admins"]);
            format!("{h}.{}.{signature}", b64(c.to_string().as_bytes()))
        };
        let unsigned = format!(
            "{}.{}.",
            b64(json!({"alg": "none", "kid": "k1"}).to_string().as_bytes()),
            b64(claims().to_string().as_bytes())
        );
        // HS256 "signed" with the public key as the secret: refused for its algorithm.
        let hs256 = format!(
            "{}.{}.{}",
            b64(json!({"alg": "HS256", "kid": "k1"}).to_string().as_bytes()),
            b64(claims().to_string().as_bytes()),
            signature
        );
        let cases: Vec<(String, TokenError)> = vec![
            (
                format!("{signed}.{}", b64(&flipped)),
                TokenError::BadSignature,
            ),
            (tampered_claims, TokenError::BadSignature),
            (unsigned, TokenError::Algorithm("none".into())),
            (hs256, TokenError::Algorithm("HS256".into())),
            (
                sign(json!({"alg": "RS256", "kid": "other"}), claims()),
                TokenError::UnknownKey,
            ),
            (
                sign(json!({"alg": "RS256"}), claims()),
                TokenError::UnknownKey,
            ),
            (
                sign(json!({"alg": "RS256", "kid": "enc"}), claims()),
                TokenError::UnknownKey,
            ),
            (with("exp", json!(NOW - 31)), TokenError::Expired),
            (with("nbf", json!(NOW + 31)), TokenError::NotYetValid),
            (
                with(
                    "iss",
                    json!("https://cognito-idp.us-east-1.amazonaws.com/other"),
                ),
                TokenError::WrongIssuer,
            ),
            (
                with("aud", json!("someone-else")),
                TokenError::WrongAudience,
            ),
            (
                with("token_use", json!("access")),
                TokenError::WrongUse("access".into()),
            ),
            (
                with("cognito:groups", json!(["guests"])),
                TokenError::MissingGroup,
            ),
            ("not-a-token".into(), TokenError::Malformed),
            ("a.b.c.d".into(), TokenError::Malformed),
            ("!!.!!.!!".into(), TokenError::Malformed),
            ("x".repeat(MAX_TOKEN_BYTES + 1), TokenError::TooLarge),
            (with("exp", json!("tomorrow")), TokenError::Malformed),
        ];
        for (token, expected) in cases {
            assert_eq!(check(&token), Err(expected.clone()), "{expected}");
        }
    }

    #[test]
    fn a_bad_jwks_is_refused_when_loaded() {
        assert!(Jwks::from_json("{}").unwrap_err().contains("not a JWKS"));
        assert!(
            Jwks::from_json(r#"{"keys": []}"#)
                .unwrap_err()
                .contains("no RS256")
        );
        let short = json!({"keys": [{"kid": "s", "kty": "RSA", "n": b64(&[1; 128]), "e": "AQAB"}]});
        assert!(
            Jwks::from_json(&short.to_string())
                .unwrap_err()
                .contains("1024 bits")
        );
    }
}
