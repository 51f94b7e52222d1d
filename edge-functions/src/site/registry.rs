//! The blocks a site declaration may name: each kind's name, what it does, where it runs, its
//! settings and an example, and how to build its steps from the settings.
//!
//! The library's own blocks are in [`Registry::builtin`]; a team adds its own with
//! [`Registry::register`], from its own crate, and hands the registry to the tools and hosts.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::EventType;
use crate::function::{
    GeneratedResponseStep, OriginRequestStep, OriginResponseStep, ViewerRequestStep,
    ViewerResponseStep,
};

/// The viewer blocks a viewer module carries only when a site's viewer functions use them, each
/// behind the feature `block-<name>`: `edgekit package` turns on those the declarations use, so
/// a site pays in zip size and cold start only for its own (the tools, origin modules and the
/// `all-blocks` feature have them all).
pub const OPTIONAL_VIEWER_BLOCKS: &[&str] = &[
    "canonical-host",
    "trailing-slash",
    "single-page-app",
    "cors",
    "maintenance",
    "hotlink-protection",
    "origin-router",
    "basic-auth",
    "language-redirect",
    "sign-in",
];

/// What a block adds to each trigger's function it can run in.
#[derive(Default, Clone)]
pub struct Steps {
    pub viewer_request: Option<Arc<dyn ViewerRequestStep>>,
    pub origin_request: Option<Arc<dyn OriginRequestStep>>,
    pub origin_response: Option<Arc<dyn OriginResponseStep>>,
    pub viewer_response: Option<Arc<dyn ViewerResponseStep>>,
    /// Finishes every response a viewer-request or origin-request function generates itself
    /// (those skip origin-response, so headers every response needs are added here).
    pub finish: Option<Arc<dyn GeneratedResponseStep>>,
}

impl Steps {
    /// Whether the block does something in the trigger's function.
    pub fn runs_on(&self, trigger: EventType) -> bool {
        match trigger {
            EventType::ViewerRequest => self.viewer_request.is_some() || self.finish.is_some(),
            EventType::OriginRequest => self.origin_request.is_some() || self.finish.is_some(),
            EventType::OriginResponse => self.origin_response.is_some(),
            EventType::ViewerResponse => self.viewer_response.is_some(),
        }
    }
}

/// What a block's build may use of the whole declaration.
#[derive(Debug, Clone, Default)]
pub struct SiteContext {
    /// The declaration's `[pages]` section: what every generated page shares.
    #[cfg(feature = "pages")]
    pub pages: Option<Arc<crate::blocks::pages::PageSite>>,
    /// The declaration's `[tables]`, by name.
    pub tables: BTreeMap<String, Arc<crate::data::TableSpec>>,
}

impl SiteContext {
    /// A table the declaration's `[tables]` names (what a block that reads items asks for).
    pub fn table(&self, name: &str) -> Result<Arc<crate::data::TableSpec>, String> {
        self.tables.get(name).cloned().ok_or_else(|| {
            if self.tables.is_empty() {
                format!("table `{name}` is not declared: add [tables.{name}] with its table_name and key")
            } else {
                format!(
                    "table `{name}` is not declared; [tables] has {}",
                    self.tables.keys().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ")
                )
            }
        })
    }

    /// The `[pages]` section, which every block that renders a page needs.
    #[cfg(feature = "pages")]
    pub fn pages(&self) -> Result<Arc<crate::blocks::pages::PageSite>, String> {
        self.pages.clone().ok_or_else(|| {
            "this block renders pages: the declaration needs a [pages] section (site name, \
             layout and error templates, error texts)"
                .to_owned()
        })
    }
}

