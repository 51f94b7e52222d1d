//! A site declaration as data: what the declaration file says, with no positions in it.
//!
//! The tools read it from the TOML a content engineer writes (`toml_file`, which knows the lines);
//! a package carries it as JSON (`site.json`), checked whole when it was packaged, so the hosts
//! at the edge read it with the JSON parser they already have and no TOML parser.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::EventType;

/// The declaration's sections. The JSON form has the TOML file's shape: the same keys, each
/// block a map of its settings with `block` naming its kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Declaration {
    /// The site's name (the file's, without `.site.toml`, when the file gives none).
    pub name: String,
    /// Each trigger's blocks, by name, in the order they run.
    pub functions: BTreeMap<EventType, Vec<String>>,
    /// The named blocks: `block` (the kind) and its settings.
    #[serde(default)]
    pub blocks: BTreeMap<String, Map<String, Value>>,
    /// `[pages]`: what every generated page shares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<Value>,
    /// `[tables]`: each table's DynamoDB name, key, key shape and counters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tables: BTreeMap<String, Value>,
}

/// The file name of the JSON form in a package.
pub const PACKAGED_FILE: &str = "site.json";

impl Declaration {
    #[cfg(feature = "toml")]
    /// Lets each block complete its settings as `serve`, `invoke` and `package` must (a sign-in
    /// block's user pool keys and signing secret): what it writes is then built, and packed.
    pub fn prepare(
        &mut self,
        registry: &super::Registry,
        with: &dyn super::Prepare,
    ) -> Result<(), SiteError> {
        for (name, settings) in &mut self.blocks {
            let Some(kind) = settings
                .get("block")
                .and_then(Value::as_str)
                .and_then(|k| registry.get(k))
            else {
                // An unknown kind is refused, with its line, when the declaration is built.
                continue;
            };
            let kind_value = settings.remove("block");
            let prepared = (kind.prepare)(settings, with);
            if let Some(kind_value) = kind_value {
                settings.insert("block".into(), kind_value);
            }
            prepared.map_err(|e| SiteError::new(Place::Block(name.clone()), e))?;
        }
        Ok(())
    }

    /// The JSON form a package carries.
    pub fn to_json(&self) -> String {
        // A map of strings, lists and JSON values: serializing it cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// Where in a declaration a mistake is: `toml_file` turns it into a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// The `index`th name in a trigger's list.
    Listed {
        trigger: EventType,
        index: usize,
    },
    /// A block's table.
    Block(String),
    /// A block's `block = "<kind>"`.
    BlockKind(String),
    /// A block's settings do not have its kind's shape (a serde error: the TOML reader finds
    /// the offending value by reading them again).
    BlockSettings(String),
    /// `[pages]` does not have its shape.
    PagesSettings,
    /// A table in `[tables]`, and its settings' shape.
    Table(String),
    TableSettings(String),
}

/// A declaration that cannot be built: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteError {
    pub place: Place,
    pub message: String,
}

impl SiteError {
    pub(crate) fn new(place: Place, message: impl Into<String>) -> SiteError {
        SiteError {
            place,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for SiteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SiteError {}
