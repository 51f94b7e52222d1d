//! Generated pages: the home page from all cards, a page per card, both personalized.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::blocks::render::{fallback_error_page, html_response, render};
use crate::data::{Answer, Card, DataError, Needs, Query, Supplied, is_valid_card_id};
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

/// What every page of a card site shares: where things are, which cookies and headers carry the
/// visitor's state, and the templates for the layout and for errors.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardSite {
    pub site_name: String,
    /// `/card/` → `/card/<id>`.
    pub card_prefix: String,
    /// The image of a card, with `{id}` standing for the card's id.
    pub image_path: String,
    /// The cookie listing the cards this visitor liked, ids separated by `.`.
    pub liked_cookie: String,
    pub liked_cookie_max_age_secs: u64,
    pub secure_cookies: bool,
    /// The request header that carries the experiment variant, if the site runs one.
    #[serde(default)]
    pub variant_header: Option<String>,
    pub layout_template: String,
    pub error_template: String,
    pub default_language: String,
    /// Country code (as in `CloudFront-Viewer-Country`) → greeting on the home page.
    #[serde(default)]
    pub greetings: BTreeMap<String, Greeting>,
    /// What the error pages say: every sentence a visitor reads is the site's own.
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
    pub liked: BTreeSet<String>,
    pub country: Option<String>,
}

/// A card as the templates see it.
#[derive(Debug, Clone, Serialize)]
pub struct PageCard {
    pub id: String,
    pub description: String,
    pub likes: u64,
    pub liked: bool,
    pub url: String,
    pub image: String,
}

/// Most most liked first; equal likes by description, so the order never flickers.
pub fn sort_by_likes(cards: &mut [Card]) {
    cards.sort_by(|a, b| {
        b.likes
            .cmp(&a.likes)
            .then_with(|| a.description.cmp(&b.description))
    });
}

impl CardSite {
    pub fn visitor(&self, request: &Request) -> Visitor {
        let variant = self
            .variant_header
            .as_ref()
            .and_then(|h| request.headers.get(&h.to_ascii_lowercase()))
            .unwrap_or("a")
            .to_owned();
        Visitor {
            variant,
            liked: self.liked_ids(request),
            country: request
                .headers
                .get("cloudfront-viewer-country")
                .map(|c| c.to_ascii_uppercase()),
        }
    }

