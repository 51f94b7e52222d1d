//! A team's own blocks: `noindex-hosts` tells search engines not to index the site when it is
//! served under one of the team's staging host names; `item-json` answers an item of one of the
//! site's tables as JSON. They are written against the library's step traits, registered under a
//! name, and used from a site declaration like any library block.

use serde::Deserialize;

use edge_functions::EventType;
use edge_functions::data::{Answer, Item, Needs, Query, Supplied, TableSpec};
use edge_functions::event::{Headers, Origin, Request, Response};
use edge_functions::function::{
    Flow, FunctionError, HeaderReads, OriginRequestStep, PathSpec, Paths, RequestEdit,
    ViewerResponseStep,
};
use edge_functions::site::{Block, SiteContext, Steps};

/// The library's blocks and this team's: what the team's tool and Python module read
/// declarations with.
pub fn registry() -> edge_functions::site::Registry {
    edge_functions::site::Registry::builtin()
        .register::<NoindexHosts>()
        .register::<ItemJson>()
}

/// Settings, as a declaration gives them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoindexHosts {
    /// Host names (as the viewer's `Host` header has them, any case) that must not be indexed.
    pub hosts: Vec<String>,
    /// The `X-Robots-Tag` value.
    #[serde(default = "default_value")]
    pub value: String,
}

fn default_value() -> String {
    "noindex, nofollow".into()
}

impl ViewerResponseStep for NoindexHosts {
    fn viewer_response(&self, request: &Request, _status: u16, headers: &mut Headers) {
        let host = request.headers.get("host").unwrap_or_default();
        if self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
            headers.set("X-Robots-Tag", self.value.as_str());
        }
    }

    /// It reads the viewer's Host header, and only sets a response header.
    fn header_reads(&self, reads: &mut HeaderReads) {
        reads.request("host");
    }
}

impl Block for NoindexHosts {
    const NAME: &'static str = "noindex-hosts";
    const SUMMARY: &'static str = "Sends `X-Robots-Tag: noindex, nofollow` when the site is served under \
one of `hosts` (staging names). Viewer-response: the viewer's Host header is there on every \
response, cached or not, and the cache keeps one copy for all host names.";
    const RUNS_ON: &'static [EventType] = &[EventType::ViewerResponse];
    const EXAMPLE: &'static str = r#"hosts = ["staging.example.com"]
value = "noindex, nofollow""#;

    fn build(self, _site: &SiteContext) -> Result<Steps, String> {
        if self.hosts.is_empty() {
            return Err("`hosts` is empty: name at least one host".into());
        }
        Ok(Steps {
            viewer_response: Some(std::sync::Arc::new(self)),
            ..Default::default()
        })
    }
}

/// A team's block that reads items: `GET <prefix><key>.json` answers one item of a table the
/// site declares, as JSON (only `fields`, when given). It asks for the item in `needs`, as the
/// library's page blocks do, so every host supplies it from its store: the block does no I/O.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemJson {
    /// The path before the key (`/releases/`).
    pub prefix: String,
    /// A table of the declaration's `[tables]`.
    pub table: String,
    /// The attributes to answer with; none: all of them.
    #[serde(default)]
    pub fields: Vec<String>,
    #[serde(default = "default_item_cache")]
    pub cache_control: String,
}

fn default_item_cache() -> String {
    "public, max-age=60".into()
}

/// The built block: the settings, and the table as the declaration declares it.
#[derive(Debug)]
struct ItemJsonStep {
    settings: ItemJson,
    table: std::sync::Arc<TableSpec>,
}

impl ItemJsonStep {
    /// The key a GET asks for, if the path is this block's (`None` for another path; `Some(None)`
    /// for a key of the wrong shape, which no store is asked about).
    fn key<'r>(&self, request: &'r Request) -> Option<Option<&'r str>> {
        if request.method != "GET" {
            return None;
        }
        let key = request
            .uri
            .strip_prefix(self.settings.prefix.as_str())?
            .strip_suffix(".json")?;
        Some(self.table.key_shape.accepts(key).then_some(key))
    }

    fn query(&self, key: &str) -> Query {
        Query::Get {
            table: self.table.table(),
            key: key.to_owned(),
        }
    }
}

fn json(status: u16, body: String, cache_control: &str) -> Response {
    let mut response = Response::new(status).with_text_body(body);
    response.headers.set("Content-Type", "application/json");
    response.headers.set("Cache-Control", cache_control);
    response
}

impl OriginRequestStep for ItemJsonStep {
    fn needs(&self, request: &Request, needs: &mut Needs) {
        if let Some(Some(key)) = self.key(request) {
            needs.query(self.query(key));
        }
    }

    fn origin_request(
        &self,
        request: &mut RequestEdit<'_>,
        _origin: &mut Option<Origin>,
        data: &Supplied,
    ) -> Result<Flow, FunctionError> {
        let key = match self.key(request) {
            None => return Ok(Flow::Continue),
            Some(None) => {
                return Ok(Flow::Respond(json(
                    404,
                    r#"{"error":"not found"}"#.into(),
                    &self.settings.cache_control,
                )));
            }
            Some(Some(key)) => key.to_owned(),
        };
        let response = match data.answer(&self.query(&key)) {
            Some(Ok(Answer::Item(Some(item)))) => {
                let shown: Item = if self.settings.fields.is_empty() {
                    item.clone()
                } else {
                    item.iter()
                        .filter(|(name, _)| self.settings.fields.contains(name))
                        .map(|(name, value)| (name.clone(), value.clone()))
                        .collect()
                };
                let body = serde_json::to_string(&shown)
                    .map_err(|e| FunctionError::Other(e.to_string()))?;
                json(200, body, &self.settings.cache_control)
            }
            Some(Ok(_)) => json(
                404,
                r#"{"error":"not found"}"#.into(),
                &self.settings.cache_control,
            ),
            Some(Err(_)) => {
                let mut response = json(503, r#"{"error":"unavailable"}"#.into(), "no-store");
                response.headers.set("Retry-After", "5");
                response
            }
            None => return Err(FunctionError::Other(format!("item {key} was not supplied"))),
        };
        Ok(Flow::Respond(response))
    }

    fn paths(&self) -> Paths {
        Paths::Only(vec![PathSpec::Prefix(self.settings.prefix.clone())])
    }
}

impl Block for ItemJson {
    const NAME: &'static str = "item-json";
    const SUMMARY: &'static str = "`GET <prefix><key>.json` answers one item of a declared table as JSON \
(only `fields`, when given); an unknown or malformed key gets 404, a store outage 503. \
Origin-request: it runs on cache misses only, and the cache keeps the answer for `cache_control`.";
    const RUNS_ON: &'static [EventType] = &[EventType::OriginRequest];
    const EXAMPLE: &'static str = r#"prefix = "/releases/"
table = "releases"
fields = ["Version", "Date", "Notes"]"#;

    fn build(self, site: &SiteContext) -> Result<Steps, String> {
        if !self.prefix.starts_with('/') || !self.prefix.ends_with('/') {
            return Err(format!(
                "`prefix` {} starts and ends with /, such as /releases/",
                self.prefix
            ));
        }
        let table = site.table(&self.table)?;
        Ok(Steps {
            origin_request: Some(std::sync::Arc::new(ItemJsonStep {
                settings: self,
                table,
            })),
            ..Default::default()
        })
    }
}
