//! Short links: `/r/<name>` answers a redirect to the name's target.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::event::Response;
use crate::function::{Flow, HeaderReads, RequestEdit, ViewerRequestStep};

/// Answers `status` with `location: <target>` for `<prefix><name>`; an unknown name falls
/// through to the next step (and so, usually, to the origin's 404).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redirects {
    pub prefix: String,
    /// Name → target URL or path.
    pub targets: BTreeMap<String, String>,
    #[serde(default = "default_status")]
    pub status: u16,
}

fn default_status() -> u16 {
    302
}

impl ViewerRequestStep for Redirects {
    fn viewer_request(&self, request: &mut RequestEdit<'_>) -> Flow {
        let Some(name) = request.uri.strip_prefix(self.prefix.as_str()) else {
            return Flow::Continue;
        };
        match self.targets.get(name) {
            Some(target) => {
                let mut response = Response::new(self.status);
                response.headers.set("Location", target.as_str());
                response.headers.set("Cache-Control", "no-cache");
                Flow::Respond(response)
            }
            None => Flow::Continue,
        }
    }

    fn header_reads(&self, _reads: &mut HeaderReads) {}
}

impl crate::site::Block for Redirects {
    const NAME: &'static str = "redirects";
    const SUMMARY: &'static str = "Short links: `<prefix><name>` answers `status` with `location: <target>`; \
an unknown name falls through to the next block. Viewer-request, so the answer needs no origin.";
    const RUNS_ON: &'static [crate::EventType] = &[crate::EventType::ViewerRequest];
    const EXAMPLE: &'static str = r#"prefix = "/r/"
targets = { cat = "/card/k9b430fc", docs = "https://docs.example.com/" }
status = 302"#;

    fn build(self, _site: &crate::site::SiteContext) -> Result<crate::site::Steps, String> {
        if !(300..400).contains(&self.status) {
            return Err(format!(
                "`status` {} is not a redirect status (300-399)",
                self.status
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

    #[test]
    fn known_names_redirect_and_unknown_fall_through() {
        let block = Redirects {
            prefix: "/r/".into(),
            targets: [("cat".to_owned(), "/card/k9b430fc".to_owned())].into(),
            status: 302,
        };
        let mut request = Request {
            uri: "/r/cat".into(),
            ..Default::default()
        };
        let Flow::Respond(response) = block.viewer_request(&mut RequestEdit::new(&mut request))
        else {
            panic!("expected a redirect");
        };
        assert_eq!(response.status, "302");
        assert_eq!(response.headers.get("location"), Some("/card/k9b430fc"));
        let mut unknown = Request {
            uri: "/r/dog".into(),
            ..Default::default()
        };
        assert_eq!(
            block.viewer_request(&mut RequestEdit::new(&mut unknown)),
            Flow::Continue
        );
    }
}