    /// The valid card ids in the visitor's liked cookie.
    pub fn liked_ids(&self, request: &Request) -> BTreeSet<String> {
        request
            .headers
            .cookie(&self.liked_cookie)
            .map(|v| {
                v.split('.')
                    .filter(|id| is_valid_card_id(id))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The `Set-Cookie` value remembering these liked ids (the 50 most recent ids at most).
    pub fn liked_cookie_header(&self, liked: &[String]) -> String {
        let start = liked.len().saturating_sub(50);
        crate::blocks::set_cookie(
            &self.liked_cookie,
            &liked[start..].join("."),
            self.liked_cookie_max_age_secs,
            self.secure_cookies,
        )
    }

    pub fn card_url(&self, id: &str) -> String {
        format!("{}{}", self.card_prefix, id)
    }

    pub fn page_card(&self, card: &Card, visitor: &Visitor) -> PageCard {
        PageCard {
            id: card.id.clone(),
            description: card.description.clone(),
            likes: card.likes,
            liked: visitor.liked.contains(&card.id),
            url: self.card_url(&card.id),
            image: self.image_path.replace("{id}", &card.id),
        }
    }

    /// The request headers a page reads about its visitor: the variant, the country, the cookie.
    pub fn header_reads(&self, reads: &mut HeaderReads) {
        if let Some(header) = &self.variant_header {
            reads.request(header);
        }
        reads.request("cloudfront-viewer-country");
        reads.cookie(&self.liked_cookie);
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
        title: &str,
        message: &str,
        visitor: &Visitor,
        cache_control: &str,
    ) -> Response {
        let context = minijinja::context! {
            lang => &self.default_language,
            variant => &visitor.variant,
            site_name => &self.site_name,
            status => status,
            title => title,
            message => message,
        };
        let names = [self.layout_template.as_str(), self.error_template.as_str()];
        let body = render(data, &names, &self.error_template, context)
            .unwrap_or_else(|_| fallback_error_page(status, title, message));
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
        let text = &self.errors.unavailable;
        let mut response =
            self.error_page(data, 503, &text.title, &text.message, visitor, "no-store");
        response.headers.set("Retry-After", "5");
        response
    }

    pub fn not_found_page(
        &self,
        data: &Supplied,
        visitor: &Visitor,
        cache_control: &str,
    ) -> Response {
        let text = &self.errors.not_found;
        self.error_page(
            data,
            404,
            &text.title,
            &text.message,
            visitor,
            cache_control,
        )
    }
}

/// The home page: every card, most liked first, with a greeting for the visitor's country.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HomePage {
    pub site: Arc<CardSite>,
    /// The paths that are the home page (`/`, `/index.html`).
    pub paths: Vec<String>,
    pub template: String,
    pub cache_control: String,
}

impl HomePage {
    fn applies(&self, request: &Request) -> bool {
        matches!(request.method.as_str(), "GET" | "HEAD") && self.paths.contains(&request.uri)
    }
}

impl OriginRequestStep for HomePage {
    fn needs(&self, request: &Request, needs: &mut Needs) {
        if self.applies(request) {
            needs.query(Query::ListCards);
            needs.template(&self.site.layout_template);
            needs.template(&self.template);
            self.site.error_needs(needs);
        }
    }

    fn origin_request(
        &self,
        request: &mut RequestEdit<'_>,
        _origin: &mut Option<Origin>,
        data: &Supplied,
    ) -> Result<Flow, FunctionError> {
        if !self.applies(request) {
            return Ok(Flow::Continue);
        }
        let site = &self.site;
        let visitor = site.visitor(request);
        let mut cards = match data.answer(&Query::ListCards) {
            Some(Ok(Answer::Cards(cards))) => cards.clone(),
            Some(Err(err)) => return Ok(Flow::Respond(site.unavailable_page(data, &visitor, err))),
            _ => {
                return Err(FunctionError::Other(
                    "the card list was not supplied".into(),
                ));
            }
        };
        sort_by_likes(&mut cards);
        let greeting = visitor.country.as_ref().and_then(|c| site.greetings.get(c));
        let lang = greeting
            .and_then(|g| g.language.clone())
            .unwrap_or_else(|| site.default_language.clone());
        let page_cards: Vec<PageCard> = cards.iter().map(|c| site.page_card(c, &visitor)).collect();
        let context = minijinja::context! {
            lang => &lang,
            variant => &visitor.variant,
            site_name => &site.site_name,
            greeting => greeting.map(|g| g.text.as_str()),
            cards => minijinja::Value::from(minijinja::value::Serde(&page_cards)),
            total_likes => cards.iter().map(|c| c.likes).sum::<u64>(),
        };
        let names = [site.layout_template.as_str(), self.template.as_str()];
        let body = render(data, &names, &self.template, context)?;
        let mut response = html_response(200, body, &self.cache_control);
        if let Some(language) = greeting.and_then(|g| g.language.as_deref()) {
            response.headers.set("Content-Language", language);
        }
        Ok(Flow::Respond(response))
    }

    fn header_reads(&self, reads: &mut HeaderReads) {
        self.site.header_reads(reads);
    }

    fn paths(&self) -> Paths {
        Paths::Only(self.paths.iter().cloned().map(PathSpec::Exact).collect())
    }
}

/// A page per card at `<card_prefix><id>`; an unknown id gets the friendly 404 page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CardPage {
    pub site: Arc<CardSite>,
    pub template: String,
    pub cache_control: String,
}

impl CardPage {
    fn card_id<'r>(&self, request: &'r Request) -> Option<&'r str> {
        if !matches!(request.method.as_str(), "GET" | "HEAD") {
            return None;
        }
        request.uri.strip_prefix(self.site.card_prefix.as_str())
    }
}

