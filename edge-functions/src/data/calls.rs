//! The one kind of network call a function may need: an HTTPS POST of a form (a sign-in
//! block's exchange at the user pool's token endpoint). Like items and templates, the function
//! asks for it ([`Call`] in its needs) and the host makes it ([`Caller`]) and supplies the answer
//! or the failure, so the function stays testable on fixtures and an outage is a clean page.
//!
//! Every host retries the same way ([`call_with_retries`]): connection errors, timeouts and 5xx
//! answers are tried again with a growing pause; a 4xx is the endpoint's final word.

use std::time::Duration;

/// A POST of a form to an HTTPS endpoint.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Call {
    /// `https://…` (or `http://` on a loopback address, for local tests).
    pub url: String,
    /// The form's fields, in order; sent as `application/x-www-form-urlencoded`.
    pub form: Vec<(String, String)>,
    /// An `Authorization` header (a confidential client's Basic credentials).
    pub authorization: Option<String>,
}

/// What a log or `invoke` may show of a call: where it goes and which fields it sends, never
/// their values (codes, verifiers, refresh tokens and client secrets are secrets).
impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

impl std::fmt::Display for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "POST {} (", self.url)?;
        for (i, (name, _)) in self.form.iter().enumerate() {
            write!(f, "{}{name}", if i == 0 { "" } else { ", " })?;
        }
        write!(f, ")")
    }
}

impl Call {
    /// The form's body.
    pub fn body(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&self.form)
            .finish()
    }
}

/// The endpoint's answer: its status and body (a JSON document, for a token endpoint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallAnswer {
    pub status: u16,
    pub body: String,
}

/// Why a call had no answer. Never holds the call's form (it holds secrets).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url} did not answer within {timeout_ms} ms")]
    Timeout { url: String, timeout_ms: u64 },
    #[error("{url} answered {status} after {attempts} attempts")]
    ServerError {
        url: String,
        status: u16,
        attempts: u32,
    },
    #[error("this host makes no network calls ({0})")]
    NotAvailable(String),
}

/// How a call is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (the first included).
    pub attempts: u32,
    /// Each attempt's limit, connecting and reading included.
    pub timeout: Duration,
    /// The pause before the second attempt; each later pause doubles.
    pub first_pause: Duration,
}

impl Default for RetryPolicy {
    /// Three attempts of at most 1.5 s with 100 ms and 200 ms between them: at worst 4.8 s,
    /// inside a viewer-request function's 5 s.
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            timeout: Duration::from_millis(1500),
            first_pause: Duration::from_millis(100),
        }
    }
}

/// Makes one attempt at a call. Hosts implement it with their own HTTP client (the Python host
/// with the runtime's own, so a viewer package carries no TLS stack).
pub trait Caller: Send + Sync {
    /// Sends `call` once; any HTTP answer (4xx and 5xx included) is `Ok`.
    fn send(&self, call: &Call, timeout: Duration) -> Result<CallAnswer, CallError>;
}

/// Sends `call` as `policy` says: again after a connection error, a timeout or a 5xx answer, with
/// a doubling pause; never again after a 4xx (the endpoint refused: trying again changes
/// nothing, and an authorization code must not be offered twice).
pub fn call_with_retries(
    caller: &dyn Caller,
    call: &Call,
    policy: &RetryPolicy,
) -> Result<CallAnswer, CallError> {
    let attempts = policy.attempts.max(1);
    let mut pause = policy.first_pause;
    let mut last = None;
    for attempt in 1..=attempts {
        if attempt > 1 {
            std::thread::sleep(pause);
            pause = pause.saturating_mul(2);
        }
        match caller.send(call, policy.timeout) {
            Ok(answer) if answer.status >= 500 => {
                last = Some(CallError::ServerError {
                    url: call.url.clone(),
                    status: answer.status,
                    attempts: attempt,
                })
            }
            Ok(answer) => return Ok(answer),
            Err(CallError::NotAvailable(why)) => return Err(CallError::NotAvailable(why)),
            Err(error) => last = Some(error),
        }
    }
    Err(last.unwrap_or_else(|| CallError::NotAvailable("no attempt was made".into())))
}

/// A host that makes no calls (`invoke`, benches): every call fails cleanly, so a function
/// answers its outage page.
pub struct NoCalls(pub &'static str);

impl Caller for NoCalls {
    fn send(&self, _: &Call, _: Duration) -> Result<CallAnswer, CallError> {
        Err(CallError::NotAvailable(self.0.to_owned()))
    }
}

/// Whether `url` is one a function may call: HTTPS, or plain HTTP to a loopback address (a
/// local stand-in in tests). Checked when a block is built, not per call.
pub fn is_callable_url(url: &str) -> bool {
    if url.starts_with("https://") {
        return url.len() > "https://".len();
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct Scripted(Mutex<Vec<Result<CallAnswer, CallError>>>);

    impl Caller for Scripted {
        fn send(&self, _: &Call, _: Duration) -> Result<CallAnswer, CallError> {
            self.0.lock().unwrap().remove(0)
        }
    }

    fn call() -> Call {
        Call {
            url: "https://auth.example.com/oauth2/token".into(),
            form: vec![("code".into(), "secret-code".into())],
            authorization: None,
        }
    }

    fn answer(status: u16) -> Result<CallAnswer, CallError> {
        Ok(CallAnswer {
            status,
            body: String::new(),
        })
    }

    fn quick() -> RetryPolicy {
        RetryPolicy {
            attempts: 3,
            timeout: Duration::from_millis(10),
            first_pause: Duration::from_millis(1),
        }
    }

    #[test]
    fn retries_5xx_and_connection_errors_then_answers() {
        let refused = Err(CallError::Unreachable {
            url: "u".into(),
            reason: "refused".into(),
        });
        let caller = Scripted(Mutex::new(vec![refused, answer(503), answer(200)]));
        assert_eq!(
            call_with_retries(&caller, &call(), &quick())
                .unwrap()
                .status,
            200
        );
        assert!(caller.0.lock().unwrap().is_empty());
    }

    #[test]
    fn never_retries_a_4xx() {
        let caller = Scripted(Mutex::new(vec![answer(400), answer(200)]));
        assert_eq!(
            call_with_retries(&caller, &call(), &quick())
                .unwrap()
                .status,
            400
        );
        assert_eq!(caller.0.lock().unwrap().len(), 1);
    }

    #[test]
    fn gives_up_after_the_last_attempt() {
        let caller = Scripted(Mutex::new(vec![answer(500), answer(502), answer(504)]));
        let error = call_with_retries(&caller, &call(), &quick()).unwrap_err();
        assert_eq!(
            error,
            CallError::ServerError {
                url: call().url,
                status: 504,
                attempts: 3
            }
        );
    }

    #[test]
    fn a_call_shows_its_fields_never_their_values() {
        let shown = format!("{:?} {}", call(), call());
        assert!(
            shown.contains("code") && !shown.contains("secret-code"),
            "{shown}"
        );
    }

    #[test]
    fn only_https_or_loopback_http_may_be_called() {
        assert!(is_callable_url("https://auth.example.com/oauth2/token"));
        assert!(is_callable_url("http://127.0.0.1:9000/oauth2/token"));
        assert!(is_callable_url("http://localhost/oauth2/token"));
        assert!(!is_callable_url("http://auth.example.com/oauth2/token"));
        assert!(!is_callable_url("http://127.0.0.1.evil.com/"));
        assert!(!is_callable_url("ftp://127.0.0.1/"));
        assert!(!is_callable_url("https://"));
    }
}
