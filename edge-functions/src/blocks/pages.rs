//! Generated pages: a route (with captures, such as `/card/{id}`) renders a template with the
//! items it names: one item by a captured key, and lists sorted and limited. The site's `[pages]`
//! section holds what every page shares: the layout, the error page and every sentence it says.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::blocks::path_pattern::PathPattern;
use crate::blocks::render::{fallback_error_page, html_response, render};
use crate::data::{Answer, DataError, Needs, Order, Query, Supplied, TableSpec};
use crate::event::{Origin, Request, Response};
use crate::function::{
    Flow, FunctionError, HeaderReads, OriginRequestStep, PathSpec, Paths, RequestEdit,
};

/// A greeting for visitors from one country.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Greeting {
    pub text: String,
    /// The `content-language` of a page greeting in this language, when known.
    #[serde(default)]
    pub language: Option<String>,
}

/// What every generated page of a site shares (`[pages]` in its declaration): its name, the
/// layout and error templates, the experiment header it shows, greetings, and what its error
/// pages say. Every sentence a visitor reads is the site's own.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageSite {
    pub site_name: String,
    /// The request header that carries the experiment variant, if the site runs one.
    #[serde(default)]
    pub variant_header: Option<String>,
    pub layout_template: String,
    pub error_template: String,
    pub default_language: String,
    /// Country code (as in `CloudFront-Viewer-Country`) → greeting, for pages with `greet`.
    #[serde(default)]
    pub greetings: BTreeMap<String, Greeting>,
    pub errors: ErrorTexts,
}

/// The title and message of one error page.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageText {
    pub title: String,
    pub message: String,
}

/// The site's error pages: a missing page, and a data store that does not answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorTexts {
    pub not_found: PageText,
    pub unavailable: PageText,
}

/// The visitor as the pages see it.
#[derive(Debug, Clone, Default)]
pub struct Visitor {
    pub variant: String,
    pub country: Option<String>,
}

impl PageSite {
    pub fn visitor(&self, request: &Request) -> Visitor {
        let variant = self
            .variant_header
            .as_ref()
            .and_then(|h| request.headers.get(&h.to_ascii_lowercase()))
            .unwrap_or("a")
            .to_owned();
        Visitor {
            variant,
            country: request
                .headers
                .get("cloudfront-viewer-country")
                .map(|c| c.to_ascii_uppercase()),
        }
    }

    /// The request headers every page reads about its visitor: the variant.
    pub fn header_reads(&self, reads: &mut HeaderReads) {
        if let Some(header) = &self.variant_header {
            reads.request(header);
        }
    }

    /// The templates an error page needs; every page step asks for them too.
    pub fn error_needs(&self, needs: &mut Needs) {
        needs.template(&self.layout_template);
        needs.template(&self.error_template);
    }

    /// A friendly error page, or a plain one when even the error template cannot be had.
    pub fn error_page(
        &self,
        data: &Supplied,
        status: u16,
        text: &PageText,
        visitor: &Visitor,
        cache_control: &str,
    ) -> Response {
        let context = minijinja::context! {
            lang => &self.default_language,
            variant => &visitor.variant,
            site_name => &self.site_name,
            status => status,
            title => &text.title,
            message => &text.message,
        };
        let names = [self.layout_template.as_str(), self.error_template.as_str()];
        let body = render(data, &names, &self.error_template, context)
            .unwrap_or_else(|_| fallback_error_page(status, &text.title, &text.message));
        html_response(status, body, cache_control)
    }

    /// The page for a store that failed: 503, never cached, and a log-worthy reason kept out of
    /// the page.
    pub fn unavailable_page(
        &self,
        data: &Supplied,
        visitor: &Visitor,
        _err: &DataError,
    ) -> Response {
        let mut response =
            self.error_page(data, 503, &self.errors.unavailable, visitor, "no-store");
        response.headers.set("Retry-After", "5");
        response
    }

    pub fn not_found_page(
        &self,
        data: &Supplied,
        visitor: &Visitor,
        cache_control: &str,
    ) -> Response {
        self.error_page(data, 404, &self.errors.not_found, visitor, cache_control)
    }
}

/// The item a page shows: the one whose key a route captured.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemSetting {
    /// A table of `[tables]`.
    pub table: String,
    /// The route's capture that holds the key.
    pub capture: String,
    /// The item's name in the template.
    pub name: String,
}

/// A list a page shows: a table's items, sorted, at most `limit` of them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListSetting {
    pub table: String,
    #[serde(default)]
    pub sort_by: Option<String>,
    #[serde(default)]
    pub descending: bool,
    #[serde(default)]
    pub then_by: Option<String>,
    #[serde(default)]
    pub limit: Option<usize>,
    /// Leaves the page's `item` out of the list ("the other cards").
    #[serde(default)]
    pub without_item: bool,
}

