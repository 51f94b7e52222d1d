//! The origin's chosen error statuses turned into a page or a redirect, without templates: S3's
//! 403 for a missing key becomes the site's own "not here" page; a 5xx becomes a
//! "back soon" page that is not cached for long.

use serde::{Deserialize, Serialize};

use crate::data::Supplied;
use crate::event::Request;
use crate::function::{FunctionError, HeaderReads, OriginResponseStep, ResponseEdit};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorRule {
    /// The origin's statuses this rule takes.
    pub statuses: Vec<u16>,
    /// Send the visitor here instead (a path or URL) ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<String>,
    /// ... or answer with this HTML.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    /// The status of the answer: for a redirect 302 (default) or 301, 303, 307, 308; for a page
    /// the origin's (default) or another error status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// How long CloudFront and browsers may keep the answer.
    #[serde(default = "a_minute")]
    pub cache_control: String,
}

fn a_minute() -> String {
    "public, max-age=60".to_owned()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorStatus {
    pub rules: Vec<ErrorRule>,
}

impl OriginResponseStep for ErrorStatus {
    fn origin_response(
        &self,
        _request: &Request,
        response: &mut ResponseEdit<'_>,
        _data: &Supplied,
    ) -> Result<(), FunctionError> {
        let Some(status) = response.status_code() else {
            return Ok(());
        };
        let Some(rule) = self.rules.iter().find(|r| r.statuses.contains(&status)) else {
            return Ok(());
        };
        // The origin's headers describe its error body, which is no longer sent.
        *response.headers_mut() = crate::event::Headers::new();
        if let Some(to) = &rule.redirect {
            response.set_status(rule.status.unwrap_or(302));
            response.headers_mut().set("Location", to.as_str());
            response.set_text_body(String::new());
        } else if let Some(page) = &rule.page {
            response.set_status(rule.status.unwrap_or(status));
            response
                .headers_mut()
                .set("Content-Type", "text/html; charset=utf-8");
            response.set_text_body(page.clone());
        }
        response
            .headers_mut()
            .set("Cache-Control", rule.cache_control.as_str());
        Ok(())
    }

    /// It replaces every header of the responses it takes: a host that copies out only the
    /// headers a function reads must hand it all of them for those statuses.
    fn header_reads(&self, reads: &mut HeaderReads) {
        *reads = HeaderReads::all();
    }

    fn header_reads_for_status(&self, status: u16, reads: &mut HeaderReads) {
        if self.rules.iter().any(|r| r.statuses.contains(&status)) {
            *reads = HeaderReads::all();
        }
    }
}

impl crate::site::Block for ErrorStatus {
    const NAME: &'static str = "error-status";
    const SUMMARY: &'static str = "The origin's chosen error statuses become a page or a redirect, \
without templates: each rule takes `statuses` and gives a `redirect` (302 by default, or its \
`status`) or a `page` of HTML (with the origin's status, or its `status`), cached for \
`cache_control`. The first rule that lists the status wins. Origin-response: CloudFront caches \
the answer, so the origin's error is rewritten once per cache miss (a site with templates and \
data uses `friendly-errors`).";
    const RUNS_ON: &'static [crate::EventType] = &[crate::EventType::OriginResponse];
    const EXAMPLE: &'static str = r#"rules = [
  { statuses = [403, 404], page = "<!doctype html><title>Not here</title><h1>Not here</h1>", status = 404 },
  { statuses = [410], redirect = "/", status = 301 },
  { statuses = [500, 502, 503, 504], page = "<!doctype html><title>Back soon</title><h1>Back soon</h1>", status = 503, cache_control = "no-store" },
]"#;

    fn build(self, _site: &crate::site::SiteContext) -> Result<crate::site::Steps, String> {
        for (index, rule) in self.rules.iter().enumerate() {
            let n = index + 1;
            if let Some(bad) = rule.statuses.iter().find(|s| !(400..600).contains(*s)) {
                return Err(format!("rule {n}: {bad} is not an error status (400-599)"));
            }
            match (&rule.redirect, &rule.page, rule.status) {
                (Some(_), None, Some(s)) if ![301, 302, 303, 307, 308].contains(&s) => {
                    return Err(format!(
                        "rule {n}: a redirect's status is 301, 302, 303, 307 or 308, not {s}"
                    ));
                }
                (None, Some(_), Some(s)) if !(400..600).contains(&s) => {
                    return Err(format!(
                        "rule {n}: a page for an error keeps an error status, not {s}"
                    ));
                }
                (Some(_), None, _) | (None, Some(_), _) => {}
                _ => {
                    return Err(format!(
                        "rule {n}: give exactly one of `redirect` or `page`"
                    ));
                }
            }
        }
        Ok(crate::site::Steps {
            origin_response: Some(std::sync::Arc::new(self)),
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Response;

    #[test]
    fn chosen_statuses_become_a_page_or_a_redirect() {
        let block: ErrorStatus = serde_json::from_value(serde_json::json!({ "rules": [
            { "statuses": [403, 404], "page": "<h1>Not here</h1>", "status": 404 },
            { "statuses": [410], "redirect": "/" },
        ]}))
        .unwrap();
        let answer = |status: u16| {
            let mut response = Response::new(status);
            response.headers.set("Content-Type", "application/xml");
            block
                .origin_response(
                    &Request::default(),
                    &mut ResponseEdit::new(&mut response),
                    &Supplied::default(),
                )
                .unwrap();
            response
        };
        let missing = answer(403);
        assert_eq!(missing.status, "404");
        assert_eq!(missing.body.as_deref(), Some("<h1>Not here</h1>"));
        assert_eq!(
            missing.headers.get("content-type"),
            Some("text/html; charset=utf-8")
        );
        let gone = answer(410);
        assert_eq!(gone.status, "302");
        assert_eq!(gone.headers.get("location"), Some("/"));
        assert_eq!(
            answer(500).headers.get("content-type"),
            Some("application/xml")
        );
    }
}
