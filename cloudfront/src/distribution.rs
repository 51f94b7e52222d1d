//! The local distribution: one request's path through CloudFront, with the Lambda@Edge
//! functions run at the moments CloudFront runs them.
//!
//! behavior match → viewer-request → `CloudFront-*` headers → cache lookup → (miss:
//! origin-request → origin → origin-response → cache store) → viewer-response → viewer.
//! A viewer-request response skips the cache and viewer-response; an origin-request response is
//! cached and skips origin-response; an origin status ≥ 400 skips viewer-response.

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
    Behavior, CachePolicy, DistributionConfig, FunctionConfig, OriginKind, OriginRequestPolicy,
    QueryStrings,
};
use crate::origin::{HttpOrigins, OriginRequest, S3Directory};
use crate::pattern;
use crate::viewer;

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
    origin: String,
    allowed_methods: Vec<String>,
    cache_policy: CachePolicy,
    origin_request_policy: Option<OriginRequestPolicy>,
    functions: HashMap<EventType, Association>,
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
}

/// A running local distribution.
pub struct Distribution {
    config: DistributionConfig,
    behaviors: Vec<ResolvedBehavior>,
    data: DataSources,
    cache: Cache,
    s3: HashMap<String, S3Directory>,
    http: HttpOrigins,
    request_counter: std::sync::atomic::AtomicU64,
}

/// The functions of each site declaration the config's functions name, by the name as written.
pub type Sites = HashMap<String, Arc<EdgeFunctions>>;

/// Where a function's site declaration is: its `site`, relative to the config's directory.
pub fn site_file(base_dir: &std::path::Path, site: &str) -> std::path::PathBuf {
    base_dir.join(site)
}

/// The sites a config's functions run, and what the check of their reads against the
/// behaviors' policies warns about.
pub struct LoadedSites {
    pub sites: Sites,
    /// Each site's tables, by the config's `site` (the items files resolved).
    pub tables: HashMap<String, Vec<edge_functions::data::SeededTable>>,
    pub warnings: Vec<String>,
}

impl LoadedSites {
    /// Every table of every site, once each (two sites may share a table: the same name must be
    /// the same table).
    pub fn all_tables(&self) -> Result<Vec<edge_functions::data::SeededTable>, String> {
        let mut all: std::collections::BTreeMap<String, edge_functions::data::SeededTable> =
            std::collections::BTreeMap::new();
        let mut sites: Vec<&String> = self.tables.keys().collect();
        sites.sort();
        for site in sites {
            for table in &self.tables[site] {
                match all.get(&table.spec.table_name) {
                    Some(kept) if kept.spec.key != table.spec.key => {
                        return Err(format!(
                            "table {} has key {} in one site and {} in {site}",
                            table.spec.table_name, kept.spec.key, table.spec.key
                        ));
                    }
                    Some(_) => {}
                    None => {
                        all.insert(table.spec.table_name.clone(), table.clone());
                    }
                }
            }
        }
        Ok(all.into_values().collect())
    }
}

