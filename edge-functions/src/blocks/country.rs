//! By the viewer's country: visitors from listed countries go to their own part of the site
//! (`country-redirect`), or are let in or kept out (`geo-access`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::data::Supplied;
use crate::event::{Origin, Response};
use crate::function::{Flow, FunctionError, HeaderReads, OriginRequestStep, Paths, RequestEdit};

/// The `country-redirect` block: a visitor whose `CloudFront-Viewer-Country` is listed is
/// redirected to (or, with `rewrite`, served from) that country's prefix, unless the path is
/// already under one of the prefixes. The behavior's cache policy must list the header: it is
/// in the cache key, so each country's answer is cached apart.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountryRedirect {
    /// Country code (as CloudFront sends it, `DE`) → path prefix (`/de`).
    pub countries: BTreeMap<String, String>,
    /// Serve the country's path in place of the one asked for, instead of redirecting.
    #[serde(default)]
    pub rewrite: bool,
    #[serde(default = "default_status")]
    pub status: u16,
    /// The redirect's `cache-control`: browsers ask again (a visitor may travel), the edge keeps
    /// it per country.
    #[serde(default = "default_cache_control")]
    pub cache_control: String,
    /// Only paths under these prefixes are routed by country (`/guide/`); none: every path.
    #[serde(default)]
    pub prefixes: Vec<String>,
}

fn default_status() -> u16 {
    302
}

fn default_cache_control() -> String {
    "public, max-age=0, s-maxage=3600".into()
}

const COUNTRY_HEADER: &str = "cloudfront-viewer-country";

impl OriginRequestStep for CountryRedirect {
    fn origin_request(
        &self,
        request: &mut RequestEdit<'_>,
        _origin: &mut Option<Origin>,
        _data: &Supplied,
    ) -> Result<Flow, FunctionError> {
        let Some(prefix) = request
            .headers
            .get(COUNTRY_HEADER)
            .and_then(|country| self.countries.get(&country.to_ascii_uppercase()))
        else {
            return Ok(Flow::Continue);
        };
        let localized = self
            .countries
            .values()
            .any(|p| crate::blocks::in_section(&request.uri, p));
        if !crate::blocks::in_scope(&self.prefixes, &request.uri) || localized {
            return Ok(Flow::Continue);
        }
        let prefix = prefix.clone();
        Ok(crate::blocks::send_to_section(
            request,
            &prefix,
            self.rewrite,
            self.status,
            &self.cache_control,
        ))
    }

    fn header_reads(&self, reads: &mut HeaderReads) {
        reads.request(COUNTRY_HEADER);
    }

    fn paths(&self) -> Paths {
        Paths::under(&self.prefixes)
    }
}

impl crate::site::Block for CountryRedirect {
    const NAME: &'static str = "country-redirect";
    const SUMMARY: &'static str = "Visitors from the listed countries (CloudFront-Viewer-Country) are redirected \
to their country's prefix (`/guide` → `/de/guide`), or served from it in place with `rewrite`; a \
path already under a country prefix is left alone; with `prefixes`, only paths under them are \
routed. Origin-request: CloudFront adds the country \
header after viewer-request, only where the cache policy lists it (so each country's answer is \
cached apart), and the function runs on cache misses only.";
    const RUNS_ON: &'static [crate::EventType] = &[crate::EventType::OriginRequest];
    const EXAMPLE: &'static str = r#"countries = { DE = "/de", FR = "/fr" }
prefixes = ["/guide/"]
rewrite = false
status = 302"#;

    fn build(self, _site: &crate::site::SiteContext) -> Result<crate::site::Steps, String> {
        if !(300..400).contains(&self.status) {
            return Err(format!(
                "`status` {} is not a redirect status (300-399)",
                self.status
            ));
        }
        if let Some(bad) = self.prefixes.iter().find(|p| !p.starts_with('/')) {
            return Err(format!("`prefixes`: `{bad}` does not start with /"));
        }
        for (country, prefix) in &self.countries {
            if !crate::blocks::is_country_code(country) {
                return Err(format!(
                    "`{country}` is not a country code as CloudFront sends it (two capitals, DE)"
                ));
            }
            if !prefix.starts_with('/') || prefix.ends_with('/') {
                return Err(format!(
                    "prefix `{prefix}` of {country}: a path that starts with / and does not end \
                     with one, such as /de"
                ));
            }
        }
        Ok(crate::site::Steps {
            origin_request: Some(std::sync::Arc::new(self)),
            ..Default::default()
        })
    }
}

/// The `geo-access` block: paths only visitors from some countries may see (licensing, shipping,
/// sanctions), refused with the site's own page to the others.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoAccess {
    /// Only these countries get in (`allow`), or all but these (`deny`): give one.
    #[serde(default)]
    pub allow: Vec<String>,
    #[serde(default)]
    pub deny: Vec<String>,
    /// Paths under these prefixes; none: every path.
    #[serde(default)]
    pub prefixes: Vec<String>,
    /// The refusal's HTML: the site's own words.
    pub page: String,
    #[serde(default = "forbidden")]
    pub status: u16,
    /// The refusal is cached per country (the header is in the cache key).
    #[serde(default = "default_cache_control")]
    pub cache_control: String,
}

