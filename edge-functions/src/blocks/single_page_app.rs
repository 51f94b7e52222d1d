//! A single-page app on an S3 origin: every route that is not a file loads the app's one page,
//! and the app routes in the browser. (A static site's directory index is `pretty-urls`'
//! `index_document`.)

use serde::{Deserialize, Serialize};

use crate::data::Supplied;
use crate::event::Origin;
use crate::function::{
    Flow, FunctionError, HeaderReads, OriginRequestStep, RequestEdit, ViewerRequestStep,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinglePageApp {
    /// The app's page: `/index.html`.
    #[serde(default = "index_html")]
    pub page: String,
    /// Paths under these prefixes are left alone (an API behind the same distribution).
    #[serde(default)]
    pub except: Vec<String>,
}

fn index_html() -> String {
    "/index.html".to_owned()
}

impl SinglePageApp {
    /// The app's page, for a path whose last segment has no `.` (a route, not a file).
    fn rewritten(&self, uri: &str) -> Option<&str> {
        let last = uri.rsplit('/').next().unwrap_or_default();
        (!last.contains('.')
            && uri != self.page
            && !self
                .except
                .iter()
                .any(|prefix| uri.starts_with(prefix.as_str())))
        .then_some(self.page.as_str())
    }

    fn apply(&self, request: &mut RequestEdit<'_>) {
        if let Some(page) = self.rewritten(&request.uri) {
            request.set_uri(page);
        }
    }
}

impl ViewerRequestStep for SinglePageApp {
    fn viewer_request(&self, request: &mut RequestEdit<'_>, _data: &Supplied) -> Flow {
        self.apply(request);
        Flow::Continue
    }

    fn header_reads(&self, _reads: &mut HeaderReads) {}
}

impl OriginRequestStep for SinglePageApp {
    fn origin_request(
        &self,
        request: &mut RequestEdit<'_>,
        _origin: &mut Option<Origin>,
        _data: &Supplied,
    ) -> Result<Flow, FunctionError> {
        self.apply(request);
        Ok(Flow::Continue)
    }

    fn header_reads(&self, _reads: &mut HeaderReads) {}
}

impl crate::site::Block for SinglePageApp {
    const NAME: &'static str = "single-page-app";
    const SUMMARY: &'static str = "A single-page app on an S3 origin: every path whose last segment \
has no `.` (a route such as `/cards/42`, not a file such as `/app.js`) asks the origin for the \
app's `page` (`/index.html`), and the app routes in the browser; `except` lists prefixes left \
alone (an API). Better than turning S3's 403/404 into the page: real errors stay errors. Cheapest \
at origin-request: it runs on cache misses only, and each route keeps its own cache key; at \
viewer-request it runs on every request. (A static site's `/guide/` → `/guide/index.html` is \
`pretty-urls`' `index_document`.)";
    const RUNS_ON: &'static [crate::EventType] = &[
        crate::EventType::ViewerRequest,
        crate::EventType::OriginRequest,
    ];
    const EXAMPLE: &'static str = r#"page = "/index.html"
except = ["/api/"]"#;

    fn build(self, _site: &crate::site::SiteContext) -> Result<crate::site::Steps, String> {
        if !self.page.starts_with('/') || self.page.ends_with('/') {
            return Err(format!(
                "page `{}`: the app's file, from the root (/index.html)",
                self.page
            ));
        }
        let step = std::sync::Arc::new(self);
        Ok(crate::site::Steps {
            viewer_request: Some(step.clone()),
            origin_request: Some(step),
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_load_the_app_and_files_stay_files() {
        let app = SinglePageApp {
            page: index_html(),
            except: vec!["/api/".into()],
        };
        assert_eq!(app.rewritten("/cards/42"), Some("/index.html"));
        assert_eq!(app.rewritten("/"), Some("/index.html"));
        assert_eq!(app.rewritten("/settings/"), Some("/index.html"));
        assert_eq!(app.rewritten("/index.html"), None);
        assert_eq!(app.rewritten("/assets/app.js"), None);
        assert_eq!(app.rewritten("/api/cards"), None);
    }
}