/// Loads every site declaration the config's functions name (each once), with the blocks of
/// `registry`, and checks what their origin functions read against each behavior's policies.
/// A declaration with a mistake is refused with its `file:line`; a function that would cache one
/// visitor's answer for others is refused; a read no policy gives is a warning.
pub fn load_sites(
    config: &DistributionConfig,
    config_path: &std::path::Path,
    registry: &edge_functions::site::Registry,
) -> Result<LoadedSites, String> {
    let base_dir = config_path.parent().unwrap_or(std::path::Path::new("."));
    let mut sites = Sites::new();
    let mut tables = HashMap::new();
    for function in config.functions.iter().map(|f| f.get_ref()) {
        if sites.contains_key(&function.site) {
            continue;
        }
        let path = site_file(base_dir, &function.site);
        let site =
            edge_functions::site::load_file(&path, registry, None).map_err(|e| e.to_string())?;
        tables.insert(function.site.clone(), site.seeded_tables(&path));
        sites.insert(function.site.clone(), Arc::new(site.functions));
    }
    let (refused, warned) =
        crate::policy_check::messages(&crate::policy_check::check(config, &sites));
    let at = |message: String| format!("{}: {message}", config_path.display());
    if !refused.is_empty() {
        return Err(refused.into_iter().map(at).collect::<Vec<_>>().join("\n"));
    }
    let warnings = warned.into_iter().map(at).collect();
    let loaded = LoadedSites {
        sites,
        tables,
        warnings,
    };
    loaded.all_tables()?;
    Ok(loaded)
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
        Ok(Distribution {
            config,
            behaviors,
            data,
            cache: Cache::new(cache_bytes),
            s3,
            http: HttpOrigins::default(),
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

    async fn serve(
        &self,
        viewer: &ViewerRequest,
        request_id: &str,
        log: &mut RequestLog,
    ) -> HttpResponse {
        if viewer.path.len() + viewer.query.len() + 1 > MAX_URL_BYTES {
            log.cache = "Error".into();
            return edge_error(414, "The request URL is too long.", "Error");
        }
        let header_bytes: usize = viewer
            .headers
            .iter()
            .map(|(n, v)| n.len() + v.len() + 4)
            .sum();
        if header_bytes > MAX_HEADER_BYTES {
            log.cache = "Error".into();
            return edge_error(494, "The request headers are too large.", "Error");
        }
        let Some(behavior) = self.behaviors.iter().find(|b| {
            b.pattern
                .as_deref()
                .is_none_or(|p| pattern::matches(p, &viewer.path))
        }) else {
            return edge_error(500, "No behavior matched.", "Error");
        };
        log.behavior = behavior.name().to_owned();
        if !behavior.allowed_methods.contains(&viewer.method) {
            log.cache = "Error".into();
            return edge_error(
                403,
                "This distribution is not configured to allow the HTTP request method that was used for this request.",
                "Error",
            );
        }
        let mut request = self.event_request(viewer, behavior);

        // viewer-request: runs on every request, before the cache.
        if let Some(association) = behavior.functions.get(&EventType::ViewerRequest) {
            let cf = self.cf(EventType::ViewerRequest, request_id, request.clone(), None);
            match self.call(association, cf, log).await {
                Ok(FunctionResult::Request(edited)) => request = apply_body(edited, &request),
                Ok(FunctionResult::Response(generated)) => {
                    log.cache = "LambdaGeneratedResponse".into();
                    let mut response = generated_response(generated);
                    set_header(
                        &mut response.headers,
                        "X-Cache",
                        "LambdaGeneratedResponse from cloudfront",
                    );
                    return response;
                }
                Err(failure) => return self.function_failed(failure, log),
            }
        }

        // CloudFront adds its own headers after viewer-request, where a policy lists them.
        self.add_cloudfront_headers(viewer, behavior, &mut request);
        if request.uri == "/"
            && let Some(root) = &self.config.distribution.default_root_object
        {
            request.uri = format!("/{}", root.trim_start_matches('/'));
        }

        let cacheable = matches!(request.method.as_str(), "GET" | "HEAD");
        let key = cache::cache_key(&behavior.cache_policy, &request);
        if cacheable && let Some(hit) = self.cache.get(&key) {
            log.cache = "Hit".into();
            let mut response = (*hit.response).clone();
            set_header(&mut response.headers, "X-Cache", "Hit from cloudfront");
            set_header(&mut response.headers, "Age", hit.age.as_secs().to_string());
            return self
                .viewer_response(behavior, request, response, request_id, log)
                .await;
        }

        let miss = || {
            self.miss(
                behavior,
                request.clone(),
                request_id,
                &key,
                viewer.body.clone(),
            )
        };
        let (outcome, fetched_here) = if cacheable {
            self.cache.fetch_once(&key, miss).await
        } else {
            (miss().await, true)
        };
        if fetched_here {
            log.triggers.extend(outcome.log.triggers.iter().copied());
        } else {
            log.triggers
                .push((EventType::OriginRequest, Duration::ZERO));
            log.cache = "Miss (collapsed)".into();
        }
        let response = outcome.response.clone();
        if log.cache.is_empty() {
            log.cache = response
                .headers
                .get("x-cache")
                .map(|v| v.trim_end_matches(" from cloudfront").to_owned())
                .unwrap_or_else(|| "Miss".into());
        }
        log.error.clone_from(&outcome.log.error);
        if outcome.function_failed {
            return response;
        }
        self.viewer_response(behavior, request, response, request_id, log)
            .await
    }

    /// The cache miss path, shared by concurrent misses for one key.
    async fn miss(
        &self,
        behavior: &ResolvedBehavior,
        request: Request,
        request_id: &str,
        key: &str,
        viewer_body: Bytes,
    ) -> Arc<MissOutcome> {
        let mut log = RequestLog::default();
        let mut function_failed = false;
        let mut request = self.origin_request(behavior, request, &viewer_body);
        let response = 'fetch: {
            if let Some(association) = behavior.functions.get(&EventType::OriginRequest) {
                let cf = self.cf(EventType::OriginRequest, request_id, request.clone(), None);
                match self.call(association, cf, &mut log).await {
                    Ok(FunctionResult::Request(edited)) => request = apply_body(edited, &request),
                    Ok(FunctionResult::Response(generated)) => {
                        // Cached like an origin answer; origin-response does not run.
                        let mut response = generated_response(generated);
                        set_header(
                            &mut response.headers,
                            "X-Cache",
                            "LambdaGeneratedResponse from cloudfront",
                        );
                        break 'fetch response;
                    }
                    Err(failure) => {
                        function_failed = true;
                        break 'fetch self.function_failed(failure, &mut log);
                    }
                }
            }
            let body = match &request.body {
                Some(b) if b.action == BodyAction::Replace => raw_bytes(b),
                _ => viewer_body.clone(),
            };
            let origin = match self.fetch_origin(behavior, &request, body).await {
                Ok(origin) => origin,
                Err(err) => {
                    tracing::warn!("{err}");
                    let response = edge_error(
                        502,
                        "CloudFront wasn't able to connect to the origin.",
                        "Error",
                    );
                    log.error = Some(err.to_string());
                    break 'fetch response;
                }
            };
            let mut response = origin;
            if let Some(association) = behavior.functions.get(&EventType::OriginResponse) {
                let event_response = response.event_response();
                let cf = self.cf(
                    EventType::OriginResponse,
                    request_id,
                    request.clone(),
                    Some(event_response),
                );
                match self.call(association, cf, &mut log).await {
                    Ok(FunctionResult::Response(updated)) => {
                        let body = updated.body.clone();
                        let encoding = updated.body_encoding;
                        response.status = updated.status_code().unwrap_or(response.status);
                        response.headers = updated.headers;
                        if let Some(body) = body {
                            response.body = decode_body(&body, encoding);
                        }
                    }
                    Ok(FunctionResult::Request(_)) => {
                        unreachable!("the validator refuses a request here")
                    }
                    Err(failure) => {
                        function_failed = true;
                        break 'fetch self.function_failed(failure, &mut log);
                    }
                }
            }
            set_header(&mut response.headers, "X-Cache", "Miss from cloudfront");
            response
        };
        if matches!(request.method.as_str(), "GET" | "HEAD") && !function_failed {
            let ttl = cache::ttl(
                &behavior.cache_policy,
                &response,
                self.config.distribution.error_caching_min_ttl,
            );
            self.cache.put(key, Arc::new(response.clone()), ttl);
        }
        Arc::new(MissOutcome {
            response,
            function_failed,
            log,
        })
    }

    async fn viewer_response(
        &self,
        behavior: &ResolvedBehavior,
        request: Request,
        mut response: HttpResponse,
        request_id: &str,
        log: &mut RequestLog,
    ) -> HttpResponse {
        // viewer-response does not run for origin errors.
        let Some(association) = behavior.functions.get(&EventType::ViewerResponse) else {
            return response;
        };
        if response.status >= 400 {
            return response;
        }
        let event_response = response.event_response();
        let cf = self.cf(
            EventType::ViewerResponse,
            request_id,
            request,
            Some(event_response),
        );
        match self.call(association, cf, log).await {
            Ok(FunctionResult::Response(updated)) => {
                response.headers = updated.headers;
                response
            }
            Ok(FunctionResult::Request(_)) => unreachable!("the validator refuses a request here"),
            Err(failure) => self.function_failed(failure, log),
        }
    }

    /// Runs one function with its quotas, and judges its result.
    async fn call(
        &self,
        association: &Association,
        cf: Cf,
        log: &mut RequestLog,
    ) -> Result<FunctionResult, FunctionFailure> {
        let trigger = association.config.trigger;
        let functions = association.functions.clone();
        let limit = Duration::from_secs(association.config.timeout_secs);
        let started = Instant::now();
        let needs = functions.needs(trigger, &cf);
        // A function that needs no data is pure computation (a fraction of a microsecond for
        // the site's viewer triggers): it runs right here, and its time limit is checked when it
        // returns. One that needs data may wait on a store, so it runs on the blocking pool
        // under a real timeout.
        let outcome: Result<Result<Judged, String>, ()> = if needs.is_empty() {
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                judge(&functions, trigger, &cf, &Supplied::default())
            }))
            .map_err(|payload| panic_text(payload.as_ref()));
            if started.elapsed() > limit {
                Err(())
            } else {
                Ok(ran)
            }
        } else {
            let data = self.data.clone();
            let task = tokio::task::spawn_blocking(move || {
                let supplied =
                    Supplied::fetch(&needs, data.store.as_ref(), data.templates.as_ref());
                judge(&functions, trigger, &cf, &supplied)
            });
            match tokio::time::timeout(limit, task).await {
                Err(_) => Err(()),
                Ok(joined) => Ok(joined.map_err(panic_message)),
            }
        };
        log.triggers.push((trigger, started.elapsed()));
        let fail = |failure, reason: String| Err(FunctionFailure { failure, reason });
        match outcome {
            Err(_) => fail(
                Failure::LambdaLimitExceeded,
                format!(
                    "{} ({trigger}) ran past its {limit:?} timeout",
                    association.config.name
                ),
            ),
            Ok(Err(panic)) => fail(
                Failure::LambdaExecutionError,
                format!("{} ({trigger}) crashed: {panic}", association.config.name),
            ),
            Ok(Ok((Err(err), _))) => fail(
                Failure::LambdaExecutionError,
                format!("{} ({trigger}) failed: {err}", association.config.name),
            ),
            Ok(Ok((Ok(_), violations))) if !violations.is_empty() => fail(
                Failure::LambdaValidationError,
                format!(
                    "{} ({trigger}) returned a result CloudFront refuses: {}",
                    association.config.name,
                    violations
                        .iter()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            ),
            Ok(Ok((Ok(result), _))) => Ok(result),
        }
    }

    fn function_failed(&self, failure: FunctionFailure, log: &mut RequestLog) -> HttpResponse {
        tracing::warn!("{}: {}", failure.failure, failure.reason);
        log.error = Some(format!("{}: {}", failure.failure.name(), failure.reason));
        log.cache = failure.failure.name().to_owned();
        let message = match failure.failure {
            Failure::LambdaValidationError => {
                "The Lambda function returned an invalid response to CloudFront."
            }
            Failure::LambdaExecutionError => {
                "The Lambda function associated with the CloudFront distribution is invalid or doesn't have the required permissions."
            }
            Failure::LambdaLimitExceeded => {
                "The Lambda function associated with the CloudFront distribution was throttled or ran out of time."
            }
        };
        edge_error(failure.failure.status(), message, failure.failure.name())
    }

    fn cf(
        &self,
        trigger: EventType,
        request_id: &str,
        request: Request,
        response: Option<Response>,
    ) -> Cf {
        Cf {
            config: Config {
                distribution_domain_name: DOMAIN.into(),
                distribution_id: DISTRIBUTION_ID.into(),
                event_type: trigger,
                request_id: request_id.to_owned(),
                extra: Default::default(),
            },
            request,
            response,
            extra: Default::default(),
        }
    }

    /// The request as a viewer-request function sees it.
    fn event_request(&self, viewer: &ViewerRequest, behavior: &ResolvedBehavior) -> Request {
        let country_header = self
            .config
            .viewer
            .country_header
            .as_ref()
            .map(|h| h.to_ascii_lowercase());
        let mut headers = Headers::new();
        for (name, value) in &viewer.headers {
            if is_hop_by_hop(name)
                || Some(name) == country_header.as_ref()
                || name.starts_with("cloudfront-")
            {
                continue;
            }
            headers.append(&title_case(name), value.as_str());
        }
        let body = behavior
            .functions
            .get(&EventType::ViewerRequest)
            .filter(|a| a.include_body)
            .and_then(|_| event_body(&viewer.body, EventType::ViewerRequest));
        Request {
            client_ip: viewer.client_ip.clone(),
            method: viewer.method.clone(),
            uri: viewer.path.clone(),
            querystring: viewer.query.clone(),
            headers,
            origin: None,
            body,
            extra: Default::default(),
        }
    }

    /// Adds the `CloudFront-*` headers the behavior's policies list, from the User-Agent and the
    /// viewer's address (or the testing override).
    fn add_cloudfront_headers(
        &self,
        viewer: &ViewerRequest,
        behavior: &ResolvedBehavior,
        request: &mut Request,
    ) {
        let wanted: Vec<String> = behavior
            .cache_policy
            .headers
            .iter()
            .chain(
                behavior
                    .origin_request_policy
                    .iter()
                    .flat_map(|p| p.headers.iter()),
            )
            .map(|h| h.to_ascii_lowercase())
            .filter(|h| h.starts_with("cloudfront-"))
            .collect();
        if wanted.is_empty() {
            return;
        }
        let ua = viewer.header("user-agent").unwrap_or("");
        for (name, value) in viewer::device_headers(ua) {
            if wanted.iter().any(|w| w.eq_ignore_ascii_case(name)) {
                request.headers.set(name, value);
            }
        }
        if wanted.iter().any(|w| w == "cloudfront-viewer-country") {
            let override_value = self
                .config
                .viewer
                .country_header
                .as_ref()
                .and_then(|h| viewer.header(&h.to_ascii_lowercase()));
            let country = viewer::country(&self.config.viewer, &viewer.client_ip, override_value);
            request.headers.set("CloudFront-Viewer-Country", country);
        }
    }

    /// The request as it goes to the origin (and to origin-request): only what the policies
    /// forward, with the origin's host, `via` and `x-forwarded-for`.
    fn origin_request(
        &self,
        behavior: &ResolvedBehavior,
        mut request: Request,
        viewer_body: &Bytes,
    ) -> Request {
        let cache = &behavior.cache_policy;
        let origin_policy = behavior.origin_request_policy.clone().unwrap_or_default();
        let forwarded_headers: Vec<String> = cache
            .headers
            .iter()
            .chain(origin_policy.headers.iter())
            .map(|h| h.to_ascii_lowercase())
            .collect();
        let forwarded_cookies: Vec<&String> = cache
            .cookies
            .iter()
            .chain(origin_policy.cookies.iter())
            .collect();
        let mut headers = Headers::new();
        for (name, entries) in request.headers.iter() {
            if forwarded_headers.contains(name)
                || name == "user-agent"
                || name == "content-type"
                || name == "content-length"
            {
                headers.0.insert(name.clone(), entries.clone());
            }
        }
        let cookies: Vec<String> = request
            .headers
            .get_all("cookie")
            .flat_map(|h| h.split(';'))
            .map(str::trim)
            .filter(|pair| {
                let name = pair.split('=').next().unwrap_or("");
                forwarded_cookies.iter().any(|c| c.as_str() == name)
            })
            .map(str::to_owned)
            .collect();
        if !cookies.is_empty() {
            headers.set("Cookie", cookies.join("; "));
        }
        let query_policy = match (&cache.query_strings, &origin_policy.query_strings) {
            (QueryStrings::All, _) | (_, QueryStrings::All) => QueryStrings::All,
            (QueryStrings::Only(a), QueryStrings::Only(b)) => {
                QueryStrings::Only(a.iter().chain(b).cloned().collect())
            }
            (QueryStrings::Only(a), QueryStrings::None)
            | (QueryStrings::None, QueryStrings::Only(a)) => QueryStrings::Only(a.clone()),
            (QueryStrings::None, QueryStrings::None) => QueryStrings::None,
        };
        request.querystring = cache::select_query(&query_policy, &request.querystring);
        let origin = self
            .config
            .origin(&behavior.origin)
            .expect("resolved at start");
        headers.set("Host", origin.domain_name.as_str());
        headers.set("Via", format!("2.0 {POP}.cloudfront.net (CloudFront)"));
        headers.set("X-Forwarded-For", request.client_ip.as_str());
        request.headers = headers;
        request.origin = Some(match origin.kind {
            OriginKind::S3 => Origin::S3(S3Origin {
                auth_method: "none".into(),
                domain_name: origin.domain_name.clone(),
                path: origin.origin_path.clone(),
                region: Some("us-east-1".into()),
                ..Default::default()
            }),
            OriginKind::Custom => Origin::Custom(CustomOrigin {
                domain_name: origin.domain_name.clone(),
                port: origin.port.unwrap_or(80),
                protocol: origin.protocol.clone().unwrap_or_else(|| "http".into()),
                path: origin.origin_path.clone(),
                read_timeout: Some(origin.read_timeout_secs as u32),
                keepalive_timeout: Some(5),
                ssl_protocols: Some(vec!["TLSv1.2".into()]),
                ..Default::default()
            }),
        });
        // The body reaches origin-request only with Include Body (and a replacement made in
        // viewer-request stands in for the viewer's).
        let include = behavior
            .functions
            .get(&EventType::OriginRequest)
            .is_some_and(|a| a.include_body);
        let replaced = request
            .body
            .take()
            .filter(|b| b.action == BodyAction::Replace)
            .map(|b| raw_bytes(&b));
        let body = replaced.as_ref().unwrap_or(viewer_body);
        request.body = if include {
            event_body(body, EventType::OriginRequest)
        } else {
            None
        };
        request
    }

    async fn fetch_origin(
        &self,
        behavior: &ResolvedBehavior,
        request: &Request,
        body: Bytes,
    ) -> Result<HttpResponse, crate::origin::OriginError> {
        let timeout = Duration::from_secs(
            self.config
                .origin(&behavior.origin)
                .map(|o| o.read_timeout_secs)
                .unwrap_or(30),
        );
        match &request.origin {
            Some(Origin::S3(s3)) => match self.s3.get(&s3.domain_name) {
                Some(bucket) => Ok(bucket
                    .fetch(&request.method, &format!("{}{}", s3.path, request.uri))
                    .await),
                None => Err(crate::origin::OriginError::Unreachable(
                    s3.domain_name.clone(),
                    "no bucket of that name is served locally".into(),
                )),
            },
            Some(Origin::Custom(custom)) => {
                let query = if request.querystring.is_empty() {
                    String::new()
                } else {
                    format!("?{}", request.querystring)
                };
                self.http
                    .fetch(OriginRequest {
                        domain: &custom.domain_name,
                        port: custom.port,
                        path: format!("{}{}{query}", custom.path, request.uri),
                        method: &request.method,
                        headers: &request.headers,
                        body,
                        timeout: custom
                            .read_timeout
                            .map(|s| Duration::from_secs(u64::from(s)))
                            .unwrap_or(timeout),
                    })
                    .await
            }
            None => Err(crate::origin::OriginError::Unreachable(
                "(none)".into(),
                "the request has no origin".into(),
            )),
        }
    }
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
    Ok(ResolvedBehavior {
        pattern: behavior.path_pattern.as_ref().map(|p| p.get_ref().clone()),
        origin: behavior.origin.get_ref().clone(),
        allowed_methods: behavior.methods(),
        cache_policy: config.cache_policies[behavior.cache_policy.get_ref()].clone(),
        origin_request_policy: behavior
            .origin_request_policy
            .as_ref()
            .map(|p| config.origin_request_policies[p.get_ref()].clone()),
        functions,
    })
}

