//! The distribution config: one file says everything CloudFront needs (origins, behaviors, cache
//! and origin request policies, function associations), and the local distribution reads it.
//!
//! A config with an error is refused at start with a message naming its line.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use edge_functions::EventType;
use edge_functions::rules::limits;
use serde::Deserialize;
use toml::Spanned;

/// The largest path pattern CloudFront accepts.
/// <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/distribution-web-values-specify.html#DownloadDistValuesPathPattern>
pub const PATH_PATTERN_MAX_CHARS: usize = 255;

/// The methods a behavior may allow: CloudFront offers exactly these three sets.
/// <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/DownloadDistValuesCacheBehavior.html#DownloadDistValuesAllowedHTTPMethods>
pub const METHOD_SETS: [&[&str]; 3] = [
    &["GET", "HEAD"],
    &["GET", "HEAD", "OPTIONS"],
    &["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"],
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistributionConfig {
    pub distribution: DistributionSettings,
    pub origins: Vec<Spanned<OriginConfig>>,
    /// Primary and secondary origins with failover; a behavior may name one as its `origin`.
    #[serde(default)]
    pub origin_groups: Vec<Spanned<OriginGroup>>,
    #[serde(default)]
    pub cache_policies: BTreeMap<String, CachePolicy>,
    #[serde(default)]
    pub origin_request_policies: BTreeMap<String, OriginRequestPolicy>,
    #[serde(default)]
    pub functions: Vec<Spanned<FunctionConfig>>,
    #[serde(default)]
    pub behaviors: Vec<Spanned<Behavior>>,
    pub default_behavior: Spanned<Behavior>,
    #[serde(default)]
    pub viewer: ViewerWorld,
    /// Where the sites' tables are (the tables themselves are the sites' own, in their
    /// declarations): the replicas a function uses from each Region it may run in.
    #[serde(default)]
    pub data: edge_functions::data::StoreConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistributionSettings {
    #[serde(default)]
    pub comment: String,
    #[serde(default)]
    pub default_root_object: Option<String>,
    /// How long errors without caching headers are kept (CloudFront's default: 10 s; `template`
    /// emits custom error responses for any other value).
    #[serde(default = "default_error_ttl")]
    pub error_caching_min_ttl: u64,
}

fn default_error_ttl() -> u64 {
    10
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OriginKind {
    S3,
    Custom,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OriginConfig {
    pub id: String,
    pub kind: OriginKind,
    pub domain_name: String,
    /// S3 origins: the directory `serve` serves the bucket from.
    #[serde(default)]
    pub local_dir: Option<PathBuf>,
    /// Custom origins.
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub protocol: Option<String>,
    #[serde(default)]
    pub origin_path: String,
    #[serde(default = "default_read_timeout")]
    pub read_timeout_secs: u64,
    /// Headers CloudFront adds to every request to this origin (CloudFront's
    /// `OriginCustomHeaders`: a secret the origin checks, say).
    #[serde(default)]
    pub custom_headers: BTreeMap<String, String>,
    /// Attempts to connect before CloudFront gives up on the origin (or fails over): 1–3.
    #[serde(default = "default_connection_attempts")]
    pub connection_attempts: u32,
    /// Seconds each connection attempt may take: 1–10.
    #[serde(default = "default_connection_timeout")]
    pub connection_timeout_secs: u64,
    /// Custom origins: where `serve` reaches this origin on this machine (`127.0.0.1:8791`),
    /// over plain HTTP, in place of `domain_name` and `port`. A function that sends a request to
    /// an origin with this `domain_name` reaches it there too.
    #[serde(default)]
    pub local_address: Option<String>,
}

fn default_read_timeout() -> u64 {
    30
}

fn default_connection_attempts() -> u32 {
    3
}

fn default_connection_timeout() -> u64 {
    10
}

/// An origin group: requests go to `primary`; a GET, HEAD or OPTIONS request that it answers
/// with one of `failover_statuses`, or cannot be connected to, or that times out, is sent again
/// to `secondary` (origin-request runs again, with the secondary in the event).
/// <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/high_availability_origin_failover.html>
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OriginGroup {
    pub id: String,
    pub primary: String,
    pub secondary: String,
    #[serde(default = "default_failover_statuses")]
    pub failover_statuses: Vec<u16>,
}

/// The statuses CloudFront can fail over on.
pub const FAILOVER_STATUSES: [u16; 8] = [400, 403, 404, 416, 500, 502, 503, 504];

/// The methods CloudFront fails over for; a behavior that allows others cannot use a group.
pub const FAILOVER_METHODS: [&str; 3] = ["GET", "HEAD", "OPTIONS"];

fn default_failover_statuses() -> Vec<u16> {
    vec![500, 502, 503, 504]
}

/// What goes into the cache key (and so reaches the origin), and for how long answers are kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CachePolicy {
    pub min_ttl: u64,
    pub default_ttl: u64,
    pub max_ttl: u64,
    #[serde(default)]
    pub headers: Vec<String>,
    #[serde(default)]
    pub cookies: Vec<String>,
    #[serde(default)]
    pub query_strings: QueryStrings,
}

/// What reaches the origin beyond the cache key.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OriginRequestPolicy {
    #[serde(default)]
    pub headers: Vec<String>,
    #[serde(default)]
    pub cookies: Vec<String>,
    #[serde(default)]
    pub query_strings: QueryStrings,
}

/// Which query string parameters: none, all, or the listed names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum QueryStrings {
    #[default]
    None,
    All,
    Only(Vec<String>),
}

impl<'de> Deserialize<'de> for QueryStrings {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Word(String),
            List(Vec<String>),
        }
        match Raw::deserialize(d)? {
            Raw::Word(w) if w == "none" => Ok(QueryStrings::None),
            Raw::Word(w) if w == "all" => Ok(QueryStrings::All),
            Raw::Word(w) => Err(serde::de::Error::custom(format!(
                "query_strings is \"none\", \"all\" or a list of names, not \"{w}\""
            ))),
            Raw::List(names) => Ok(QueryStrings::Only(names)),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionConfig {
    pub name: String,
    /// The site declaration (a file, relative to this config) whose function for `trigger` this
    /// function runs.
    pub site: String,
    pub trigger: EventType,
    #[serde(default = "default_memory")]
    pub memory_mb: u32,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// What the function may do on its site's tables; the deployed role grants exactly this.
    #[serde(default)]
    pub table_access: TableAccess,
}

/// A function's rights on its site's tables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TableAccess {
    #[default]
    None,
    /// GetItem and Scan.
    Read,
    /// GetItem, Scan and UpdateItem.
    ReadWrite,
}

fn default_memory() -> u32 {
    128
}

fn default_timeout() -> u64 {
    5
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Behavior {
    /// Absent only on the default behavior, which matches everything.
    #[serde(default)]
    pub path_pattern: Option<Spanned<String>>,
    pub origin: Spanned<String>,
    #[serde(default = "default_methods")]
    pub allowed_methods: Spanned<Vec<String>>,
    pub cache_policy: Spanned<String>,
    #[serde(default)]
    pub origin_request_policy: Option<Spanned<String>>,
    #[serde(default)]
    pub functions: Vec<Spanned<FunctionAssociation>>,
    /// What a viewer on plain HTTP gets (`serve --https` applies it).
    #[serde(default)]
    pub viewer_protocol_policy: ViewerProtocolPolicy,
}

/// CloudFront's viewer protocol policy: what a request over plain HTTP gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ViewerProtocolPolicy {
    /// Served over either.
    AllowAll,
    /// A 301 to the same URL over HTTPS (viewer-request does not run).
    #[default]
    RedirectToHttps,
    /// A 403.
    HttpsOnly,
}

impl ViewerProtocolPolicy {
    /// As CloudFront's API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ViewerProtocolPolicy::AllowAll => "allow-all",
            ViewerProtocolPolicy::RedirectToHttps => "redirect-to-https",
            ViewerProtocolPolicy::HttpsOnly => "https-only",
        }
    }
}

