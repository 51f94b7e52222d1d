//! The declaration file a content engineer writes (TOML): read into a [`Declaration`], built, and
//! every mistake reported at its `file:line`. Only the tools read TOML; a package carries the
//! checked declaration as JSON.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::declaration::{Declaration, Place, SiteError};
use super::{DeclarationError, Prepare, Registry, Site, build};
use crate::EventType;

/// Reads and loads a declaration file.
pub fn load_file(
    path: &Path,
    registry: &Registry,
    only: Option<EventType>,
) -> Result<Site, DeclarationError> {
    load(&read_text(path)?, path, registry, only)
}

/// Reads a declaration file, lets its blocks complete their settings (`Block::prepare`: a
/// sign-in block's keys and secret) and loads it: what `serve` and `invoke` run.
pub fn load_file_prepared(
    path: &Path,
    registry: &Registry,
    with: &dyn Prepare,
) -> Result<Site, DeclarationError> {
    let text = read_text(path)?;
    let mut read = read(&text, path)?;
    prepare(&mut read, registry, with)?;
    build(&read.declaration, registry, None).map_err(|e| read.locate(e, registry))
}

/// Reads a declaration file and checks all of it (every block built, as `load_file` does):
/// the declaration `check` reads.
pub fn read_checked(path: &Path, registry: &Registry) -> Result<Declaration, DeclarationError> {
    let text = read_text(path)?;
    let read = read(&text, path)?;
    build(&read.declaration, registry, None).map_err(|e| read.locate(e, registry))?;
    Ok(read.declaration)
}

/// Like [`read_checked`], with the blocks' settings completed (`Block::prepare`): the
/// declaration a package carries.
pub fn read_prepared(
    path: &Path,
    registry: &Registry,
    with: &dyn Prepare,
) -> Result<Declaration, DeclarationError> {
    let text = read_text(path)?;
    let mut read = read(&text, path)?;
    prepare(&mut read, registry, with)?;
    build(&read.declaration, registry, None).map_err(|e| read.locate(e, registry))?;
    Ok(read.declaration)
}

fn prepare(
    read: &mut Read<'_>,
    registry: &Registry,
    with: &dyn Prepare,
) -> Result<(), DeclarationError> {
    let mut declaration = std::mem::take(&mut read.declaration);
    let prepared = declaration.prepare(registry, with);
    read.declaration = declaration;
    prepared.map_err(|e| read.locate(e, registry))
}

/// Loads a declaration. With `only`, just that trigger's function is built (a package for one
/// trigger, whose build may lack the blocks of the others); the rest of the file is still parsed.
pub fn load(
    text: &str,
    file: &Path,
    registry: &Registry,
    only: Option<EventType>,
) -> Result<Site, DeclarationError> {
    let read = read(text, file)?;
    build(&read.declaration, registry, only).map_err(|e| read.locate(e, registry))
}

fn read_text(path: &Path) -> Result<String, DeclarationError> {
    std::fs::read_to_string(path).map_err(|e| DeclarationError {
        file: path.to_owned(),
        line: None,
        message: format!("cannot read the site declaration: {e}"),
    })
}

/// A declaration read from its file, with where each part of it is.
struct Read<'t> {
    text: &'t str,
    file: &'t Path,
    declaration: Declaration,
    listed: BTreeMap<EventType, Vec<Range<usize>>>,
    blocks: BTreeMap<String, BlockAt<'t>>,
    pages: Option<Spanned<DeValue<'t>>>,
    tables: BTreeMap<String, Spanned<DeValue<'t>>>,
}

/// Where a block is: its table, its `block = ` value, and its settings (without `block`), kept
/// to find the line of a value that does not have the block's shape.
struct BlockAt<'t> {
    table: Range<usize>,
    kind: Option<Range<usize>>,
    settings: Spanned<DeValue<'t>>,
}

impl Read<'_> {
    fn error(&self, span: Option<Range<usize>>, message: String) -> DeclarationError {
        DeclarationError {
            file: self.file.to_owned(),
            line: span.map(|s| line_of(self.text, s.start)),
            message,
        }
    }

    /// The line of a mistake the build found.
    fn locate(&self, error: SiteError, registry: &Registry) -> DeclarationError {
        let block = |name: &str| self.blocks.get(name);
        let span = match &error.place {
            Place::Listed { trigger, index } => self
                .listed
                .get(trigger)
                .and_then(|spans| spans.get(*index))
                .cloned(),
            Place::Block(name) => block(name).map(|b| b.table.clone()),
            Place::BlockKind(name) => {
                block(name).map(|b| b.kind.clone().unwrap_or(b.table.clone()))
            }
            Place::BlockSettings(name) => {
                // The same settings through TOML's deserializer, which knows where each value is.
                let found = block(name).and_then(|at| {
                    let kind = self
                        .declaration
                        .blocks
                        .get(name)?
                        .get("block")
                        .and_then(|k| k.as_str())
                        .and_then(|k| registry.get(k))?;
                    let toml_error = (kind.locate)(ValueDeserializer::from(at.settings.clone()))?;
                    Some(self.error(
                        toml_error.span().or(Some(at.table.clone())),
                        format!("block `{name}` ({}): {}", kind.name, toml_error.message()),
                    ))
                });
                if let Some(found) = found {
                    return found;
                }
                block(name).map(|b| b.table.clone())
            }
            Place::PagesSettings => {
                #[cfg(feature = "pages")]
                if let Some(pages) = &self.pages
                    && let Err(e) = crate::blocks::pages::PageSite::deserialize(
                        ValueDeserializer::from(pages.clone()),
                    )
                {
                    return self.error(
                        e.span().or(Some(pages.span())),
                        format!("[pages]: {}", e.message()),
                    );
                }
                self.pages.as_ref().map(|p| p.span())
            }
            Place::Table(name) => self.tables.get(name).map(|t| t.span()),
            Place::TableSettings(name) => {
                #[cfg(feature = "origin")]
                if let Some(table) = self.tables.get(name)
                    && let Err(e) =
                        crate::data::TableSpec::deserialize(ValueDeserializer::from(table.clone()))
                {
                    return self.error(
                        e.span().or(Some(table.span())),
                        format!("[tables.{name}]: {}", e.message()),
                    );
                }
                self.tables.get(name).map(|t| t.span())
            }
        };
        self.error(span, error.message)
    }
}

