//! Request normalization: one cache key for requests that mean the same thing.

use serde::{Deserialize, Serialize};

use crate::data::Supplied;
use crate::function::{Flow, HeaderReads, RequestEdit, ViewerRequestStep};

/// Normalizes the uri and query string without changing what is asked for:
/// `/card/x/` → `/card/x`, `/index.html` → `/`, tracking parameters dropped, the rest sorted.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormalizeRequest {
    /// `/a/b/` → `/a/b` (the root `/` stays).
    #[serde(default)]
    pub strip_trailing_slash: bool,
    /// A document that means "the directory": `/index.html` → `/`.
    #[serde(default)]
    pub index_document: Option<String>,
    /// Query parameters to drop: exact names, or a prefix ending in `*` (`utm_*`).
    #[serde(default)]
    pub drop_params: Vec<String>,
    /// Sort the remaining parameters by name (stable, so repeated names keep their order).
    #[serde(default)]
    pub sort_params: bool,
}

impl NormalizeRequest {
    fn drops(&self, name: &str) -> bool {
        self.drop_params
            .iter()
            .any(|pattern| match pattern.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => name == pattern,
            })
    }

    /// The normalized query string; pairs keep their original encoding.
    pub fn normalize_query(&self, query: &str) -> String {
        let mut pairs: Vec<(String, &str)> = query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let raw_name = pair.split('=').next().unwrap_or_default();
                let name = form_urlencoded::parse(raw_name.as_bytes())
                    .next()
                    .map(|(n, _)| n.into_owned())
                    .unwrap_or_default();
                (name, pair)
            })
            .filter(|(name, _)| !self.drops(name))
            .collect();
        if self.sort_params {
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
        }
        pairs
            .iter()
            .map(|(_, pair)| *pair)
            .collect::<Vec<_>>()
            .join("&")
    }

    /// The normalized uri.
    pub fn normalize_uri<'a>(&self, uri: &'a str) -> std::borrow::Cow<'a, str> {
        if let Some(index) = &self.index_document
            && let Some(dir) = uri.strip_suffix(index.as_str())
            && dir.ends_with('/')
        {
            return dir.to_owned().into();
        }
        if self.strip_trailing_slash
            && let Some(stripped) = crate::blocks::trailing_slash::without_trailing_slash(uri)
        {
            return stripped.to_owned().into();
        }
        uri.into()
    }
}

impl ViewerRequestStep for NormalizeRequest {
    fn viewer_request(&self, request: &mut RequestEdit<'_>, _data: &Supplied) -> Flow {
        if let std::borrow::Cow::Owned(uri) = self.normalize_uri(&request.uri) {
            // `//` would leave an empty path; keep the root.
            request.set_uri(if uri.is_empty() { "/".to_owned() } else { uri });
        }
        if !request.querystring.is_empty() {
            let query = self.normalize_query(&request.querystring);
            if query != request.querystring {
                request.set_querystring(query);
            }
        }
        Flow::Continue
    }

    fn header_reads(&self, _reads: &mut HeaderReads) {}
}

impl crate::site::Block for NormalizeRequest {
    const NAME: &'static str = "normalize";
    const SUMMARY: &'static str = "One cache key for requests that mean the same thing: trailing slash stripped, \
`/index.html` → `/`, tracking parameters dropped, the rest sorted. Viewer-request: it must run \
before the cache key is computed.";
    const RUNS_ON: &'static [crate::EventType] = &[crate::EventType::ViewerRequest];
    const EXAMPLE: &'static str = r#"strip_trailing_slash = true
index_document = "index.html"
drop_params = ["utm_*", "fbclid", "gclid"]
sort_params = true"#;

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

    fn block() -> NormalizeRequest {
        NormalizeRequest {
            strip_trailing_slash: true,
            index_document: Some("index.html".into()),
            drop_params: vec!["utm_*".into(), "fbclid".into()],
            sort_params: true,
        }
    }

    fn run(uri: &str, query: &str) -> (String, String) {
        let mut request = Request {
            uri: uri.into(),
            querystring: query.into(),
            ..Default::default()
        };
        block().viewer_request(&mut RequestEdit::new(&mut request), &Supplied::default());
        (request.uri, request.querystring)
    }

    #[test]
    fn trailing_slash_and_index_document() {
        assert_eq!(run("/card/x/", "").0, "/card/x");
        assert_eq!(run("/index.html", "").0, "/");
        assert_eq!(run("/docs/index.html", "").0, "/docs/");
        assert_eq!(run("/", "").0, "/");
        assert_eq!(run("//", "").0, "/");
        assert_eq!(run("/myindex.html", "").0, "/myindex.html");
    }

    #[test]
    fn tracking_params_dropped_and_rest_sorted_keeping_encoding() {
        assert_eq!(
            run("/", "z=1&utm_source=x&a=%20b&fbclid=1&a=2").1,
            "a=%20b&a=2&z=1"
        );
        assert_eq!(run("/", "utm_medium=x").1, "");
        assert_eq!(run("/", "b&a=").1, "a=&b");
    }
}
