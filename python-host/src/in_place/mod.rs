//! The fast path of the Python host: read what a function reads straight from the event dict,
//! run it, and apply its edits to the dict in place. No JSON, no copy of the whole event: of the
//! headers, only those the function declares it reads ([`HeaderReads`]) are copied out, and only
//! those it changed are written back.
//!
//! It takes every event except those the typed model must read whole: origin-request events
//! (they carry the origin, which the function may change) and events whose function needs data.

use edge_functions::EventType;
use edge_functions::data::Supplied;
use edge_functions::event::{
    BodyAction, BodyEncoding, FunctionResult, HeaderEntry, Headers, Request, RequestBody, Response,
};
use edge_functions::function::{HeaderNames, HeaderReads};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyList, PyString};
use pyo3::{Borrowed, PyTypeInfo, ffi};

mod access;
mod body;
mod plan;
mod read;
mod write;

use access::*;
use body::*;
use plan::*;
use read::*;
use write::*;

/// The request's fields as the event has them, held from its dict.
struct RequestFields<'py> {
    dict: Bound<'py, PyDict>,
    client_ip: Bound<'py, PyString>,
    method: Bound<'py, PyString>,
    uri: Bound<'py, PyString>,
    querystring: Option<Bound<'py, PyString>>,
    headers: Option<Bound<'py, PyDict>>,
    body: Option<RequestBody>,
}

/// The response's fields as the event has them (response triggers).
struct ResponseFields<'py> {
    dict: Bound<'py, PyDict>,
    status: Bound<'py, PyString>,
    description: Option<Bound<'py, PyString>>,
    body: Option<Bound<'py, PyString>>,
    body_encoding: Option<BodyEncoding>,
    headers: Option<Bound<'py, PyDict>>,
}

/// One run of the function, and what was copied out for it.
struct Run<'py> {
    result: FunctionResult,
    request_copied: Copied<'py>,
    response_copied: Copied<'py>,
}

/// Copies out what `plan` reads, checks the event as the typed route would, and runs the
/// function; `None` when it needs items or templates (the typed route's job).
fn run<'py>(
    host: &crate::Host,
    trigger: EventType,
    request: &RequestFields<'py>,
    response: Option<&ResponseFields<'py>>,
    plan: &Plan,
) -> PyResult<Option<Run<'py>>> {
    let (headers, request_copied) = match &request.headers {
        Some(h) => read_headers(h, &plan.request, trigger, "cf.request.headers", true)?,
        None => Default::default(),
    };
    let typed_request = Request {
        client_ip: owned(&request.client_ip)?,
        method: owned(&request.method)?,
        uri: owned(&request.uri)?,
        querystring: owned_or_empty(&request.querystring)?,
        headers,
        body: request.body.clone(),
        ..Default::default()
    };
    let (typed_response, response_copied) = match response {
        None => (None, Copied::default()),
        Some(r) => {
            let (headers, copied) = match &r.headers {
                Some(h) => read_headers(h, &plan.response, trigger, "cf.response.headers", false)?,
                None => Default::default(),
            };
            let typed = Response {
                status: owned(&r.status)?,
                status_description: r.description.as_ref().map(owned).transpose()?,
                headers,
                body: r.body.as_ref().map(owned).transpose()?,
                body_encoding: r.body_encoding,
                ..Default::default()
            };
            (Some(typed), copied)
        }
    };
    let typed = edge_functions::event::Cf {
        config: edge_functions::event::Config {
            event_type: trigger,
            ..Default::default()
        },
        request: typed_request,
        response: typed_response,
        extra: Default::default(),
    };
    // The same refusals as the typed route: what CloudFront never sends is a bad event.
    edge_functions::rules::check_event(trigger, &typed)
        .map_err(|e| bad(trigger, &e.to_string()))?;
    // Data from a store goes down the typed route; calls (a sign-in block's token exchange,
    // on viewer-request) are made right here, so viewer packages need no typed route.
    let needs = host.functions.needs(trigger, &typed);
    if !needs.queries.is_empty() || !needs.templates.is_empty() {
        return Ok(None);
    }
    let data = if needs.calls.is_empty() {
        Supplied::default()
    } else {
        crate::calls::supply(request.dict.py(), &needs.calls)
    };
    let result = host
        .functions
        .run_owned(trigger, typed, &data)
        .map_err(|e| PyRuntimeError::new_err(format!("the {trigger} function failed: {e}")))?;
    Ok(Some(Run {
        result,
        request_copied,
        response_copied,
    }))
}

