//! Running a function in-process on an event, as Lambda@Edge would, and judging the result as
//! CloudFront would. `invoke`, the golden tests and the benches all come through here.

use crate::data::{Caller, ItemStore, Needs, Supplied, TemplateSource};
use crate::event::{Cf, EventError, EventType, FunctionResult, parse_event};
use crate::function::{EdgeFunctions, FunctionError};
use crate::rules::{self, Failure, Violation};

/// What one run produced.
#[derive(Debug)]
pub struct Invocation {
    pub trigger: EventType,
    /// The event's `cf`, as given.
    pub event: Cf,
    pub needs: Needs,
    pub result: Result<FunctionResult, FunctionError>,
    /// The rules the result breaks; empty when CloudFront would accept it.
    pub violations: Vec<Violation>,
}

impl Invocation {
    /// How CloudFront would answer the viewer, if the run failed.
    pub fn failure(&self) -> Option<Failure> {
        match &self.result {
            Err(_) => Some(Failure::LambdaExecutionError),
            Ok(_) if !self.violations.is_empty() => Some(Failure::LambdaValidationError),
            Ok(_) => None,
        }
    }
}

/// Parses `event` and checks it is one CloudFront would send to `trigger`.
pub fn read_event(trigger: EventType, event: &[u8]) -> Result<Cf, EventError> {
    let mut event = parse_event(event)?;
    let cf = event.records.swap_remove(0).cf;
    rules::check_event(trigger, &cf)?;
    Ok(cf)
}

/// What a run may draw on: the item store, the templates, and the network calls it may make.
#[derive(Clone, Copy)]
pub struct Sources<'a> {
    pub store: &'a dyn ItemStore,
    pub templates: &'a dyn TemplateSource,
    pub caller: &'a dyn Caller,
}

/// Where calls go when a run is given none: nowhere, cleanly.
static NO_CALLS: crate::data::NoCalls =
    crate::data::NoCalls("this run was given no way to make network calls");

impl<'a> Sources<'a> {
    /// Items and templates, and no network calls (a call fails as an outage does).
    pub fn offline(store: &'a dyn ItemStore, templates: &'a dyn TemplateSource) -> Sources<'a> {
        Sources {
            store,
            templates,
            caller: &NO_CALLS,
        }
    }
}

/// Runs the trigger's function on the event, supplying what it asks for from `sources`.
pub fn invoke(
    functions: &EdgeFunctions,
    trigger: EventType,
    event: &[u8],
    sources: Sources<'_>,
) -> Result<Invocation, EventError> {
    let cf = read_event(trigger, event)?;
    Ok(run(functions, trigger, cf, sources))
}

/// Runs the trigger's function on a parsed event.
pub fn run(
    functions: &EdgeFunctions,
    trigger: EventType,
    cf: Cf,
    sources: Sources<'_>,
) -> Invocation {
    let needs = functions.needs(trigger, &cf);
    let data = if needs.is_empty() {
        Supplied::default()
    } else {
        Supplied::fetch(&needs, sources.store, sources.templates, sources.caller)
    };
    let result = functions.run(trigger, &cf, &data);
    let violations = match &result {
        Ok(result) => rules::validate(trigger, &cf, result),
        Err(_) => Vec::new(),
    };
    Invocation {
        trigger,
        event: cf,
        needs,
        result,
        violations,
    }
}

/// Judges a result produced elsewhere (another team's function, a Node handler) against the
/// event it was given: the same checks as for our own functions, plus the JSON structure.
pub fn validate_json(
    trigger: EventType,
    event: &[u8],
    result: &serde_json::Value,
) -> Result<Vec<Violation>, EventError> {
    let cf = read_event(trigger, event)?;
    Ok(match rules::parse_result(trigger, result) {
        Ok(result) => rules::validate(trigger, &cf, &result),
        Err(violations) => violations,
    })
}
