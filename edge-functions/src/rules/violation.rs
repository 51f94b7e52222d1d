//! The rules a result must keep, a broken one with what broke it, and how CloudFront answers
//! the viewer then.

use super::*;

pub(super) const RESTRICTIONS_URL: &str = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/edge-function-restrictions-all.html";
pub(super) const GENERATING_URL: &str = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-generating-http-responses.html";
pub(super) const UPDATING_URL: &str = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-updating-http-responses.html";
pub(super) const STRUCTURE_URL: &str = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-event-structure.html";
pub(super) const LIMITS_URL: &str = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html#limits-lambda-at-edge";
pub(super) const BODY_URL: &str = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-include-body-access.html";
pub(super) const CLOUDFRONT_HEADERS_URL: &str = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/adding-cloudfront-headers.html";

/// A rule a function's result must keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// The result is not an object of the expected shape, or holds a `null`.
    MalformedResult,
    /// A response trigger returned a request, or a request trigger a malformed response.
    WrongResultKind,
    DisallowedHeader,
    ReadOnlyHeader,
    /// A viewer-request function added a header CloudFront adds itself (geo, device).
    CloudFrontHeaderInViewerRequest,
    /// The header map key is not the lowercase form of the entry's `key`.
    HeaderKeyMismatch,
    /// A header value holds CR, LF or NUL.
    HeaderValueCharacters,
    /// Status not a number from 200 to 599.
    StatusRange,
    /// viewer-response changed the status.
    StatusChanged,
    /// `origin` changed outside origin-request.
    OriginChanged,
    /// `method` or `clientIp` changed.
    ReadOnlyField,
    GeneratedResponseTooLarge,
    /// A 204 with a body from viewer-request.
    BodyWithNoContent,
    UriTooLong,
    UriNotAbsolute,
    QueryStringCharacters,
    InvalidBase64Body,
    ReplacementBodyTooLarge,
    /// A custom origin header also present in the request headers.
    CustomHeaderClash,
}

impl Rule {
    /// A short name for logs and messages.
    pub fn name(self) -> &'static str {
        match self {
            Rule::MalformedResult => "malformed-result",
            Rule::WrongResultKind => "wrong-result-kind",
            Rule::DisallowedHeader => "disallowed-header",
            Rule::ReadOnlyHeader => "read-only-header",
            Rule::CloudFrontHeaderInViewerRequest => "cloudfront-header-in-viewer-request",
            Rule::HeaderKeyMismatch => "header-key-mismatch",
            Rule::HeaderValueCharacters => "header-value-characters",
            Rule::StatusRange => "status-range",
            Rule::StatusChanged => "status-changed",
            Rule::OriginChanged => "origin-changed",
            Rule::ReadOnlyField => "read-only-field",
            Rule::GeneratedResponseTooLarge => "generated-response-too-large",
            Rule::BodyWithNoContent => "body-with-204",
            Rule::UriTooLong => "uri-too-long",
            Rule::UriNotAbsolute => "uri-not-absolute",
            Rule::QueryStringCharacters => "querystring-characters",
            Rule::InvalidBase64Body => "invalid-base64-body",
            Rule::ReplacementBodyTooLarge => "replacement-body-too-large",
            Rule::CustomHeaderClash => "custom-header-clash",
        }
    }

    /// The page that states the rule.
    pub fn source(self) -> &'static str {
        match self {
            Rule::MalformedResult
            | Rule::WrongResultKind
            | Rule::HeaderKeyMismatch
            | Rule::OriginChanged
            | Rule::ReadOnlyField
            | Rule::CustomHeaderClash => STRUCTURE_URL,
            Rule::DisallowedHeader
            | Rule::ReadOnlyHeader
            | Rule::HeaderValueCharacters
            | Rule::StatusChanged
            | Rule::UriTooLong
            | Rule::UriNotAbsolute
            | Rule::QueryStringCharacters => RESTRICTIONS_URL,
            Rule::CloudFrontHeaderInViewerRequest => CLOUDFRONT_HEADERS_URL,
            Rule::StatusRange => UPDATING_URL,
            Rule::GeneratedResponseTooLarge => LIMITS_URL,
            Rule::BodyWithNoContent | Rule::InvalidBase64Body => GENERATING_URL,
            Rule::ReplacementBodyTooLarge => BODY_URL,
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One broken rule, with what broke it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub rule: Rule,
    pub detail: String,
}

impl Violation {
    pub(super) fn new(rule: Rule, detail: impl Into<String>) -> Violation {
        Violation {
            rule,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} ({})", self.rule, self.detail, self.rule.source())
    }
}

/// How CloudFront answers a viewer when a function fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The result broke a rule: 502.
    LambdaValidationError,
    /// The function threw: 503.
    LambdaExecutionError,
    /// The function ran out of time or was throttled: 503.
    LambdaLimitExceeded,
}

impl Failure {
    pub fn status(self) -> u16 {
        match self {
            Failure::LambdaValidationError => 502,
            Failure::LambdaExecutionError | Failure::LambdaLimitExceeded => 503,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Failure::LambdaValidationError => "LambdaValidationError",
            Failure::LambdaExecutionError => "LambdaExecutionError",
            Failure::LambdaLimitExceeded => "LambdaLimitExceeded",
        }
    }

    /// The `X-Cache` value CloudFront sends with the error.
    pub fn x_cache(self) -> String {
        format!("{} from cloudfront", self.name())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status(), self.name())
    }
}