fn forbidden() -> u16 {
    403
}

impl GeoAccess {
    /// Whether a visitor from `country` (none: CloudFront did not know) gets in.
    fn admits(&self, country: Option<&str>) -> bool {
        let listed = |list: &[String]| {
            country.is_some_and(|c| list.iter().any(|l| l.eq_ignore_ascii_case(c)))
        };
        if self.allow.is_empty() {
            !listed(&self.deny)
        } else {
            listed(&self.allow)
        }
    }
}

impl OriginRequestStep for GeoAccess {
    fn origin_request(
        &self,
        request: &mut RequestEdit<'_>,
        _origin: &mut Option<Origin>,
        _data: &Supplied,
    ) -> Result<Flow, FunctionError> {
        if !crate::blocks::guarded(&self.prefixes, &request.uri)
            || self.admits(request.headers.get(COUNTRY_HEADER))
        {
            return Ok(Flow::Continue);
        }
        let mut response = Response::new(self.status);
        response
            .headers
            .set("Content-Type", "text/html; charset=utf-8");
        response
            .headers
            .set("Cache-Control", self.cache_control.as_str());
        response.body = Some(self.page.clone());
        Ok(Flow::Respond(response))
    }

    fn header_reads(&self, reads: &mut HeaderReads) {
        reads.request(COUNTRY_HEADER);
    }

    fn paths(&self) -> Paths {
        Paths::under(&self.prefixes)
    }
}

impl crate::site::Block for GeoAccess {
    const NAME: &'static str = "geo-access";
    const SUMMARY: &'static str = "Paths only visitors from some countries may see: `allow` lets only those \
countries in, `deny` keeps those out (a visitor CloudFront cannot place is outside every list); the \
others get `page` with `status` (403). Origin-request, as CloudFront-Viewer-Country exists only from \
there: the header must be in the cache key of the behaviors under `prefixes` (the distribution check \
says so), so each country's answer is cached apart. To close a whole distribution to countries, \
CloudFront's own geographic restriction costs nothing per request.";
    const RUNS_ON: &'static [crate::EventType] = &[crate::EventType::OriginRequest];
    const EXAMPLE: &'static str = r#"allow = ["US", "CA", "GB"]
prefixes = ["/downloads/"]
page = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not available</title></head><body><h1>Not available in your country</h1></body></html>"
status = 403"#;

