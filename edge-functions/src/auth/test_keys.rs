//! A key made for the tests only (PKCS#1 DER, 2048 bits: it signs nothing anywhere else), its
//! JWKS, and tokens signed with it, for the token and sign-in tests.

use base64::Engine;
use serde_json::json;

const TEST_KEY: &[u8] = include_bytes!("test-key.der");

pub(crate) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn keypair() -> ring::signature::RsaKeyPair {
    ring::signature::RsaKeyPair::from_der(TEST_KEY).expect("the test key parses")
}

/// The key as a JWKS (kid `k1`), with an encryption key beside it that must be left out.
pub(crate) fn jwks_json() -> String {
    let public = ring::signature::RsaPublicKeyComponents::<Vec<u8>>::from(keypair().public());
    json!({"keys": [
        {"kid": "k1", "kty": "RSA", "alg": "RS256", "use": "sig", "n": b64(&public.n), "e": b64(&public.e)},
        {"kid": "enc", "kty": "RSA", "use": "enc", "n": b64(&public.n), "e": b64(&public.e)},
    ]})
    .to_string()
}

/// A JWT with this header and these claims, signed RS256 with the test key.
pub(crate) fn sign(header: serde_json::Value, claims: serde_json::Value) -> String {
    let signed = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let pair = keypair();
    let mut signature = vec![0; pair.public().modulus_len()];
    pair.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signed.as_bytes(),
        &mut signature,
    )
    .expect("the test key signs");
    format!("{signed}.{}", b64(&signature))
}
