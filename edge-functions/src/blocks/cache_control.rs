//! Sensible `cache-control` for static assets whose origin object has none.

use serde::{Deserialize, Serialize};

use crate::data::Supplied;
use crate::event::Request;
use crate::function::{FunctionError, HeaderReads, OriginResponseStep, ResponseEdit};

/// One rule: objects whose path ends with one of `suffixes` get `value`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheRule {
    pub suffixes: Vec<String>,
    pub value: String,
}

/// Adds `cache-control` to successful origin responses that lack one: the first matching rule,
/// else `fallback`. A `cache-control` the origin sent is left alone.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultCacheControl {
    pub rules: Vec<CacheRule>,
    #[serde(default)]
    pub fallback: Option<String>,
}

impl OriginResponseStep for DefaultCacheControl {
    fn origin_response(
        &self,
        request: &Request,
        response: &mut ResponseEdit<'_>,
        _data: &Supplied,
    ) -> Result<(), FunctionError> {
        let ok = response
            .status_code()
            .is_some_and(|s| (200..300).contains(&s) || s == 304);
        if !ok || response.headers.contains("cache-control") {
            return Ok(());
        }
        let value = self
            .rules
            .iter()
            .find(|rule| {
                rule.suffixes
                    .iter()
                    .any(|s| request.uri.ends_with(s.as_str()))
            })
            .map(|rule| rule.value.as_str())
            .or(self.fallback.as_deref());
        if let Some(value) = value {
            response.headers_mut().set("Cache-Control", value);
        }
        Ok(())
    }

    fn header_reads(&self, reads: &mut HeaderReads) {
        reads.response("cache-control");
    }

    fn sets_status(&self) -> bool {
        false
    }
}

impl crate::site::Block for DefaultCacheControl {
    const NAME: &'static str = "default-cache-control";
    const SUMMARY: &'static str = "A `cache-control` for successful origin objects that have none: the first rule \
whose suffix the path ends with, else the fallback. Origin-response: it runs only on cache misses, \
and what it sets is what the cache keeps.";
    const RUNS_ON: &'static [crate::EventType] = &[crate::EventType::OriginResponse];
    const EXAMPLE: &'static str = r#"rules = [
  { suffixes = [".css", ".js"], value = "public, max-age=86400" },
  { suffixes = [".svg", ".png"], value = "public, max-age=604800" },
]
fallback = "public, max-age=300""#;

    fn build(self, _site: &crate::site::SiteContext) -> Result<crate::site::Steps, String> {
        Ok(crate::site::Steps {
            origin_response: Some(std::sync::Arc::new(self)),
            ..Default::default()
        })
    }
}