/// The body as Include Body exposes it: base64, truncated at the trigger's limit.
fn event_body(body: &Bytes, trigger: EventType) -> Option<RequestBody> {
    if body.is_empty() {
        return None;
    }
    let limit = limits::request_body_bytes(trigger);
    let shown = &body[..body.len().min(limit)];
    Some(RequestBody {
        input_truncated: body.len() > limit,
        action: BodyAction::ReadOnly,
        encoding: BodyEncoding::Base64,
        data: base64::engine::general_purpose::STANDARD.encode(shown),
        extra: Default::default(),
    })
}

fn raw_bytes(body: &RequestBody) -> Bytes {
    match body.encoding {
        BodyEncoding::Text => Bytes::from(body.data.clone()),
        BodyEncoding::Base64 => base64::engine::general_purpose::STANDARD
            .decode(&body.data)
            .map(Bytes::from)
            .unwrap_or_default(),
    }
}

/// Keeps the original body unless the function replaced it (`action: replace`).
fn apply_body(mut edited: Request, before: &Request) -> Request {
    match &edited.body {
        Some(body) if body.action == BodyAction::Replace => {}
        _ => edited.body = before.body.clone(),
    }
    edited
}

fn decode_body(body: &str, encoding: Option<BodyEncoding>) -> Bytes {
    match encoding.unwrap_or(BodyEncoding::Text) {
        BodyEncoding::Text => Bytes::from(body.to_owned()),
        BodyEncoding::Base64 => base64::engine::general_purpose::STANDARD
            .decode(body)
            .map(Bytes::from)
            .unwrap_or_default(),
    }
}

