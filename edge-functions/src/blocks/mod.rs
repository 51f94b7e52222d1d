//! Reusable customizations, each configured by data (maps, policies, templates).
//!
//! A block implements the step trait of each trigger it works on ([`crate::function`]); a site
//! composes blocks into its four functions. Nothing here knows the Alien Cards site: its maps and
//! templates are passed in by [`crate::alien_cards`].

pub mod cache_control;
pub mod device_assets;
pub mod error_pages;
pub mod experiment;
pub mod like_api;
pub mod normalize;
pub mod pages;
pub mod pretty_urls;
pub mod redirects;
pub mod render;
pub mod security_headers;

pub use cache_control::DefaultCacheControl;
pub use device_assets::DeviceAssets;
pub use error_pages::FriendlyErrors;
pub use experiment::{Experiment, Variant};
pub use like_api::LikeApi;
pub use normalize::NormalizeRequest;
pub use pages::{CardPage, CardSite, Greeting, HomePage};
pub use pretty_urls::PrettyUrls;
pub use redirects::Redirects;
pub use security_headers::SecurityHeaders;
