//! A site declared as data: named blocks with their settings, and each trigger's function as an
//! ordered list of those names. A content engineer edits the declaration (TOML); no Rust changes.
//!
//! ```toml
//! name = "docs"
//!
//! [functions]
//! viewer-request = ["old-links", "security"]
//! origin-response = ["security"]
//!
//! [blocks.old-links]
//! block = "redirects"
//! status = 301
//! rules = [{ prefix = "/old/", to = "/docs/" }]
//!
//! [blocks.security]
//! block = "security-headers"
//! preset = "strict-same-origin"
//! ```
//!
//! A declaration with a mistake is refused when it is loaded, with `file:line` and what is wrong.
//!
//! The path: the file (`toml_file`, tools only) → a [`Declaration`] (data; what a package carries
//! as JSON) → [`build`] with a [`Registry`]'s blocks → a [`Site`] with its functions.

mod build;
pub mod declaration;
pub mod registry;
#[cfg(feature = "toml")]
mod toml_file;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::EventType;
use crate::data::{SeededTable, TableSpec};
use crate::function::EdgeFunctions;
pub use build::{build, build_each_trigger};
pub use declaration::{Declaration, Place, SiteError};
pub use registry::{
    Block, BlockKind, OPTIONAL_VIEWER_BLOCKS, Prepare, Registry, SiteContext, Steps,
};
#[cfg(feature = "toml")]
pub use toml_file::{load, load_file, load_file_prepared, read_checked, read_prepared};

/// A mistake in a declaration file: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", file.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct DeclarationError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

/// A loaded site: its name, its four functions and the tables they read.
#[derive(Clone)]
pub struct Site {
    pub name: String,
    pub functions: EdgeFunctions,
    /// By the name the declaration gives them (`[tables.<name>]`).
    pub tables: BTreeMap<String, TableSpec>,
}

impl Site {
    /// The tables with their items files, resolved against the declaration's folder.
    pub fn seeded_tables(&self, declaration: &Path) -> Vec<SeededTable> {
        let dir = declaration.parent().unwrap_or(Path::new("."));
        self.tables
            .values()
            .map(|spec| SeededTable {
                spec: spec.clone(),
                items: spec.items.as_ref().map(|file| dir.join(file)),
            })
            .collect()
    }
}

/// The triggers, in the order a declaration's functions are built.
const TRIGGERS: [EventType; 4] = [
    EventType::ViewerRequest,
    EventType::OriginRequest,
    EventType::OriginResponse,
    EventType::ViewerResponse,
];

#[cfg(all(test, feature = "toml"))]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<Site, DeclarationError> {
        load(text, Path::new("site.toml"), &Registry::builtin(), None)
    }

    /// The error for `text`, which must be refused, as `line: message`.
    fn refused(text: &str) -> (usize, String) {
        match load_text(text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => {
                assert_eq!(e.file, Path::new("site.toml"));
                (e.line.expect("the error has a line"), e.message)
            }
        }
    }

    const GOOD: &str = r#"name = "docs"

[functions]
viewer-request = ["old-links", "security"]
origin-response = ["security"]

[blocks.old-links]
block = "redirects"
status = 301
rules = [{ prefix = "/old/", to = "/docs/" }]

[blocks.security]
block = "security-headers"
preset = "strict-same-origin"
"#;

    #[test]
    fn a_good_declaration_builds_each_listed_trigger_in_order() {
        let site = load_text(GOOD).unwrap();
        assert_eq!(site.name, "docs");
        let functions = site.functions;
        let viewer_request = functions.viewer_request.as_ref().unwrap();
        assert_eq!(
            (viewer_request.steps.len(), viewer_request.finish.len()),
            (1, 1)
        );
        assert_eq!(functions.origin_response.as_ref().unwrap().steps.len(), 1);
        assert!(functions.origin_request.is_none() && functions.viewer_response.is_none());
        let mut request = crate::Request {
            uri: "/old/intro".into(),
            ..Default::default()
        };
        let crate::function::Flow::Respond(response) =
            viewer_request.run(&mut request, &Default::default())
        else {
            panic!("a redirect");
        };
        assert_eq!(response.status, "301");
        assert_eq!(response.headers.get("location"), Some("/docs/intro"));
        assert!(response.headers.contains("strict-transport-security"));
    }

    #[test]
    fn an_unknown_block_is_refused_on_its_line_with_the_known_ones() {
        let (line, message) =
            refused(&GOOD.replace("block = \"redirects\"", "block = \"redirect\""));
        assert_eq!(line, 8);
        assert!(message.contains("unknown block `redirect`"), "{message}");
        assert!(message.contains("redirects, "), "{message}");
    }

    #[test]
    fn an_unknown_setting_is_refused_on_its_line() {
        let (line, message) = refused(&GOOD.replace("status = 301", "statuss = 301"));
        assert_eq!(line, 9);
        assert!(
            message.contains("block `old-links` (redirects)") && message.contains("statuss"),
            "{message}"
        );
    }

    #[test]
    fn a_bad_value_is_refused_on_its_line() {
        let (line, message) = refused(&GOOD.replace("status = 301", "status = \"permanent\""));
        assert_eq!(line, 9);
        assert!(
            message.contains("block `old-links` (redirects)"),
            "{message}"
        );
        let (line, message) = refused(&GOOD.replace("status = 301", "status = 200"));
        assert!((7..=10).contains(&line), "line {line}");
        assert!(
            message.contains("status 200 is not a redirect"),
            "{message}"
        );
        let (line, message) = refused(&GOOD.replace("strict-same-origin\"", "lax\""));
        assert!((12..=14).contains(&line), "line {line}");
        assert!(message.contains("unknown preset `lax`"), "{message}");
    }

    #[test]
    fn a_block_on_a_trigger_where_it_cannot_run_is_refused_where_it_is_listed() {
        let (line, message) = refused(&GOOD.replace(
            "origin-response = [\"security\"]",
            "origin-response = [\"security\", \"old-links\"]",
        ));
        assert_eq!(line, 5);
        assert!(
            message.contains("block `old-links` (redirects) cannot run on origin-response")
                && message.contains("it runs on viewer-request"),
            "{message}"
        );
    }

    #[test]
    fn names_triggers_and_sections_that_do_not_exist_are_refused() {
        let (line, message) = refused(&GOOD.replace("[\"old-links\", ", "[\"old-link\", "));
        assert_eq!(line, 4);
        assert!(message.contains("names block `old-link`"), "{message}");
        let (line, message) = refused(&GOOD.replace("origin-response =", "origin-responce ="));
        assert_eq!(line, 5);
        assert!(
            message.contains("unknown trigger `origin-responce`"),
            "{message}"
        );
        let (line, message) = refused(&format!("{GOOD}\n[extra]\nx = 1\n"));
        assert_eq!(line, 16);
        assert!(message.contains("unknown key `extra`"), "{message}");
        let (line, message) = refused(&GOOD.replace("block = \"redirects\"\n", ""));
        assert!((7..=10).contains(&line), "line {line}");
        assert!(message.contains("does not say which block"), "{message}");
    }

    #[test]
    fn broken_toml_is_refused_on_its_line() {
        let (line, message) = refused(&GOOD.replace("status = 301", "status = "));
        assert_eq!(line, 9);
        assert!(!message.is_empty());
    }

    #[cfg(feature = "pages")]
    #[test]
    fn a_page_block_without_pages_is_refused() {
        let text = GOOD.replace(
            "[blocks.old-links]",
            "[blocks.home]\nblock = \"page\"\nroutes = [\"/\"]\ntemplate = \"home.html\"\ncache_control = \"no-cache\"\n\n[blocks.old-links]",
        );
        let (line, message) = refused(&text);
        assert!((7..=12).contains(&line), "line {line}");
        assert!(message.contains("[pages]"), "{message}");
    }

    #[cfg(feature = "pages")]
    const WITH_TABLE: &str = r#"[functions]
