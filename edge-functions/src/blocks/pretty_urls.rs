//! Pretty URLs: `/tree` serves `/card/da8398f4` while the browser keeps showing `/tree`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::function::{Flow, HeaderReads, RequestEdit, ViewerRequestStep};

/// Rewrites the uri in place when it is one of the map's paths; the viewer's URL is unchanged.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrettyUrls {
    /// Path the viewer asks for → path the origin serves.
    pub routes: BTreeMap<String, String>,
}

impl ViewerRequestStep for PrettyUrls {
    fn viewer_request(&self, request: &mut RequestEdit<'_>) -> Flow {
        if let Some(target) = self.routes.get(request.uri.as_str()) {
            let target = target.clone();
            request.set_uri(target);
        }
        Flow::Continue
    }

    fn header_reads(&self, _reads: &mut HeaderReads) {}
}

impl crate::site::Block for PrettyUrls {
    const NAME: &'static str = "pretty-urls";
    const SUMMARY: &'static str = "Pretty URLs: the viewer asks for one path, the origin serves another, and the \
browser keeps showing the one it asked for. Viewer-request, so the cache key is the served path.";
    const RUNS_ON: &'static [crate::EventType] = &[crate::EventType::ViewerRequest];
    const EXAMPLE: &'static str =
        r#"routes = { "/tree" = "/card/da8398f4", "/about" = "/pages/about.html" }"#;

    fn build(self, _site: &crate::site::SiteContext) -> Result<crate::site::Steps, String> {
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
    fn rewrites_known_paths_only() {
        let block = PrettyUrls {
            routes: [("/tree".to_owned(), "/card/da8398f4".to_owned())].into(),
        };
        let mut request = Request {
            uri: "/tree".into(),
            ..Default::default()
        };
        assert_eq!(
            block.viewer_request(&mut RequestEdit::new(&mut request)),
            Flow::Continue
        );
        assert_eq!(request.uri, "/card/da8398f4");
        let mut other = Request {
            uri: "/trees".into(),
            ..Default::default()
        };
        block.viewer_request(&mut RequestEdit::new(&mut other));
        assert_eq!(other.uri, "/trees");
    }
}
