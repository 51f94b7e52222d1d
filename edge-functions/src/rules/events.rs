//! The checks of an event: one CloudFront could send for the trigger.

use super::*;

/// A request header name CloudFront never sends in this trigger's events: geo and device headers
/// in viewer-request. Part of [`check_event`], for hosts that do not copy every header out.
pub fn check_request_header_name(trigger: EventType, name: &str) -> Result<(), EventError> {
    if trigger == EventType::ViewerRequest && is_cloudfront_added_header(name) {
        return Err(EventError::new(
            format!("Records[0].cf.request.headers.{name}"),
            "CloudFront adds geo and device headers after viewer-request, so a viewer-request event never has them",
        ));
    }
    Ok(())
}

/// An origin in a viewer-request event, which CloudFront adds only in origin events. Part of
/// [`check_event`], for hosts that do not read the origin.
pub fn check_request_origin(trigger: EventType, has_origin: bool) -> Result<(), EventError> {
    if trigger == EventType::ViewerRequest && has_origin {
        return Err(EventError::new(
            "Records[0].cf.request.origin",
            "viewer events carry no origin; CloudFront adds it in origin events",
        ));
    }
    Ok(())
}

/// Checks that an event is one CloudFront could send for this trigger: the right shape for its
/// moment, no geo or device headers in viewer-request, bodies only where Include Body puts them.
pub fn check_event(trigger: EventType, cf: &Cf) -> Result<(), EventError> {
    let found = cf.config.event_type;
    if found != trigger {
        return Err(EventError::new(
            "Records[0].cf.config.eventType",
            format!("this is {} {found} event, not {trigger}", article(found)),
        ));
    }
    if trigger.is_request() && cf.response.is_some() {
        return Err(EventError::new(
            "Records[0].cf.response",
            format!(
                "{} {trigger} event has no response; CloudFront adds one only in response events",
                capitalized_article(trigger)
            ),
        ));
    }
    if !trigger.is_request() && cf.response.is_none() {
        return Err(EventError::new(
            "Records[0].cf.response",
            format!(
                "{} {trigger} event must carry the response",
                capitalized_article(trigger)
            ),
        ));
    }
    let request = &cf.request;
    for name in request.headers.0.keys() {
        check_request_header_name(trigger, name)?;
    }
    check_request_origin(trigger, request.origin.is_some())?;
    if let Some(body) = &request.body {
        if !trigger.is_request() {
            return Err(EventError::new(
                "Records[0].cf.request.body",
                "CloudFront exposes the request body only to viewer-request and origin-request",
            ));
        }
        if matches!(request.method.as_str(), "GET" | "HEAD") {
            return Err(EventError::new(
                "Records[0].cf.request.body",
                format!("a {} request has no body", request.method),
            ));
        }
        let size = match body.encoding {
            BodyEncoding::Base64 => base64::engine::general_purpose::STANDARD
                .decode(&body.data)
                .map_err(|err| {
                    EventError::new(
                        "Records[0].cf.request.body.data",
                        format!("not valid base64: {err}"),
                    )
                })?
                .len(),
            BodyEncoding::Text => body.data.len(),
        };
        let limit = limits::request_body_bytes(trigger);
        if size > limit {
            return Err(EventError::new(
                "Records[0].cf.request.body.data",
                format!(
                    "the body is {size} bytes, but CloudFront truncates {trigger} bodies at {limit} bytes and sets inputTruncated"
                ),
            ));
        }
    }
    for (name, entries) in request.headers.iter() {
        for key in entries.iter().filter_map(|e| e.key.as_deref()) {
            check_request_header_key(name, key)?;
        }
    }
    // What CloudFront sends meets the rules it holds a function's result to: the event's own
    // request (or response), returned unchanged, must pass the one validator. (A uri without its
    // leading `/`, a space in the querystring, a line break in a header value: no CloudFront
    // sends them, and a function passing them on would be blamed for them.)
    let mut unchanged = Vec::new();
    let path = if trigger.is_request() {
        result::validate_request(trigger, request, request, &mut unchanged);
        "Records[0].cf.request"
    } else {
        if let Some(response) = &cf.response {
            result::validate_updated_response(trigger, Some(response), response, &mut unchanged);
        }
        "Records[0].cf.response"
    };
    if let Some(violation) = unchanged.first() {
        return Err(EventError::new(
            path,
            format!(
                "CloudFront never sends this ({}): {}",
                violation.rule.name(),
                violation.detail
            ),
        ));
    }
    Ok(())
}

/// A request header entry whose `key` is not its map name in another case.
pub fn check_request_header_key(name: &str, key: &str) -> Result<(), EventError> {
    if is_lowercase_of(name, key) {
        return Ok(());
    }
    Err(EventError::new(
        format!("Records[0].cf.request.headers.{name}"),
        format!("the key `{key}` does not match the lowercase map key"),
    ))
}
