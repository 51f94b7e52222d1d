//! A counter API: `POST <path>?<parameter>=<key>` adds to a number attribute of an existing item,
//! atomically, and may remember the key in a cookie (a like, a view, a vote).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::blocks::pages::cookie_keys;
use crate::blocks::render::json_response;
use crate::data::{Answer, Item, Needs, Query, Supplied, TableSpec};
use crate::event::{Origin, Request, Response};
use crate::function::{
    Flow, FunctionError, HeaderReads, OriginRequestStep, PathSpec, Paths, RequestEdit,
};

/// The cookie that remembers the keys a visitor counted, `.`-separated, most recent last.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterCookie {
    pub name: String,
    pub max_age_secs: u64,
    #[serde(default = "yes")]
    pub secure: bool,
    /// How many keys it keeps (the most recent).
    #[serde(default = "default_keep")]
    pub keep: usize,
}

fn yes() -> bool {
    true
}

fn default_keep() -> usize {
    50
}

/// What the API says when it refuses (the `detail` of its JSON error). `{method}`,
/// `{parameter}` and `{key}` stand for the setting and the request's key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiMessages {
    pub wrong_method: String,
    pub missing_key: String,
    pub bad_key: String,
    pub not_found: String,
    pub unavailable: String,
}

impl Default for ApiMessages {
    fn default() -> Self {
        ApiMessages {
            wrong_method: "use {method}".into(),
            missing_key: "the query needs `{parameter}=<key>`".into(),
            bad_key: "`{parameter}` is not a valid key".into(),
            not_found: "no item `{key}`".into(),
            unavailable: "the change could not be saved; try again".into(),
        }
    }
}

/// The `counter-api` block's settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterApiSettings {
    pub path: String,
    #[serde(default = "default_method")]
    pub method: String,
    /// The query parameter that holds the key.
    pub parameter: String,
    /// A table of `[tables]`.
    pub table: String,
    /// The number attribute to add to: one of the table's `counters`.
    pub attribute: String,
    #[serde(default = "default_amount")]
    pub amount: i64,
    #[serde(default)]
    pub cookie: Option<CounterCookie>,
    /// The answer's JSON fields: `"{Attribute}"` is the item's attribute after the addition,
    /// anything else is given as is. Without it, the whole item.
    #[serde(default)]
    pub answer: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    pub messages: ApiMessages,
}

fn default_method() -> String {
    "POST".into()
}

fn default_amount() -> i64 {
    1
}

/// Answers `path` itself: 200 with the item's new state, 405 for another method, 400 for a
/// missing or malformed key, 404 for an unknown key (nothing is created), 503 if the store fails.
#[derive(Debug, Clone)]
pub struct CounterApi {
    settings: CounterApiSettings,
    table: Arc<TableSpec>,
}

impl CounterApi {
    fn key(&self, request: &Request) -> Option<String> {
        form_urlencoded::parse(request.querystring.as_bytes())
            .find(|(name, _)| *name == self.settings.parameter)
            .map(|(_, value)| value.into_owned())
    }

    fn query(&self, key: &str) -> Query {
        Query::Add {
            table: self.table.table(),
            key: key.to_owned(),
            attribute: self.settings.attribute.clone(),
            amount: self.settings.amount,
        }
    }

    fn message(&self, text: &str, key: &str) -> String {
        text.replace("{method}", &self.settings.method)
            .replace("{parameter}", &self.settings.parameter)
            .replace("{key}", key)
    }

    fn error(&self, status: u16, error: &str, text: &str, key: &str) -> Response {
        json_response(
            status,
            &json!({"error": error, "detail": self.message(text, key)}),
        )
    }

    fn answer(&self, item: &Item) -> Value {
        let Some(fields) = &self.settings.answer else {
            return Value::Object(item.clone());
        };
        let fields = fields
            .iter()
            .map(|(field, value)| {
                let value = match value
                    .as_str()
                    .and_then(|s| s.strip_prefix('{')?.strip_suffix('}'))
                {
                    Some(attribute) => item.get(attribute).cloned().unwrap_or(Value::Null),
                    None => value.clone(),
                };
                (field.clone(), value)
            })
            .collect();
        Value::Object(fields)
    }
}

impl OriginRequestStep for CounterApi {
    fn needs(&self, request: &Request, needs: &mut Needs) {
        if request.uri == self.settings.path
            && request.method == self.settings.method
            && let Some(key) = self
                .key(request)
                .filter(|k| self.table.key_shape.accepts(k))
        {
            needs.query(self.query(&key));
        }
    }