impl Behavior {
    /// The allowed methods as CloudFront spells them (uppercase), whatever case the file used.
    pub fn methods(&self) -> Vec<String> {
        self.allowed_methods
            .get_ref()
            .iter()
            .map(|m| m.to_ascii_uppercase())
            .collect()
    }
}

fn default_methods() -> Spanned<Vec<String>> {
    Spanned::new(0..0, vec!["GET".into(), "HEAD".into()])
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionAssociation {
    pub event: EventType,
    pub function: String,
    #[serde(default)]
    pub include_body: bool,
}

/// The fake world around the edge, for the local distribution only.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewerWorld {
    #[serde(default = "default_country")]
    pub default_country: String,
    /// A request header that sets the viewer's country for testing; the distribution removes it
    /// before any function sees the request.
    #[serde(default)]
    pub country_header: Option<String>,
    /// Client address → country code.
    #[serde(default)]
    pub countries: BTreeMap<String, String>,
}

fn default_country() -> String {
    "US".into()
}

impl Default for ViewerWorld {
    fn default() -> Self {
        ViewerWorld {
            default_country: default_country(),
            country_header: None,
            countries: BTreeMap::new(),
        }
    }
}

/// A config error, with the file and line it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

impl DistributionConfig {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<DistributionConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_owned(),
            line: None,
            message: format!("cannot read the config: {e}"),
        })?;
        DistributionConfig::parse(&text, path)
    }

    /// Parses and checks config text; `file` is only for messages.
    pub fn parse(text: &str, file: &Path) -> Result<DistributionConfig, ConfigError> {
        let error = |span: Option<std::ops::Range<usize>>, message: String| ConfigError {
            file: file.to_owned(),
            line: span.map(|s| line_of(text, s.start)),
            message,
        };
        let config: DistributionConfig = toml::from_str(text).map_err(|e| {
            let message = e.message().to_owned();
            error(e.span(), message)
        })?;
        config
            .check()
            .map_err(|(span, message)| error(span, message))?;
        Ok(config)
    }

    /// The checks CloudFront makes when a distribution is created, plus the Lambda@Edge quotas.
    fn check(&self) -> Result<(), (Option<std::ops::Range<usize>>, String)> {
        let mut origin_ids = std::collections::BTreeSet::new();
        for origin in &self.origins {
            let o = origin.get_ref();
            if !origin_ids.insert(o.id.as_str()) {
                return Err((
                    Some(origin.span()),
                    format!("two origins have the id `{}`", o.id),
                ));
            }
            match o.kind {
                OriginKind::S3 if o.local_dir.is_none() => {
                    return Err((
                        Some(origin.span()),
                        format!(
                            "S3 origin `{}` needs `local_dir`, the directory `serve` serves it from",
                            o.id
                        ),
                    ));
                }
                OriginKind::Custom if o.port.is_none() => {
                    return Err((
                        Some(origin.span()),
                        format!("custom origin `{}` needs a `port`", o.id),
                    ));
                }
                _ => {}
            }
            if !(1..=3).contains(&o.connection_attempts) {
                return Err((
                    Some(origin.span()),
                    format!(
                        "origin `{}`: `connection_attempts` {} is outside 1-3",
                        o.id, o.connection_attempts
                    ),
                ));
            }
            if !(1..=10).contains(&o.connection_timeout_secs) {
                return Err((
                    Some(origin.span()),
                    format!(
                        "origin `{}`: `connection_timeout_secs` {} is outside 1-10",
                        o.id, o.connection_timeout_secs
                    ),
                ));
            }
            if let Some(address) = &o.local_address
                && address.parse::<std::net::SocketAddr>().is_err()
            {
                return Err((
                    Some(origin.span()),
                    format!(
                        "origin `{}`: `local_address` `{address}` is not an address and port \
                         (127.0.0.1:8791)",
                        o.id
                    ),
                ));
            }
            if o.local_address.is_some() && o.kind == OriginKind::S3 {
                return Err((
                    Some(origin.span()),
                    format!(
                        "S3 origin `{}`: `local_address` is for custom origins (an S3 origin is \
                         served from `local_dir`)",
                        o.id
                    ),
                ));
            }
            for name in o.custom_headers.keys() {
                if !edge_functions::rules::is_allowed_origin_custom_header(
                    &name.to_ascii_lowercase(),
                ) {
                    return Err((
                        Some(origin.span()),
                        format!(
                            "origin `{}`: CloudFront cannot add `{name}` as a custom header",
                            o.id
                        ),
                    ));
                }
            }
        }
        let mut group_ids = std::collections::BTreeSet::new();
        for group in &self.origin_groups {
            let g = group.get_ref();
            let span = Some(group.span());
            if origin_ids.contains(g.id.as_str()) || !group_ids.insert(g.id.as_str()) {
                return Err((
                    span,
                    format!(
                        "origin group `{}`: another origin or group has that id",
                        g.id
                    ),
                ));
            }
            for member in [&g.primary, &g.secondary] {
                if !origin_ids.contains(member.as_str()) {
                    return Err((
                        span,
                        format!("origin group `{}`: unknown origin `{member}`", g.id),
                    ));
                }
            }
            if g.primary == g.secondary {
                return Err((
                    span,
                    format!(
                        "origin group `{}`: the primary and the secondary are one origin",
                        g.id
                    ),
                ));
            }
            if g.failover_statuses.is_empty() {
                return Err((
                    span,
                    format!("origin group `{}`: `failover_statuses` is empty", g.id),
                ));
            }
            if let Some(bad) = g
                .failover_statuses
                .iter()
                .find(|s| !FAILOVER_STATUSES.contains(s))
            {
                return Err((
                    span,
                    format!(
                        "origin group `{}`: CloudFront cannot fail over on {bad} (only on {})",
                        g.id,
                        FAILOVER_STATUSES.map(|s| s.to_string()).join(", ")
                    ),
                ));
            }
        }
        if let Err(e) = self.data.check() {
            return Err((None, format!("[data] {e}")));
        }
        for (name, policy) in &self.cache_policies {
            if !(policy.min_ttl <= policy.default_ttl && policy.default_ttl <= policy.max_ttl) {
                return Err((
                    None,
                    format!("cache policy `{name}`: min_ttl ≤ default_ttl ≤ max_ttl must hold"),
                ));
            }
        }
        let mut function_names = BTreeMap::new();
        for function in &self.functions {
            let f = function.get_ref();
            if function_names.insert(f.name.as_str(), f).is_some() {
                return Err((
                    Some(function.span()),
                    format!("two functions are named `{}`", f.name),
                ));
            }
            if f.trigger.is_viewer() {
                if f.memory_mb > limits::VIEWER_MEMORY_MB {
                    return Err((
                        Some(function.span()),
                        format!(
                            "function `{}`: viewer triggers get at most {} MB, not {}",
                            f.name,
                            limits::VIEWER_MEMORY_MB,
                            f.memory_mb
                        ),
                    ));
                }
                if f.timeout_secs > limits::VIEWER_TIMEOUT_SECS {
                    return Err((
                        Some(function.span()),
                        format!(
                            "function `{}`: viewer triggers time out at {} s at most, not {}",
                            f.name,
                            limits::VIEWER_TIMEOUT_SECS,
                            f.timeout_secs
                        ),
                    ));
                }
            } else if f.timeout_secs > limits::ORIGIN_TIMEOUT_SECS
                || f.memory_mb > limits::ORIGIN_MEMORY_MB
            {
                return Err((
                    Some(function.span()),
                    format!(
                        "function `{}`: origin triggers allow at most {} s and {} MB",
                        f.name,
                        limits::ORIGIN_TIMEOUT_SECS,
                        limits::ORIGIN_MEMORY_MB
                    ),
                ));
            }
            if f.timeout_secs == 0 || f.memory_mb < 128 {
                return Err((
                    Some(function.span()),
                    format!("function `{}`: at least 1 s and 128 MB", f.name),
                ));
            }
        }
        for behavior in self.behaviors.iter() {
            let Some(pattern) = &behavior.get_ref().path_pattern else {
                return Err((
                    Some(behavior.span()),
                    "a behavior needs a `path_pattern`".into(),
                ));
            };
            if pattern.get_ref().chars().count() > PATH_PATTERN_MAX_CHARS {
                return Err((
                    Some(pattern.span()),
                    format!("a path pattern has at most {PATH_PATTERN_MAX_CHARS} characters"),
                ));
            }
            self.check_behavior(behavior.get_ref(), &origin_ids, &function_names)?;
        }
        if let Some(pattern) = &self.default_behavior.get_ref().path_pattern {
            return Err((
                Some(pattern.span()),
                "the default behavior matches every path; it takes no `path_pattern`".into(),
            ));
        }
        self.check_behavior(
            self.default_behavior.get_ref(),
            &origin_ids,
            &function_names,
        )
    }

    fn check_behavior(
        &self,
        behavior: &Behavior,
        origin_ids: &std::collections::BTreeSet<&str>,
        functions: &BTreeMap<&str, &FunctionConfig>,
    ) -> Result<(), (Option<std::ops::Range<usize>>, String)> {
        let target = behavior.origin.get_ref().as_str();
        match self.origin_group(target) {
            Some(_) => {
                if let Some(method) = behavior
                    .methods()
                    .into_iter()
                    .find(|m| !FAILOVER_METHODS.contains(&m.as_str()))
                {
                    return Err((
                        Some(behavior.allowed_methods.span()),
                        format!(
                            "a behavior with the origin group `{target}` may allow only GET, HEAD \
                             and OPTIONS (CloudFront fails over only those), not {method}"
                        ),
                    ));
                }
            }
            None if !origin_ids.contains(target) => {
                return Err((
                    Some(behavior.origin.span()),
                    format!("unknown origin or origin group `{target}`"),
                ));
            }
            None => {}
        }
        let mut sorted = behavior.methods();
        sorted.sort();
        if !METHOD_SETS.iter().any(|set| {
            let mut s: Vec<String> = set.iter().map(|m| (*m).to_owned()).collect();
            s.sort();
            s == sorted
        }) {
            return Err((
                Some(behavior.allowed_methods.span()),
                "allowed_methods must be GET+HEAD, GET+HEAD+OPTIONS, or all seven methods".into(),
            ));
        }
        if !self
            .cache_policies
            .contains_key(behavior.cache_policy.get_ref())
        {
            return Err((
                Some(behavior.cache_policy.span()),
                format!("unknown cache policy `{}`", behavior.cache_policy.get_ref()),
            ));
        }
        if let Some(policy) = &behavior.origin_request_policy
            && !self.origin_request_policies.contains_key(policy.get_ref())
        {
            return Err((
                Some(policy.span()),
                format!("unknown origin request policy `{}`", policy.get_ref()),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for association in &behavior.functions {
            let a = association.get_ref();
            if !seen.insert(a.event) {
                return Err((
                    Some(association.span()),
                    format!(
                        "two functions on {}: a behavior takes one function per trigger",
                        a.event
                    ),
                ));
            }
            let Some(function) = functions.get(a.function.as_str()) else {
                return Err((
                    Some(association.span()),
                    format!("unknown function `{}`", a.function),
                ));
            };
            if function.trigger != a.event {
                return Err((
                    Some(association.span()),
                    format!(
                        "function `{}` is for {}, not {}",
                        a.function, function.trigger, a.event
                    ),
                ));
            }
            if a.include_body && !a.event.is_request() {
                return Err((
                    Some(association.span()),
                    format!("include_body is for request triggers, not {}", a.event),
                ));
            }
        }
        Ok(())
    }

    pub fn origin_group(&self, id: &str) -> Option<&OriginGroup> {
        self.origin_groups
            .iter()
            .map(|g| g.get_ref())
            .find(|g| g.id == id)
    }

    pub fn origin(&self, id: &str) -> Option<&OriginConfig> {
        self.origins
            .iter()
            .map(|o| o.get_ref())
            .find(|o| o.id == id)
    }

    pub fn function(&self, name: &str) -> Option<&FunctionConfig> {
        self.functions
            .iter()
            .map(|f| f.get_ref())
            .find(|f| f.name == name)
    }

    /// Every behavior in the order CloudFront tries them: the listed ones, then the default.
    pub fn behaviors_in_order(&self) -> impl Iterator<Item = &Behavior> {
        self.behaviors
            .iter()
            .map(|b| b.get_ref())
            .chain(std::iter::once(self.default_behavior.get_ref()))
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> String {
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("distribution.toml"))
            .unwrap()
    }

    fn refuse(text: &str) -> ConfigError {
        DistributionConfig::parse(text, Path::new("d.toml")).unwrap_err()
    }

    #[test]
    fn the_shipped_config_is_accepted() {
        let config = DistributionConfig::parse(&shipped(), Path::new("d.toml")).unwrap();
        assert_eq!(config.behaviors_in_order().count(), 9);
    }

    #[test]
    fn errors_name_the_line() {
        let text = shipped().replacen(
            "origin = \"alien-cards-s3\"\ncache_policy = \"pages\"",
            "origin = \"nowhere\"\ncache_policy = \"pages\"",
            1,
        );
        let err = refuse(&text);
        assert!(
            err.message
                .contains("unknown origin or origin group `nowhere`"),
            "{err}"
        );
        let line = text
            .lines()
            .position(|l| l.contains("\"nowhere\""))
            .unwrap()
            + 1;
        assert_eq!(err.line, Some(line), "{err}");
        assert!(err.to_string().starts_with(&format!("d.toml:{line}: ")));
    }

    #[test]
    fn origin_groups_are_checked_as_cloudfront_checks_them() {
        let catalogue = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../examples/catalogue-site/distribution.toml"),
        )
        .unwrap();
        let config = DistributionConfig::parse(&catalogue, Path::new("d.toml")).unwrap();
        let group = config.origin_group("products").unwrap();
        assert_eq!(
            (group.primary.as_str(), group.secondary.as_str()),
            ("api-blue", "catalogue-s3")
        );
        for (from, to, expected) in [
            (
                "failover_statuses = [500, 502, 503, 504]",
                "failover_statuses = [500, 501]",
                "cannot fail over on 501",
            ),
            (
                "failover_statuses = [500, 502, 503, 504]",
                "failover_statuses = []",
                "is empty",
            ),
            (
                "secondary = \"catalogue-s3\"",
                "secondary = \"api-blue\"",
                "are one origin",
            ),
            (
                "secondary = \"catalogue-s3\"",
                "secondary = \"nowhere\"",
                "unknown origin `nowhere`",
            ),
            (
                "id = \"products\"",
                "id = \"api-green\"",
                "another origin or group has that id",
            ),
            (
                "allowed_methods = [\"GET\", \"HEAD\", \"OPTIONS\"]\ncache_policy = \"products\"",
                "allowed_methods = [\"GET\", \"HEAD\", \"OPTIONS\", \"PUT\", \"POST\", \"PATCH\", \"DELETE\"]\ncache_policy = \"products\"",
                "may allow only GET, HEAD and OPTIONS",
            ),
            (
                "connection_attempts = 2",
                "connection_attempts = 4",
                "outside 1-3",
            ),
            (
                "connection_timeout_secs = 2",
                "connection_timeout_secs = 11",
                "outside 1-10",
            ),
            (
                "local_address = \"127.0.0.1:8791\"",
                "local_address = \"localhost\"",
                "not an address and port",
            ),
            (
                "custom_headers = { \"X-Origin-Verify\"",
                "custom_headers = { \"Via\"",
                "cannot add `Via`",
            ),
        ] {
            assert!(catalogue.contains(from), "{from}");
            let err = refuse(&catalogue.replacen(from, to, 1));
            assert!(err.message.contains(expected), "{to}: {err}");
        }
    }

    #[test]
    fn long_patterns_two_functions_and_quotas_are_refused() {
        let long = format!("path_pattern = \"/{}\"", "a".repeat(255));
        let err = refuse(&shipped().replacen("path_pattern = \"/api/*\"", &long, 1));
        assert!(err.message.contains("at most 255"), "{err}");

        let twice = shipped().replacen(
            "  { event = \"origin-response\", function = \"alien-cards-origin-response\" },\n]",
            "  { event = \"origin-response\", function = \"alien-cards-origin-response\" },\n  { event = \"origin-response\", function = \"alien-cards-origin-response\" },\n]",
            1,
        );
        assert!(
            refuse(&twice)
                .message
                .contains("two functions on origin-response")
        );

        let memory = shipped().replacen(
            "memory_mb = 128\ntimeout_secs = 5",
            "memory_mb = 512\ntimeout_secs = 5",
            1,
        );
        assert!(refuse(&memory).message.contains("at most 128 MB"));

        let timeout = shipped().replacen(
            "memory_mb = 128\ntimeout_secs = 5",
            "memory_mb = 128\ntimeout_secs = 6",
            1,
        );
        assert!(refuse(&timeout).message.contains("at 5 s at most"));

        let wrong = shipped().replacen(
            "{ event = \"viewer-request\", function = \"alien-cards-viewer-request\" }",
            "{ event = \"viewer-request\", function = \"alien-cards-origin-request\" }",
            1,
        );
        assert!(
            refuse(&wrong)
                .message
                .contains("is for origin-request, not viewer-request")
        );
    }

    #[test]
    fn syntax_and_unknown_fields_name_the_line() {
        let err = refuse("[distribution]\ncomment = \"x\"\nbogus = 1\n");
        assert_eq!(err.line, Some(3), "{err}");
        let err = refuse("[distribution\n");
        assert_eq!(err.line, Some(1), "{err}");
    }
}
