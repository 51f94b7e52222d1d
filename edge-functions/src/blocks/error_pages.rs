//! Friendly error pages for objects the origin does not have.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::blocks::pages::{PageSite, Visitor};
use crate::data::{Needs, Supplied};
use crate::event::{Request, Response};
use crate::function::{FunctionError, HeaderReads, OriginResponseStep, ResponseEdit};

/// Turns the origin's 403/404 for a missing object (S3 answers 403 when listing is not allowed)
/// into the site's 404 page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FriendlyErrors {
    pub site: Arc<PageSite>,
    /// Origin statuses that mean "no such object".
    pub statuses: Vec<u16>,
    pub cache_control: String,
}

/// The origin headers that describe its body, which the friendly page replaces.
const DESCRIBE_THE_BODY: [&str; 5] = [
    "content-length",
    "content-encoding",
    "etag",
    "last-modified",
    "content-type",
];

impl FriendlyErrors {
    fn applies(&self, response: &Response) -> bool {
        response
            .status_code()
            .is_some_and(|s| self.statuses.contains(&s))
    }
}

impl OriginResponseStep for FriendlyErrors {
    fn needs(&self, _request: &Request, response: &Response, needs: &mut Needs) {
        if self.applies(response) {
            self.site.error_needs(needs);
        }
    }

    fn origin_response(
        &self,
        request: &Request,
        response: &mut ResponseEdit<'_>,
        data: &Supplied,
    ) -> Result<(), FunctionError> {
        if !self.applies(response) {
            return Ok(());
        }
        let visitor: Visitor = self.site.visitor(request);
        let page = self
            .site
            .not_found_page(data, &visitor, &self.cache_control);
        response.set_status(404);
        let headers = response.headers_mut();
        // The origin's error body is gone, and so are the headers that described it.
        for name in DESCRIBE_THE_BODY {
            headers.remove(name);
        }
        for (name, entries) in page.headers.iter() {
            headers.0.insert(name.clone(), entries.clone());
        }
        response.set_text_body(page.body.unwrap_or_default());
        Ok(())
    }

    /// The page's layout shows the experiment variant; the origin headers it replaces.
    fn header_reads(&self, reads: &mut HeaderReads) {
        if let Some(header) = &self.site.variant_header {
            reads.request(header);
        }
        DESCRIBE_THE_BODY
            .iter()
            .for_each(|name| reads.response(name));
    }

    /// On a status it does not turn into a page it reads nothing: most responses are not errors.
    fn header_reads_for_status(&self, status: u16, reads: &mut HeaderReads) {
        if self.statuses.contains(&status) {
            self.header_reads(reads);
        }
    }
}

/// The `friendly-errors` block's settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FriendlyErrorsSettings {
    pub statuses: Vec<u16>,
    pub cache_control: String,
}

impl crate::site::Block for FriendlyErrorsSettings {
    const NAME: &'static str = "friendly-errors";
    const SUMMARY: &'static str = "Turns the origin's answers with the listed statuses (S3 says 403 for a missing \
object when listing is not allowed) into the site's 404 page from `[pages]`. Origin-response: the \
cache keeps the page for `cache_control`.";
    const RUNS_ON: &'static [crate::EventType] = &[crate::EventType::OriginResponse];
    const EXAMPLE: &'static str = r#"statuses = [403, 404]
cache_control = "public, max-age=60""#;

    fn build(self, site: &crate::site::SiteContext) -> Result<crate::site::Steps, String> {
        if let Some(bad) = self.statuses.iter().find(|s| !(400..600).contains(*s)) {
            return Err(format!(
                "`statuses`: {bad} is not an error status (400-599)"
            ));
        }
        let block = FriendlyErrors {
            site: site.pages()?,
            statuses: self.statuses,
            cache_control: self.cache_control,
        };
        Ok(crate::site::Steps {
            origin_response: Some(Arc::new(block)),
            ..Default::default()
        })
    }
}
