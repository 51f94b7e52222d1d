//! Routing requests to origins: content-based routing (path, header, cookie, query parameter,
//! viewer country) to an S3 bucket or a custom HTTP origin, and weighted, sticky traffic shifts
//! (blue/green, canary) between origins.
//!
//! Origin-request is the only trigger that may change a request's origin, and it runs on cache
//! misses only, so routing costs nothing on a hit. A weighted rule keeps a visitor on the origin
//! it got with a cookie, which viewer-response sets (origin triggers cannot reach the viewer's
//! answer without it being cached for everyone).

use std::collections::BTreeMap;
use std::hash::Hasher;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::blocks::Fnv1a;
use crate::data::Supplied;
use crate::event::{CustomOrigin, HeaderEntry, Headers, Origin, Request, S3Origin};
use crate::function::{
    Flow, FunctionError, HeaderReads, OriginRequestStep, PathSpec, Paths, RequestEdit,
    ViewerResponseStep,
};

/// An origin a rule can send requests to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum OriginSpec {
    S3(S3Spec),
    Custom(CustomSpec),
}

/// An S3 bucket (its REST endpoint, `bucket.s3.us-east-1.amazonaws.com`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Spec {
    pub domain: String,
    /// A folder of the bucket every key is under (`/v2`), or nothing.
    #[serde(default)]
    pub path: String,
    /// The bucket's region; read from `domain` when it names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// A custom HTTP origin (a load balancer, a service, a website).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomSpec {
    pub domain: String,
    /// `https` (the default) or `http`.
    #[serde(default = "default_protocol")]
    pub protocol: String,
    /// 443 for https, 80 for http, unless given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// A path prefix every request is under (`/v1`), or nothing.
    #[serde(default)]
    pub path: String,
    /// Headers CloudFront adds to every request to this origin (a shared secret the origin
    /// checks, a tenant name). A viewer's header of the same name is removed.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// 1–60 seconds; CloudFront's default is 30.
    #[serde(default = "default_read_timeout")]
    pub read_timeout_secs: u32,
    /// 1–60 seconds; CloudFront's default is 5.
    #[serde(default = "default_keepalive_timeout")]
    pub keepalive_timeout_secs: u32,
}

fn default_protocol() -> String {
    "https".into()
}

fn default_read_timeout() -> u32 {
    30
}

fn default_keepalive_timeout() -> u32 {
    5
}

/// A condition on a header, cookie or query parameter: present (no `values`), or equal to one
/// of `values`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueMatch {
    pub name: String,
    #[serde(default)]
    pub values: Vec<String>,
}

impl ValueMatch {
    fn holds(&self, value: Option<&str>) -> bool {
        match value {
            Some(value) => self.values.is_empty() || self.values.iter().any(|v| v == value),
            None => false,
        }
    }
}

/// One origin's share of a weighted rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Share {
    pub origin: String,
    /// Relative share of new visitors; 0 drains the origin (its sticky visitors move too).
    pub weight: u32,
}

/// A rule: every condition it has must hold; it sends the request to `origin`, or to one of
/// `split` by weight.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteRule {
    /// Paths under this prefix (`/api/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<ValueMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie: Option<ValueMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<ValueMatch>,
    /// Viewer countries (`CloudFront-Viewer-Country`, `DE`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub countries: Vec<String>,
    /// The origin every matching request goes to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Or: origins with weights.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub split: Vec<Share>,
    /// With `split`: the cookie that keeps a visitor on the origin it got.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sticky_cookie: Option<String>,
    #[serde(default = "default_sticky_max_age")]
    pub sticky_max_age_secs: u64,
}

fn default_sticky_max_age() -> u64 {
    24 * 3600
}

/// The `origin-router` block's settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OriginRouter {
    /// The origins the rules name, by name.
    pub origins: BTreeMap<String, OriginSpec>,
    /// Tried in order; the first that matches routes the request. None matching: the
    /// behavior's own origin.
    pub rules: Vec<RouteRule>,
}

const COUNTRY_HEADER: &str = "cloudfront-viewer-country";

