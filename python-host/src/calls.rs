//! The network calls a function asks for (a sign-in block's token exchange), made with the
//! Python runtime's own HTTP client (`urllib`, with the runtime's TLS and certificate store): a
//! viewer package carries no TLS stack of its own, which keeps it small.

use std::time::Duration;

use edge_functions::data::{Call, CallAnswer, CallError, Caller};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyModule;

/// One attempt at a call. Answers with `(status, body, "")` for any HTTP answer, 4xx and 5xx
/// too, or `(None, "timeout" or "unreachable", reason)` when there was none. Never shows the form (it holds secrets).
const SEND: &std::ffi::CStr = cr#"
import socket, urllib.error, urllib.request

MAX_ANSWER_BYTES = 256 * 1024

def send(url, body, authorization, timeout):
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return (answer.status, answer.read(MAX_ANSWER_BYTES).decode("utf-8", "replace"), "")
    except urllib.error.HTTPError as answer:
        return (answer.code, answer.read(MAX_ANSWER_BYTES).decode("utf-8", "replace"), "")
    except (socket.timeout, TimeoutError):
        return (None, "timeout", "")
    except urllib.error.URLError as e:
        if isinstance(e.reason, (socket.timeout, TimeoutError)):
            return (None, "timeout", "")
        return (None, "unreachable", str(e.reason))
    except OSError as e:
        return (None, "unreachable", str(e))
"#;

static SENDER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Makes calls through the interpreter that loaded the module.
pub(crate) struct PythonCaller;

pub(crate) static CALLER: PythonCaller = PythonCaller;

/// Makes a function's calls, letting other Python threads run meanwhile.
pub(crate) fn supply(py: Python<'_>, calls: &[Call]) -> edge_functions::data::Supplied {
    edge_functions::data::Supplied {
        calls: py.detach(|| edge_functions::data::Supplied::make_calls(calls, &CALLER)),
        ..Default::default()
    }
}

impl Caller for PythonCaller {
    fn send(&self, call: &Call, timeout: Duration) -> Result<CallAnswer, CallError> {
        let failed = |reason: String| CallError::Unreachable {
            url: call.url.clone(),
            reason,
        };
        Python::attach(|py| {
            let send = SENDER
                .get_or_try_init(py, || {
                    PyModule::from_code(py, SEND, c"edgekit_calls.py", c"edgekit_calls")
                        .and_then(|m| m.getattr("send"))
                        .map(Bound::unbind)
                })
                .map_err(|e| failed(format!("the runtime's HTTP client: {e}")))?
                .bind(py);
            let (status, text, reason): (Option<u16>, String, String) = send
                .call1((
                    call.url.as_str(),
                    call.body(),
                    call.authorization.as_deref(),
                    timeout.as_secs_f64(),
                ))
                .and_then(|answer| answer.extract())
                .map_err(|e| failed(e.to_string()))?;
            match status {
                Some(status) => Ok(CallAnswer { status, body: text }),
                None if text == "timeout" => Err(CallError::Timeout {
                    url: call.url.clone(),
                    timeout_ms: timeout.as_millis() as u64,
                }),
                None => Err(failed(reason)),
            }
        })
    }
}