/// A block a declaration can name. Its settings are the type itself (serde, with
/// `deny_unknown_fields` so a misspelt setting is refused); `build` turns them into steps.
pub trait Block: DeserializeOwned + 'static {
    /// The name a declaration gives in `block = "..."`.
    const NAME: &'static str;
    /// What it does, for the block reference.
    const SUMMARY: &'static str;
    /// The triggers it can run on (a test checks that its example builds exactly these), and
    /// where it is cheapest.
    const RUNS_ON: &'static [EventType];
    /// Its settings in a declaration, as the body of a `[blocks.<name>]` table (a test loads it).
    const EXAMPLE: &'static str;

    fn build(self, site: &SiteContext) -> Result<Steps, String>;

    /// Completes the settings where `serve` and `package` must (a user pool's keys fetched, a
    /// signing secret generated), before the declaration is built or packed. Most blocks have
    /// nothing to do.
    fn prepare(
        settings: &mut serde_json::Map<String, serde_json::Value>,
        with: &dyn Prepare,
    ) -> Result<(), String> {
        let _ = (settings, with);
        Ok(())
    }
}

/// What `serve`, `invoke` and `package` give a block's [`Block::prepare`]: the network and
/// randomness, which a block's build never uses itself.
pub trait Prepare {
    /// The body of a GET of `url` (a user pool's JWKS); `Ok(None)` when it cannot be had and the
    /// caller goes on without it (`serve`, which warns), an error when it must have it
    /// (`package`).
    fn fetch(&self, url: &str) -> Result<Option<String>, String>;
    /// A new random secret of 32 bytes, base64url.
    fn secret(&self) -> Result<String, String>;
    /// A variable of the tool's environment (where an app client's secret is given to
    /// `package`, never in a declaration).
    fn environment(&self, name: &str) -> Option<String>;
}

/// Completes a block's settings (without `block`).
#[cfg(feature = "toml")]
pub(crate) type PrepareFn =
    fn(&mut serde_json::Map<String, serde_json::Value>, &dyn Prepare) -> Result<(), String>;

/// Why a block's settings were refused.
pub(crate) enum BuildError {
    /// The settings do not have the block's shape.
    Settings(String),
    /// They have its shape, but a value is wrong.
    Invalid(String),
}

/// Builds a block's steps from its settings (without `block`).
type BuildFn =
    fn(serde_json::Map<String, serde_json::Value>, &SiteContext) -> Result<Steps, BuildError>;

/// Reads a block's settings again from the TOML file, for the line of a value that does not
/// have the block's shape.
#[cfg(feature = "toml")]
pub(crate) type LocateFn = for<'i> fn(toml::de::ValueDeserializer<'i>) -> Option<toml::de::Error>;

/// One kind of block, as the registry knows it.
pub struct BlockKind {
    pub name: &'static str,
    pub summary: &'static str,
    pub runs_on: &'static [EventType],
    pub example: &'static str,
    settings: fn() -> Vec<&'static str>,
    pub(crate) build: BuildFn,
    /// The tools only: a package's host never prepares (its settings were, when packed).
    #[cfg(feature = "toml")]
    pub(crate) prepare: PrepareFn,
    #[cfg(feature = "toml")]
    pub(crate) locate: LocateFn,
}

impl BlockKind {
    /// The names of its settings, read from its settings type.
    pub fn settings(&self) -> Vec<&'static str> {
        (self.settings)()
    }
}

fn build<B: Block>(
    settings: serde_json::Map<String, serde_json::Value>,
    site: &SiteContext,
) -> Result<Steps, BuildError> {
    let block = B::deserialize(serde_json::Value::Object(settings))
        .map_err(|e| BuildError::Settings(e.to_string()))?;
    block.build(site).map_err(BuildError::Invalid)
}

#[cfg(feature = "toml")]
fn locate<B: Block>(settings: toml::de::ValueDeserializer<'_>) -> Option<toml::de::Error> {
    B::deserialize(settings).err()
}

/// The blocks a declaration may name, by name.
#[derive(Default)]
pub struct Registry {
    kinds: BTreeMap<&'static str, BlockKind>,
}

impl Registry {
    /// A registry with no blocks.
    pub fn empty() -> Registry {
        Registry::default()
    }