/// Handles the event in place unless the typed model must read it whole: an origin-request event
/// (it carries the origin, which its function may change) or one whose function needs data.
/// `None` sends it down the typed route.
pub(crate) fn handle(
    py: Python<'_>,
    trigger: EventType,
    event: &Bound<'_, PyAny>,
) -> PyResult<Option<Py<PyAny>>> {
    if trigger == EventType::OriginRequest {
        return Ok(None);
    }
    let host = crate::host(py)?;
    let any_status = plan(py, trigger)?;
    let refused = |e: edge_functions::event::EventError| bad(trigger, &e.to_string());
    let event = dict(event.clone(), trigger, "event")?;
    let records = item(&event, intern!(py, "Records"), trigger, "event")?;
    let records =
        cast::<PyList>(records).ok_or_else(|| bad(trigger, "`Records` is not an array"))?;
    if records.len() != 1 {
        return Err(bad(
            trigger,
            &format!(
                "the event has {} records; CloudFront sends exactly one",
                records.len()
            ),
        ));
    }
    let record = dict(records.get_item(0)?, trigger, "Records[0]")?;
    let cf = dict(
        item(&record, intern!(py, "cf"), trigger, "Records[0]")?,
        trigger,
        "cf",
    )?;
    let config = dict(
        item(&cf, intern!(py, "config"), trigger, "cf")?,
        trigger,
        "cf.config",
    )?;
    let event_type = text(&config, intern!(py, "eventType"), trigger, "cf.config")?;
    let event_type = event_type.to_str()?;
    if event_type != trigger.as_str() {
        return Err(bad(trigger, &format!("this is a {event_type} event")));
    }
    let request_dict = dict(
        item(&cf, intern!(py, "request"), trigger, "cf")?,
        trigger,
        "cf.request",
    )?;
    // Response events carry the origin too; their functions cannot change it, so it stays as is.
    let has_origin = get(&request_dict, intern!(py, "origin"))?.is_some();
    edge_functions::rules::check_request_origin(trigger, has_origin).map_err(refused)?;
    let path = "cf.request";
    let request = RequestFields {
        client_ip: text(&request_dict, intern!(py, "clientIp"), trigger, path)?,
        method: text(&request_dict, intern!(py, "method"), trigger, path)?,
        uri: text(&request_dict, intern!(py, "uri"), trigger, path)?,
        querystring: optional_text(&request_dict, intern!(py, "querystring"), trigger, path)?,
        headers: optional_headers(&request_dict, trigger, "cf.request.headers")?,
        body: get(&request_dict, intern!(py, "body"))?
            .map(|b| read_request_body(b, trigger))
            .transpose()?,
        dict: request_dict,
    };
    let response = if trigger.is_request() {
        None
    } else {
        let d = dict(
            item(&cf, intern!(py, "response"), trigger, "cf")?,
            trigger,
            "cf.response",
        )?;
        let path = "cf.response";
        Some(ResponseFields {
            status: text(&d, intern!(py, "status"), trigger, path)?,
            description: optional_text(&d, intern!(py, "statusDescription"), trigger, path)?,
            body: optional_text(&d, intern!(py, "body"), trigger, path)?,
            body_encoding: optional_text(&d, intern!(py, "bodyEncoding"), trigger, path)?
                .map(|name| encoding(&name, trigger, "cf.response.bodyEncoding"))
                .transpose()?,
            headers: optional_headers(&d, trigger, "cf.response.headers")?,
            dict: d,
        })
    };
    // Most origin responses are not errors, and the steps that act on errors read nothing then.
    let plan = match &response {
        Some(r) if trigger == EventType::OriginResponse => {
            origin_response_plan(host, any_status, r.status.to_str()?)
        }
        _ => any_status,
    };
    match run(host, trigger, &request, response.as_ref(), plan)? {
        Some(outcome) => write_back(py, &request, response.as_ref(), outcome).map(Some),
        None => Ok(None),
    }
}

/// Applies the function's result to the event's dicts (or makes the response it answered with).
fn write_back<'py>(
    py: Python<'py>,
    request: &RequestFields<'py>,
    response: Option<&ResponseFields<'py>>,
    outcome: Run<'py>,
) -> PyResult<Py<PyAny>> {
    let Run {
        result,
        request_copied,
        response_copied,
    } = outcome;
    Ok(match (result, response) {
        (FunctionResult::Request(edited), _) => {
            let d = &request.dict;
            if edited.uri != request.uri.to_str()? {
                d.set_item(intern!(py, "uri"), &edited.uri)?;
            }
            if edited.querystring != str_or_empty(&request.querystring)? {
                d.set_item(intern!(py, "querystring"), &edited.querystring)?;
            }
            if request.headers.is_some() || !edited.headers.0.is_empty() {
                let headers = headers_dict(d, request.headers.as_ref())?;
                write_headers(&headers, &request_copied, &edited.headers)?;
            }
            if edited.body != request.body {
                write_request_body(d, edited.body.as_ref())?;
            }
            d.clone().into_any().unbind()
        }
        (FunctionResult::Response(updated), Some(r)) => {
            let d = &r.dict;
            if updated.status != r.status.to_str()? {
                d.set_item(intern!(py, "status"), &updated.status)?;
            }
            if updated.status_description.as_deref() != optional_str(&r.description)? {
                let description = updated.status_description.as_deref();
                set_or_remove(d, intern!(py, "statusDescription"), description)?;
            }
            if r.headers.is_some() || !updated.headers.0.is_empty() {
                let headers = headers_dict(d, r.headers.as_ref())?;
                write_headers(&headers, &response_copied, &updated.headers)?;
            }
            if updated.body.as_deref() != optional_str(&r.body)? {
                set_or_remove(d, intern!(py, "body"), updated.body.as_deref())?;
            }
            if updated.body_encoding != r.body_encoding {
                let encoding = updated.body_encoding.map(BodyEncoding::as_str);
                set_or_remove(d, intern!(py, "bodyEncoding"), encoding)?;
            }
            d.clone().into_any().unbind()
        }
        // A request trigger's function answered: a new response, all its headers written.
        (FunctionResult::Response(updated), None) => {
            new_response_dict(py, &updated)?.into_any().unbind()
        }
    })
}