impl OriginRequestStep for CardPage {
    fn needs(&self, request: &Request, needs: &mut Needs) {
        let Some(id) = self.card_id(request) else {
            return;
        };
        if is_valid_card_id(id) {
            needs.query(Query::GetCard(id.to_owned()));
            needs.query(Query::ListCards);
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
        let Some(id) = self.card_id(request) else {
            return Ok(Flow::Continue);
        };
        let site = &self.site;
        let visitor = site.visitor(request);
        if !is_valid_card_id(id) {
            return Ok(Flow::Respond(site.not_found_page(
                data,
                &visitor,
                &self.cache_control,
            )));
        }
        let card = match data.answer(&Query::GetCard(id.to_owned())) {
            Some(Ok(Answer::Card(Some(card)))) => card.clone(),
            Some(Ok(Answer::Card(None))) => {
                return Ok(Flow::Respond(site.not_found_page(
                    data,
                    &visitor,
                    &self.cache_control,
                )));
            }
            Some(Err(err)) => return Ok(Flow::Respond(site.unavailable_page(data, &visitor, err))),
            _ => return Err(FunctionError::Other(format!("card {id} was not supplied"))),
        };
        // The strip of other cards is a nicety: without the list, the page still renders.
        let mut others = match data.answer(&Query::ListCards) {
            Some(Ok(Answer::Cards(cards))) => cards.clone(),
            _ => Vec::new(),
        };
        others.retain(|c| c.id != card.id);
        sort_by_likes(&mut others);
        let others: Vec<PageCard> = others.iter().map(|c| site.page_card(c, &visitor)).collect();
        let context = minijinja::context! {
            lang => &site.default_language,
            variant => &visitor.variant,
            site_name => &site.site_name,
            card => minijinja::Value::from(minijinja::value::Serde(site.page_card(&card, &visitor))),
            others => minijinja::Value::from(minijinja::value::Serde(&others)),
        };
        let names = [site.layout_template.as_str(), self.template.as_str()];
        let body = render(data, &names, &self.template, context)?;
        Ok(Flow::Respond(html_response(200, body, &self.cache_control)))
    }

    fn header_reads(&self, reads: &mut HeaderReads) {
        self.site.header_reads(reads);
    }

    fn paths(&self) -> Paths {
        Paths::Only(vec![PathSpec::Prefix(self.site.card_prefix.clone())])
    }
}

/// The `home-page` block's settings (the rest comes from the declaration's `[pages]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HomePageSettings {
    pub paths: Vec<String>,
    pub template: String,
    pub cache_control: String,
}

impl crate::site::Block for HomePageSettings {
    const NAME: &'static str = "home-page";
    const SUMMARY: &'static str = "The home page, generated from every card in the store, most liked first, with \
a greeting (and `content-language`) for the visitor's country. Origin-request: it runs on cache \
misses only, and the cache keeps the page for the policy's TTL.";
    const RUNS_ON: &'static [crate::EventType] = &[crate::EventType::OriginRequest];
    const EXAMPLE: &'static str = r#"paths = ["/", "/index.html"]
template = "home.html"
cache_control = "public, max-age=0, s-maxage=10""#;

    fn build(self, site: &crate::site::SiteContext) -> Result<crate::site::Steps, String> {
        let block = HomePage {
            site: site.pages()?,
            paths: self.paths,
            template: self.template,
            cache_control: self.cache_control,
        };
        Ok(crate::site::Steps {
            origin_request: Some(Arc::new(block)),
            ..Default::default()
        })
    }
}

/// The `card-page` block's settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardPageSettings {
    pub template: String,
    pub cache_control: String,
}

impl crate::site::Block for CardPageSettings {
    const NAME: &'static str = "card-page";
    const SUMMARY: &'static str = "A page per card at `<card_prefix><id>` (from `[pages]`), with a strip of the \
other cards; an unknown id gets the site's 404 page, a store outage its 503 page. Origin-request.";
    const RUNS_ON: &'static [crate::EventType] = &[crate::EventType::OriginRequest];
    const EXAMPLE: &'static str = r#"template = "card.html"
cache_control = "public, max-age=0, s-maxage=30""#;

    fn build(self, site: &crate::site::SiteContext) -> Result<crate::site::Steps, String> {
        let block = CardPage {
            site: site.pages()?,
            template: self.template,
            cache_control: self.cache_control,
        };
        Ok(crate::site::Steps {
            origin_request: Some(Arc::new(block)),
            ..Default::default()
        })
    }
}
