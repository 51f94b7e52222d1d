//! The checks of a function's result against the event it was given.

use super::*;

/// Checks a function's result against the event it was given. Empty means CloudFront accepts it.
pub fn validate(trigger: EventType, event: &Cf, result: &FunctionResult) -> Vec<Violation> {
    let mut out = Vec::new();
    match (trigger, result) {
        (EventType::ViewerRequest | EventType::OriginRequest, FunctionResult::Request(request)) => {
            validate_request(trigger, &event.request, request, &mut out);
        }
        (
            EventType::ViewerRequest | EventType::OriginRequest,
            FunctionResult::Response(response),
        ) => {
            validate_generated_response(trigger, response, &mut out);
        }
        (
            EventType::OriginResponse | EventType::ViewerResponse,
            FunctionResult::Response(response),
        ) => {
            validate_updated_response(trigger, event.response.as_ref(), response, &mut out);
        }
        (_, FunctionResult::Request(_)) => out.push(Violation::new(
            Rule::WrongResultKind,
            format!("{trigger} must return the response, not the request"),
        )),
    }
    out
}

pub(super) fn validate_request(
    trigger: EventType,
    before: &Request,
    after: &Request,
    out: &mut Vec<Violation>,
) {
    check_headers(
        trigger,
        &before.headers,
        &after.headers,
        "request.headers",
        out,
    );
    if trigger == EventType::ViewerRequest {
        for name in after.headers.0.keys() {
            if is_cloudfront_added_header(name) && !before.headers.contains(name) {
                out.push(Violation::new(
                    Rule::CloudFrontHeaderInViewerRequest,
                    format!(
                        "viewer-request added `{name}`; CloudFront adds its own geo and device headers after viewer-request"
                    ),
                ));
            }
        }
    }
    if after.method != before.method {
        out.push(Violation::new(
            Rule::ReadOnlyField,
            format!(
                "`method` is read-only (changed from {} to {})",
                before.method, after.method
            ),
        ));
    }
    if after.client_ip != before.client_ip {
        out.push(Violation::new(
            Rule::ReadOnlyField,
            "`clientIp` is read-only",
        ));
    }
    if !after.uri.starts_with('/') {
        out.push(Violation::new(
            Rule::UriNotAbsolute,
            format!(
                "the uri must start with `/`, got `{}`",
                truncate(&after.uri, 60)
            ),
        ));
    }
    let length = after.uri.chars().count() + after.querystring.chars().count();
    if length >= limits::URI_AND_QUERY_CHARS {
        out.push(Violation::new(
            Rule::UriTooLong,
            format!(
                "uri and querystring are {length} characters; they must be fewer than {}",
                limits::URI_AND_QUERY_CHARS
            ),
        ));
    }
    if let Some(bad) = after
        .querystring
        .chars()
        .find(|c| *c == ' ' || *c == '#' || c.is_control())
    {
        out.push(Violation::new(
            Rule::QueryStringCharacters,
            format!(
                "the querystring may not hold spaces, `#` or control characters (found {bad:?})"
            ),
        ));
    }
    if after.origin != before.origin && trigger != EventType::OriginRequest {
        out.push(Violation::new(
            Rule::OriginChanged,
            format!("only origin-request may change `origin`; {trigger} did"),
        ));
    }
    if let Some(origin) = &after.origin {
        let custom = custom_or_s3_headers(origin);
        for (name, entries) in custom.iter() {
            check_header_entries(name, entries, "origin.customHeaders", out);
            if is_disallowed_header(name) {
                out.push(Violation::new(
                    Rule::DisallowedHeader,
                    format!("`{name}` may not be set as a custom origin header"),
                ));
            }
            if after.headers.contains(name) {
                out.push(Violation::new(
                    Rule::CustomHeaderClash,
                    format!("`{name}` is both a request header and a custom origin header"),
                ));
            }
        }
    }
    if let Some(body) = &after.body
        && body.action == BodyAction::Replace
    {
        let (limit, size) = match body.encoding {
            BodyEncoding::Text => (limits::request_body_bytes(trigger), body.data.len()),
            BodyEncoding::Base64 => {
                if base64::engine::general_purpose::STANDARD
                    .decode(&body.data)
                    .is_err()
                {
                    out.push(Violation::new(
                        Rule::InvalidBase64Body,
                        "the replacement request body is not valid base64",
                    ));
                }
                let limit = if trigger.is_viewer() {
                    limits::VIEWER_REPLACEMENT_BODY_BASE64_BYTES
                } else {
                    limits::ORIGIN_REPLACEMENT_BODY_BASE64_BYTES
                };
                (limit, body.data.len())
            }
        };
        if size > limit {
            out.push(Violation::new(
                Rule::ReplacementBodyTooLarge,
                format!("the replacement request body is {size} bytes; {trigger} allows {limit}"),
            ));
        }
    }
}

pub(super) fn custom_or_s3_headers(origin: &crate::event::Origin) -> &Headers {
    match origin {
        crate::event::Origin::S3(s3) => &s3.custom_headers,
        crate::event::Origin::Custom(custom) => &custom.custom_headers,
    }
}

