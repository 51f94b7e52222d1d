//! Sign-in at the edge (Amazon Cognito, the Authorization@Edge pattern): the pieces the sign-in
//! block is built from: the ID token's verification ([`token`]).

pub mod token;

#[cfg(test)]
pub(crate) mod test_keys;

/// A new signing secret: 32 random bytes from the system, base64url. What `serve` and `package`
/// give a sign-in block whose declaration has none.
pub fn new_secret() -> Result<String, String> {
    use base64::Engine;
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "the system's random number generator failed".to_owned())?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}
