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

pub mod registry;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use crate::EventType;
use crate::data::{SeededTable, TableSpec};
use crate::function::{
    EdgeFunctions, OriginRequestFunction, OriginResponseFunction, ViewerRequestFunction,
    ViewerResponseFunction,
};
use registry::BuildError;
pub use registry::{Block, BlockKind, Registry, SiteContext, Steps};

/// A mistake in a declaration: where, and what.
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

/// The triggers, as a declaration's `[functions]` names them.
const TRIGGERS: [EventType; 4] = [
    EventType::ViewerRequest,
    EventType::OriginRequest,
    EventType::OriginResponse,
    EventType::ViewerResponse,
];

/// Reads and loads a declaration file.
pub fn load_file(
    path: &Path,
    registry: &Registry,
    only: Option<EventType>,
) -> Result<Site, DeclarationError> {
    let text = std::fs::read_to_string(path).map_err(|e| DeclarationError {
        file: path.to_owned(),
        line: None,
        message: format!("cannot read the site declaration: {e}"),
    })?;
    load(&text, path, registry, only)
}

/// Loads a declaration. With `only`, just that trigger's function is built (a package for one
/// trigger, whose build may lack the blocks of the others); the rest of the file is still parsed.
pub fn load(
    text: &str,
    file: &Path,
    registry: &Registry,
    only: Option<EventType>,
) -> Result<Site, DeclarationError> {
    let at = |span: Option<std::ops::Range<usize>>, message: String| DeclarationError {
        file: file.to_owned(),
        line: span.map(|s| line_of(text, s.start)),
        message,
    };
    let document = DeTable::parse(text).map_err(|e| at(e.span(), e.message().to_owned()))?;
    let document = document.into_inner();

    let mut name = None;
    let mut functions = None;
    let mut pages = None;
    let mut tables = None;
    let mut blocks = None;
    for (key, value) in document {
        match key.get_ref().as_ref() {
            "name" => match value.get_ref() {
                DeValue::String(s) => name = Some(s.to_string()),
                _ => return Err(at(Some(value.span()), "`name` is a string".into())),
            },
            "functions" => functions = Some(value),
            "pages" => pages = Some(value),
            "tables" => tables = Some(value),
            "blocks" => blocks = Some(value),
            other => {
                return Err(at(
                    Some(key.span()),
                    format!(
                        "unknown key `{other}`: a declaration has `name`, [functions], [pages], \
                         [tables] and [blocks]"
                    ),
                ));
            }
        }
    }

    // Only origin blocks read items: a viewer build skips [tables] (the tools, built with every
    // block, check the whole declaration before anything is packaged).
    #[cfg(feature = "origin")]
    let site = SiteContext {
        tables: read_tables(tables, &at)?,
        ..site_context(pages, &at)?
    };
    #[cfg(not(feature = "origin"))]
    let site = {
        let _ = tables;
        site_context(pages, &at)?
    };

    // The named blocks, parsed but not yet built.
    let mut declared: BTreeMap<String, (std::ops::Range<usize>, DeTable<'_>)> = BTreeMap::new();
    if let Some(blocks) = blocks {
        let span = blocks.span();
        let DeValue::Table(table) = blocks.into_inner() else {
            return Err(at(Some(span), "[blocks] is a table of named blocks".into()));
        };
        for (key, value) in table {
            let span = value.span();
            let DeValue::Table(settings) = value.into_inner() else {
                return Err(at(
                    Some(span),
                    format!(
                        "block `{}` is a table: [blocks.{}]",
                        key.get_ref(),
                        key.get_ref()
                    ),
                ));
            };
            declared.insert(key.get_ref().to_string(), (span, settings));
        }
    }

    // Each trigger's list of block names, in order.
    let mut lists: BTreeMap<EventType, Vec<Spanned<String>>> = BTreeMap::new();
    let Some(functions) = functions else {
        return Err(at(
            None,
            "the declaration has no [functions]: list each trigger's blocks, such as \
             `viewer-request = [\"redirects\"]`"
                .into(),
        ));
    };
    let span = functions.span();
    let DeValue::Table(table) = functions.into_inner() else {
        return Err(at(
            Some(span),
            "[functions] is a table of trigger = [block names]".into(),
        ));
    };
    for (key, value) in table {
        let trigger: EventType = key.get_ref().parse().map_err(|_| {
            at(
                Some(key.span()),
                format!(
                    "unknown trigger `{}`: the triggers are viewer-request, origin-request, \
                     origin-response and viewer-response",
                    key.get_ref()
                ),
            )
        })?;
        let span = value.span();
        let DeValue::Array(names) = value.into_inner() else {
            return Err(at(
                Some(span),
                format!("`{trigger}` is a list of block names"),
            ));
        };
        let mut list = Vec::new();
        for name in names.iter() {
            let DeValue::String(s) = name.get_ref() else {
                return Err(at(
                    Some(name.span()),
                    format!("`{trigger}` lists block names (strings)"),
                ));
            };
            if !declared.contains_key(s.as_ref()) {
                return Err(at(
                    Some(name.span()),
                    format!("`{trigger}` names block `{s}`, which [blocks] does not declare"),
                ));
            }
            list.push(Spanned::new(name.span(), s.to_string()));
        }
        lists.insert(trigger, list);
    }

    // Build each block once (a block on two triggers is one instance), every declared block when
    // loading the whole site, so that a mistake in an unused one is found too.
    let wanted = |trigger: &EventType| only.is_none_or(|t| t == *trigger);
    let used: std::collections::BTreeSet<&str> = lists
        .iter()
        .filter(|(trigger, _)| wanted(trigger))
        .flat_map(|(_, list)| list.iter().map(|n| n.get_ref().as_str()))
        .collect();
    let mut built: BTreeMap<String, (&'static str, Steps)> = BTreeMap::new();
    for (name, (span, mut settings)) in declared {
        if only.is_some() && !used.contains(name.as_str()) {
            continue;
        }
        let Some(kind_value) = settings.remove("block") else {
            return Err(at(
                Some(span),
                format!(
                    "block `{name}` does not say which block it is: add `block = \"<kind>\"` (see `blocks`)"
                ),
            ));
        };
        let DeValue::String(kind_name) = kind_value.get_ref() else {
            return Err(at(
                Some(kind_value.span()),
                "`block` is the name of a block kind".into(),
            ));
        };
        let Some(kind) = registry.get(kind_name) else {
            return Err(at(
                Some(kind_value.span()),
                format!(
                    "unknown block `{kind_name}`; this build has: {}",
                    registry.names().join(", ")
                ),
            ));
        };
        let deserializer =
            ValueDeserializer::from(Spanned::new(span.clone(), DeValue::Table(settings)));
        let steps = (kind.build)(deserializer, &site).map_err(|e| match e {
            BuildError::Settings(e) => at(
                e.span().or(Some(span.clone())),
                format!("block `{name}` ({}): {}", kind.name, e.message()),
            ),
            BuildError::Invalid(message) => at(
                Some(span.clone()),
                format!("block `{name}` ({}): {message}", kind.name),
            ),
        })?;
        built.insert(name, (kind.name, steps));
    }

    let mut functions = EdgeFunctions::default();
    for trigger in TRIGGERS.into_iter().filter(wanted) {
        let Some(list) = lists.get(&trigger) else {
            continue;
        };
        let mut steps = Vec::new();
        for name in list {
            let (kind, block) = &built[name.get_ref()];
            if !block.runs_on(trigger) {
                let runs_on = registry
                    .get(kind)
                    .map(|k| {
                        k.runs_on
                            .iter()
                            .map(|t| t.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                return Err(at(
                    Some(name.span()),
                    format!(
                        "block `{}` ({kind}) cannot run on {trigger}; it runs on {runs_on}",
                        name.get_ref()
                    ),
                ));
            }
            steps.push(block.clone());
        }
        assemble(&mut functions, trigger, steps);
    }
    Ok(Site {
        name: name.unwrap_or_else(|| {
            file.file_stem()
                .map(|s| s.to_string_lossy().trim_end_matches(".site").to_owned())
                .unwrap_or_default()
        }),
        functions,
        tables: site
            .tables
            .iter()
            .map(|(name, spec)| (name.clone(), (**spec).clone()))
            .collect(),
    })
}

/// The `[tables]` section: each table's DynamoDB name, key attribute, key shape and counters.
#[cfg(feature = "origin")]
fn read_tables(
    tables: Option<Spanned<DeValue<'_>>>,
    at: &impl Fn(Option<std::ops::Range<usize>>, String) -> DeclarationError,
) -> Result<BTreeMap<String, std::sync::Arc<TableSpec>>, DeclarationError> {
    use serde::Deserialize;
    let mut out = BTreeMap::new();
    let Some(tables) = tables else {
        return Ok(out);
    };
    let span = tables.span();
    let DeValue::Table(table) = tables.into_inner() else {
        return Err(at(Some(span), "[tables] is a table of named tables".into()));
    };
    for (key, value) in table {
        let span = value.span();
        let name = key.get_ref().to_string();
        let spec = TableSpec::deserialize(ValueDeserializer::from(value)).map_err(|e| {
            at(
                e.span().or(Some(span.clone())),
                format!("[tables.{name}]: {}", e.message()),
            )
        })?;
        spec.check()
            .map_err(|e| at(Some(span.clone()), format!("[tables.{name}]: {e}")))?;
        out.insert(name, std::sync::Arc::new(spec));
    }
    Ok(out)
}

/// Loads each trigger's function on its own, for a host whose build may lack some blocks (a
/// viewer package has no page blocks): the functions it could build, and for each trigger it
/// could not, why. The file is read once.
pub fn load_each_trigger(
    path: &Path,
    registry: &Registry,
) -> Result<(EdgeFunctions, Vec<(EventType, DeclarationError)>), DeclarationError> {
    let text = std::fs::read_to_string(path).map_err(|e| DeclarationError {
        file: path.to_owned(),
        line: None,
        message: format!("cannot read the site declaration: {e}"),
    })?;
    let mut functions = EdgeFunctions::default();
    let mut missing = Vec::new();
    for trigger in TRIGGERS {
        match load(&text, path, registry, Some(trigger)) {
            Ok(site) => match trigger {
                EventType::ViewerRequest => {
                    functions.viewer_request = site.functions.viewer_request
                }
                EventType::OriginRequest => {
                    functions.origin_request = site.functions.origin_request
                }
                EventType::OriginResponse => {
                    functions.origin_response = site.functions.origin_response
                }
                EventType::ViewerResponse => {
                    functions.viewer_response = site.functions.viewer_response
                }
            },
            Err(e) => missing.push((trigger, e)),
        }
    }
    if missing.len() == TRIGGERS.len() {
        // Nothing could be built: the same mistake for all, most likely; say the first.
        return Err(missing.swap_remove(0).1);
    }
    Ok((functions, missing))
}

/// Puts a trigger's blocks, in order, into its function.
fn assemble(functions: &mut EdgeFunctions, trigger: EventType, blocks: Vec<Steps>) {
    match trigger {
        EventType::ViewerRequest => {
            let mut function = ViewerRequestFunction::default();
            for block in blocks {
                function.steps.extend(block.viewer_request);
                function.finish.extend(block.finish);
            }
            functions.viewer_request = Some(function);
        }
        EventType::OriginRequest => {
            let mut function = OriginRequestFunction::default();
            for block in blocks {
                function.steps.extend(block.origin_request);
                function.finish.extend(block.finish);
            }
            functions.origin_request = Some(function);
        }
        EventType::OriginResponse => {
            let mut function = OriginResponseFunction::default();
            for block in blocks {
                function.steps.extend(block.origin_response);
            }
            functions.origin_response = Some(function);
        }
        EventType::ViewerResponse => {
            let mut function = ViewerResponseFunction::default();
            for block in blocks {
                function.steps.extend(block.viewer_response);
            }
            functions.viewer_response = Some(function);
        }
    }
}

/// The `[pages]` section, for the blocks that render pages.
#[cfg(feature = "pages")]
fn site_context(
    pages: Option<Spanned<DeValue<'_>>>,
    at: &impl Fn(Option<std::ops::Range<usize>>, String) -> DeclarationError,
) -> Result<SiteContext, DeclarationError> {
    use serde::Deserialize;
    let Some(pages) = pages else {
        return Ok(SiteContext::default());
    };
    let span = pages.span();
    let site = crate::blocks::pages::PageSite::deserialize(ValueDeserializer::from(pages))
        .map_err(|e| at(e.span().or(Some(span)), format!("[pages]: {}", e.message())))?;
    Ok(SiteContext {
        pages: Some(std::sync::Arc::new(site)),
        ..SiteContext::default()
    })
}

/// Builds without pages have no block that reads `[pages]`.
#[cfg(not(feature = "pages"))]
fn site_context(
    _pages: Option<Spanned<DeValue<'_>>>,
    _at: &impl Fn(Option<std::ops::Range<usize>>, String) -> DeclarationError,
) -> Result<SiteContext, DeclarationError> {
    Ok(SiteContext::default())
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
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
        let crate::function::Flow::Respond(response) = viewer_request.run(&mut request) else {
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