origin-request = ["views"]

[tables.articles]
table_name = "articles"
key = "Slug"
counters = ["Views"]

[blocks.views]
block = "counter-api"
path = "/api/view"
parameter = "slug"
table = "articles"
attribute = "Views"
"#;

    #[cfg(feature = "pages")]
    #[test]
    fn table_mistakes_are_refused_on_their_line() {
        assert!(load_text(WITH_TABLE).is_ok());
        let (line, message) =
            refused(&WITH_TABLE.replace("table = \"articles\"", "table = \"article\""));
        assert!((9..=15).contains(&line), "line {line}");
        assert!(
            message.contains("table `article` is not declared; [tables] has `articles`"),
            "{message}"
        );
        let (line, message) =
            refused(&WITH_TABLE.replace("attribute = \"Views\"", "attribute = \"Likes\""));
        assert!((9..=15).contains(&line), "line {line}");
        assert!(
            message.contains("`attribute` Likes is not one of table `articles`'s counters (Views)"),
            "{message}"
        );
        let (line, message) = refused(&WITH_TABLE.replace("key = \"Slug\"", "kee = \"Slug\""));
        assert_eq!(line, 6);
        assert!(
            message.contains("[tables.articles]") && message.contains("kee"),
            "{message}"
        );
        let (line, message) =
            refused(&WITH_TABLE.replace("table_name = \"articles\"", "table_name = \"a b\""));
        assert!((4..=7).contains(&line), "line {line}");
        assert!(
            message.contains("is not a DynamoDB table name"),
            "{message}"
        );
        let (line, message) = refused(&WITH_TABLE.replace(
            "counters = [\"Views\"]",
            "counters = [\"Views\"]\nkey_shape = { also = \"<\" }",
        ));
        assert!((4..=8).contains(&line), "line {line}");
        assert!(
            message.contains("key_shape.also may not hold '<'"),
            "{message}"
        );
    }

    /// Each block's example loads, and runs on exactly the triggers its reference says.
    #[test]
    fn every_example_builds_and_runs_where_its_reference_says() {
        let registry = Registry::builtin();
        #[cfg(feature = "pages")]
        let pages = r#"
[pages]
site_name = "Example"
layout_template = "base.html"
error_template = "error.html"
default_language = "en"
errors = { not_found = { title = "Not found", message = "No such page." }, unavailable = { title = "Down", message = "Try again." } }

[tables.articles]
table_name = "articles"
key = "Slug"
counters = ["Views"]
"#;
        #[cfg(not(feature = "pages"))]
        let pages = "";
        assert!(registry.kinds().count() >= 5);
        for kind in registry.kinds() {
            for trigger in TRIGGERS {
                let text = format!(
                    "[functions]\n{trigger} = [\"example\"]\n{pages}\n[blocks.example]\nblock = \"{}\"\n{}\n",
                    kind.name, kind.example
                );
                let loaded = load_text(&text);
                assert_eq!(
                    loaded.is_ok(),
                    kind.runs_on.contains(&trigger),
                    "{} on {trigger}: {:?}",
                    kind.name,
                    loaded.err()
                );
            }
            assert!(!kind.settings().is_empty(), "{} has settings", kind.name);
            assert!(!kind.summary.is_empty());
        }
    }
}
