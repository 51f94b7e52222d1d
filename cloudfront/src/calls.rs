//! The network calls the tools and the local distribution make for sign-in: a function's token
//! exchange ([`HttpsCaller`], the local distribution's [`Caller`]) and the user pool's keys,
//! fetched when a site is served or packaged ([`fetch_text`]). HTTPS with the system's roots;
//! plain HTTP only to loopback addresses (a local stand-in for Cognito in tests).

use std::time::Duration;

use bytes::Bytes;
use edge_functions::data::calls::is_callable_url;
use edge_functions::data::{Call, CallAnswer, CallError, Caller};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// The most of an answer that is read: a token endpoint's JSON, or a JWKS, is a few KB.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// Makes a function's calls for the local distribution and `invoke`.
pub struct HttpsCaller {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl HttpsCaller {
    pub fn new() -> Result<HttpsCaller, String> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| format!("cannot read the system's certificate authorities: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(HttpsCaller {
            client: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    async fn request(
        &self,
        request: http::Request<Full<Bytes>>,
        url: &str,
        timeout: Duration,
    ) -> Result<CallAnswer, CallError> {
        let unreachable = |reason: String| CallError::Unreachable {
            url: url.to_owned(),
            reason,
        };
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| unreachable(error_chain(&e)))?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| unreachable(format!("reading the answer: {e}")))?
                .to_bytes();
            Ok(CallAnswer {
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
            })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| CallError::Timeout {
                url: url.to_owned(),
                timeout_ms: timeout.as_millis() as u64,
            })?
    }

    /// Runs `future` to its end from synchronous code: on the runtime this thread belongs to
    /// (the local distribution runs functions that need calls on its blocking pool), else on
    /// a runtime of its own (`invoke`, the tools).
    fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => handle.block_on(future),
            Err(_) => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a current-thread runtime builds")
                .block_on(future),
        }
    }
}

/// Every cause of a client error: hyper's own message is only the outermost ("client error").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl Caller for HttpsCaller {
    fn send(&self, call: &Call, timeout: Duration) -> Result<CallAnswer, CallError> {
        if !is_callable_url(&call.url) {
            return Err(CallError::Unreachable {
                url: call.url.clone(),
                reason: "only https:// (or http:// to a loopback address) is called".into(),
            });
        }
        let mut request = http::Request::post(&call.url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json");
        if let Some(authorization) = &call.authorization {
            request = request.header("authorization", authorization);
        }
        let request = request
            .body(Full::new(Bytes::from(call.body())))
            .map_err(|e| CallError::Unreachable {
                url: call.url.clone(),
                reason: format!("not a URL this client can call: {e}"),
            })?;
        Self::block_on(self.request(request, &call.url, timeout))
    }
}

/// GETs `url` (a user pool's JWKS) and returns its body: what `serve` and `package` use to bring
/// a sign-in block's keys into the declaration they run or pack.
pub fn fetch_text(url: &str, timeout: Duration) -> Result<String, String> {
    if !is_callable_url(url) {
        return Err(format!(
            "{url}: only https:// (or http:// to a loopback address) is fetched"
        ));
    }
    let request = http::Request::get(url)
        .header("accept", "application/json")
        .body(Full::new(Bytes::new()))
        .map_err(|e| format!("{url} is not a URL: {e}"))?;
    // On a thread and runtime of its own: the tools call this from inside their runtime too.
    let answer = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("cannot start a runtime to fetch {url}: {e}"))?;
                runtime.block_on(async {
                    let caller = HttpsCaller::new()?;
                    caller
                        .request(request, url, timeout)
                        .await
                        .map_err(|e| e.to_string())
                })
            })
            .join()
            .unwrap_or_else(|_| Err(format!("fetching {url} failed")))
    })?;
    if answer.status != 200 {
        return Err(format!("{url} answered {}", answer.status));
    }
    Ok(answer.body)
}

/// What `serve`, `invoke` and `package` give blocks that complete their settings
/// (`Block::prepare`): keys fetched once per URL, and one signing secret for the whole run, so
/// that every function packed (or served) together signs and checks with the same one.
#[derive(Default)]
pub struct NetworkPreparation {
    /// A fetch that fails is a warning, and the block goes on without (`serve`: a local
    /// stand-in for the user pool may not be running); otherwise an error (`package`).
    pub lenient: bool,
    /// Where the signing secret is kept between runs (`package`: its out dir), so that a new
    /// package of the same site keeps the sign-ins in flight during a deploy valid.
    secret_file: std::sync::OnceLock<std::path::PathBuf>,
    secret: std::sync::OnceLock<Result<String, String>>,
    fetched: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

impl NetworkPreparation {
    pub fn lenient() -> NetworkPreparation {
        NetworkPreparation {
            lenient: true,
            ..Default::default()
        }
    }

    /// Keeps the signing secret in `file` (read if it is there, else made and written, readable
    /// by its owner only). Call before the first secret is asked for; a second call is ignored.
    pub fn keep_secret_in(&self, file: std::path::PathBuf) {
        let _ = self.secret_file.set(file);
    }

    fn kept_secret(file: &std::path::Path) -> Result<String, String> {
        if let Ok(text) = std::fs::read_to_string(file) {
            let secret = text.trim().to_owned();
            if !secret.is_empty() {
                return Ok(secret);
            }
        }
        let secret = edge_functions::auth::new_secret()?;
        let written = {
            use std::io::Write;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            options
                .open(file)
                .and_then(|mut f| f.write_all(secret.as_bytes()))
        };
        written
            .map_err(|e| format!("cannot keep the signing secret in {}: {e}", file.display()))?;
        Ok(secret)
    }
}

impl edge_functions::site::Prepare for NetworkPreparation {
    fn fetch(&self, url: &str) -> Result<Option<String>, String> {
        if let Some(text) = self.fetched.lock().ok().and_then(|f| f.get(url).cloned()) {
            return Ok(Some(text));
        }
        match fetch_text(url, Duration::from_secs(10)) {
            Ok(text) => {
                if let Ok(mut fetched) = self.fetched.lock() {
                    fetched.insert(url.to_owned(), text.clone());
                }
                Ok(Some(text))
            }
            Err(e) if self.lenient => {
                tracing::warn!(
                    "cannot fetch {url} ({e}): a sign-in block believes no token until the site \
                     is loaded again (restart, or save a file with --watch)"
                );
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn secret(&self) -> Result<String, String> {
        self.secret
            .get_or_init(|| match self.secret_file.get() {
                Some(file) => Self::kept_secret(file),
                None => edge_functions::auth::new_secret(),
            })
            .clone()
    }

    fn environment(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edge_functions::site::Prepare;

    #[test]
    fn a_kept_secret_is_the_same_for_the_next_package_and_private() {
        let dir = std::env::temp_dir().join(format!("edgekit-secret-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(".sign-in-secret");
        let first = NetworkPreparation::default();
        first.keep_secret_in(file.clone());
        let secret = first.secret().unwrap();
        assert_eq!(secret.len(), 43, "32 bytes, base64url");
        let next = NetworkPreparation::default();
        next.keep_secret_in(file.clone());
        assert_eq!(next.secret().unwrap(), secret);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Without a file, each run has its own.
        assert_ne!(NetworkPreparation::default().secret().unwrap(), secret);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