/// The `page` block's settings (the rest comes from the declaration's `[pages]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageSettings {
    /// The paths this page answers: exact (`/`) or with captures (`/card/{id}`).
    pub routes: Vec<String>,
    pub template: String,
    pub cache_control: String,
    /// One item, by a captured key; an unknown or malformed key gets the site's 404 page.
    #[serde(default)]
    pub item: Option<ItemSetting>,
    /// Lists, by their name in the template.
    #[serde(default)]
    pub lists: BTreeMap<String, ListSetting>,
    /// Cookies holding keys separated by `.` (as `counter-api` remembers them), by cookie name →
    /// the table whose key shape they have; the template gets each as a list of keys.
    #[serde(default)]
    pub cookie_lists: BTreeMap<String, String>,
    /// Greets the visitor by country (`[pages].greetings`), with its `content-language`.
    #[serde(default)]
    pub greet: bool,
}

/// A generated page: see [`PageSettings`].
#[derive(Debug, Clone)]
pub struct Page {
    site: Arc<PageSite>,
    routes: Vec<PathPattern>,
    template: String,
    cache_control: String,
    item: Option<(Arc<TableSpec>, String, String)>,
    lists: Vec<PageList>,
    cookie_lists: Vec<(String, Arc<TableSpec>)>,
    greet: bool,
}

/// A list a page shows: its name in the template, its query, the counters of its table (the
/// template gets their totals) and whether the page's item is left out of it.
#[derive(Debug, Clone)]
struct PageList {
    name: String,
    query: Query,
    counters: Vec<String>,
    without_item: bool,
}

/// What every page's template gets besides its items.
const PAGE_VARIABLES: [&str; 5] = ["lang", "variant", "site_name", "greeting", "route"];

fn is_identifier(name: &str) -> bool {
    name.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl Page {
    fn build(settings: PageSettings, site: &crate::site::SiteContext) -> Result<Page, String> {
        if settings.routes.is_empty() {
            return Err("`routes` lists at least one path".into());
        }
        let routes = settings
            .routes
            .iter()
            .map(|r| PathPattern::parse(r).map_err(|e| format!("`routes`: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let mut names: BTreeSet<String> = PAGE_VARIABLES.iter().map(|s| s.to_string()).collect();
        let mut take_name = |name: &str, what: &str| {
            if !is_identifier(name) {
                return Err(format!(
                    "{what} `{name}` is not a template name (letters, digits, _)"
                ));
            }
            if !names.insert(name.to_owned()) {
                return Err(format!(
                    "{what} `{name}` is a name the template already has ({})",
                    PAGE_VARIABLES.join(", ")
                ));
            }
            Ok(())
        };
        let item = match settings.item {
            Some(item) => {
                take_name(&item.name, "item")?;
                if let Some(route) = settings
                    .routes
                    .iter()
                    .zip(&routes)
                    .find(|(_, r)| !r.captures_name(&item.capture))
                {
                    return Err(format!(
                        "item: route `{}` does not capture {{{}}}",
                        route.0, item.capture
                    ));
                }
                Some((site.table(&item.table)?, item.capture, item.name))
            }
            None => None,
        };
        let mut lists = Vec::new();
        for (name, list) in settings.lists {
            take_name(&name, "list")?;
            take_name(&format!("{name}_totals"), "list")?;
            let table = site.table(&list.table)?;
            if list.without_item
                && item
                    .as_ref()
                    .is_none_or(|(t, _, _)| t.table_name != table.table_name)
            {
                return Err(format!(
                    "list `{name}`: `without_item` leaves out the page's item, so the page needs an \
                     `item` of the same table"
                ));
            }
            lists.push(PageList {
                name,
                query: Query::List {
                    table: table.table(),
                    order: Order {
                        sort_by: list.sort_by,
                        descending: list.descending,
                        then_by: list.then_by,
                    },
                    // One more, for the item it may leave out.
                    limit: list.limit.map(|l| l + usize::from(list.without_item)),
                },
                counters: table.counters.clone(),
                without_item: list.without_item,
            });
        }
        let mut cookie_lists = Vec::new();
        for (cookie, table) in settings.cookie_lists {
            take_name(&cookie, "cookie list")?;
            cookie_lists.push((cookie, site.table(&table)?));
        }
        Ok(Page {
            site: site.pages()?,
            routes,
            template: settings.template,
            cache_control: settings.cache_control,
            item,
            lists,
            cookie_lists,
            greet: settings.greet,
        })
    }

    /// The route's captures, if this page answers the request.
    fn route<'r>(&self, request: &'r Request) -> Option<Vec<(&str, &'r str)>> {
        if !matches!(request.method.as_str(), "GET" | "HEAD") {
            return None;
        }
        self.routes.iter().find_map(|r| r.captures(&request.uri))
    }

    /// The item query for these captures: `None` without an item, `Some(None)` for a key of the
    /// wrong shape.
    fn item_query(&self, captured: &[(&str, &str)]) -> Option<Option<Query>> {
        let (table, capture, _) = self.item.as_ref()?;
        let key = captured
            .iter()
            .find(|(name, _)| name == capture)
            .map(|(_, value)| *value)?;
        Some(table.key_shape.accepts(key).then(|| Query::Get {
            table: table.table(),
            key: key.to_owned(),
        }))
    }
}

/// The sum of a counter over items: whole numbers only (an item where it is missing or not a
/// number counts nothing), saturating rather than overflowing.
fn total(items: &[&crate::data::Item], counter: &str) -> i64 {
    items
        .iter()
        .filter_map(|item| item.get(counter).and_then(|v| v.as_i64()))
        .fold(0, i64::saturating_add)
}

/// An item as a template value, converted directly (serde's round through minijinja's value
/// serializer cost a tenth of a card page).
fn item_value(item: &crate::data::Item) -> minijinja::Value {
    minijinja::Value::from_pairs(
        item.iter()
            .map(|(name, value)| (minijinja::Value::from(name.as_str()), json_value(value))),
    )
}

fn json_value(value: &serde_json::Value) -> minijinja::Value {
    use serde_json::Value as J;
    match value {
        J::Null => minijinja::Value::from(()),
        J::Bool(b) => (*b).into(),
        J::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into(),
            (_, Some(u)) => u.into(),
            _ => n.as_f64().unwrap_or(0.0).into(),
        },
        J::String(s) => s.as_str().into(),
        J::Array(list) => list.iter().map(json_value).collect::<Vec<_>>().into(),
        J::Object(map) => item_value(map),
    }
}

/// Any serializable value, for a template.
fn serde_value<T: Serialize>(value: T) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(value))
}

