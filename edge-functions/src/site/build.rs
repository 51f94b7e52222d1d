//! From a declaration to a site's functions: the one path every tool and host takes, whether the
//! declaration came from its TOML file or from a package's JSON.

use std::collections::{BTreeMap, BTreeSet};

use super::declaration::{Declaration, Place, SiteError};
use super::registry::{BuildError, Registry, SiteContext, Steps};
use super::{Site, TRIGGERS};
use crate::EventType;
use crate::function::{
    EdgeFunctions, OriginRequestFunction, OriginResponseFunction, ViewerRequestFunction,
    ViewerResponseFunction,
};

/// Builds a declaration's functions with `registry`'s blocks. With `only`, just that trigger's
/// function (a package for one trigger, whose build may lack the blocks of the others); without,
/// every declared block, so that a mistake in an unused one is found too.
pub fn build(
    declaration: &Declaration,
    registry: &Registry,
    only: Option<EventType>,
) -> Result<Site, SiteError> {
    let site = site_context(declaration)?;
    let wanted = |trigger: &EventType| only.is_none_or(|t| t == *trigger);

    for (trigger, list) in &declaration.functions {
        for (index, name) in list.iter().enumerate() {
            if !declaration.blocks.contains_key(name) {
                return Err(SiteError::new(
                    Place::Listed {
                        trigger: *trigger,
                        index,
                    },
                    format!("`{trigger}` names block `{name}`, which [blocks] does not declare"),
                ));
            }
        }
    }

    // Each block is built once (a block on two triggers is one instance).
    let used: BTreeSet<&str> = declaration
        .functions
        .iter()
        .filter(|(trigger, _)| wanted(trigger))
        .flat_map(|(_, list)| list.iter().map(String::as_str))
        .collect();
    let mut built: BTreeMap<&str, (&'static str, Steps)> = BTreeMap::new();
    for (name, settings) in &declaration.blocks {
        if only.is_some() && !used.contains(name.as_str()) {
            continue;
        }
        built.insert(name, build_block(name, settings, registry, &site)?);
    }

    let mut functions = EdgeFunctions::default();
    for trigger in TRIGGERS.into_iter().filter(wanted) {
        let Some(list) = declaration.functions.get(&trigger) else {
            continue;
        };
        let mut steps = Vec::new();
        for (index, name) in list.iter().enumerate() {
            // Every listed name was checked against [blocks] and built above.
            let Some((kind, block)) = built.get(name.as_str()) else {
                continue;
            };
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
                return Err(SiteError::new(
                    Place::Listed { trigger, index },
                    format!(
                        "block `{name}` ({kind}) cannot run on {trigger}; it runs on {runs_on}"
                    ),
                ));
            }
            steps.push(block.clone());
        }
        assemble(&mut functions, trigger, steps);
    }
    Ok(Site {
        name: declaration.name.clone(),
        functions,
        tables: site
            .tables
            .iter()
            .map(|(name, spec)| (name.clone(), (**spec).clone()))
            .collect(),
    })
}

/// One named block: its kind from `block`, its steps from the rest of its settings.
fn build_block(
    name: &str,
    settings: &serde_json::Map<String, serde_json::Value>,
    registry: &Registry,
    site: &SiteContext,
) -> Result<(&'static str, Steps), SiteError> {
    let Some(kind_value) = settings.get("block") else {
        return Err(SiteError::new(
            Place::Block(name.to_owned()),
            format!(
                "block `{name}` does not say which block it is: add `block = \"<kind>\"` (see `blocks`)"
            ),
        ));
    };
    let Some(kind_name) = kind_value.as_str() else {
        return Err(SiteError::new(
            Place::BlockKind(name.to_owned()),
            "`block` is the name of a block kind",
        ));
    };
    let Some(kind) = registry.get(kind_name) else {
        return Err(SiteError::new(
            Place::BlockKind(name.to_owned()),
            format!(
                "unknown block `{kind_name}`; this build has: {}",
                registry.names().join(", ")
            ),
        ));
    };
    let mut settings = settings.clone();
    settings.remove("block");
    let steps = (kind.build)(settings, site).map_err(|e| match e {
        BuildError::Settings(message) => SiteError::new(
            Place::BlockSettings(name.to_owned()),
            format!("block `{name}` ({}): {message}", kind.name),
        ),
        BuildError::Invalid(message) => SiteError::new(
            Place::Block(name.to_owned()),
            format!("block `{name}` ({}): {message}", kind.name),
        ),
    })?;
    Ok((kind.name, steps))
}

/// What the blocks may read of the whole declaration: `[pages]` in builds with page blocks,
/// `[tables]` in builds with origin blocks (only those read items; the tools, built with every
/// block, check the whole declaration before anything is packaged).
fn site_context(declaration: &Declaration) -> Result<SiteContext, SiteError> {
    #[allow(unused_mut)]
    let mut site = SiteContext::default();
    #[cfg(feature = "pages")]
    if let Some(pages) = &declaration.pages {
        use serde::Deserialize;
        let pages = crate::blocks::pages::PageSite::deserialize(pages.clone())
            .map_err(|e| SiteError::new(Place::PagesSettings, format!("[pages]: {e}")))?;
        site.pages = Some(std::sync::Arc::new(pages));
    }
    #[cfg(feature = "origin")]
    for (name, value) in &declaration.tables {
        use serde::Deserialize;
        let spec = crate::data::TableSpec::deserialize(value.clone()).map_err(|e| {
            SiteError::new(
                Place::TableSettings(name.clone()),
                format!("[tables.{name}]: {e}"),
            )
        })?;
        spec.check().map_err(|e| {
            SiteError::new(Place::Table(name.clone()), format!("[tables.{name}]: {e}"))
        })?;
        site.tables.insert(name.clone(), std::sync::Arc::new(spec));
    }
    #[cfg(not(feature = "origin"))]
    let _ = declaration;
    Ok(site)
}

/// Builds each trigger's function on its own, for a host whose build may lack some blocks (a
/// viewer package has no page blocks): the functions it could build, and for each trigger it
/// could not, why. When none could be built, the first trigger's error.
pub fn build_each_trigger(
    declaration: &Declaration,
    registry: &Registry,
) -> Result<(EdgeFunctions, Vec<(EventType, SiteError)>), SiteError> {
    let mut functions = EdgeFunctions::default();
    let mut missing = Vec::new();
    for trigger in TRIGGERS {
        match build(declaration, registry, Some(trigger)) {
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