fn generated_response(response: Response) -> HttpResponse {
    HttpResponse {
        status: response.status_code().unwrap_or(502),
        body: response
            .body
            .as_deref()
            .map(|b| decode_body(b, response.body_encoding))
            .unwrap_or_default(),
        headers: response.headers,
    }
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

/// A function's result with the rules it breaks.
type Judged = (
    Result<FunctionResult, edge_functions::function::FunctionError>,
    Vec<rules::Violation>,
);

/// Runs the function and judges its result with the one validator.
fn judge(functions: &EdgeFunctions, trigger: EventType, cf: &Cf, supplied: &Supplied) -> Judged {
    let result = functions.run(trigger, cf, supplied);
    let violations = match &result {
        Ok(result) => rules::validate(trigger, cf, result),
        Err(_) => Vec::new(),
    };
    (result, violations)
}

fn panic_message(join: tokio::task::JoinError) -> String {
    match join.try_into_panic() {
        Ok(payload) => panic_text(payload.as_ref()),
        Err(err) => err.to_string(),
    }
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

/// What every answer gets on its way out: CloudFront's own headers, conditional requests, ranges,
/// and no body for HEAD.
fn finish_for_viewer(viewer: &ViewerRequest, response: &mut HttpResponse, request_id: &str) {
    set_header(
        &mut response.headers,
        "Via",
        format!("1.1 {POP}.cloudfront.net (CloudFront)"),
    );
    set_header(&mut response.headers, "X-Amz-Cf-Pop", POP);
    set_header(&mut response.headers, "X-Amz-Cf-Id", request_id);
    if !response.headers.contains("x-cache") {
        set_header(&mut response.headers, "X-Cache", "Miss from cloudfront");
    }
    if response.status == 200 && matches!(viewer.method.as_str(), "GET" | "HEAD") {
        if not_modified(viewer, &response.headers) {
            response.status = 304;
            response.body = Bytes::new();
            for name in ["content-length", "content-type"] {
                response.headers.remove(name);
            }
            return;
        }
        if let Some(range) = viewer.header("range") {
            apply_range(range, response);
        }
    }
    if viewer.method == "HEAD" {
        set_header(
            &mut response.headers,
            "Content-Length",
            response.body.len().to_string(),
        );
        response.body = Bytes::new();
    }
}

fn not_modified(viewer: &ViewerRequest, headers: &Headers) -> bool {
    if let Some(tags) = viewer.header("if-none-match") {
        let Some(etag) = headers.get("etag") else {
            return false;
        };
        return tags
            .split(',')
            .map(str::trim)
            .any(|t| t == "*" || t.trim_start_matches("W/") == etag.trim_start_matches("W/"));
    }
    if let (Some(since), Some(modified)) = (
        viewer.header("if-modified-since"),
        headers.get("last-modified"),
    ) && let (Ok(since), Ok(modified)) = (
        httpdate::parse_http_date(since),
        httpdate::parse_http_date(modified),
    ) {
        return modified <= since;
    }
    false
}

/// One `bytes=` range: 206 with `Content-Range`, or 416 when it cannot be satisfied.
/// Several ranges are answered with the whole object, as a CDN may.
fn apply_range(range: &str, response: &mut HttpResponse) {
    let Some(spec) = range.strip_prefix("bytes=") else {
        return;
    };
    if spec.contains(',') {
        return;
    }
    let len = response.body.len() as u64;
    let Some((start, end)) = spec.split_once('-') else {
        return;
    };
    let (start, end) = match (start.trim(), end.trim()) {
        ("", "") => return,
        ("", suffix) => match suffix.parse::<u64>() {
            Ok(n) if n > 0 => (len.saturating_sub(n), len.saturating_sub(1)),
            _ => return,
        },
        (s, "") => match s.parse::<u64>() {
            Ok(s) => (s, len.saturating_sub(1)),
            Err(_) => return,
        },
        (s, e) => match (s.parse::<u64>(), e.parse::<u64>()) {
            (Ok(s), Ok(e)) if s <= e => (s, e.min(len.saturating_sub(1))),
            _ => return,
        },
    };
    if start >= len || len == 0 {
        response.status = 416;
        response.body = Bytes::new();
        set_header(
            &mut response.headers,
            "Content-Range",
            format!("bytes */{len}"),
        );
        return;
    }
    response.status = 206;
    response.body = response.body.slice(start as usize..=end as usize);
    set_header(
        &mut response.headers,
        "Content-Range",
        format!("bytes {start}-{end}/{len}"),
    );
}