/// The keys in a cookie of `.`-separated keys that have the table's shape.
pub fn cookie_keys(request: &Request, cookie: &str, table: &TableSpec) -> Vec<String> {
    request
        .headers
        .cookie(cookie)
        .map(|v| {
            v.split('.')
                .filter(|key| table.key_shape.accepts(key))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

impl OriginRequestStep for Page {
    fn needs(&self, request: &Request, needs: &mut Needs) {
        let Some(captured) = self.route(request) else {
            return;
        };
        let item = self.item_query(&captured);
        // A key of the wrong shape gets the 404 page: nothing else is asked for.
        if !matches!(item, Some(None)) {
            if let Some(Some(query)) = item {
                needs.query(query);
            }
            for list in &self.lists {
                needs.query(list.query.clone());
            }
            needs.template(&self.site.layout_template);
            needs.template(&self.template);
        }
        self.site.error_needs(needs);
    }

    fn origin_request(
        &self,
        request: &mut RequestEdit<'_>,
        _origin: &mut Option<Origin>,
        data: &Supplied,
    ) -> Result<Flow, FunctionError> {
        let Some(captured) = self.route(request) else {
            return Ok(Flow::Continue);
        };
        let site = &self.site;
        let visitor = site.visitor(request);
        let not_found = || Flow::Respond(site.not_found_page(data, &visitor, &self.cache_control));
        let mut context: BTreeMap<String, minijinja::Value> = BTreeMap::new();
        match self.item_query(&captured) {
            None => {}
            Some(None) => return Ok(not_found()),
            Some(Some(query)) => match data.answer(&query) {
                Some(Ok(Answer::Item(Some(item)))) => {
                    let name = self
                        .item
                        .as_ref()
                        .map(|(_, _, n)| n.clone())
                        .unwrap_or_default();
                    context.insert(name, item_value(item));
                }
                Some(Ok(_)) => return Ok(not_found()),
                Some(Err(err)) => {
                    return Ok(Flow::Respond(site.unavailable_page(data, &visitor, err)));
                }
                None => return Err(FunctionError::Other(format!("{query:?} was not supplied"))),
            },
        }
        let item_key = self.item.as_ref().and_then(|(table, capture, _)| {
            captured
                .iter()
                .find(|(name, _)| name == capture)
                .map(|(_, key)| (table.key.as_str(), *key))
        });
        for list in &self.lists {
            match data.answer(&list.query) {
                Some(Ok(Answer::Items(items))) => {
                    let limit = match &list.query {
                        Query::List { limit, .. } => {
                            limit.map(|l| l - usize::from(list.without_item))
                        }
                        _ => None,
                    };
                    let shown: Vec<&crate::data::Item> = items
                        .iter()
                        .filter(|item| {
                            !list.without_item
                                || item_key.is_none_or(|(key, value)| {
                                    item.get(key).and_then(|v| v.as_str()) != Some(value)
                                })
                        })
                        .take(limit.unwrap_or(usize::MAX))
                        .collect();
                    context.insert(
                        list.name.clone(),
                        shown
                            .iter()
                            .map(|item| item_value(item))
                            .collect::<Vec<_>>()
                            .into(),
                    );
                    if !list.counters.is_empty() {
                        let totals: BTreeMap<&str, i64> = list
                            .counters
                            .iter()
                            .map(|c| (c.as_str(), total(&shown, c)))
                            .collect();
                        context.insert(format!("{}_totals", list.name), serde_value(totals));
                    }
                }
                Some(Err(err)) => {
                    return Ok(Flow::Respond(site.unavailable_page(data, &visitor, err)));
                }
                _ => {
                    return Err(FunctionError::Other(format!(
                        "list `{}` was not supplied",
                        list.name
                    )));
                }
            }
        }
        for (cookie, table) in &self.cookie_lists {
            let keys = cookie_keys(request, cookie, table);
            context.insert(cookie.clone(), serde_value(keys));
        }
        let greeting = if self.greet {
            visitor.country.as_ref().and_then(|c| site.greetings.get(c))
        } else {
            None
        };
        let lang = greeting
            .and_then(|g| g.language.clone())
            .unwrap_or_else(|| site.default_language.clone());
        let route: BTreeMap<&str, &str> = captured.iter().copied().collect();
        context.insert("lang".into(), lang.into());
        context.insert("variant".into(), visitor.variant.clone().into());
        context.insert("site_name".into(), site.site_name.clone().into());
        context.insert("greeting".into(), greeting.map(|g| g.text.clone()).into());
        context.insert("route".into(), serde_value(route));
        let names = [site.layout_template.as_str(), self.template.as_str()];
        let body = render(
            data,
            &names,
            &self.template,
            minijinja::Value::from(context),
        )?;
        let mut response = html_response(200, body, &self.cache_control);
        if let Some(language) = greeting.and_then(|g| g.language.as_deref()) {
            response.headers.set("Content-Language", language);
        }
        Ok(Flow::Respond(response))
    }

    /// The variant; the country when it greets; the cookie lists.
    fn header_reads(&self, reads: &mut HeaderReads) {
        self.site.header_reads(reads);
        if self.greet {
            reads.request("cloudfront-viewer-country");
        }
        for (cookie, _) in &self.cookie_lists {
            reads.cookie(cookie);
        }
    }

    fn paths(&self) -> Paths {
        Paths::Only(
            self.routes
                .iter()
                .map(|route| match route.prefix() {
                    (path, true) => PathSpec::Exact(path.to_owned()),
                    (prefix, false) => PathSpec::Prefix(prefix.to_owned()),
                })
                .collect(),
        )
    }
}

impl crate::site::Block for PageSettings {
    const NAME: &'static str = "page";
    const SUMMARY: &'static str = "A generated page: on its `routes` (exact, or with captures such as \
`/card/{id}`), renders `template` inside the layout of `[pages]` with the items it names: `item`, \
one item by a captured key (an unknown or malformed key gets the site's 404 page), and `lists`, \
a table's items sorted by an attribute (`sort_by`, `descending`, ties by `then_by`) with a \
`limit` (`without_item` leaves the page's item out: the other cards), and `<list>_totals`, \
the sum of each of the table's counters over the list. Every \
attribute reaches the template. It also gets `lang`, `variant`, `site_name`, \
`route` (the captures), `greeting` (with `greet`: by CloudFront-Viewer-Country, which then sets \
`content-language`), and each of `cookie_lists` as a list of keys. A store outage gets the site's \
503 page. Origin-request: it runs on cache misses only, and the cache keeps the page for the \
policy's TTL.";
    const RUNS_ON: &'static [crate::EventType] = &[crate::EventType::OriginRequest];
    const EXAMPLE: &'static str = r#"routes = ["/articles/{slug}"]
template = "article.html"
cache_control = "public, max-age=0, s-maxage=30"
item = { table = "articles", capture = "slug", name = "article" }
lists = { popular = { table = "articles", sort_by = "Views", descending = true, limit = 5 } }"#;

    fn build(self, site: &crate::site::SiteContext) -> Result<crate::site::Steps, String> {
        Ok(crate::site::Steps {
            origin_request: Some(Arc::new(Page::build(self, site)?)),
            ..Default::default()
        })
    }
}
