//! Cross-origin requests: preflights answered at the edge, and the allowed origin echoed on
//! the answers, with `Vary: Origin`.

use serde::{Deserialize, Serialize};

use crate::data::Supplied;
use crate::event::{Headers, Request, Response};
use crate::function::{Flow, HeaderReads, RequestEdit, ViewerRequestStep, ViewerResponseStep};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cors {
    /// The origins allowed (`https://app.example.com`), or `["*"]` for any (never with
    /// credentials).
    pub allowed_origins: Vec<String>,
    #[serde(default = "simple_methods")]
    pub allowed_methods: Vec<String>,
    /// Request headers a page may send (`Content-Type`, `Authorization`).
    #[serde(default)]
    pub allowed_headers: Vec<String>,
    /// Response headers a page may read, beyond the simple ones.
    #[serde(default)]
    pub expose_headers: Vec<String>,
    /// Cookies and authorization cross origin.
    #[serde(default)]
    pub allow_credentials: bool,
    /// How long a browser may keep a preflight's answer.
    #[serde(default = "ten_minutes")]
    pub max_age_secs: u64,
    /// Only paths under these prefixes (all paths when empty).
    #[serde(default)]
    pub paths: Vec<String>,
}

fn simple_methods() -> Vec<String> {
    vec!["GET".into(), "HEAD".into()]
}

fn ten_minutes() -> u64 {
    600
}

impl Cors {
    fn applies(&self, uri: &str) -> bool {
        self.paths.is_empty() || self.paths.iter().any(|p| uri.starts_with(p.as_str()))
    }

    /// What `Access-Control-Allow-Origin` says to a request from `origin`, if it is allowed.
    fn allow_origin<'o>(&'o self, origin: &'o str) -> Option<&'o str> {
        if self.allowed_origins.iter().any(|o| o == "*") {
            return Some("*");
        }
        self.allowed_origins
            .iter()
            .find(|allowed| allowed.eq_ignore_ascii_case(origin))
            .map(|_| origin)
    }

    fn echo(&self, allowed: &str, headers: &mut Headers) {
        headers.set("Access-Control-Allow-Origin", allowed);
        if allowed != "*" {
            // The answer differs by Origin: no cache may give one origin's answer to another.
            let vary = match headers.get("vary") {
                Some(v)
                    if v.split(',')
                        .any(|p| p.trim().eq_ignore_ascii_case("origin")) =>
                {
                    None
                }
                Some(v) => Some(format!("{v}, Origin")),
                None => Some("Origin".to_owned()),
            };
            if let Some(vary) = vary {
                headers.set("Vary", vary);
            }
        }
        if self.allow_credentials {
            headers.set("Access-Control-Allow-Credentials", "true");
        }
    }
}

impl ViewerRequestStep for Cors {
    /// Answers a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`).
    fn viewer_request(&self, request: &mut RequestEdit<'_>, _data: &Supplied) -> Flow {
        if request.method != "OPTIONS" || !self.applies(&request.uri) {
            return Flow::Continue;
        }
        let (Some(origin), Some(method)) = (
            request.headers.get("origin"),
            request.headers.get("access-control-request-method"),
        ) else {
            return Flow::Continue;
        };
        let allowed = self.allow_origin(origin).filter(|_| {
            self.allowed_methods
                .iter()
                .any(|m| m.eq_ignore_ascii_case(method))
        });
        let Some(allowed) = allowed else {
            let mut refused = Response::new(403);
            refused.headers.set("Cache-Control", "no-store");
            refused.headers.set("Vary", "Origin");
            return Flow::Respond(refused);
        };
        let mut response = Response::new(204);
        self.echo(allowed, &mut response.headers);
        response.headers.set(
            "Access-Control-Allow-Methods",
            self.allowed_methods.join(", "),
        );
        if !self.allowed_headers.is_empty() {
            response.headers.set(
                "Access-Control-Allow-Headers",
                self.allowed_headers.join(", "),
            );
        }
        response
            .headers
            .set("Access-Control-Max-Age", self.max_age_secs.to_string());
        Flow::Respond(response)
    }

    fn header_reads(&self, reads: &mut HeaderReads) {
        reads.request("origin");
        reads.request("access-control-request-method");
    }
}

impl ViewerResponseStep for Cors {
    /// Echoes an allowed `Origin` on the answer the visitor gets.
    fn viewer_response(&self, request: &Request, _status: u16, headers: &mut Headers) {
        if !self.applies(&request.uri) {
            return;
        }
        let Some(allowed) = request
            .headers
            .get("origin")
            .and_then(|origin| self.allow_origin(origin))
        else {
            return;
        };
        self.echo(allowed, headers);
        if !self.expose_headers.is_empty() {
            headers.set(
                "Access-Control-Expose-Headers",
                self.expose_headers.join(", "),
            );
        }
    }