    fn build(self, _site: &crate::site::SiteContext) -> Result<crate::site::Steps, String> {
        if self.allow.is_empty() == self.deny.is_empty() {
            return Err(
                "give `allow` (only these countries) or `deny` (all but these), one of them".into(),
            );
        }
        if let Some(bad) = self
            .allow
            .iter()
            .chain(&self.deny)
            .find(|c| !crate::blocks::is_country_code(c))
        {
            return Err(format!(
                "`{bad}` is not a country code as CloudFront sends it (two capitals, DE)"
            ));
        }
        if !(400..600).contains(&self.status) {
            return Err(format!(
                "`status` {} is not an error status (400-599)",
                self.status
            ));
        }
        if self.page.trim().is_empty() {
            return Err("`page` is empty: visitors who are refused should read why".into());
        }
        if let Some(bad) = self.prefixes.iter().find(|p| !p.starts_with('/')) {
            return Err(format!("`prefixes`: `{bad}` does not start with /"));
        }
        Ok(crate::site::Steps {
            origin_request: Some(std::sync::Arc::new(self)),
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Request;

    fn block(rewrite: bool) -> CountryRedirect {
        CountryRedirect {
            countries: [
                ("DE".to_owned(), "/de".to_owned()),
                ("FR".to_owned(), "/fr".to_owned()),
            ]
            .into(),
            rewrite,
            status: 302,
            cache_control: default_cache_control(),
            prefixes: Vec::new(),
        }
    }

    fn run(block: &CountryRedirect, country: Option<&str>, uri: &str) -> (Flow, String) {
        let mut request = Request {
            uri: uri.into(),
            querystring: "q=1".into(),
            ..Default::default()
        };
        if let Some(country) = country {
            request.headers.set("CloudFront-Viewer-Country", country);
        }
        let flow = block
            .origin_request(
                &mut RequestEdit::new(&mut request),
                &mut None,
                &Supplied::default(),
            )
            .unwrap();
        (flow, request.uri)
    }

    #[test]
    fn listed_countries_go_to_their_prefix_once() {
        let redirect = block(false);
        let (Flow::Respond(response), _) = run(&redirect, Some("de"), "/guide") else {
            panic!("a redirect");
        };
        assert_eq!(response.status, "302");
        assert_eq!(response.headers.get("location"), Some("/de/guide?q=1"));
        assert_eq!(run(&redirect, Some("DE"), "/de/guide").0, Flow::Continue);
        assert_eq!(run(&redirect, Some("DE"), "/de").0, Flow::Continue);
        assert!(matches!(
            run(&redirect, Some("DE"), "/dessert").0,
            Flow::Respond(_)
        ));
        assert_eq!(run(&redirect, Some("US"), "/guide").0, Flow::Continue);
        assert_eq!(run(&redirect, None, "/guide").0, Flow::Continue);
        let (flow, uri) = run(&block(true), Some("FR"), "/guide");
        assert_eq!((flow, uri.as_str()), (Flow::Continue, "/fr/guide"));
        let only_guide = CountryRedirect {
            prefixes: vec!["/guide/".into()],
            ..block(false)
        };
        assert!(matches!(
            run(&only_guide, Some("DE"), "/guide/index.html").0,
            Flow::Respond(_)
        ));
        assert_eq!(
            run(&only_guide, Some("DE"), "/docs/a.html").0,
            Flow::Continue
        );
    }

    fn geo(allow: &[&str], deny: &[&str]) -> GeoAccess {
        GeoAccess {
            allow: allow.iter().map(|c| (*c).to_owned()).collect(),
            deny: deny.iter().map(|c| (*c).to_owned()).collect(),
            prefixes: vec!["/downloads/".into()],
            page: "<p>Not here</p>".into(),
            status: 403,
            cache_control: default_cache_control(),
        }
    }

    fn geo_run(block: &GeoAccess, country: Option<&str>, uri: &str) -> Option<u16> {
        let mut request = Request {
            uri: uri.into(),
            ..Default::default()
        };
        if let Some(country) = country {
            request.headers.set("CloudFront-Viewer-Country", country);
        }
        match block
            .origin_request(
                &mut RequestEdit::new(&mut request),
                &mut None,
                &Supplied::default(),
            )
            .unwrap()
        {
            Flow::Respond(response) => response.status_code(),
            Flow::Continue => None,
        }
    }

    #[test]
    fn geo_access_allows_or_denies_by_country_on_its_paths() {
        let allow = geo(&["US", "CA"], &[]);
        assert_eq!(geo_run(&allow, Some("US"), "/downloads/a.pdf"), None);
        assert_eq!(geo_run(&allow, Some("ca"), "/downloads/a.pdf"), None);
        assert_eq!(geo_run(&allow, Some("FR"), "/downloads/a.pdf"), Some(403));
        assert_eq!(
            geo_run(&allow, Some("FR"), "/%64ownloads/a.pdf"),
            Some(403),
            "an escaped path is the same object"
        );
        assert_eq!(
            geo_run(&allow, None, "/downloads/a.pdf"),
            Some(403),
            "unplaced: not allowed"
        );
        assert_eq!(
            geo_run(&allow, Some("FR"), "/index.html"),
            None,
            "other paths are open"
        );
        let deny = geo(&[], &["KP"]);
        assert_eq!(geo_run(&deny, Some("KP"), "/downloads/a.pdf"), Some(403));
        assert_eq!(geo_run(&deny, Some("FR"), "/downloads/a.pdf"), None);
        assert_eq!(
            geo_run(&deny, None, "/downloads/a.pdf"),
            None,
            "unplaced: not denied"
        );
        use crate::site::Block;
        for (block, expected) in [
            (geo(&[], &[]), "one of them"),
            (geo(&["US"], &["KP"]), "one of them"),
            (geo(&["usa"], &[]), "country code"),
            (
                GeoAccess {
                    status: 302,
                    ..geo(&["US"], &[])
                },
                "error status",
            ),
            (
                GeoAccess {
                    page: " ".into(),
                    ..geo(&["US"], &[])
                },
                "`page` is empty",
            ),
        ] {
            let error = block.build(&Default::default()).err().unwrap();
            assert!(error.contains(expected), "{error}");
        }
    }
}
