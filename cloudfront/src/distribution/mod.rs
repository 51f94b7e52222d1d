//! The local distribution: one request's path through CloudFront, with the Lambda@Edge
//! functions run at the moments CloudFront runs them.
//!
//! behavior match → viewer-request → `CloudFront-*` headers → cache lookup → (miss:
//! origin-request → origin → origin-response → cache store) → viewer-response → viewer.
//! A viewer-request response skips the cache and viewer-response; an origin-request response is
//! cached and skips origin-response; an origin status ≥ 400 skips viewer-response.
//!
//! The modules follow that path: `viewer_side` (up to the cache lookup, then viewer-response and
//! the way out), `miss` (origin-request to the cache store), `functions` (one function run with
//! its quotas and judged), `sites` (the declarations the config's functions run).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use bytes::Bytes;
use edge_functions::data::{ItemStore, Supplied, TemplateSource};
use edge_functions::event::{
    BodyAction, BodyEncoding, Cf, Config, CustomOrigin, FunctionResult, Origin, RequestBody,
    Response, S3Origin,
};
use edge_functions::function::EdgeFunctions;
use edge_functions::rules::{self, Failure, limits};
use edge_functions::{EventType, Headers, Request};

use crate::cache::{self, Cache, HttpResponse};
use crate::config::{
    Behavior, CachePolicy, DistributionConfig, FAILOVER_METHODS, FunctionConfig, OriginKind,
    OriginRequestPolicy, QueryStrings, ViewerProtocolPolicy,
};
use crate::origin::{HttpOrigins, OriginRequest, S3Directory};
use crate::pattern;
use crate::viewer;

mod functions;
mod miss;
mod sites;
mod viewer_side;

use functions::*;
use miss::*;
pub use sites::{LoadedSites, Sites, app_client_urls, load_sites, site_file};
use viewer_side::*;

/// The distribution's domain, as functions see it in `config.distributionDomainName`.
pub const DOMAIN: &str = "d111111abcdef8.cloudfront.net";

pub const DISTRIBUTION_ID: &str = "EDFDVBD6EXAMPLE";

/// The edge location the local distribution pretends to be.
pub const POP: &str = "LCL1-P1";

/// CloudFront's request limits: URL 8,192 bytes; request line and headers 20,480 bytes.
/// <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html#limits-general>
pub const MAX_URL_BYTES: usize = 8_192;

pub const MAX_HEADER_BYTES: usize = 20_480;

/// Headers that belong to one connection and never reach a function or the origin.
pub fn is_hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "upgrade"
            | "te"
            | "trailer"
    ) || rules::is_disallowed_header(name)
}

/// `user-agent` → `User-Agent`, as Lambda@Edge writes a missing `key`.
pub fn title_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// A request as the viewer sent it.
#[derive(Debug, Clone)]
pub struct ViewerRequest {
    pub client_ip: String,
    pub method: String,
    /// The path as sent (still percent-encoded).
    pub path: String,
    /// The query string without `?`.
    pub query: String,
    /// `(lowercase name, value)` in the order sent.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// How the viewer connected.
    pub protocol: ViewerProtocol,
}

/// How a viewer connected, for the viewer protocol policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewerProtocol {
    Https,
    /// Plain HTTP to a server that also speaks HTTPS: the policies apply.
    Http,
    /// Plain HTTP to a server without HTTPS (`serve` without `--https`): the policies are not
    /// applied, as there is no HTTPS to send the viewer to.
    HttpOnlyServer,
}

impl ViewerProtocol {
    /// `CloudFront-Forwarded-Proto`.
    pub fn scheme(self) -> &'static str {
        match self {
            ViewerProtocol::Https => "https",
            ViewerProtocol::Http | ViewerProtocol::HttpOnlyServer => "http",
        }
    }
}

impl ViewerRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the viewer gets, and what the request log says of it.
#[derive(Debug, Clone)]
pub struct ViewerResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub log: RequestLog,
}