    fn origin_request(
        &self,
        request: &mut RequestEdit<'_>,
        _origin: &mut Option<Origin>,
        data: &Supplied,
    ) -> Result<Flow, FunctionError> {
        if request.uri != self.settings.path {
            return Ok(Flow::Continue);
        }
        let messages = &self.settings.messages;
        if request.method != self.settings.method {
            let mut response = self.error(405, "method not allowed", &messages.wrong_method, "");
            response.headers.set("Allow", self.settings.method.clone());
            return Ok(Flow::Respond(response));
        }
        let key = match self.key(request) {
            Some(key) if self.table.key_shape.accepts(&key) => key,
            Some(_) => {
                return Ok(Flow::Respond(self.error(
                    400,
                    "bad request",
                    &messages.bad_key,
                    "",
                )));
            }
            None => {
                return Ok(Flow::Respond(self.error(
                    400,
                    "bad request",
                    &messages.missing_key,
                    "",
                )));
            }
        };
        let response = match data.answer(&self.query(&key)) {
            Some(Ok(Answer::Item(Some(item)))) => {
                let mut response = json_response(200, &self.answer(item));
                if let Some(cookie) = &self.settings.cookie {
                    let mut keys = cookie_keys(request, &cookie.name, &self.table);
                    keys.retain(|k| *k != key);
                    keys.push(key.clone());
                    let start = keys.len().saturating_sub(cookie.keep);
                    response.headers.append(
                        "Set-Cookie",
                        crate::blocks::set_cookie(
                            &cookie.name,
                            &keys[start..].join("."),
                            cookie.max_age_secs,
                            cookie.secure,
                        ),
                    );
                }
                response
            }
            Some(Ok(_)) => self.error(404, "not found", &messages.not_found, &key),
            Some(Err(_)) => {
                let mut response = self.error(503, "unavailable", &messages.unavailable, &key);
                response.headers.set("Retry-After", "5");
                response
            }
            None => return Err(FunctionError::Other("the addition was not supplied".into())),
        };
        Ok(Flow::Respond(response))
    }

    /// The cookie (to add the key to it) and the key's parameter.
    fn header_reads(&self, reads: &mut HeaderReads) {
        if let Some(cookie) = &self.settings.cookie {
            reads.cookie(&cookie.name);
        }
        reads.query(&self.settings.parameter);
    }

    fn paths(&self) -> Paths {
        Paths::Only(vec![PathSpec::Exact(self.settings.path.clone())])
    }
}

impl crate::site::Block for CounterApiSettings {
    const NAME: &'static str = "counter-api";
    const SUMMARY: &'static str = "`<method> <path>?<parameter>=<key>` adds `amount` to the number \
`attribute` (one of the table's `counters`) of an existing item, atomically, never creating one; \
answers with the item (or the fields of `answer`, where `\"{Attribute}\"` is an attribute's value) \
and may remember the key in a cookie of `.`-separated keys that a page's `cookie_lists` reads. \
400 for a missing or malformed key, 404 for an unknown one, 405 for another method, 503 when the \
store fails; `messages` says each in the site's words. Origin-request, on a behavior whose cache \
policy is disabled.";
    const RUNS_ON: &'static [crate::EventType] = &[crate::EventType::OriginRequest];
    const EXAMPLE: &'static str = r#"path = "/api/view"
parameter = "slug"
table = "articles"
attribute = "Views"
answer = { slug = "{Slug}", views = "{Views}" }"#;

    fn build(self, site: &crate::site::SiteContext) -> Result<crate::site::Steps, String> {
        let table = site.table(&self.table)?;
        if !table.counters.contains(&self.attribute) {
            return Err(format!(
                "`attribute` {} is not one of table `{}`'s counters ({}); add it to its `counters`",
                self.attribute,
                self.table,
                if table.counters.is_empty() {
                    "it has none".to_owned()
                } else {
                    table.counters.join(", ")
                }
            ));
        }
        if !self.path.starts_with('/') {
            return Err(format!("`path` {} does not start with /", self.path));
        }
        if self.amount == 0 {
            return Err("`amount` 0 would count nothing".into());
        }
        if !matches!(
            self.method.as_str(),
            "POST" | "PUT" | "PATCH" | "GET" | "DELETE"
        ) {
            return Err(format!(
                "`method` {} is not POST, PUT, PATCH, GET or DELETE",
                self.method
            ));
        }
        if self.parameter.is_empty() {
            return Err("`parameter` names the query parameter holding the key".into());
        }
        let block = CounterApi {
            settings: self,
            table,
        };
        Ok(crate::site::Steps {
            origin_request: Some(Arc::new(block)),
            ..Default::default()
        })
    }
}
