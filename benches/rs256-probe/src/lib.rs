//! A probe: what RS256 verification adds to a cdylib, per crate.

/// Verifies an RS256 signature of `message` by the key (n, e big-endian bytes).
#[unsafe(no_mangle)]
pub extern "C" fn probe_verify(
    n: *const u8,
    n_len: usize,
    e: *const u8,
    e_len: usize,
    msg: *const u8,
    msg_len: usize,
    sig: *const u8,
    sig_len: usize,
) -> bool {
    let (n, e, msg, sig) = unsafe {
        (
            std::slice::from_raw_parts(n, n_len),
            std::slice::from_raw_parts(e, e_len),
            std::slice::from_raw_parts(msg, msg_len),
            std::slice::from_raw_parts(sig, sig_len),
        )
    };
    verify(n, e, msg, sig)
}

#[cfg(feature = "ring")]
pub fn verify(n: &[u8], e: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    let key = ring::signature::RsaPublicKeyComponents { n, e };
    key.verify(&ring::signature::RSA_PKCS1_2048_8192_SHA256, msg, sig)
        .is_ok()
}

#[cfg(feature = "rsa")]
pub fn verify(n: &[u8], e: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    use rsa::{BigUint, Pkcs1v15Sign, RsaPublicKey};
    use sha2::{Digest, Sha256};
    let Ok(key) = RsaPublicKey::new(BigUint::from_bytes_be(n), BigUint::from_bytes_be(e)) else {
        return false;
    };
    let digest = Sha256::digest(msg);
    key.verify(Pkcs1v15Sign::new::<Sha256>(), &digest, sig)
        .is_ok()
}

#[cfg(not(any(feature = "ring", feature = "rsa")))]
pub fn verify(n: &[u8], e: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    n.len() + e.len() + msg.len() == sig.len()
}