/// A rule made ready: its origins as the event carries them.
#[derive(Debug)]
struct CompiledRoute {
    /// The rule, its header condition's name lowercased (as the event's header map keys are).
    rule: RouteRule,
    /// `(name, weight, origin)`; one entry, weight 1, for a fixed `origin`.
    targets: Vec<(String, u32, Arc<Target>)>,
    /// The sum of the weights.
    total: u64,
}

/// An origin as the event carries it, and the `Host` the request must then have.
#[derive(Debug)]
struct Target {
    origin: Origin,
    host: String,
}

/// The built block: origin-request routes, viewer-response keeps weighted visitors.
#[derive(Debug)]
pub struct Router {
    routes: Vec<CompiledRoute>,
}

impl CompiledRoute {
    /// Whether the conditions a viewer-response can see hold (all but the country, which
    /// CloudFront adds after viewer-request).
    fn matches_viewer(&self, request: &Request) -> bool {
        let rule = &self.rule;
        rule.prefix
            .as_ref()
            .is_none_or(|p| request.uri.starts_with(p.as_str()))
            && rule
                .header
                .as_ref()
                .is_none_or(|m| m.holds(request.headers.get(&m.name)))
            && rule
                .cookie
                .as_ref()
                .is_none_or(|m| m.holds(request.headers.cookie(&m.name)))
            && rule.query.as_ref().is_none_or(|m| {
                m.holds(crate::blocks::query_value(&request.querystring, &m.name).as_deref())
            })
    }

    fn matches(&self, request: &Request) -> bool {
        self.matches_viewer(request)
            && (self.rule.countries.is_empty()
                || request.headers.get(COUNTRY_HEADER).is_some_and(|c| {
                    self.rule
                        .countries
                        .iter()
                        .any(|listed| listed.eq_ignore_ascii_case(c))
                }))
    }

    /// The target the visitor's cookie keeps it on, if that origin still takes visitors.
    fn kept(&self, request: &Request) -> Option<&(String, u32, Arc<Target>)> {
        let cookie = self.rule.sticky_cookie.as_deref()?;
        let name = request.headers.cookie(cookie)?;
        self.targets.iter().find(|(n, w, _)| n == name && *w > 0)
    }

    /// A new visitor's target: by weight, from a hash of its address (so it is the same one on
    /// every request, also before the cookie is set and at viewer-response).
    fn assigned(&self, request: &Request) -> &(String, u32, Arc<Target>) {
        let mut hash = Fnv1a::default();
        hash.write(request.client_ip.as_bytes());
        hash.write(b"\0");
        hash.write(self.rule.sticky_cookie.as_deref().unwrap_or("").as_bytes());
        let mut point = hash.finish() % self.total.max(1);
        for target in &self.targets {
            let weight = u64::from(target.1);
            if point < weight {
                return target;
            }
            point -= weight;
        }
        &self.targets[0]
    }

    fn target(&self, request: &Request) -> &(String, u32, Arc<Target>) {
        self.kept(request).unwrap_or_else(|| self.assigned(request))
    }
}

impl OriginRequestStep for Router {
    fn origin_request(
        &self,
        request: &mut RequestEdit<'_>,
        origin: &mut Option<Origin>,
        _data: &Supplied,
    ) -> Result<Flow, FunctionError> {
        let Some(route) = self.routes.iter().find(|r| r.matches(request)) else {
            return Ok(Flow::Continue);
        };
        let target = route.target(request).2.clone();
        // A custom origin header may not also be a request header (CloudFront refuses the
        // result): the origin's own value wins over one a viewer sent.
        if let Origin::Custom(custom) = &target.origin {
            for name in custom.custom_headers.0.keys() {
                request.headers_mut().remove(name);
            }
        }
        // The origin answers for its own name, as CloudFront requires when a function changes
        // the origin.
        request.headers_mut().set("Host", target.host.as_str());
        *origin = Some(target.origin.clone());
        Ok(Flow::Continue)
    }

    fn header_reads(&self, reads: &mut HeaderReads) {
        for route in &self.routes {
            let rule = &route.rule;
            if let Some(m) = &rule.header {
                reads.request(&m.name);
            }
            if let Some(m) = &rule.cookie {
                reads.cookie(&m.name);
            }
            if let Some(m) = &rule.query {
                reads.query(&m.name);
            }
            if !rule.countries.is_empty() {
                reads.request(COUNTRY_HEADER);
            }
            if let Some(cookie) = &rule.sticky_cookie {
                reads.cookie(cookie);
            }
        }
    }