pub(super) fn validate_generated_response(
    trigger: EventType,
    response: &Response,
    out: &mut Vec<Violation>,
) {
    check_status(response, out);
    check_headers(
        trigger,
        &Headers::default(),
        &response.headers,
        "headers",
        out,
    );
    let body_len = check_body(response, out);
    if trigger == EventType::ViewerRequest && response.status == "204" && body_len > 0 {
        out.push(Violation::new(
            Rule::BodyWithNoContent,
            "a 204 response generated in viewer-request may not have a body",
        ));
    }
    let size = headers_size(&response.headers) + body_len;
    let limit = limits::generated_response_bytes(trigger);
    if size > limit {
        out.push(Violation::new(
            Rule::GeneratedResponseTooLarge,
            format!(
                "the generated response is {size} bytes with its headers; {trigger} allows {limit}"
            ),
        ));
    }
}

pub(super) fn validate_updated_response(
    trigger: EventType,
    before: Option<&Response>,
    after: &Response,
    out: &mut Vec<Violation>,
) {
    check_status(after, out);
    let empty = Headers::default();
    let before_headers = before.map(|r| &r.headers).unwrap_or(&empty);
    check_headers(trigger, before_headers, &after.headers, "headers", out);
    if trigger == EventType::ViewerResponse
        && let Some(before) = before
        && before.status != after.status
    {
        out.push(Violation::new(
            Rule::StatusChanged,
            format!(
                "viewer-response cannot change the status (from {} to {})",
                before.status, after.status
            ),
        ));
    }
    let body_len = check_body(after, out);
    if after.body.is_some() {
        let size = headers_size(&after.headers) + body_len;
        let limit = limits::generated_response_bytes(trigger);
        if size > limit {
            out.push(Violation::new(
                Rule::GeneratedResponseTooLarge,
                format!("the response is {size} bytes with its headers; {trigger} allows {limit}"),
            ));
        }
    }
}

pub(super) fn check_status(response: &Response, out: &mut Vec<Violation>) {
    match response.status.parse::<u16>() {
        Ok(code) if (limits::STATUS_MIN..=limits::STATUS_MAX).contains(&code) => {}
        _ => out.push(Violation::new(
            Rule::StatusRange,
            format!(
                "the status must be a number from {} to {} as a string, got `{}`",
                limits::STATUS_MIN,
                limits::STATUS_MAX,
                truncate(&response.status, 20)
            ),
        )),
    }
}

/// Checks a body's encoding and returns its size in bytes as sent to the viewer.
pub(super) fn check_body(response: &Response, out: &mut Vec<Violation>) -> usize {
    let Some(body) = &response.body else { return 0 };
    match response.body_encoding.unwrap_or(BodyEncoding::Text) {
        BodyEncoding::Text => body.len(),
        BodyEncoding::Base64 => match base64::engine::general_purpose::STANDARD.decode(body) {
            Ok(bytes) => bytes.len(),
            Err(err) => {
                out.push(Violation::new(
                    Rule::InvalidBase64Body,
                    format!("the body says `bodyEncoding: base64` but is not valid base64 ({err})"),
                ));
                body.len()
            }
        },
    }
}

pub(super) fn headers_size(headers: &Headers) -> usize {
    headers
        .iter()
        .flat_map(|(name, entries)| entries.iter().map(move |e| name.len() + e.value.len() + 4))
        .sum()
}

/// The header rules shared by every result: key/name agreement, value characters, disallowed
/// headers added, read-only headers touched.
pub(super) fn check_headers(
    trigger: EventType,
    before: &Headers,
    after: &Headers,
    path: &str,
    out: &mut Vec<Violation>,
) {
    for (name, entries) in after.iter() {
        check_header_entries(name, entries, path, out);
        if is_disallowed_header(name) && before.0.get(name) != Some(entries) {
            out.push(Violation::new(
                Rule::DisallowedHeader,
                format!("`{name}` is a header Lambda@Edge functions may not add or change"),
            ));
        }
    }
    for name in read_only_headers(trigger) {
        let was = before.get_all(name).collect::<Vec<_>>();
        let is = after.get_all(name).collect::<Vec<_>>();
        if was != is {
            let what = match (was.is_empty(), is.is_empty()) {
                (true, _) => "added",
                (_, true) => "removed",
                _ => "changed",
            };
            out.push(Violation::new(
                Rule::ReadOnlyHeader,
                format!("`{name}` is read-only in {trigger}, and the function {what} it"),
            ));
        }
    }
}

pub(super) fn check_header_entries(
    name: &str,
    entries: &[crate::event::HeaderEntry],
    path: &str,
    out: &mut Vec<Violation>,
) {
    for entry in entries {
        if let Some(key) = &entry.key
            && !is_lowercase_of(name, key)
        {
            out.push(Violation::new(
                Rule::HeaderKeyMismatch,
                format!("`{path}.{name}` holds an entry whose key is `{key}`; the map key must be the lowercase key"),
            ));
        }
        if entry.value.contains(['\r', '\n', '\0']) {
            out.push(Violation::new(
                Rule::HeaderValueCharacters,
                format!("the value of `{name}` holds CR, LF or NUL"),
            ));
        }
    }
}

/// "a viewer-request", "an origin-request".
pub(super) fn article(trigger: EventType) -> &'static str {
    if trigger.is_viewer() { "a" } else { "an" }
}

pub(super) fn capitalized_article(trigger: EventType) -> &'static str {
    if trigger.is_viewer() { "A" } else { "An" }
}

pub(super) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

/// Whether `name` is `key` in lowercase (without allocating, as this runs on every event).
pub(super) fn is_lowercase_of(name: &str, key: &str) -> bool {
    name.len() == key.len()
        && name
            .bytes()
            .zip(key.bytes())
            .all(|(n, k)| n == k.to_ascii_lowercase())
}
