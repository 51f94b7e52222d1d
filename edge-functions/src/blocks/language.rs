//! Language routing: a visitor is sent to the part of the site in the language its browser
//! prefers (`Accept-Language`, with q-values), or its country's, or the site's default.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::data::Supplied;
use crate::event::{Origin, Request};
use crate::function::{
    Flow, FunctionError, HeaderReads, OriginRequestStep, Paths, RequestEdit, ViewerRequestStep,
};

const ACCEPT_LANGUAGE: &str = "accept-language";
const COUNTRY_HEADER: &str = "cloudfront-viewer-country";

/// The `language-redirect` block's settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LanguageRedirect {
    /// Language tag (`de`, `pt-BR`) → path prefix (`/de`); `""` for a language served at the
    /// site's own paths (no redirect).
    pub languages: BTreeMap<String, String>,
    /// The language for a visitor whose browser and country name none of `languages`.
    pub default: String,
    /// Country (`CloudFront-Viewer-Country`, `AT`) → language, for a browser that names none.
    #[serde(default)]
    pub countries: BTreeMap<String, String>,
    /// Serve the language's path in place of the one asked for, instead of redirecting.
    #[serde(default)]
    pub rewrite: bool,
    #[serde(default = "default_status")]
    pub status: u16,
    #[serde(default = "default_cache_control")]
    pub cache_control: String,
    /// Only paths under these prefixes are routed; none: every path.
    #[serde(default)]
    pub prefixes: Vec<String>,
    /// At viewer-request, replace `Accept-Language` with the one language it picks (or remove
    /// it), so that a cache key with the header holds a handful of values, not every browser's.
    #[serde(default)]
    pub normalize: bool,
}

fn default_status() -> u16 {
    302
}

fn default_cache_control() -> String {
    "public, max-age=0, s-maxage=3600".into()
}

/// The languages of an `Accept-Language` value, most wanted first (q-values; `q=0` and
/// malformed entries left out; equal q-values keep their order).
pub fn preferences(header: &str) -> Vec<&str> {
    let mut ranked: Vec<(&str, u32)> = header
        .split(',')
        .filter_map(|entry| {
            let mut parts = entry.split(';');
            let tag = parts.next()?.trim();
            if tag.is_empty() || tag.len() > 35 {
                return None;
            }
            let mut q = 1000;
            for param in parts {
                let (name, value) = param.trim().split_once('=')?;
                if name.trim().eq_ignore_ascii_case("q") {
                    q = parse_q(value.trim())?;
                }
            }
            (q > 0).then_some((tag, q))
        })
        .collect();
    ranked.sort_by_key(|entry| std::cmp::Reverse(entry.1));
    ranked.into_iter().map(|(tag, _)| tag).collect()
}

/// A q-value in thousandths: `0`, `0.8`, `1.000` (RFC 9110, at most three decimals).
fn parse_q(text: &str) -> Option<u32> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u32>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

impl LanguageRedirect {
    /// The configured language the browser prefers: an exact tag first, else its primary
    /// language (`de-AT` → `de`), in the order of preference.
    fn browser_language(&self, request: &Request) -> Option<&str> {
        let header = request.headers.get(ACCEPT_LANGUAGE)?;
        preferences(header).into_iter().find_map(|tag| {
            let primary = tag.split('-').next().unwrap_or(tag);
            self.languages
                .keys()
                .find(|l| l.eq_ignore_ascii_case(tag))
                .or_else(|| {
                    self.languages
                        .keys()
                        .find(|l| l.eq_ignore_ascii_case(primary))
                })
                .map(String::as_str)
        })
    }

    fn choose(&self, request: &Request) -> &str {
        self.browser_language(request)
            .or_else(|| {
                let country = request.headers.get(COUNTRY_HEADER)?;
                self.countries
                    .get(&country.to_ascii_uppercase())
                    .map(String::as_str)
            })
            .unwrap_or(&self.default)
    }

    /// Whether `uri` is already in one of the languages' parts.
    fn localized(&self, uri: &str) -> bool {
        self.languages
            .values()
            .filter(|p| !p.is_empty())
            .any(|prefix| crate::blocks::in_section(uri, prefix))
    }
}

impl ViewerRequestStep for LanguageRedirect {
    fn viewer_request(&self, request: &mut RequestEdit<'_>, _data: &Supplied) -> Flow {
        match self.browser_language(request).map(str::to_owned) {
            Some(language) => request.headers_mut().set("Accept-Language", language),
            None => {
                request.headers_mut().remove(ACCEPT_LANGUAGE);
            }
        }
        Flow::Continue
    }

    fn header_reads(&self, reads: &mut HeaderReads) {
        reads.request(ACCEPT_LANGUAGE);
    }
}