    fn paths(&self) -> Paths {
        let prefixes: Option<Vec<PathSpec>> = self
            .routes
            .iter()
            .map(|r| r.rule.prefix.clone().map(PathSpec::Prefix))
            .collect();
        prefixes.map_or(Paths::Any, Paths::Only)
    }
}

impl ViewerResponseStep for Router {
    fn viewer_response(&self, request: &Request, _status: u16, headers: &mut Headers) {
        for route in &self.routes {
            let Some(cookie) = route.rule.sticky_cookie.as_deref() else {
                continue;
            };
            if !route.matches_viewer(request) || route.kept(request).is_some() {
                continue;
            }
            let name = &route.assigned(request).0;
            headers.append(
                "Set-Cookie",
                crate::blocks::set_cookie(cookie, name, route.rule.sticky_max_age_secs, true),
            );
        }
    }

    fn header_reads(&self, reads: &mut HeaderReads) {
        for route in &self.routes {
            if route.rule.sticky_cookie.is_none() {
                continue;
            }
            if let Some(m) = &route.rule.header {
                reads.request(&m.name);
            }
            reads.request("cookie");
        }
        reads.response("set-cookie");
    }
}

/// `us-east-1` from `bucket.s3.us-east-1.amazonaws.com`.
fn region_of(domain: &str) -> Option<String> {
    let rest = domain.split_once(".s3.")?.1;
    let region = rest.strip_suffix(".amazonaws.com")?;
    (!region.is_empty() && !region.contains('.')).then(|| region.to_owned())
}

fn is_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= 253
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

fn check_origin_path(name: &str, path: &str) -> Result<(), String> {
    if !path.is_empty() && (!path.starts_with('/') || path.ends_with('/')) {
        return Err(format!(
            "origin `{name}`: `path` `{path}` must start with / and not end with one (/v1), or be empty"
        ));
    }
    Ok(())
}

fn compile_origin(name: &str, spec: &OriginSpec) -> Result<Target, String> {
    match spec {
        OriginSpec::S3(s3) => {
            if !is_domain(&s3.domain) || !s3.domain.contains(".s3") {
                return Err(format!(
                    "origin `{name}`: `domain` `{}` is not a bucket's S3 endpoint \
                     (bucket.s3.us-east-1.amazonaws.com)",
                    s3.domain
                ));
            }
            check_origin_path(name, &s3.path)?;
            let region = s3.region.clone().or_else(|| region_of(&s3.domain));
            Ok(Target {
                host: s3.domain.clone(),
                origin: Origin::S3(S3Origin {
                    auth_method: "none".into(),
                    domain_name: s3.domain.clone(),
                    path: s3.path.clone(),
                    region,
                    ..Default::default()
                }),
            })
        }
        OriginSpec::Custom(custom) => {
            if !is_domain(&custom.domain) {
                return Err(format!(
                    "origin `{name}`: `domain` `{}` is not a domain name (no scheme, port or path: \
                     api.example.com)",
                    custom.domain
                ));
            }
            let default_port = match custom.protocol.as_str() {
                "https" => 443,
                "http" => 80,
                other => {
                    return Err(format!(
                        "origin `{name}`: `protocol` `{other}` is not https or http"
                    ));
                }
            };
            let port = match custom.port {
                Some(0) => return Err(format!("origin `{name}`: `port` 0")),
                Some(port) => port,
                None => default_port,
            };
            check_origin_path(name, &custom.path)?;
            for (setting, secs) in [
                ("read_timeout_secs", custom.read_timeout_secs),
                ("keepalive_timeout_secs", custom.keepalive_timeout_secs),
            ] {
                if !(1..=60).contains(&secs) {
                    return Err(format!(
                        "origin `{name}`: `{setting}` {secs} is outside 1-60 (CloudFront's range)"
                    ));
                }
            }
            let mut headers = Headers::new();
            for (header, value) in &custom.headers {
                let lower = header.to_ascii_lowercase();
                if !crate::rules::is_allowed_origin_custom_header(&lower) {
                    return Err(format!(
                        "origin `{name}`: `{header}` may not be a custom origin header"
                    ));
                }
                headers.0.insert(
                    lower,
                    vec![HeaderEntry {
                        key: Some(header.clone()),
                        value: value.clone(),
                        ..Default::default()
                    }],
                );
            }
            let host = if port != default_port {
                format!("{}:{port}", custom.domain)
            } else {
                custom.domain.clone()
            };
            Ok(Target {
                host,
                origin: Origin::Custom(CustomOrigin {
                    custom_headers: headers,
                    domain_name: custom.domain.clone(),
                    keepalive_timeout: Some(custom.keepalive_timeout_secs),
                    path: custom.path.clone(),
                    port,
                    protocol: custom.protocol.clone(),
                    read_timeout: Some(custom.read_timeout_secs),
                    ssl_protocols: Some(vec!["TLSv1.2".into()]),
                    ..Default::default()
                }),
            })
        }
    }
}

