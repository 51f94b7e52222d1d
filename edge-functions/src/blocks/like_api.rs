//! The like API: `POST <path>?id=<id>` adds one like and remembers it in a cookie.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::blocks::pages::CardSite;
use crate::blocks::render::json_response;
use crate::data::{Answer, Needs, Query, Supplied, is_valid_card_id};
use crate::event::{Origin, Request};
use crate::function::{
    Flow, FunctionError, HeaderReads, OriginRequestStep, PathSpec, Paths, RequestEdit,
};

/// Answers `path` itself: 200 with the card's new state, 405 for another method, 400 for a
/// missing or malformed id, 404 for an unknown card (nothing is created), 503 if the store fails.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LikeApi {
    pub site: Arc<CardSite>,
    pub path: String,
}

impl LikeApi {
    fn id(request: &Request) -> Option<String> {
        form_urlencoded::parse(request.querystring.as_bytes())
            .find(|(name, _)| name == "id")
            .map(|(_, value)| value.into_owned())
    }
}

impl OriginRequestStep for LikeApi {
    fn needs(&self, request: &Request, needs: &mut Needs) {
        if request.uri == self.path
            && request.method == "POST"
            && let Some(id) = Self::id(request).filter(|id| is_valid_card_id(id))
        {
            needs.query(Query::AddLike(id));
        }
    }

    fn origin_request(
        &self,
        request: &mut RequestEdit<'_>,
        _origin: &mut Option<Origin>,
        data: &Supplied,
    ) -> Result<Flow, FunctionError> {
        if request.uri != self.path {
            return Ok(Flow::Continue);
        }
        if request.method != "POST" {
            let mut response = json_response(
                405,
                &json!({"error": "method not allowed", "detail": "use POST to like a card"}),
            );
            response.headers.set("Allow", "POST");
            return Ok(Flow::Respond(response));
        }
        let id = match Self::id(request) {
            Some(id) if is_valid_card_id(&id) => id,
            Some(_) => {
                return Ok(Flow::Respond(json_response(
                    400,
                    &json!({"error": "bad request", "detail": "`id` is not a card id"}),
                )));
            }
            None => {
                return Ok(Flow::Respond(json_response(
                    400,
                    &json!({"error": "bad request", "detail": "the query needs `id=<card id>`"}),
                )));
            }
        };
        let response = match data.answer(&Query::AddLike(id.clone())) {
            Some(Ok(Answer::Card(Some(card)))) => {
                let mut liked: Vec<String> = self.site.liked_ids(request).into_iter().collect();
                liked.retain(|l| *l != card.id);
                liked.push(card.id.clone());
                let mut response = json_response(
                    200,
                    &json!({"id": card.id, "description": card.description, "likes": card.likes, "liked": true}),
                );
                response
                    .headers
                    .append("Set-Cookie", self.site.liked_cookie_header(&liked));
                response
            }
            Some(Ok(_)) => json_response(
                404,
                &json!({"error": "not found", "detail": format!("no card `{id}`")}),
            ),
            Some(Err(_)) => {
                let mut response = json_response(
                    503,
                    &json!({"error": "unavailable", "detail": "the like could not be saved; try again"}),
                );
                response.headers.set("Retry-After", "5");
                response
            }
            None => return Err(FunctionError::Other("the like was not supplied".into())),
        };
        Ok(Flow::Respond(response))
    }

    /// The liked cookie (to add the card to it) and the `id` parameter.
    fn header_reads(&self, reads: &mut HeaderReads) {
        reads.cookie(&self.site.liked_cookie);
        reads.query("id");
    }

    fn paths(&self) -> Paths {
        Paths::Only(vec![PathSpec::Exact(self.path.clone())])
    }
}

/// The `like-api` block's settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LikeApiSettings {
    pub path: String,
}

impl crate::site::Block for LikeApiSettings {
    const NAME: &'static str = "like-api";
    const SUMMARY: &'static str = "`POST <path>?id=<id>` adds one like to an existing card, atomically (never \
creating one), and remembers it in the liked cookie of `[pages]`. Origin-request, on a behavior \
whose cache policy is disabled.";
    const RUNS_ON: &'static [crate::EventType] = &[crate::EventType::OriginRequest];
    const EXAMPLE: &'static str = r#"path = "/api/like""#;

    fn build(self, site: &crate::site::SiteContext) -> Result<crate::site::Steps, String> {
        let block = LikeApi {
            site: site.pages()?,
            path: self.path,
        };
        Ok(crate::site::Steps {
            origin_request: Some(Arc::new(block)),
            ..Default::default()
        })
    }
}