    /// The library's blocks: those that run on origin triggers only in builds with the `origin`
    /// feature, and the page blocks only with `pages` (a viewer package has neither).
    pub fn builtin() -> Registry {
        use crate::blocks::*;
        let registry = Registry::empty()
            .register::<NormalizeRequest>()
            .register::<Redirects>()
            .register::<PrettyUrls>()
            .register::<Experiment>()
            .register::<security_headers::SecurityHeadersSettings>();
        #[cfg(feature = "block-canonical-host")]
        let registry = registry.register::<CanonicalHost>();
        #[cfg(feature = "block-trailing-slash")]
        let registry = registry.register::<TrailingSlash>();
        #[cfg(feature = "block-single-page-app")]
        let registry = registry.register::<SinglePageApp>();
        #[cfg(feature = "block-cors")]
        let registry = registry.register::<Cors>();
        #[cfg(feature = "block-maintenance")]
        let registry = registry.register::<Maintenance>();
        #[cfg(feature = "block-hotlink-protection")]
        let registry = registry.register::<HotlinkProtection>();
        #[cfg(feature = "block-origin-router")]
        let registry = registry.register::<OriginRouter>();
        #[cfg(feature = "block-basic-auth")]
        let registry = registry.register::<BasicAuthSettings>();
        #[cfg(feature = "block-language-redirect")]
        let registry = registry.register::<LanguageRedirect>();
        #[cfg(feature = "block-sign-in")]
        let registry = registry.register::<sign_in::SignInSettings>();
        #[cfg(feature = "origin")]
        let registry = registry
            .register::<DefaultCacheControl>()
            .register::<DeviceAssets>()
            .register::<CountryRedirect>()
            .register::<GeoAccess>()
            .register::<RequestHeaders>()
            .register::<ErrorStatus>()
            .register::<ResponseHeaders>();
        #[cfg(feature = "pages")]
        let registry = registry
            .register::<pages::PageSettings>()
            .register::<counter_api::CounterApiSettings>()
            .register::<error_pages::FriendlyErrorsSettings>();
        registry
    }

    /// Adds a block kind. Two kinds with one name are a programming error: it panics, naming
    /// the name, when the registry is built (never on a declaration).
    pub fn register<B: Block>(mut self) -> Registry {
        let kind = BlockKind {
            name: B::NAME,
            summary: B::SUMMARY,
            runs_on: B::RUNS_ON,
            example: B::EXAMPLE,
            settings: field_names::<B>,
            build: build::<B>,
            #[cfg(feature = "toml")]
            prepare: B::prepare,
            #[cfg(feature = "toml")]
            locate: locate::<B>,
        };
        if self.kinds.insert(B::NAME, kind).is_some() {
            panic!("two blocks are registered as `{}`", B::NAME);
        }
        self
    }

    pub fn get(&self, name: &str) -> Option<&BlockKind> {
        self.kinds.get(name)
    }

    /// Every kind, by name.
    pub fn kinds(&self) -> impl Iterator<Item = &BlockKind> {
        self.kinds.values()
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.kinds.keys().copied().collect()
    }
}

/// The field names of a settings type, as its `Deserialize` impl gives them to the deserializer.
fn field_names<B: DeserializeOwned>() -> Vec<&'static str> {
    let mut names = Vec::new();
    let _ = B::deserialize(FieldNames(&mut names));
    names
}

/// A deserializer that records the fields a struct asks for, then stops.
struct FieldNames<'a>(&'a mut Vec<&'static str>);

#[derive(Debug)]
struct Stop;

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("field names read")
    }
}

impl std::error::Error for Stop {}

impl serde::de::Error for Stop {
    fn custom<T: std::fmt::Display>(_msg: T) -> Self {
        Stop
    }
}

impl<'de> serde::Deserializer<'de> for FieldNames<'_> {
    type Error = Stop;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Stop> {
        self.0.extend_from_slice(fields);
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}
