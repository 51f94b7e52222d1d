//! Reusable customizations, each configured by data (maps, policies, templates).
//!
//! A block implements the step trait of each trigger it works on ([`crate::function`]); a site
//! composes blocks into its four functions in its declaration ([`crate::site`]), where each block
//! is named and given its settings. Nothing here knows a site.

pub mod cache_control;
pub mod device_assets;
#[cfg(feature = "pages")]
pub mod error_pages;
pub mod experiment;
#[cfg(feature = "pages")]
pub mod like_api;
pub mod normalize;
#[cfg(feature = "pages")]
pub mod pages;
pub mod pretty_urls;
pub mod redirects;
#[cfg(feature = "pages")]
pub mod render;
pub mod security_headers;

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

pub use cache_control::DefaultCacheControl;
pub use device_assets::DeviceAssets;
#[cfg(feature = "pages")]
pub use error_pages::FriendlyErrors;
pub use experiment::{Experiment, Variant};
#[cfg(feature = "pages")]
pub use like_api::LikeApi;
pub use normalize::NormalizeRequest;
#[cfg(feature = "pages")]
pub use pages::{CardPage, CardSite, Greeting, HomePage};
pub use pretty_urls::PrettyUrls;
pub use redirects::Redirects;
pub use security_headers::SecurityHeaders;

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