/// A TOML value as the JSON value the declaration keeps.
fn json(value: &Spanned<DeValue<'_>>) -> serde_json::Value {
    // Every TOML value has a JSON form (a date becomes toml's own tagged map, which a block
    // refuses with its own message); NaN and infinities become null.
    serde_json::Value::deserialize(ValueDeserializer::from(value.clone()))
        .unwrap_or(serde_json::Value::Null)
}

/// Parses the file and checks its shape: the sections, the triggers, lists of names, blocks
/// that are tables. What the blocks say is checked when the declaration is built.
fn read<'t>(text: &'t str, file: &'t Path) -> Result<Read<'t>, DeclarationError> {
    let mut read = Read {
        text,
        file,
        declaration: Declaration::default(),
        listed: BTreeMap::new(),
        blocks: BTreeMap::new(),
        pages: None,
        tables: BTreeMap::new(),
    };
    let document = DeTable::parse(text)
        .map_err(|e| read.error(e.span(), e.message().to_owned()))?
        .into_inner();

    let mut name = None;
    let mut functions = None;
    let mut blocks = None;
    let mut tables = None;
    for (key, value) in document {
        match key.get_ref().as_ref() {
            "name" => match value.get_ref() {
                DeValue::String(s) => name = Some(s.to_string()),
                _ => return Err(read.error(Some(value.span()), "`name` is a string".into())),
            },
            "functions" => functions = Some(value),
            "pages" => read.pages = Some(value),
            "tables" => tables = Some(value),
            "blocks" => blocks = Some(value),
            other => {
                return Err(read.error(
                    Some(key.span()),
                    format!(
                        "unknown key `{other}`: a declaration has `name`, [functions], [pages], \
                         [tables] and [blocks]"
                    ),
                ));
            }
        }
    }
    read.declaration.name = name.unwrap_or_else(|| {
        file.file_stem()
            .map(|s| s.to_string_lossy().trim_end_matches(".site").to_owned())
            .unwrap_or_default()
    });
    read.declaration.pages = read.pages.as_ref().map(json);

    if let Some(tables) = tables {
        let span = tables.span();
        let DeValue::Table(table) = tables.into_inner() else {
            return Err(read.error(Some(span), "[tables] is a table of named tables".into()));
        };
        for (key, value) in table {
            let name = key.get_ref().to_string();
            read.declaration.tables.insert(name.clone(), json(&value));
            read.tables.insert(name, value);
        }
    }

    if let Some(blocks) = blocks {
        let span = blocks.span();
        let DeValue::Table(table) = blocks.into_inner() else {
            return Err(read.error(Some(span), "[blocks] is a table of named blocks".into()));
        };
        for (key, value) in table {
            let span = value.span();
            let name = key.get_ref().to_string();
            let DeValue::Table(mut settings) = value.into_inner() else {
                return Err(read.error(
                    Some(span),
                    format!("block `{name}` is a table: [blocks.{name}]"),
                ));
            };
            let kind = settings.remove("block");
            let mut map = serde_json::Map::new();
            if let Some(kind) = &kind {
                map.insert("block".into(), json(kind));
            }
            for (key, value) in settings.iter() {
                map.insert(key.get_ref().to_string(), json(value));
            }
            read.declaration.blocks.insert(name.clone(), map);
            let settings = Spanned::new(span.clone(), DeValue::Table(settings));
            let kind = kind.map(|k| k.span());
            read.blocks.insert(
                name,
                BlockAt {
                    table: span,
                    kind,
                    settings,
                },
            );
        }
    }

    let Some(functions) = functions else {
        return Err(read.error(
            None,
            "the declaration has no [functions]: list each trigger's blocks, such as \
             `viewer-request = [\"redirects\"]`"
                .into(),
        ));
    };
    let span = functions.span();
    let DeValue::Table(table) = functions.into_inner() else {
        return Err(read.error(
            Some(span),
            "[functions] is a table of trigger = [block names]".into(),
        ));
    };
    for (key, value) in table {
        let trigger: EventType = key.get_ref().parse().map_err(|_| {
            read.error(
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
            return Err(read.error(Some(span), format!("`{trigger}` is a list of block names")));
        };
        let mut list = Vec::new();
        let mut spans = Vec::new();
        for name in names.iter() {
            let DeValue::String(s) = name.get_ref() else {
                return Err(read.error(
                    Some(name.span()),
                    format!("`{trigger}` lists block names (strings)"),
                ));
            };
            list.push(s.to_string());
            spans.push(name.span());
        }
        read.listed.insert(trigger, spans);
        read.declaration.functions.insert(trigger, list);
    }
    Ok(read)
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}