    fn header_reads(&self, reads: &mut HeaderReads) {
        reads.request("origin");
        reads.response("vary");
    }
}

impl crate::site::Block for Cors {
    const NAME: &'static str = "cors";
    const SUMMARY: &'static str = "Cross-origin requests: a preflight (`OPTIONS` with `Origin` and \
`Access-Control-Request-Method`) is answered at viewer-request, 204 with the allowed methods, \
headers and max age, or 403 for an origin or method not allowed; at viewer-response an allowed \
`Origin` is echoed in `Access-Control-Allow-Origin` with `Vary: Origin` (or `*` for any origin). \
List the block in both functions. Viewer triggers, because the echoed origin differs per visitor: \
set at origin-response it would be cached and sent to other origins unless `Origin` were in the \
cache key.";
    const RUNS_ON: &'static [crate::EventType] = &[
        crate::EventType::ViewerRequest,
        crate::EventType::ViewerResponse,
    ];
    const EXAMPLE: &'static str = r#"allowed_origins = ["https://app.example.com"]
allowed_methods = ["GET", "HEAD", "POST"]
allowed_headers = ["Content-Type"]
max_age_secs = 600
paths = ["/api/"]"#;

    fn build(self, _site: &crate::site::SiteContext) -> Result<crate::site::Steps, String> {
        if self.allowed_origins.is_empty() {
            return Err("allowed_origins is empty: list origins, or \"*\" for any".into());
        }
        let any = self.allowed_origins.iter().any(|o| o == "*");
        if any && self.allow_credentials {
            return Err(
                "\"*\" cannot go with allow_credentials: browsers refuse it; list the origins"
                    .into(),
            );
        }
        if let Some(bad) = self
            .allowed_origins
            .iter()
            .find(|o| *o != "*" && (!o.contains("://") || o.ends_with('/')))
        {
            return Err(format!(
                "`{bad}` is not an origin: scheme and host, no path (https://app.example.com)"
            ));
        }
        let step = std::sync::Arc::new(self);
        Ok(crate::site::Steps {
            viewer_request: Some(step.clone()),
            viewer_response: Some(step),
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors() -> Cors {
        Cors {
            allowed_origins: vec!["https://app.example.com".into()],
            allowed_methods: vec!["GET".into(), "POST".into()],
            allowed_headers: vec!["Content-Type".into()],
            expose_headers: vec![],
            allow_credentials: false,
            max_age_secs: 600,
            paths: vec!["/api/".into()],
        }
    }

    fn preflight(cors: &Cors, origin: &str, method: &str) -> Flow {
        let mut request = Request {
            method: "OPTIONS".into(),
            uri: "/api/cards".into(),
            ..Default::default()
        };
        request.headers.set("Origin", origin);
        request.headers.set("Access-Control-Request-Method", method);
        cors.viewer_request(&mut RequestEdit::new(&mut request), &Supplied::default())
    }

    #[test]
    fn preflights_are_answered_at_the_edge() {
        let Flow::Respond(ok) = preflight(&cors(), "https://app.example.com", "POST") else {
            panic!("answered");
        };
        assert_eq!(ok.status, "204");
        assert_eq!(
            ok.headers.get("access-control-allow-origin"),
            Some("https://app.example.com")
        );
        assert_eq!(ok.headers.get("vary"), Some("Origin"));
        assert_eq!(
            ok.headers.get("access-control-allow-methods"),
            Some("GET, POST")
        );
        let Flow::Respond(refused) = preflight(&cors(), "https://evil.example", "POST") else {
            panic!("answered");
        };
        assert_eq!(refused.status, "403");
        assert_eq!(refused.headers.get("access-control-allow-origin"), None);
        let Flow::Respond(wrong_method) = preflight(&cors(), "https://app.example.com", "DELETE")
        else {
            panic!("answered");
        };
        assert_eq!(wrong_method.status, "403");
    }

    #[test]
    fn answers_echo_an_allowed_origin_and_vary_on_it() {
        let mut request = Request {
            uri: "/api/cards".into(),
            ..Default::default()
        };
        request.headers.set("Origin", "https://app.example.com");
        let mut headers = Headers::new();
        headers.set("Vary", "Accept-Encoding");
        cors().viewer_response(&request, 200, &mut headers);
        assert_eq!(
            headers.get("access-control-allow-origin"),
            Some("https://app.example.com")
        );
        assert_eq!(headers.get("vary"), Some("Accept-Encoding, Origin"));
        request.headers.set("Origin", "https://evil.example");
        let mut untouched = Headers::new();
        cors().viewer_response(&request, 200, &mut untouched);
        assert_eq!(untouched.get("access-control-allow-origin"), None);
    }
}