impl OriginRequestStep for LanguageRedirect {
    fn origin_request(
        &self,
        request: &mut RequestEdit<'_>,
        _origin: &mut Option<Origin>,
        _data: &Supplied,
    ) -> Result<Flow, FunctionError> {
        if !crate::blocks::in_scope(&self.prefixes, &request.uri) || self.localized(&request.uri) {
            return Ok(Flow::Continue);
        }
        let prefix = self.languages[self.choose(request)].clone();
        if prefix.is_empty() {
            return Ok(Flow::Continue);
        }
        Ok(crate::blocks::send_to_section(
            request,
            &prefix,
            self.rewrite,
            self.status,
            &self.cache_control,
        ))
    }

    fn header_reads(&self, reads: &mut HeaderReads) {
        reads.request(ACCEPT_LANGUAGE);
        if !self.countries.is_empty() {
            reads.request(COUNTRY_HEADER);
        }
    }

    fn paths(&self) -> Paths {
        Paths::under(&self.prefixes)
    }
}

impl crate::site::Block for LanguageRedirect {
    const NAME: &'static str = "language-redirect";
    const SUMMARY: &'static str = "Visitors are redirected to (or, with `rewrite`, served from) the part of the \
site in their language: the first of `languages` their browser's Accept-Language prefers (q-values \
honoured; `de-AT` finds `de`), else their country's (`countries`, from CloudFront-Viewer-Country), \
else `default`; a path already in a language's part is left alone. Origin-request: the country \
exists only from there, and the answer is cached, so Accept-Language (and the country header, \
with `countries`) must be in the cache key: the distribution check refuses a config that forwards \
them without. `normalize = true` also runs it at viewer-request to replace Accept-Language with \
the one language it picks, so that the cache keeps one copy per language, not per browser.";
    const RUNS_ON: &'static [crate::EventType] = &[
        crate::EventType::ViewerRequest,
        crate::EventType::OriginRequest,
    ];
    const EXAMPLE: &'static str = r#"languages = { en = "", de = "/de", fr = "/fr", pt-BR = "/pt-br" }
default = "en"
countries = { AT = "de", CH = "de", BE = "fr" }
prefixes = ["/docs/"]
normalize = true"#;

    fn build(self, _site: &crate::site::SiteContext) -> Result<crate::site::Steps, String> {
        if !(300..400).contains(&self.status) {
            return Err(format!(
                "`status` {} is not a redirect status (300-399)",
                self.status
            ));
        }
        if !self.languages.contains_key(&self.default) {
            return Err(format!(
                "`default` `{}` is not one of `languages`",
                self.default
            ));
        }
        for (language, prefix) in &self.languages {
            let tag_ok = !language.is_empty()
                && language.split('-').all(|part| {
                    (1..=8).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_alphanumeric())
                });
            if !tag_ok {
                return Err(format!("`{language}` is not a language tag (de, pt-BR)"));
            }
            if !prefix.is_empty() && (!prefix.starts_with('/') || prefix.ends_with('/')) {
                return Err(format!(
                    "prefix `{prefix}` of {language}: a path that starts with / and does not end \
                     with one (/de), or \"\" for the site's own paths"
                ));
            }
        }
        for (country, language) in &self.countries {
            if !crate::blocks::is_country_code(country) {
                return Err(format!(
                    "`{country}` is not a country code as CloudFront sends it (two capitals, DE)"
                ));
            }
            if !self.languages.contains_key(language) {
                return Err(format!(
                    "country {country}: `{language}` is not one of `languages`"
                ));
            }
        }
        if let Some(bad) = self.prefixes.iter().find(|p| !p.starts_with('/')) {
            return Err(format!("`prefixes`: `{bad}` does not start with /"));
        }
        let normalize = self.normalize;
        let block = std::sync::Arc::new(self);
        Ok(crate::site::Steps {
            viewer_request: normalize
                .then(|| block.clone() as std::sync::Arc<dyn ViewerRequestStep>),
            origin_request: Some(block),
            ..Default::default()
        })
    }
}

#[cfg(all(test, feature = "toml"))]
mod tests {
    use super::*;
    use crate::site::Block;

    #[test]
    fn preferences_follow_q_values_and_drop_refusals() {
        assert_eq!(
            preferences("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5"),
            ["fr-CH", "fr", "en", "de", "*"]
        );
        assert_eq!(
            preferences("de;q=0.3, en;q=0.9,pt-BR"),
            ["pt-BR", "en", "de"]
        );
        assert_eq!(
            preferences("de;q=0, en"),
            ["en"],
            "q=0 means not acceptable"
        );
        assert_eq!(
            preferences("de;q=1.5, en;q=abc, fr;q=0.5555, it;q=0.25"),
            ["it"],
            "malformed q-values are left out"
        );
        assert!(preferences("").is_empty());
        assert_eq!(preferences("en;Q=0.5 ,  es"), ["es", "en"]);
    }

