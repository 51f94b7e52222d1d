//! Response headers by path: set, override, remove or copy headers of the origin's answer for
//! the paths a rule names (downloads as attachments, an S3 metadata header shown under another
//! name, a header the origin must not leak).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::data::Supplied;
use crate::event::Request;
use crate::function::{FunctionError, HeaderReads, OriginResponseStep, ResponseEdit};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderRule {
    /// The paths the rule is for: those under this prefix (`/` for all).
    pub prefix: String,
    /// Headers set, replacing the origin's.
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// Headers set only when the origin sent none.
    #[serde(default)]
    pub default: BTreeMap<String, String>,
    /// Headers removed.
    #[serde(default)]
    pub remove: Vec<String>,
    /// The origin's header (key) sent under another name (value) too.
    #[serde(default)]
    pub copy: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseHeaders {
    /// Every rule whose prefix the path starts with applies, in order.
    pub rules: Vec<HeaderRule>,
}

impl OriginResponseStep for ResponseHeaders {
    fn origin_response(
        &self,
        request: &Request,
        response: &mut ResponseEdit<'_>,
        _data: &Supplied,
    ) -> Result<(), FunctionError> {
        for rule in &self.rules {
            if !request.uri.starts_with(rule.prefix.as_str()) {
                continue;
            }
            for (from, to) in &rule.copy {
                if let Some(value) = response.headers.get(&from.to_ascii_lowercase()) {
                    let value = value.to_owned();
                    response.headers_mut().set(to.as_str(), value);
                }
            }
            for name in &rule.remove {
                response.headers_mut().remove(&name.to_ascii_lowercase());
            }
            for (name, value) in &rule.default {
                if !response.headers.contains(&name.to_ascii_lowercase()) {
                    response.headers_mut().set(name.as_str(), value.as_str());
                }
            }
            for (name, value) in &rule.set {
                response.headers_mut().set(name.as_str(), value.as_str());
            }
        }
        Ok(())
    }

    fn header_reads(&self, reads: &mut HeaderReads) {
        for rule in &self.rules {
            for name in rule
                .copy
                .keys()
                .chain(&rule.remove)
                .chain(rule.default.keys())
            {
                reads.response(&name.to_ascii_lowercase());
            }
        }
    }

    fn sets_status(&self) -> bool {
        false
    }
}

impl crate::site::Block for ResponseHeaders {
    const NAME: &'static str = "response-headers";
    const SUMMARY: &'static str = "Response headers by path: for each rule whose `prefix` the path \
starts with, in order, `copy` sends an origin header under another name too, `remove` drops \
headers, `default` sets headers the origin did not send, and `set` overrides. Origin-response: \
the result is cached with the object, so the work is done once per cache miss (per-visitor \
headers belong at viewer-response).";
    const RUNS_ON: &'static [crate::EventType] = &[crate::EventType::OriginResponse];
    const EXAMPLE: &'static str = r#"rules = [
  { prefix = "/downloads/", set = { "Content-Disposition" = "attachment" } },
  { prefix = "/", remove = ["x-amz-meta-internal"], copy = { "x-amz-meta-owner" = "X-Owner" }, default = { "Cache-Control" = "public, max-age=300" } },
]"#;

    fn build(self, _site: &crate::site::SiteContext) -> Result<crate::site::Steps, String> {
        for (index, rule) in self.rules.iter().enumerate() {
            let names = rule
                .set
                .keys()
                .chain(rule.default.keys())
                .chain(&rule.remove)
                .chain(rule.copy.keys())
                .chain(rule.copy.values());
            for name in names {
                if !crate::blocks::is_header_name(name) {
                    return Err(format!("rule {}: `{name}` is not a header name", index + 1));
                }
            }
            if !rule.prefix.starts_with('/') {
                return Err(format!(
                    "rule {}: prefix `{}` does not start with /",
                    index + 1,
                    rule.prefix
                ));
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
    fn rules_for_the_path_set_remove_default_and_copy() {
        let block: ResponseHeaders = serde_json::from_value(serde_json::json!({ "rules": [
            { "prefix": "/downloads/", "set": { "Content-Disposition": "attachment" } },
            { "prefix": "/", "remove": ["X-Amz-Meta-Internal"], "copy": { "x-amz-meta-owner": "X-Owner" },
              "default": { "Cache-Control": "public, max-age=300" } },
        ]}))
        .unwrap();
        let answer = |uri: &str| {
            let mut response = Response::new(200);
            response.headers.set("x-amz-meta-internal", "secret");
            response.headers.set("x-amz-meta-owner", "team-a");
            let request = Request {
                uri: uri.into(),
                ..Default::default()
            };
            block
                .origin_response(
                    &request,
                    &mut ResponseEdit::new(&mut response),
                    &Supplied::default(),
                )
                .unwrap();
            response
        };
        let file = answer("/downloads/report.pdf");
        assert_eq!(file.headers.get("content-disposition"), Some("attachment"));
        assert_eq!(file.headers.get("x-amz-meta-internal"), None);
        assert_eq!(file.headers.get("x-owner"), Some("team-a"));
        assert_eq!(
            file.headers.get("cache-control"),
            Some("public, max-age=300")
        );
        assert_eq!(answer("/page").headers.get("content-disposition"), None);
    }
}
