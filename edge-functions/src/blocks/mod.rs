//! Reusable customizations, each configured by data (maps, policies, templates).
//!
//! A block implements the step trait of each trigger it works on ([`crate::function`]); a site
//! composes blocks into its four functions in its declaration ([`crate::site`]), where each block
//! is named and given its settings. Nothing here knows a site.

pub mod access;
#[cfg(feature = "block-basic-auth")]
pub mod basic_auth;
pub mod cache_control;
pub mod canonical_host;
pub mod cors;
#[cfg(feature = "pages")]
pub mod counter_api;
#[cfg(feature = "origin")]
pub mod country;
pub mod device_assets;
#[cfg(feature = "pages")]
pub mod error_pages;
#[cfg(feature = "origin")]
pub mod error_status;
pub mod experiment;
#[cfg(feature = "block-language-redirect")]
pub mod language;
pub mod normalize;
#[cfg(feature = "block-origin-router")]
pub mod origin_router;
#[cfg(feature = "pages")]
pub mod pages;
pub mod path_index;
pub mod path_pattern;
pub mod pretty_urls;
pub mod redirects;
#[cfg(feature = "pages")]
pub mod render;
#[cfg(feature = "origin")]
pub mod request_headers;
#[cfg(feature = "origin")]
pub mod response_headers;
pub mod security_headers;
#[cfg(feature = "block-sign-in")]
pub mod sign_in;
pub mod single_page_app;
pub mod trailing_slash;

/// A `Set-Cookie` value: `name=value; Path=/; Max-Age=…; SameSite=Lax` (+ `; Secure`).
/// Characters a cookie value may not hold are percent-encoded.
pub fn set_cookie(name: &str, value: &str, max_age_secs: u64, secure: bool) -> String {
    let mut out = String::with_capacity(name.len() + value.len() + 48);
    out.push_str(name);
    out.push('=');
    for c in value.chars() {
        if c.is_ascii_graphic() && !matches!(c, '"' | ',' | ';' | '\\' | '%') {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out.push_str(&format!("; Path=/; Max-Age={max_age_secs}; SameSite=Lax"));
    if secure {
        out.push_str("; Secure");
    }
    out
}

/// Whether a declaration's header name is one a block may write (letters, digits and `-`).
#[cfg(any(feature = "origin", feature = "block-origin-router"))]
pub(crate) fn is_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Whether `uri` is under one of `prefixes` (none listed: every path is), for blocks with a
/// `prefixes` setting.
pub(crate) fn in_scope(prefixes: &[String], uri: &str) -> bool {
    prefixes.is_empty() || prefixes.iter().any(|p| uri.starts_with(p.as_str()))
}

/// Whether `uri`, read as the origin reads it, is under one of `prefixes` (none listed: every
/// path is): for blocks that guard paths, which an escaped path must not get around.
#[cfg(any(feature = "origin", feature = "block-basic-auth"))]
pub(crate) fn guarded(prefixes: &[String], uri: &str) -> bool {
    in_scope(prefixes, &path_as_origin_reads(uri))
}

#[cfg(any(
    feature = "origin",
    feature = "block-basic-auth",
    feature = "block-sign-in"
))]
/// The path as the origin reads it: S3 decodes percent-escapes, so `/%6Dembers/` is the object
/// under `/members/`, and a block that guards a prefix (sign-in, Basic auth, geo access) must
/// guard it as such. Only for those checks: the request goes on as the visitor sent it.
pub(crate) fn path_as_origin_reads(uri: &str) -> std::borrow::Cow<'_, str> {
    if !uri.contains('%') {
        return std::borrow::Cow::Borrowed(uri);
    }
    let bytes = uri.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|&b| (b as char).to_digit(16));
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    std::borrow::Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// A query parameter's first value, percent-decoded.
#[cfg(any(feature = "block-origin-router", feature = "block-sign-in"))]
pub(crate) fn query_value(querystring: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(querystring.as_bytes())
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

/// Whether `uri` is the section `prefix` or in it (`/de` holds `/de` and `/de/guide`, not
/// `/dessert`).
#[cfg(any(feature = "origin", feature = "block-language-redirect"))]
pub(crate) fn in_section(uri: &str, prefix: &str) -> bool {
    uri.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// A redirect to `path` that keeps the request's query.
pub(crate) fn redirect_keeping_query(
    request: &crate::event::Request,
    path: String,
    status: u16,
    cache_control: &str,
) -> crate::event::Response {
    let mut location = path;
    if !request.querystring.is_empty() {
        location.push('?');
        location.push_str(&request.querystring);
    }
    let mut response = crate::event::Response::new(status);
    response.headers.set("Location", location);
    response.headers.set("Cache-Control", cache_control);
    response
}

/// A section of the site the request belongs in (a country's, a language's): served from
/// there in place (`rewrite`), or redirected there with its query.
#[cfg(any(feature = "origin", feature = "block-language-redirect"))]
pub(crate) fn send_to_section(
    request: &mut crate::function::RequestEdit<'_>,
    prefix: &str,
    rewrite: bool,
    status: u16,
    cache_control: &str,
) -> crate::function::Flow {
    let target = format!("{prefix}{}", request.uri);
    if rewrite {
        request.set_uri(target);
        return crate::function::Flow::Continue;
    }
    crate::function::Flow::Respond(redirect_keeping_query(
        request,
        target,
        status,
        cache_control,
    ))
}

/// Whether `code` is a country code as CloudFront sends it (`DE`).
#[cfg(any(
    feature = "origin",
    feature = "block-language-redirect",
    feature = "block-origin-router"
))]
pub(crate) fn is_country_code(code: &str) -> bool {
    code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase())
}