/// One line of the request log.
#[derive(Debug, Clone, Default)]
pub struct RequestLog {
    pub behavior: String,
    pub cache: String,
    /// Each trigger that ran, and how long it took.
    pub triggers: Vec<(EventType, Duration)>,
    /// The origin that answered a miss: its id in the config, else its domain.
    pub origin: String,
    /// Why the primary of an origin group was passed over for the secondary.
    pub failed_over: Option<String>,
    /// Why the request failed, for the operator (a broken rule, a function error).
    pub error: Option<String>,
}

/// What one cache miss produced, shared by every request that waited on it: the answer, whether a
/// function failed (then nothing is cached and viewer-response does not run), and the miss's own
/// log (its triggers' times, what failed), which the request that fetched reports.
pub struct MissOutcome {
    pub response: HttpResponse,
    pub function_failed: bool,
    pub log: RequestLog,
}

/// How a function call ended when it did not produce a result CloudFront accepts.
#[derive(Debug)]
struct FunctionFailure {
    failure: Failure,
    reason: String,
}

/// A function association, resolved: the code, its quotas, whether it gets the body.
#[derive(Clone)]
struct Association {
    functions: Arc<EdgeFunctions>,
    config: FunctionConfig,
    include_body: bool,
}

/// A behavior with its policies and functions looked up once, at start.
struct ResolvedBehavior {
    pattern: Option<String>,
    /// The origin's id; with an origin group, its primary.
    origin: String,
    /// With an origin group: where a failed request goes next.
    failover: Option<Failover>,
    viewer_protocol_policy: ViewerProtocolPolicy,
    allowed_methods: Vec<String>,
    cache_policy: CachePolicy,
    origin_request_policy: Option<OriginRequestPolicy>,
    functions: HashMap<EventType, Association>,
}

/// An origin group's secondary, and the primary's statuses that send a request there.
struct Failover {
    secondary: String,
    statuses: Vec<u16>,
}

impl ResolvedBehavior {
    fn name(&self) -> &str {
        self.pattern.as_deref().unwrap_or("default")
    }
}

/// Where the data for the site's functions comes from.
#[derive(Clone)]
pub struct DataSources {
    pub store: Arc<dyn ItemStore>,
    pub templates: Arc<dyn TemplateSource>,
    /// Makes the network calls functions ask for (a sign-in block's token exchange).
    pub caller: Arc<dyn edge_functions::data::Caller>,
}

/// A running local distribution.
pub struct Distribution {
    config: DistributionConfig,
    behaviors: Vec<ResolvedBehavior>,
    data: DataSources,
    cache: Cache,
    s3: HashMap<String, S3Directory>,
    /// Custom origins the config declares, by id, with their connection settings.
    http: HashMap<String, HttpOrigins>,
    /// Custom origins it does not (a function may send a request anywhere).
    http_default: HttpOrigins,
    request_counter: std::sync::atomic::AtomicU64,
}

