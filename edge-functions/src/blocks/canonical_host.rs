//! One host for the site: a request for another of its names (the apex, an old domain) is sent
//! to the same path and query on the canonical host.

use serde::{Deserialize, Serialize};

use crate::data::Supplied;
use crate::event::Response;
use crate::function::{Flow, HeaderReads, RequestEdit, ViewerRequestStep};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanonicalHost {
    /// The host every page should be seen on: `www.example.com`.
    pub host: String,
    /// The hosts to send there (any case, without a port). Empty: every other host, which
    /// includes the distribution's own `*.cloudfront.net` name.
    #[serde(default)]
    pub from: Vec<String>,
    /// `https` (default) or `http`.
    #[serde(default = "https")]
    pub scheme: String,
    /// 301 (default) or 308 keep the redirect cached; 302 or 307 while trying it out.
    #[serde(default = "moved_permanently")]
    pub status: u16,
}

fn https() -> String {
    "https".to_owned()
}

fn moved_permanently() -> u16 {
    301
}

impl ViewerRequestStep for CanonicalHost {
    fn viewer_request(&self, request: &mut RequestEdit<'_>, _data: &Supplied) -> Flow {
        let Some(host) = request.headers.get("host") else {
            return Flow::Continue;
        };
        let host = host.split(':').next().unwrap_or(host);
        let redirect = if self.from.is_empty() {
            !host.eq_ignore_ascii_case(&self.host)
        } else {
            self.from.iter().any(|from| host.eq_ignore_ascii_case(from))
        };
        if !redirect {
            return Flow::Continue;
        }
        let mut location = format!("{}://{}{}", self.scheme, self.host, request.uri);
        if !request.querystring.is_empty() {
            location.push('?');
            location.push_str(&request.querystring);
        }
        let mut response = Response::new(self.status);
        response.headers.set("Location", location);
        let cache = if matches!(self.status, 301 | 308) {
            "public, max-age=86400"
        } else {
            "no-cache"
        };
        response.headers.set("Cache-Control", cache);
        Flow::Respond(response)
    }

    fn header_reads(&self, reads: &mut HeaderReads) {
        reads.request("host");
    }
}

impl crate::site::Block for CanonicalHost {
    const NAME: &'static str = "canonical-host";
    const SUMMARY: &'static str = "One host for the site: a request whose Host is one of `from` (or, \
without `from`, any host but `host`) is redirected to the same path and query on \
`<scheme>://<host>` (apex to www, an old domain to the new one). Viewer-request: it must see every \
request, before the cache, or a page cached under the apex would be served there.";
    const RUNS_ON: &'static [crate::EventType] = &[crate::EventType::ViewerRequest];
    const EXAMPLE: &'static str = r#"host = "www.example.com"
from = ["example.com", "example.net"]
status = 301"#;

    fn build(self, _site: &crate::site::SiteContext) -> Result<crate::site::Steps, String> {
        if self.host.is_empty() || self.host.contains(['/', ' ', ':']) {
            return Err(format!(
                "host `{}` is not a host name (no scheme, port or path)",
                self.host
            ));
        }
        if !matches!(self.scheme.as_str(), "https" | "http") {
            return Err(format!("scheme `{}`: use https or http", self.scheme));
        }
        if ![301, 302, 307, 308].contains(&self.status) {
            return Err(format!(
                "status {}: use 301 or 308 (permanent), 302 or 307",
                self.status
            ));
        }
        if let Some(same) = self
            .from
            .iter()
            .find(|f| f.eq_ignore_ascii_case(&self.host))
        {
            return Err(format!(
                "`{same}` is both the canonical host and one to redirect: it would loop"
            ));
        }
        Ok(crate::site::Steps {
            viewer_request: Some(std::sync::Arc::new(self)),
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Request;

    fn location(block: &CanonicalHost, host: &str, uri: &str, query: &str) -> Option<String> {
        let mut request = Request {
            uri: uri.into(),
            querystring: query.into(),
            ..Default::default()
        };
        request.headers.set("Host", host);
        match block.viewer_request(&mut RequestEdit::new(&mut request), &Supplied::default()) {
            Flow::Respond(r) => r.headers.get("location").map(str::to_owned),
            Flow::Continue => None,
        }
    }

    #[test]
    fn other_names_go_to_the_canonical_host_with_path_and_query() {
        let listed = CanonicalHost {
            host: "www.example.com".into(),
            from: vec!["example.com".into()],
            scheme: https(),
            status: 301,
        };
        assert_eq!(
            location(&listed, "Example.com:443", "/a/b", "x=1").as_deref(),
            Some("https://www.example.com/a/b?x=1")
        );
        assert_eq!(location(&listed, "www.example.com", "/a", ""), None);
        assert_eq!(location(&listed, "d111.cloudfront.net", "/a", ""), None);
        let every = CanonicalHost {
            from: vec![],
            ..listed
        };
        assert_eq!(
            location(&every, "d111.cloudfront.net", "/", "").as_deref(),
            Some("https://www.example.com/")
        );
        assert_eq!(location(&every, "WWW.example.com", "/", ""), None);
    }
}
