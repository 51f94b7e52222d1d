//! Pretty URLs: `/tree` serves `/card/da8398f4` while the browser keeps showing `/tree`; a prefix
//! maps a whole tree of paths; a directory path serves its index document.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::data::Supplied;
use crate::function::{Flow, HeaderReads, RequestEdit, ViewerRequestStep};

/// Rewrites the uri in place; the viewer's URL is unchanged. An exact route wins; then the
/// longest matching prefix (what follows it is kept); then, for a path ending in `/`, the index
/// document.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrettyUrls {
    /// Path the viewer asks for → path the origin serves.
    #[serde(default)]
    pub routes: BTreeMap<String, String>,
    /// Prefix the viewer asks for → prefix the origin serves: `/guide/` → `/docs/guide/` serves
    /// `/guide/a.html` from `/docs/guide/a.html`.
    #[serde(default)]
    pub prefixes: BTreeMap<String, String>,
    /// A static site's index document: `/guide/` serves `/guide/index.html` (S3 has no
    /// directories; CloudFront's default root object covers `/` only).
    #[serde(default)]
    pub index_document: Option<String>,
}

impl PrettyUrls {
    /// The path the origin serves for `uri`, when it is another.
    pub fn rewrite(&self, uri: &str) -> Option<String> {
        let mut uri = match self.routes.get(uri) {
            Some(target) => return Some(target.clone()),
            None => std::borrow::Cow::Borrowed(uri),
        };
        // BTreeMap order: a longer prefix sorts after its own prefixes, so the last match is
        // the longest.
        if let Some((from, to)) = self
            .prefixes
            .iter()
            .rev()
            .find(|(from, _)| uri.starts_with(from.as_str()))
        {
            uri = format!("{to}{}", &uri[from.len()..]).into();
        }
        if let Some(index) = &self.index_document
            && uri.ends_with('/')
        {
            uri = format!("{uri}{index}").into();
        }
        match uri {
            std::borrow::Cow::Owned(rewritten) => Some(rewritten),
            std::borrow::Cow::Borrowed(_) => None,
        }
    }
}

impl ViewerRequestStep for PrettyUrls {
    fn viewer_request(&self, request: &mut RequestEdit<'_>, _data: &Supplied) -> Flow {
        if let Some(target) = self.rewrite(&request.uri) {
            request.set_uri(target);
        }
        Flow::Continue
    }

    fn header_reads(&self, _reads: &mut HeaderReads) {}
}

impl crate::site::Block for PrettyUrls {
    const NAME: &'static str = "pretty-urls";
    const SUMMARY: &'static str = "Pretty URLs: the viewer asks for one path, the origin serves another, and the \
browser keeps showing the one it asked for. Exact `routes` win, then the longest of `prefixes` \
(the rest of the path kept), then `index_document` for a path ending in `/` (a static site's \
`/guide/` → `/guide/index.html`). Viewer-request, so the cache key is the path served and one \
object is cached once.";
    const RUNS_ON: &'static [crate::EventType] = &[crate::EventType::ViewerRequest];
    const EXAMPLE: &'static str = r#"routes = { "/tree" = "/card/da8398f4", "/about" = "/pages/about.html" }
prefixes = { "/guide/" = "/docs/guide/" }
index_document = "index.html""#;

    fn build(self, _site: &crate::site::SiteContext) -> Result<crate::site::Steps, String> {
        if let Some(index) = &self.index_document
            && (index.is_empty() || index.contains('/'))
        {
            return Err(format!(
                "`index_document` `{index}` is a file name, such as index.html"
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

    fn run(block: &PrettyUrls, uri: &str) -> String {
        let mut request = Request {
            uri: uri.into(),
            ..Default::default()
        };
        assert_eq!(
            block.viewer_request(&mut RequestEdit::new(&mut request), &Supplied::default()),
            Flow::Continue
        );
        request.uri
    }

    #[test]
    fn rewrites_known_paths_only() {
        let block = PrettyUrls {
            routes: [("/tree".to_owned(), "/card/da8398f4".to_owned())].into(),
            ..Default::default()
        };
        assert_eq!(run(&block, "/tree"), "/card/da8398f4");
        assert_eq!(run(&block, "/trees"), "/trees");
    }

    #[test]
    fn prefixes_keep_the_rest_and_the_longest_wins_then_the_index_document() {
        let block = PrettyUrls {
            routes: [("/guide/".to_owned(), "/start.html".to_owned())].into(),
            prefixes: [
                ("/g/".to_owned(), "/docs/".to_owned()),
                ("/g/v2/".to_owned(), "/docs-v2/".to_owned()),
            ]
            .into(),
            index_document: Some("index.html".into()),
        };
        assert_eq!(run(&block, "/g/a/b.html"), "/docs/a/b.html");
        assert_eq!(run(&block, "/g/v2/a.html"), "/docs-v2/a.html");
        assert_eq!(run(&block, "/g/v2/"), "/docs-v2/index.html");
        assert_eq!(run(&block, "/manual/"), "/manual/index.html");
        assert_eq!(run(&block, "/guide/"), "/start.html", "an exact route wins");
        assert_eq!(run(&block, "/manual"), "/manual");
    }
}
