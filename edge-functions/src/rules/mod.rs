//! The Lambda@Edge rules, as CloudFront applies them to what a function returns, and to the
//! events CloudFront itself sends.
//!
//! This is the one validator: `invoke`, the local distribution and the tests all call it.
//! Each limit is a named constant with the page that states it; the researched rules with their
//! sources are in `shared/research/lambda-edge-facts.md`.

use std::fmt;

use base64::Engine;
use serde_json::Value;

use crate::event::{
    BodyAction, BodyEncoding, Cf, EventError, EventType, FunctionResult, Headers, Request, Response,
};

pub mod limits;

mod events;
mod headers;
mod result;
mod structure;
mod violation;

pub use events::*;
pub use headers::*;
pub use result::*;
pub use structure::*;
pub use violation::*;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Config, CustomOrigin, Origin, RequestBody};
    use serde_json::json;

    fn request() -> Request {
        let mut request = Request {
            client_ip: "203.0.113.10".into(),
            method: "GET".into(),
            uri: "/tree".into(),
            ..Default::default()
        };
        request.headers.set("Host", "d111111abcdef8.cloudfront.net");
        request.headers.set("User-Agent", "test");
        request
    }

    fn cf(trigger: EventType) -> Cf {
        let mut response = Response::new(200);
        response.headers.set("Content-Type", "text/html");
        response
            .headers
            .set("Via", "1.1 abc.cloudfront.net (CloudFront)");
        Cf {
            config: Config {
                event_type: trigger,
                ..Default::default()
            },
            request: request(),
            response: (!trigger.is_request()).then_some(response),
            extra: Default::default(),
        }
    }

    /// An event no CloudFront could send (found by the fuzzer: a function passed such a uri on
    /// and was blamed for it) is refused, with the rule its request or response breaks.
    #[test]
    fn an_event_whose_own_request_or_response_breaks_a_rule_is_refused() {
        let refused = |trigger: EventType, edit: &dyn Fn(&mut Cf)| {
            let mut event = cf(trigger);
            edit(&mut event);
            check_event(trigger, &event).unwrap_err().to_string()
        };
        for trigger in [EventType::ViewerRequest, EventType::OriginRequest] {
            assert!(check_event(trigger, &cf(trigger)).is_ok());
            let message = refused(trigger, &|e| e.request.uri = "card/1".into());
            assert!(message.contains("uri-not-absolute"), "{message}");
            let message = refused(trigger, &|e| e.request.querystring = " m=mail".into());
            assert!(message.contains("querystring-characters"), "{message}");
            let message = refused(trigger, &|e| e.request.headers.set("X-A", "a\r\nb"));
            assert!(message.contains("Records[0].cf.request"), "{message}");
        }
        for trigger in [EventType::OriginResponse, EventType::ViewerResponse] {
            assert!(check_event(trigger, &cf(trigger)).is_ok());
            let message = refused(trigger, &|e| {
                if let Some(response) = &mut e.response {
                    response.status = "99".into();
                }
            });
            assert!(message.contains("Records[0].cf.response"), "{message}");
        }
    }

    /// The rules a request result breaks, after `edit` changes the event's request.
    fn request_rules(trigger: EventType, edit: impl FnOnce(&mut Request)) -> Vec<Rule> {
        let event = cf(trigger);
        let mut result = event.request.clone();
        edit(&mut result);
        validate(trigger, &event, &FunctionResult::Request(result))
            .into_iter()
            .map(|v| v.rule)
            .collect()
    }

    fn response_rules(trigger: EventType, edit: impl FnOnce(&mut Response)) -> Vec<Rule> {
        let event = cf(trigger);
        let mut result = event.response.clone().unwrap_or_else(|| Response::new(200));
        edit(&mut result);
        validate(trigger, &event, &FunctionResult::Response(result))
            .into_iter()
            .map(|v| v.rule)
            .collect()
    }

    #[test]
    fn an_unchanged_result_is_accepted_on_every_trigger() {
        for trigger in EventType::ALL {
            if trigger.is_request() {
                assert_eq!(request_rules(trigger, |_| {}), vec![], "{trigger}");
            }
            assert_eq!(response_rules(trigger, |_| {}), vec![], "{trigger}");
        }
    }

    #[test]
    fn disallowed_headers_are_refused_everywhere() {
        for name in [
            "Connection",
            "X-Amz-Cf-Id",
            "X-Edge-Location",
            "X-Forwarded-Proto",
            "Upgrade",
        ] {
            assert_eq!(
                request_rules(EventType::ViewerRequest, |r| r.headers.set(name, "x")),
                vec![Rule::DisallowedHeader],
                "{name}"
            );
            assert_eq!(
                response_rules(EventType::OriginResponse, |r| r.headers.set(name, "x")),
                vec![Rule::DisallowedHeader],
                "{name}"
            );
        }
        assert!(!is_disallowed_header("x-amz-meta-owner"));
    }

    #[test]
    fn read_only_headers_depend_on_the_trigger() {
        assert_eq!(
            request_rules(EventType::ViewerRequest, |r| r.headers.set("Host", "evil")),
            vec![Rule::ReadOnlyHeader]
        );
        assert_eq!(
            request_rules(EventType::ViewerRequest, |r| {
                r.headers.remove("host");
            }),
            vec![Rule::ReadOnlyHeader]
        );
        // Host may change in origin-request (to match a new origin).
        assert_eq!(
            request_rules(EventType::OriginRequest, |r| r.headers.set("Host", "o")),
            vec![]
        );
        assert_eq!(
            request_rules(EventType::OriginRequest, |r| r
                .headers
                .set("If-None-Match", "\"x\"")),
            vec![Rule::ReadOnlyHeader]
        );
        assert_eq!(
            response_rules(EventType::ViewerResponse, |r| r.headers.set("Via", "me")),
            vec![Rule::ReadOnlyHeader]
        );
        assert_eq!(
            response_rules(EventType::OriginResponse, |r| r
                .headers
                .set("Transfer-Encoding", "chunked")),
            vec![Rule::ReadOnlyHeader]
        );
    }

    #[test]
    fn viewer_request_may_not_add_cloudfront_headers() {
        assert_eq!(
            request_rules(EventType::ViewerRequest, |r| r
                .headers
                .set("CloudFront-Viewer-Country", "FR")),
            vec![Rule::CloudFrontHeaderInViewerRequest]
        );
        assert_eq!(
            request_rules(EventType::OriginRequest, |r| r
                .headers
                .set("CloudFront-Viewer-Country", "FR")),
            vec![]
        );
    }

    #[test]
    fn header_map_keys_must_be_the_lowercase_key() {
        assert_eq!(
            request_rules(EventType::ViewerRequest, |r| {
                r.headers.0.insert(
                    "x-a".into(),
                    vec![crate::event::HeaderEntry {
                        key: Some("X-B".into()),
                        value: "1".into(),
                        extra: Default::default(),
                    }],
                );
            }),
            vec![Rule::HeaderKeyMismatch]
        );
        // A missing key is fine: Lambda@Edge fills it in.
        assert_eq!(
            request_rules(EventType::ViewerRequest, |r| {
                r.headers.0.insert(
                    "x-a".into(),
                    vec![crate::event::HeaderEntry {
                        key: None,
                        value: "1".into(),
                        extra: Default::default(),
                    }],
                );
            }),
            vec![]
        );
    }

    #[test]
    fn header_values_may_not_hold_cr_lf_or_nul() {
        for value in ["a\r\nb", "a\nb", "a\0b"] {
            assert_eq!(
                response_rules(EventType::OriginResponse, |r| r.headers.set("X-A", value)),
                vec![Rule::HeaderValueCharacters]
            );
        }
    }

    #[test]
    fn status_must_be_200_to_599_and_unchanged_in_viewer_response() {
        for bad in ["199", "600", "abc", ""] {
            assert_eq!(
                response_rules(EventType::OriginResponse, |r| r.status = bad.into()),
                vec![Rule::StatusRange],
                "{bad}"
            );
        }
        assert_eq!(
            response_rules(EventType::OriginResponse, |r| r.status = "599".into()),
            vec![]
        );
        assert_eq!(
            response_rules(EventType::ViewerResponse, |r| r.status = "404".into()),
            vec![Rule::StatusChanged]
        );
        assert_eq!(
            response_rules(EventType::OriginResponse, |r| r.status = "404".into()),
            vec![]
        );
    }

    #[test]
    fn only_origin_request_may_change_the_origin() {
        let origin = Origin::Custom(CustomOrigin {
            domain_name: "example.com".into(),
            port: 443,
            protocol: "https".into(),
            ..Default::default()
        });
        let set = |r: &mut Request| r.origin = Some(origin.clone());
        assert_eq!(
            request_rules(EventType::ViewerRequest, set),
            vec![Rule::OriginChanged]
        );
        assert_eq!(
            request_rules(EventType::OriginRequest, |r| r.origin =
                Some(origin.clone())),
            vec![]
        );
    }

    #[test]
    fn custom_origin_headers_may_not_clash_or_be_disallowed() {
        let mut custom = CustomOrigin {
            domain_name: "example.com".into(),
            port: 443,
            protocol: "https".into(),
            ..Default::default()
        };
        custom.custom_headers.set("User-Agent", "x");
        custom.custom_headers.set("X-Real-IP", "1.2.3.4");
        let rules = request_rules(EventType::OriginRequest, |r| {
            r.origin = Some(Origin::Custom(custom))
        });
        assert_eq!(rules, vec![Rule::CustomHeaderClash, Rule::DisallowedHeader]);
    }

    #[test]
    fn method_and_client_ip_are_read_only() {
        assert_eq!(
            request_rules(EventType::ViewerRequest, |r| r.method = "POST".into()),
            vec![Rule::ReadOnlyField]
        );
        assert_eq!(
            request_rules(EventType::OriginRequest, |r| r.client_ip = "1.1.1.1".into()),
            vec![Rule::ReadOnlyField]
        );
    }

    #[test]
    fn uri_and_query_must_stay_under_8192_characters_and_be_clean() {
        assert_eq!(
            request_rules(EventType::ViewerRequest, |r| r.uri =
                format!("/{}", "a".repeat(8191))),
            vec![Rule::UriTooLong]
        );
        assert_eq!(
            request_rules(EventType::ViewerRequest, |r| r.uri =
                format!("/{}", "a".repeat(8190))),
            vec![]
        );
        assert_eq!(
            request_rules(EventType::ViewerRequest, |r| {
                r.uri = format!("/{}", "a".repeat(4000));
                r.querystring = "q".repeat(4200);
            }),
            vec![Rule::UriTooLong]
        );
        assert_eq!(
            request_rules(EventType::ViewerRequest, |r| r.uri = "tree".into()),
            vec![Rule::UriNotAbsolute]
        );
        for bad in ["a=b c", "a=b#c", "a=\u{1}"] {
            assert_eq!(
                request_rules(EventType::ViewerRequest, |r| r.querystring = bad.into()),
                vec![Rule::QueryStringCharacters]
            );
        }
    }

    #[test]
    fn generated_responses_are_bounded_by_trigger() {
        let body = |n: usize| {
            move |r: &mut Response| {
                r.headers.set("Content-Type", "text/plain");
                r.body = Some("x".repeat(n));
                r.body_encoding = Some(BodyEncoding::Text);
            }
        };
        assert_eq!(
            response_rules(EventType::ViewerRequest, body(40_000)),
            vec![]
        );
        assert_eq!(
            response_rules(EventType::ViewerRequest, body(40 * 1024)),
            vec![Rule::GeneratedResponseTooLarge],
            "headers count toward the limit"
        );
        assert_eq!(
            response_rules(EventType::OriginRequest, body(40 * 1024)),
            vec![]
        );
        assert_eq!(
            response_rules(EventType::OriginRequest, body(1024 * 1024)),
            vec![Rule::GeneratedResponseTooLarge]
        );
        assert_eq!(
            response_rules(EventType::OriginResponse, body(1024 * 1024 + 1)),
            vec![Rule::GeneratedResponseTooLarge]
        );
    }

    #[test]
    fn base64_bodies_must_decode_and_count_decoded() {
        assert_eq!(
            response_rules(EventType::OriginRequest, |r| {
                r.body = Some("***".into());
                r.body_encoding = Some(BodyEncoding::Base64);
            }),
            vec![Rule::InvalidBase64Body]
        );
        let encoded = base64::engine::general_purpose::STANDARD.encode(vec![b'x'; 39_000]);
        assert!(encoded.len() > 40 * 1024);
        assert_eq!(
            response_rules(EventType::ViewerRequest, |r| {
                r.body = Some(encoded);
                r.body_encoding = Some(BodyEncoding::Base64);
            }),
            vec![]
        );
    }

    #[test]
    fn viewer_request_may_not_answer_204_with_a_body() {
        assert_eq!(
            response_rules(EventType::ViewerRequest, |r| {
                *r = Response::new(204).with_text_body("hi");
            }),
            vec![Rule::BodyWithNoContent]
        );
        assert_eq!(
            response_rules(EventType::ViewerRequest, |r| *r = Response::new(204)),
            vec![]
        );
    }

    #[test]
    fn replacement_request_bodies_are_checked() {
        let body = |data: String, encoding| RequestBody {
            input_truncated: false,
            action: BodyAction::Replace,
            encoding,
            data,
            extra: Default::default(),
        };
        assert_eq!(
            request_rules(EventType::ViewerRequest, |r| r.body =
                Some(body("!!".into(), BodyEncoding::Base64))),
            vec![Rule::InvalidBase64Body]
        );
        assert_eq!(
            request_rules(EventType::ViewerRequest, |r| r.body =
                Some(body("x".repeat(41 * 1024), BodyEncoding::Text))),
            vec![Rule::ReplacementBodyTooLarge]
        );
        // A read-only body is never replaced, so it is not checked.
        assert_eq!(
            request_rules(EventType::ViewerRequest, |r| {
                r.body = Some(RequestBody {
                    action: BodyAction::ReadOnly,
                    ..body("!!".into(), BodyEncoding::Base64)
                })
            }),
            vec![]
        );
    }

    #[test]
    fn response_triggers_must_return_the_response() {
        let event = cf(EventType::OriginResponse);
        let rules: Vec<Rule> = validate(
            EventType::OriginResponse,
            &event,
            &FunctionResult::Request(request()),
        )
        .into_iter()
        .map(|v| v.rule)
        .collect();
        assert_eq!(rules, vec![Rule::WrongResultKind]);
    }

    #[test]
    fn parse_result_finds_nulls_and_bad_header_shapes() {
        let rules = |trigger, value: Value| match parse_result(trigger, &value) {
            Ok(_) => vec![],
            Err(v) => v.into_iter().map(|v| v.rule).collect::<Vec<_>>(),
        };
        let ok = serde_json::to_value(request()).unwrap();
        assert_eq!(rules(EventType::ViewerRequest, ok.clone()), vec![]);
        let mut with_null = ok.clone();
        with_null["querystring"] = Value::Null;
        assert_eq!(
            rules(EventType::ViewerRequest, with_null),
            vec![Rule::MalformedResult]
        );
        let mut not_array = ok.clone();
        not_array["headers"]["x-a"] = json!({"key": "X-A", "value": "1"});
        assert_eq!(
            rules(EventType::ViewerRequest, not_array),
            vec![Rule::MalformedResult]
        );
        let mut number = ok.clone();
        number["headers"]["x-a"] = json!([{"key": "X-A", "value": 1}]);
        assert_eq!(
            rules(EventType::ViewerRequest, number),
            vec![Rule::MalformedResult]
        );
        assert_eq!(
            rules(EventType::ViewerRequest, json!("text")),
            vec![Rule::MalformedResult]
        );
        assert_eq!(
            rules(EventType::OriginResponse, ok),
            vec![Rule::WrongResultKind]
        );
        // A request trigger's result with `status` is a generated response.
        let generated = parse_result(
            EventType::ViewerRequest,
            &json!({"status": "302", "headers": {}}),
        );
        assert!(matches!(generated, Ok(FunctionResult::Response(_))));
        assert_eq!(
            rules(EventType::ViewerRequest, json!({"status": 302})),
            vec![Rule::MalformedResult],
            "the status is a string on the wire"
        );
    }

    #[test]
    fn every_rule_names_a_documentation_page() {
        for rule in [
            Rule::MalformedResult,
            Rule::WrongResultKind,
            Rule::DisallowedHeader,
            Rule::ReadOnlyHeader,
            Rule::CloudFrontHeaderInViewerRequest,
            Rule::HeaderKeyMismatch,
            Rule::HeaderValueCharacters,
            Rule::StatusRange,
            Rule::StatusChanged,
            Rule::OriginChanged,
            Rule::ReadOnlyField,
            Rule::GeneratedResponseTooLarge,
            Rule::BodyWithNoContent,
            Rule::UriTooLong,
            Rule::UriNotAbsolute,
            Rule::QueryStringCharacters,
            Rule::InvalidBase64Body,
            Rule::ReplacementBodyTooLarge,
            Rule::CustomHeaderClash,
        ] {
            assert!(
                rule.source().starts_with("https://docs.aws.amazon.com/"),
                "{rule}"
            );
        }
        assert_eq!(Failure::LambdaValidationError.status(), 502);
        assert_eq!(Failure::LambdaExecutionError.status(), 503);
        assert_eq!(
            Failure::LambdaLimitExceeded.x_cache(),
            "LambdaLimitExceeded from cloudfront"
        );
    }
}