/// FNV-1a: small, fast and stable across builds and platforms. Experiment assignment needs the
/// stability; the redirect table a hash that costs little on short paths (its keys come from the
/// declaration, so a visitor cannot fill a bucket).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub use access::{HotlinkProtection, Maintenance};
#[cfg(feature = "block-basic-auth")]
pub use basic_auth::BasicAuthSettings;
pub use cache_control::DefaultCacheControl;
pub use canonical_host::CanonicalHost;
pub use cors::Cors;
#[cfg(feature = "pages")]
pub use counter_api::CounterApi;
#[cfg(feature = "origin")]
pub use country::{CountryRedirect, GeoAccess};
pub use device_assets::DeviceAssets;
#[cfg(feature = "pages")]
pub use error_pages::FriendlyErrors;
#[cfg(feature = "origin")]
pub use error_status::ErrorStatus;
pub use experiment::{Experiment, Variant};
#[cfg(feature = "block-language-redirect")]
pub use language::LanguageRedirect;
pub use normalize::NormalizeRequest;
#[cfg(feature = "block-origin-router")]
pub use origin_router::OriginRouter;
#[cfg(feature = "pages")]
pub use pages::{Greeting, Page, PageSite};
pub use pretty_urls::PrettyUrls;
pub use redirects::Redirects;
#[cfg(feature = "origin")]
pub use request_headers::RequestHeaders;
#[cfg(feature = "origin")]
pub use response_headers::ResponseHeaders;
pub use security_headers::SecurityHeaders;
pub use single_page_app::SinglePageApp;
pub use trailing_slash::TrailingSlash;

#[cfg(test)]
mod tests {
    #[test]
    fn set_cookie_encodes_what_a_cookie_value_may_not_hold() {
        assert_eq!(
            super::set_cookie("liked", "a.b", 60, true),
            "liked=a.b; Path=/; Max-Age=60; SameSite=Lax; Secure"
        );
        assert_eq!(
            super::set_cookie("v", "x;y z", 1, false),
            "v=x%3By%20z; Path=/; Max-Age=1; SameSite=Lax"
        );
    }
}
