//! A team's own block: `noindex-hosts` tells search engines not to index the site when it is
//! served under one of the team's staging host names. It is written against the library's step
//! traits, registered under a name, and used from a site declaration like any library block.

use serde::Deserialize;

use edge_functions::EventType;
use edge_functions::event::{Headers, Request};
use edge_functions::function::{HeaderReads, ViewerResponseStep};
use edge_functions::site::{Block, SiteContext, Steps};

/// Settings, as a declaration gives them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoindexHosts {
    /// Host names (as the viewer's `Host` header has them, any case) that must not be indexed.
    pub hosts: Vec<String>,
    /// The `X-Robots-Tag` value.
    #[serde(default = "default_value")]
    pub value: String,
}

fn default_value() -> String {
    "noindex, nofollow".into()
}

impl ViewerResponseStep for NoindexHosts {
    fn viewer_response(&self, request: &Request, _status: u16, headers: &mut Headers) {
        let host = request.headers.get("host").unwrap_or_default();
        if self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
            headers.set("X-Robots-Tag", self.value.as_str());
        }
    }

    /// It reads the viewer's Host header, and only sets a response header.
    fn header_reads(&self, reads: &mut HeaderReads) {
        reads.request("host");
    }
}

impl Block for NoindexHosts {
    const NAME: &'static str = "noindex-hosts";
    const SUMMARY: &'static str = "Sends `X-Robots-Tag: noindex, nofollow` when the site is served under \
one of `hosts` (staging names). Viewer-response: the viewer's Host header is there on every \
response, cached or not, and the cache keeps one copy for all host names.";
    const RUNS_ON: &'static [EventType] = &[EventType::ViewerResponse];
    const EXAMPLE: &'static str = r#"hosts = ["staging.example.com"]
value = "noindex, nofollow""#;

    fn build(self, _site: &SiteContext) -> Result<Steps, String> {
        if self.hosts.is_empty() {
            return Err("`hosts` is empty: name at least one host".into());
        }
        Ok(Steps {
            viewer_response: Some(std::sync::Arc::new(self)),
            ..Default::default()
        })
    }
}