fn compile_rule(
    index: usize,
    rule: &RouteRule,
    origins: &BTreeMap<String, Arc<Target>>,
) -> Result<CompiledRoute, String> {
    let at = format!("rule {}", index + 1);
    let find = |name: &str| {
        origins.get(name).cloned().ok_or_else(|| {
            format!(
                "{at}: no origin `{name}` in `origins` (it has {})",
                origins
                    .keys()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    };
    let targets = match (&rule.origin, rule.split.is_empty()) {
        (Some(origin), true) => vec![(origin.clone(), 1, find(origin)?)],
        (None, false) => rule
            .split
            .iter()
            .map(|share| Ok((share.origin.clone(), share.weight, find(&share.origin)?)))
            .collect::<Result<Vec<_>, String>>()?,
        (Some(_), false) => return Err(format!("{at}: give `origin` or `split`, not both")),
        (None, true) => return Err(format!("{at}: give `origin` or `split` (where it sends)")),
    };
    let total: u64 = targets.iter().map(|t| u64::from(t.1)).sum();
    if total == 0 {
        return Err(format!(
            "{at}: `split` needs an origin with a weight above 0"
        ));
    }
    if rule.sticky_cookie.is_some() && rule.split.is_empty() {
        return Err(format!(
            "{at}: `sticky_cookie` keeps a visitor on one origin of a `split`; this rule has one origin"
        ));
    }
    if let Some(prefix) = &rule.prefix
        && !prefix.starts_with('/')
    {
        return Err(format!("{at}: `prefix` `{prefix}` does not start with /"));
    }
    if let Some(header) = &rule.header
        && !crate::blocks::is_header_name(&header.name)
    {
        return Err(format!("{at}: `{}` is not a header name", header.name));
    }
    if let Some(bad) = rule
        .countries
        .iter()
        .find(|c| !crate::blocks::is_country_code(c))
    {
        return Err(format!(
            "{at}: `{bad}` is not a country code as CloudFront sends it (two capitals, DE)"
        ));
    }
    let mut rule = rule.clone();
    if let Some(header) = &mut rule.header {
        header.name.make_ascii_lowercase();
    }
    Ok(CompiledRoute {
        rule,
        targets,
        total,
    })
}

impl crate::site::Block for OriginRouter {
    const NAME: &'static str = "origin-router";
    const SUMMARY: &'static str = "Sends requests to another origin: rules on the path prefix, a header, a cookie, \
a query parameter or the viewer's country pick an S3 bucket or a custom HTTP origin (domain, protocol, \
port, path, headers CloudFront adds), or split visitors by weight between origins (blue/green, \
canary), kept on theirs by `sticky_cookie`. Origin-request: the only trigger that may change the \
origin, and it runs on cache misses only. What a rule reads must reach origin-request (the \
distribution check says which policy lacks it), and it must be in the cache key where answers \
are cached, or one origin's answer is served to visitors of another. With `sticky_cookie`, put \
the block in viewer-response too: it sets the cookie there (it cannot see the country).";
    const RUNS_ON: &'static [crate::EventType] = &[
        crate::EventType::OriginRequest,
        crate::EventType::ViewerResponse,
    ];
    const EXAMPLE: &'static str = r#"origins.assets = { kind = "s3", domain = "assets-bucket.s3.us-east-1.amazonaws.com" }
origins.api-blue = { kind = "custom", domain = "blue.api.example.com", headers = { "X-Origin-Verify" = "shared-secret" } }
origins.api-green = { kind = "custom", domain = "green.api.example.com", protocol = "https", port = 443, path = "/v2" }
rules = [
  { prefix = "/static/", origin = "assets" },
  { prefix = "/api/", query = { name = "pool", values = ["green"] }, origin = "api-green" },
  { prefix = "/api/", split = [{ origin = "api-blue", weight = 90 }, { origin = "api-green", weight = 10 }], sticky_cookie = "api-pool" },
]"#;

    fn build(self, _site: &crate::site::SiteContext) -> Result<crate::site::Steps, String> {
        if self.rules.is_empty() {
            return Err("`rules` is empty: the block would route nothing".into());
        }
        let origins = self
            .origins
            .iter()
            .map(|(name, spec)| Ok((name.clone(), Arc::new(compile_origin(name, spec)?))))
            .collect::<Result<BTreeMap<_, _>, String>>()?;
        let routes = self
            .rules
            .iter()
            .enumerate()
            .map(|(i, rule)| compile_rule(i, rule, &origins))
            .collect::<Result<Vec<_>, String>>()?;
        let mut cookies = std::collections::BTreeSet::new();
        for cookie in routes.iter().filter_map(|r| r.rule.sticky_cookie.as_ref()) {
            if !cookies.insert(cookie) {
                return Err(format!(
                    "two rules keep visitors with the cookie `{cookie}`: give each its own"
                ));
            }
        }
        let sticky = !cookies.is_empty();
        let router = Arc::new(Router { routes });
        Ok(crate::site::Steps {
            origin_request: Some(router.clone()),
            viewer_response: sticky.then_some(router as Arc<dyn ViewerResponseStep>),
            ..Default::default()
        })
    }
}

#[cfg(all(test, feature = "toml"))]
mod tests {
    use super::*;
    use crate::site::Block;

    fn router(example: &str) -> crate::site::Steps {
        let block: OriginRouter = toml::from_str(example).unwrap();
        block.build(&Default::default()).unwrap()
    }

    fn request(uri: &str, ip: &str) -> Request {
        let mut request = Request {
            client_ip: ip.into(),
            uri: uri.into(),
            ..Default::default()
        };
        request
            .headers
            .set("Host", "bucket.s3.us-east-1.amazonaws.com");
        request
    }

    fn route(steps: &crate::site::Steps, request: &mut Request) -> Option<Origin> {
        let mut origin = request.origin.clone();
        steps
            .origin_request
            .as_ref()
            .unwrap()
            .origin_request(
                &mut RequestEdit::new(request),
                &mut origin,
                &Supplied::default(),
            )
            .unwrap();
        origin
    }

    fn domain(origin: &Option<Origin>) -> &str {
        match origin {
            Some(Origin::S3(s3)) => &s3.domain_name,
            Some(Origin::Custom(c)) => &c.domain_name,
            None => "(unchanged)",
        }
    }

    #[test]
    fn rules_route_by_path_query_header_cookie_and_country() {
        let steps = router(
            r#"origins.assets = { kind = "s3", domain = "assets.s3.eu-west-1.amazonaws.com", path = "/v3" }
origins.eu = { kind = "custom", domain = "eu.api.example.com" }
origins.beta = { kind = "custom", domain = "beta.api.example.com", protocol = "http", port = 8080, headers = { "X-Origin-Verify" = "s3cret" } }
rules = [
  { prefix = "/static/", origin = "assets" },
  { prefix = "/api/", query = { name = "pool", values = ["beta"] }, origin = "beta" },
  { prefix = "/api/", header = { name = "X-Beta" }, origin = "beta" },
  { prefix = "/api/", cookie = { name = "tester", values = ["yes"] }, origin = "beta" },
  { countries = ["DE", "FR"], origin = "eu" },
]"#,
        );
        let mut r = request("/static/a.css", "1.1.1.1");
        let origin = route(&steps, &mut r);
        assert_eq!(domain(&origin), "assets.s3.eu-west-1.amazonaws.com");
        let Some(Origin::S3(s3)) = &origin else {
            panic!()
        };
        assert_eq!(
            (s3.path.as_str(), s3.region.as_deref()),
            ("/v3", Some("eu-west-1"))
        );
        assert_eq!(
            r.headers.get("host"),
            Some("assets.s3.eu-west-1.amazonaws.com")
        );

        let mut r = request("/api/x", "1.1.1.1");
        r.querystring = "a=1&pool=beta".into();
        r.headers.set("X-Origin-Verify", "forged");
        let origin = route(&steps, &mut r);
        assert_eq!(domain(&origin), "beta.api.example.com");
        assert_eq!(r.headers.get("host"), Some("beta.api.example.com:8080"));
        assert_eq!(
            r.headers.get("x-origin-verify"),
            None,
            "the viewer's copy is removed"
        );
        let Some(Origin::Custom(custom)) = &origin else {
            panic!()
        };
        assert_eq!(custom.custom_headers.get("x-origin-verify"), Some("s3cret"));
        assert_eq!((custom.port, custom.protocol.as_str()), (8080, "http"));

        let mut r = request("/api/x", "1.1.1.1");
        r.headers.set("X-Beta", "");
        assert_eq!(domain(&route(&steps, &mut r)), "beta.api.example.com");
        let mut r = request("/api/x", "1.1.1.1");
        r.headers.set("Cookie", "a=b; tester=yes");
        assert_eq!(domain(&route(&steps, &mut r)), "beta.api.example.com");
        let mut r = request("/api/x", "1.1.1.1");
        r.headers.set("Cookie", "tester=no");
        assert_eq!(domain(&route(&steps, &mut r)), "(unchanged)");
        let mut r = request("/guide", "1.1.1.1");
        r.headers.set("CloudFront-Viewer-Country", "FR");
        assert_eq!(domain(&route(&steps, &mut r)), "eu.api.example.com");
        let mut r = request("/guide", "1.1.1.1");
        r.headers.set("CloudFront-Viewer-Country", "US");
        assert_eq!(domain(&route(&steps, &mut r)), "(unchanged)");
        assert_eq!(
            r.headers.get("host"),
            Some("bucket.s3.us-east-1.amazonaws.com")
        );
    }

    const SPLIT: &str = r#"origins.blue = { kind = "custom", domain = "blue.example.com" }
origins.green = { kind = "custom", domain = "green.example.com" }
rules = [{ prefix = "/api/", split = [{ origin = "blue", weight = 3 }, { origin = "green", weight = 1 }], sticky_cookie = "pool" }]"#;

    #[test]
    fn a_split_follows_the_weights_and_the_cookie_keeps_a_visitor() {
        let steps = router(SPLIT);
        let mut green = 0;
        for i in 0..4000 {
            let ip = format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256);
            let mut r = request("/api/items", &ip);
            let origin = route(&steps, &mut r);
            // The same visitor, again: the same origin.
            let mut again = request("/api/other", &ip);
            assert_eq!(domain(&route(&steps, &mut again)), domain(&origin));
            // Viewer-response offers the cookie naming that origin.
            let mut headers = Headers::new();
            let viewer = request("/api/items", &ip);
            steps
                .viewer_response
                .as_ref()
                .unwrap()
                .viewer_response(&viewer, 200, &mut headers);
            let cookie = headers.get("set-cookie").unwrap();
            let name = domain(&origin).split('.').next().unwrap();
            assert!(cookie.starts_with(&format!("pool={name};")), "{cookie}");
            green += usize::from(name == "green");
        }
        assert!((900..1100).contains(&green), "about a quarter: {green}");
        // The cookie wins over the hash, and a visitor who has it gets no new cookie.
        for name in ["blue", "green"] {
            let mut r = request("/api/items", "192.0.2.1");
            r.headers.set("Cookie", format!("pool={name}"));
            assert!(domain(&route(&steps, &mut r)).starts_with(name));
            let mut headers = Headers::new();
            steps
                .viewer_response
                .as_ref()
                .unwrap()
                .viewer_response(&r, 200, &mut headers);
            assert_eq!(headers.get("set-cookie"), None);
        }
        // Outside the rule's paths: neither routed nor given a cookie.
        let mut r = request("/index.html", "192.0.2.1");
        assert_eq!(domain(&route(&steps, &mut r)), "(unchanged)");
        let mut headers = Headers::new();
        steps
            .viewer_response
            .as_ref()
            .unwrap()
            .viewer_response(&r, 200, &mut headers);
        assert_eq!(headers.get("set-cookie"), None);
    }

    #[test]
    fn an_experiment_variant_gets_its_own_origin_through_its_header() {
        use crate::function::ViewerRequestStep;
        let experiment: crate::blocks::Experiment = toml::from_str(
            "cookie = \"v\"\nheader = \"X-Variant\"\n\
             variants = [{ name = \"a\", weight = 1 }, { name = \"b\", weight = 1 }]",
        )
        .unwrap();
        let steps = router(
            r#"origins.b = { kind = "custom", domain = "b.example.com" }
rules = [{ header = { name = "X-Variant", values = ["b"] }, origin = "b" }]"#,
        );
        for (cookie, expected) in [("v=a", "(unchanged)"), ("v=b", "b.example.com")] {
            let mut r = request("/index.html", "192.0.2.1");
            r.headers.set("Cookie", cookie);
            // Viewer-request assigns the variant; the origin request policy forwards its header.
            experiment.viewer_request(&mut RequestEdit::new(&mut r), &Supplied::default());
            assert_eq!(domain(&route(&steps, &mut r)), expected, "{cookie}");
        }
    }

    #[test]
    fn a_drained_origin_moves_its_sticky_visitors() {
        let steps = router(&SPLIT.replace("weight = 1", "weight = 0"));
        let mut r = request("/api/items", "192.0.2.1");
        r.headers.set("Cookie", "pool=green");
        assert_eq!(domain(&route(&steps, &mut r)), "blue.example.com");
        let mut headers = Headers::new();
        steps
            .viewer_response
            .as_ref()
            .unwrap()
            .viewer_response(&r, 200, &mut headers);
        assert!(headers.get("set-cookie").unwrap().starts_with("pool=blue;"));
    }

    #[test]
    fn settings_that_cannot_work_are_refused() {
        let refused = |text: &str| {
            let block: OriginRouter = toml::from_str(text).unwrap();
            block.build(&Default::default()).err().unwrap()
        };
        let one = r#"origins.a = { kind = "custom", domain = "a.example.com" }
"#;
        for (rules, expected) in [
            (r#"rules = [{ origin = "b" }]"#, "no origin `b`"),
            (r#"rules = [{ prefix = "/x" }]"#, "give `origin` or `split`"),
            (
                r#"rules = [{ origin = "a", sticky_cookie = "c" }]"#,
                "this rule has one origin",
            ),
            (
                r#"rules = [{ split = [{ origin = "a", weight = 0 }] }]"#,
                "a weight above 0",
            ),
            (
                r#"rules = [{ countries = ["de"], origin = "a" }]"#,
                "country code",
            ),
            (r#"rules = []"#, "route nothing"),
        ] {
            let error = refused(&format!("{one}{rules}"));
            assert!(error.contains(expected), "{error}");
        }
        for (origin, expected) in [
            (
                r#"{ kind = "custom", domain = "https://a.example.com" }"#,
                "not a domain",
            ),
            (
                r#"{ kind = "custom", domain = "a.example.com", protocol = "ftp" }"#,
                "not https or http",
            ),
            (
                r#"{ kind = "custom", domain = "a.example.com", path = "v1/" }"#,
                "must start with /",
            ),
            (
                r#"{ kind = "custom", domain = "a.example.com", read_timeout_secs = 90 }"#,
                "outside 1-60",
            ),
            (
                r#"{ kind = "custom", domain = "a.example.com", headers = { "Via" = "x" } }"#,
                "may not be a custom origin header",
            ),
            (r#"{ kind = "s3", domain = "example.com" }"#, "S3 endpoint"),
        ] {
            let error = refused(&format!(
                "origins.a = {origin}\nrules = [{{ origin = \"a\" }}]"
            ));
            assert!(error.contains(expected), "{origin}: {error}");
        }
        let unknown = toml::from_str::<OriginRouter>(
            "origins.a = { kind = \"custom\", domian = \"a.example.com\" }\nrules = []",
        );
        assert!(unknown.is_err(), "a misspelt origin setting is refused");
    }
}
