//! Which headers a function may add, read or change, per trigger.

use super::*;

/// Headers a function may not add: CloudFront answers 502 when one appears.
/// Source: [`RESTRICTIONS_URL`], "Disallowed headers".
pub const DISALLOWED_HEADERS: &[&str] = &[
    "connection",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "trailer",
    "upgrade",
    "x-accel-buffering",
    "x-accel-charset",
    "x-accel-limit-rate",
    "x-accel-redirect",
    "x-amzn-auth",
    "x-amzn-cf-billing",
    "x-amzn-cf-id",
    "x-amzn-cf-xff",
    "x-amzn-errortype",
    "x-amzn-fle-profile",
    "x-amzn-header-count",
    "x-amzn-header-order",
    "x-amzn-lambda-integration-tag",
    "x-amzn-requestid",
    "x-cache",
    "x-forwarded-proto",
    "x-real-ip",
];

/// Prefixes of disallowed headers (`X-Amz-Cf-*`, `X-Edge-*`).
pub const DISALLOWED_HEADER_PREFIXES: &[&str] = &["x-amz-cf-", "x-edge-"];

/// Headers a function may read but not add, change or remove, per trigger.
/// Source: [`RESTRICTIONS_URL`], "Read-only headers".
pub fn read_only_headers(trigger: EventType) -> &'static [&'static str] {
    match trigger {
        EventType::ViewerRequest => &["content-length", "host", "transfer-encoding", "via"],
        EventType::OriginRequest => &[
            "accept-encoding",
            "content-length",
            "if-modified-since",
            "if-none-match",
            "if-range",
            "if-unmodified-since",
            "transfer-encoding",
            "via",
        ],
        EventType::OriginResponse => &["transfer-encoding", "via"],
        EventType::ViewerResponse => &["warning", "via"],
    }
}

/// Whether a header is one a function may never add.
pub fn is_disallowed_header(name: &str) -> bool {
    DISALLOWED_HEADERS.contains(&name)
        || DISALLOWED_HEADER_PREFIXES
            .iter()
            .any(|prefix| name.starts_with(prefix))
}

/// Headers CloudFront refuses as an origin's custom headers (set in the distribution or by a
/// function in `origin.customHeaders`), beside the disallowed ones.
/// Source: <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/add-origin-custom-headers.html>,
/// "Custom headers that CloudFront can't add to origin requests".
pub const ORIGIN_CUSTOM_HEADER_DENYLIST: &[&str] = &[
    "cache-control",
    "connection",
    "content-length",
    "cookie",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "max-forwards",
    "pragma",
    "proxy-authorization",
    "proxy-connection",
    "range",
    "request-range",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "via",
    "x-real-ip",
];

/// Whether a header may be an origin's custom header (`name` lowercase): a plain name (letters,
/// digits, `-`) CloudFront does not refuse.
pub fn is_allowed_origin_custom_header(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !ORIGIN_CUSTOM_HEADER_DENYLIST.contains(&name)
        && !name.starts_with("x-amz-")
        && !name.starts_with("x-edge-")
        && !is_disallowed_header(name)
}

/// Whether CloudFront itself adds this header (device and geo data) after viewer-request.
pub fn is_cloudfront_added_header(name: &str) -> bool {
    name.starts_with("cloudfront-viewer-")
        || name.starts_with("cloudfront-is-")
        || name == "cloudfront-forwarded-proto"
}