fn resolve(
    config: &DistributionConfig,
    behavior: &Behavior,
    sites: &Sites,
) -> Result<ResolvedBehavior, String> {
    let mut functions = HashMap::new();
    for association in &behavior.functions {
        let a = association.get_ref();
        let function = config
            .function(&a.function)
            .ok_or_else(|| format!("unknown function `{}`", a.function))?;
        let code = sites.get(&function.site).ok_or_else(|| {
            format!(
                "function `{}` runs site `{}`, which this build does not have (it has: {})",
                function.name,
                function.site,
                sites.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })?;
        functions.insert(
            a.event,
            Association {
                functions: code.clone(),
                config: function.clone(),
                include_body: a.include_body,
            },
        );
    }
    let group = config.origin_group(behavior.origin.get_ref());
    Ok(ResolvedBehavior {
        pattern: behavior.path_pattern.as_ref().map(|p| p.get_ref().clone()),
        origin: group.map_or_else(|| behavior.origin.get_ref().clone(), |g| g.primary.clone()),
        failover: group.map(|g| Failover {
            secondary: g.secondary.clone(),
            statuses: g.failover_statuses.clone(),
        }),
        viewer_protocol_policy: behavior.viewer_protocol_policy,
        allowed_methods: behavior.methods(),
        cache_policy: config.cache_policies[behavior.cache_policy.get_ref()].clone(),
        origin_request_policy: behavior
            .origin_request_policy
            .as_ref()
            .map(|p| config.origin_request_policies[p.get_ref()].clone()),
        functions,
    })
}

fn set_header(headers: &mut Headers, name: &str, value: impl Into<String>) {
    headers.set(name, value);
}

/// An error CloudFront itself answers, with its plain error page.
fn edge_error(status: u16, message: &str, kind: &str) -> HttpResponse {
    let reason = edge_functions::event::reason_phrase(status);
    let body = format!(
        "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\" \"http://www.w3.org/TR/html4/loose.dtd\">\n\
<HTML><HEAD><META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=iso-8859-1\">\n\
<TITLE>ERROR: The request could not be satisfied</TITLE>\n</HEAD><BODY>\n\
<H1>{status} {reason}</H1>\n<H2>The request could not be satisfied.</H2>\n<HR noshade size=\"1px\">\n{message}\n\
<BR clear=\"all\">\n<HR noshade size=\"1px\">\n<PRE>\nGenerated by cloudfront (CloudFront)\n</PRE>\n</BODY></HTML>\n"
    );
    let mut headers = Headers::new();
    headers.set("Content-Type", "text/html");
    headers.set("Server", "CloudFront");
    headers.set("X-Cache", format!("{kind} from cloudfront"));
    HttpResponse {
        status,
        headers,
        body: Bytes::from(body),
    }
}

impl Distribution {
    /// Builds the distribution. `base_dir` resolves relative origin directories.
    pub fn new(
        config: DistributionConfig,
        sites: &Sites,
        data: DataSources,
        base_dir: &std::path::Path,
        cache_bytes: usize,
    ) -> Result<Distribution, String> {
        let mut behaviors = Vec::new();
        for behavior in config.behaviors_in_order() {
            behaviors.push(resolve(&config, behavior, sites)?);
        }
        let mut s3 = HashMap::new();
        for origin in config.origins.iter().map(|o| o.get_ref()) {
            if origin.kind == OriginKind::S3 {
                let dir = origin.local_dir.clone().unwrap_or_default();
                let dir = if dir.is_absolute() {
                    dir
                } else {
                    base_dir.join(dir)
                };
                if !dir.is_dir() {
                    return Err(format!(
                        "origin `{}`: {} is not a directory",
                        origin.id,
                        dir.display()
                    ));
                }
                s3.insert(origin.domain_name.clone(), S3Directory { dir });
            }
        }
        let http = config
            .origins
            .iter()
            .map(|o| o.get_ref())
            .filter(|o| o.kind == OriginKind::Custom)
            .map(|o| {
                let connect = Duration::from_secs(o.connection_timeout_secs);
                (
                    o.id.clone(),
                    HttpOrigins::new(connect, o.connection_attempts),
                )
            })
            .collect();
        Ok(Distribution {
            config,
            behaviors,
            data,
            cache: Cache::new(cache_bytes),
            s3,
            http,
            http_default: HttpOrigins::default(),
            request_counter: Default::default(),
        })
    }

    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    pub fn config(&self) -> &DistributionConfig {
        &self.config
    }

    /// Serves one viewer request.
    pub async fn handle(&self, viewer: ViewerRequest) -> ViewerResponse {
        let request_id = self.request_id();
        let mut log = RequestLog::default();
        let mut response = self.serve(&viewer, &request_id, &mut log).await;
        finish_for_viewer(&viewer, &mut response, &request_id);
        let HttpResponse {
            status,
            headers,
            body,
        } = response;
        let mut out = Vec::new();
        for (name, entries) in headers.iter() {
            for entry in entries {
                out.push((name.clone(), entry.value.clone()));
            }
        }
        ViewerResponse {
            status,
            headers: out,
            body,
            log,
        }
    }

    fn request_id(&self) -> String {
        let n = self
            .request_counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mut bytes = Vec::with_capacity(42);
        for i in 0..5u32 {
            let mix = (nanos as u64 ^ n.rotate_left(17))
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .rotate_left(i * 11);
            bytes.extend_from_slice(&mix.to_le_bytes());
        }
        bytes.truncate(40);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }
}
