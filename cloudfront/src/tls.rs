//! HTTPS for the local distribution: a certificate for `localhost`, `127.0.0.1` and `::1`,
//! signed by a certificate authority of this machine's own, made once and kept in a directory,
//! so that a browser (or `NODE_EXTRA_CA_CERTS`, or `curl --cacert`) told to trust the authority
//! trusts every later run too. The authority's private key is thrown away once it has signed:
//! nothing can use the trusted authority to vouch for any other name.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The certificate `serve --https` presents, and where its files are.
pub struct LocalTls {
    /// The certificate authority to trust (PEM).
    pub authority: PathBuf,
    /// Whether this run made the files (else it found them).
    pub created: bool,
    pub config: Arc<rustls::ServerConfig>,
}

const AUTHORITY: &str = "ca.pem";
const CERTIFICATE: &str = "cert.pem";
const KEY: &str = "key.pem";

/// The names the certificate is for.
const NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// The certificate in `dir`, made there first when it is missing.
pub fn local_tls(dir: &Path) -> Result<LocalTls, String> {
    let [authority, certificate, key] = [AUTHORITY, CERTIFICATE, KEY].map(|f| dir.join(f));
    let created = !(authority.is_file() && certificate.is_file() && key.is_file());
    if created {
        create(dir, &authority, &certificate, &key)?;
    }
    let chain = CertificateDer::pem_file_iter(&certificate)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", certificate.display()))?;
    let private_key =
        PrivateKeyDer::from_pem_file(&key).map_err(|e| format!("{}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(|e| {
            format!(
                "{}: {e} (remove the directory to make a new certificate)",
                dir.display()
            )
        })?;
    // HTTP/2 first, as CloudFront offers it; HTTP/1.1 for clients without it.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(LocalTls {
        authority,
        created,
        config: Arc::new(config),
    })
}

fn create(dir: &Path, authority: &Path, certificate: &Path, key: &Path) -> Result<(), String> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let failed = |e: rcgen::Error| format!("cannot make the local certificate: {e}");
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;

    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
    ca.distinguished_name
        .push(DnType::CommonName, "edgekit local certificate authority");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().map_err(failed)?;
    let ca_cert = ca.self_signed(&ca_key).map_err(failed)?;

    let mut leaf = CertificateParams::new(NAMES.map(str::to_owned).to_vec()).map_err(failed)?;
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    let leaf_key = KeyPair::generate().map_err(failed)?;
    let issuer = Issuer::new(ca, ca_key);
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(failed)?;

    let write = |path: &Path, text: String, private: bool| -> Result<(), String> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        #[cfg(not(unix))]
        let _ = private;
        use std::io::Write;
        options
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|e| format!("{}: {e}", path.display()))
    };
    write(authority, ca_cert.pem(), false)?;
    write(certificate, leaf_cert.pem() + &ca_cert.pem(), false)?;
    write(key, leaf_key.serialize_pem(), true)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_is_made_once_and_kept() {
        let dir = std::env::temp_dir().join(format!("edgekit-tls-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = local_tls(&dir).unwrap();
        assert!(first.created);
        let authority = std::fs::read_to_string(&first.authority).unwrap();
        let second = local_tls(&dir).unwrap();
        assert!(!second.created);
        assert_eq!(
            std::fs::read_to_string(&second.authority).unwrap(),
            authority
        );
        assert_eq!(
            second.config.alpn_protocols,
            [b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(KEY))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "the key is the owner's only");
        }
        // A broken file is reported, not a panic.
        std::fs::write(dir.join(KEY), "not a key").unwrap();
        assert!(local_tls(&dir).err().unwrap().contains("key.pem"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