    fn block(normalize: bool) -> crate::site::Steps {
        let mut settings: LanguageRedirect = toml::from_str(LanguageRedirect::EXAMPLE).unwrap();
        settings.normalize = normalize;
        settings.build(&Default::default()).unwrap()
    }

    fn run(
        steps: &crate::site::Steps,
        uri: &str,
        accept: Option<&str>,
        country: Option<&str>,
    ) -> (Flow, Request) {
        let mut request = Request {
            uri: uri.into(),
            querystring: "v=2".into(),
            ..Default::default()
        };
        if let Some(value) = accept {
            request.headers.set("Accept-Language", value);
        }
        if let Some(value) = country {
            request.headers.set("CloudFront-Viewer-Country", value);
        }
        let flow = steps
            .origin_request
            .as_ref()
            .unwrap()
            .origin_request(
                &mut RequestEdit::new(&mut request),
                &mut None,
                &Supplied::default(),
            )
            .unwrap();
        (flow, request)
    }

    fn location(flow: &Flow) -> Option<&str> {
        match flow {
            Flow::Respond(response) => response.headers.get("location"),
            Flow::Continue => None,
        }
    }

    #[test]
    fn the_browser_then_the_country_then_the_default() {
        let steps = block(false);
        let to = |accept, country| {
            location(&run(&steps, "/docs/a.html", accept, country).0).map(str::to_owned)
        };
        assert_eq!(
            to(Some("de-AT,de;q=0.9,en;q=0.8"), None).as_deref(),
            Some("/de/docs/a.html?v=2")
        );
        assert_eq!(
            to(Some("it, fr;q=0.4, de;q=0.2"), None).as_deref(),
            Some("/fr/docs/a.html?v=2")
        );
        assert_eq!(
            to(Some("pt-br"), None).as_deref(),
            Some("/pt-br/docs/a.html?v=2")
        );
        assert_eq!(
            to(Some("pt-PT"), None),
            None,
            "pt is not listed, only pt-BR; en is the default"
        );
        assert_eq!(
            to(Some("en-GB"), Some("AT")),
            None,
            "English is served in place"
        );
        assert_eq!(to(None, Some("AT")).as_deref(), Some("/de/docs/a.html?v=2"));
        assert_eq!(
            to(Some("ja"), Some("BE")).as_deref(),
            Some("/fr/docs/a.html?v=2")
        );
        assert_eq!(to(None, Some("JP")), None);
        // Already in a language's part, or outside the prefixes: left alone.
        assert_eq!(
            location(&run(&steps, "/de/docs/a.html", Some("fr"), None).0),
            None
        );
        assert_eq!(
            location(&run(&steps, "/blog/a.html", Some("fr"), None).0),
            None
        );
    }

    #[test]
    fn normalizing_leaves_one_language_in_the_header() {
        let steps = block(true);
        let step = steps.viewer_request.as_ref().unwrap();
        for (sent, kept) in [
            (Some("de-CH,de;q=0.9,en;q=0.8"), Some("de")),
            (Some("ja,zh;q=0.5"), None),
            (Some("PT-br"), Some("pt-BR")),
            (None, None),
        ] {
            let mut request = Request::default();
            if let Some(v) = sent {
                request.headers.set("Accept-Language", v);
            }
            assert_eq!(
                step.viewer_request(&mut RequestEdit::new(&mut request), &Supplied::default()),
                Flow::Continue
            );
            assert_eq!(request.headers.get("accept-language"), kept, "{sent:?}");
        }
        assert!(block(false).viewer_request.is_none());
    }

    #[test]
    fn settings_that_cannot_work_are_refused() {
        let refused = |from: &str, to: &str| {
            let text = LanguageRedirect::EXAMPLE.replacen(from, to, 1);
            assert_ne!(text, LanguageRedirect::EXAMPLE, "{from}");
            let settings: LanguageRedirect = toml::from_str(&text).unwrap();
            settings.build(&Default::default()).err().unwrap()
        };
        assert!(refused("default = \"en\"", "default = \"es\"").contains("not one of"));
        assert!(refused("AT = \"de\"", "AT = \"nl\"").contains("not one of"));
        assert!(refused("AT = \"de\"", "at = \"de\"").contains("country code"));
        assert!(refused("de = \"/de\"", "de = \"/de/\"").contains("does not end"));
        assert!(refused("fr = \"/fr\"", "\"f r\" = \"/fr\"").contains("language tag"));
    }
}
