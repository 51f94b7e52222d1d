//! The fast path of the Python host: read what a function reads straight from the event dict,
//! run it, and apply its edits to the dict in place. No JSON, no copy of the whole event.

use edge_functions::EventType;
use edge_functions::data::Supplied;
use edge_functions::event::{
    BodyEncoding, FunctionResult, HeaderEntry, Headers, Request, Response,
};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

fn bad(trigger: EventType, what: &str) -> PyErr {
    PyValueError::new_err(format!("bad {trigger} event: {what}"))
}

fn dict<'py>(
    value: &Bound<'py, PyAny>,
    trigger: EventType,
    what: &str,
) -> PyResult<Bound<'py, PyDict>> {
    value
        .cast::<PyDict>()
        .cloned()
        .map_err(|_| bad(trigger, &format!("`{what}` is not an object")))
}

fn item<'py>(
    d: &Bound<'py, PyDict>,
    key: &str,
    trigger: EventType,
    path: &str,
) -> PyResult<Bound<'py, PyAny>> {
    d.get_item(key)?
        .ok_or_else(|| bad(trigger, &format!("`{path}.{key}` is missing")))
}

fn string(d: &Bound<'_, PyDict>, key: &str, trigger: EventType, path: &str) -> PyResult<String> {
    item(d, key, trigger, path)?
        .extract()
        .map_err(|_| bad(trigger, &format!("`{path}.{key}` is not a string")))
}

fn read_headers(value: &Bound<'_, PyAny>, trigger: EventType, path: &str) -> PyResult<Headers> {
    let map = dict(value, trigger, path)?;
    let mut headers = Headers::new();
    for (name, entries) in map.iter() {
        let name: String = name
            .extract()
            .map_err(|_| bad(trigger, &format!("`{path}` has a non-string name")))?;
        let entries = entries
            .cast::<PyList>()
            .map_err(|_| bad(trigger, &format!("`{path}.{name}` is not an array")))?;
        let mut list = Vec::with_capacity(entries.len());
        for entry in entries.iter() {
            let entry = dict(&entry, trigger, &format!("{path}.{name}[]"))?;
            let py = entry.py();
            let value = entry
                .get_item(intern!(py, "value"))?
                .ok_or_else(|| bad(trigger, &format!("`{path}.{name}[].value` is missing")))?
                .extract()
                .map_err(|_| bad(trigger, &format!("`{path}.{name}[].value` is not a string")))?;
            let key = match entry.get_item(intern!(py, "key"))? {
                Some(k) => Some(k.extract().map_err(|_| {
                    bad(trigger, &format!("`{path}.{name}[].key` is not a string"))
                })?),
                None => None,
            };
            list.push(HeaderEntry {
                key,
                value,
                extra: Default::default(),
            });
        }
        headers.0.insert(name, list);
    }
    Ok(headers)
}

fn header_list<'py>(py: Python<'py>, entries: &[HeaderEntry]) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for entry in entries {
        let d = PyDict::new(py);
        if let Some(key) = &entry.key {
            d.set_item(intern!(py, "key"), key)?;
        }
        d.set_item(intern!(py, "value"), &entry.value)?;
        list.append(d)?;
    }
    Ok(list)
}

/// Writes into `target` the header changes from `before` to `after`.
fn write_headers(
    py: Python<'_>,
    target: &Bound<'_, PyDict>,
    before: &Headers,
    after: &Headers,
) -> PyResult<()> {
    for (name, entries) in after.iter() {
        if before.0.get(name) != Some(entries) {
            target.set_item(name, header_list(py, entries)?)?;
        }
    }
    for name in before.0.keys() {
        if !after.contains(name) {
            target.del_item(name)?;
        }
    }
    Ok(())
}

/// `bodyEncoding` as the wire spells it; absent means text.
fn encoding_name(encoding: Option<BodyEncoding>) -> &'static str {
    match encoding.unwrap_or(BodyEncoding::Text) {
        BodyEncoding::Text => "text",
        BodyEncoding::Base64 => "base64",
    }
}

fn new_response_dict<'py>(py: Python<'py>, response: &Response) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("status", &response.status)?;
    if let Some(description) = &response.status_description {
        d.set_item("statusDescription", description)?;
    }
    let headers = PyDict::new(py);
    write_headers(py, &headers, &Headers::new(), &response.headers)?;
    d.set_item("headers", headers)?;
    if let Some(body) = &response.body {
        d.set_item("body", body)?;
        d.set_item("bodyEncoding", encoding_name(response.body_encoding))?;
    }
    Ok(d)
}

/// Handles the event in place when the function needs no data and the event has nothing the fast
/// path does not read (a body, an origin in a request event); `None` sends it down the JSON path.
pub(crate) fn handle(
    py: Python<'_>,
    trigger: EventType,
    event: &Bound<'_, PyAny>,
) -> PyResult<Option<Py<PyAny>>> {
    let host = crate::host(py)?;
    let event = dict(event, trigger, "event")?;
    let records = item(&event, "Records", trigger, "event")?;
    let records = records
        .cast::<PyList>()
        .map_err(|_| bad(trigger, "`Records` is not an array"))?;
    if records.len() != 1 {
        return Err(bad(
            trigger,
            &format!(
                "the event has {} records; CloudFront sends exactly one",
                records.len()
            ),
        ));
    }
    let cf = dict(
        &item(
            &dict(&records.get_item(0)?, trigger, "Records[0]")?,
            "cf",
            trigger,
            "Records[0]",
        )?,
        trigger,
        "cf",
    )?;
    let config = dict(&item(&cf, "config", trigger, "cf")?, trigger, "cf.config")?;
    let event_type = string(&config, "eventType", trigger, "cf.config")?;
    if event_type != trigger.as_str() {
        return Err(bad(trigger, &format!("this is a {event_type} event")));
    }
    let request_dict = dict(&item(&cf, "request", trigger, "cf")?, trigger, "cf.request")?;
    if request_dict.contains("body")?
        || (trigger.is_request() && request_dict.contains("origin")?)
    {
        return Ok(None);
    }
    let path = "cf.request";
    let request = Request {
        client_ip: string(&request_dict, "clientIp", trigger, path)?,
        method: string(&request_dict, "method", trigger, path)?,
        uri: string(&request_dict, "uri", trigger, path)?,
        querystring: match request_dict.get_item("querystring")? {
            Some(q) => q
                .extract()
                .map_err(|_| bad(trigger, "`cf.request.querystring` is not a string"))?,
            None => String::new(),
        },
        headers: match request_dict.get_item("headers")? {
            Some(h) => read_headers(&h, trigger, "cf.request.headers")?,
            None => Headers::new(),
        },
        ..Default::default()
    };
    let (response_dict, response) = if trigger.is_request() {
        (None, None)
    } else {
        let d = dict(
            &item(&cf, "response", trigger, "cf")?,
            trigger,
            "cf.response",
        )?;
        if d.contains("body")? {
            return Ok(None);
        }
        let response = Response {
            status: string(&d, "status", trigger, "cf.response")?,
            status_description: match d.get_item("statusDescription")? {
                Some(s) => Some(s.extract().map_err(|_| {
                    bad(trigger, "`cf.response.statusDescription` is not a string")
                })?),
                None => None,
            },
            headers: match d.get_item("headers")? {
                Some(h) => read_headers(&h, trigger, "cf.response.headers")?,
                None => Headers::new(),
            },
            ..Default::default()
        };
        (Some(d), Some(response))
    };
    let typed = edge_functions::event::Cf {
        config: edge_functions::event::Config {
            event_type: trigger,
            ..Default::default()
        },
        request: request.clone(),
        response: response.clone(),
        extra: Default::default(),
    };
    // The same refusals as the JSON path: what CloudFront never sends is a bad event.
    edge_functions::rules::check_event(trigger, &typed)
        .map_err(|e| bad(trigger, &e.to_string()))?;
    if !host.functions.needs(trigger, &typed).is_empty() {
        return Ok(None);
    }
    let result = host
        .functions
        .run_owned(trigger, typed, &Supplied::default())
        .map_err(|e| PyRuntimeError::new_err(format!("the {trigger} function failed: {e}")))?;
    Ok(Some(match result {
        FunctionResult::Request(edited) => {
            if edited.uri != request.uri {
                request_dict.set_item("uri", &edited.uri)?;
            }
            if edited.querystring != request.querystring {
                request_dict.set_item("querystring", &edited.querystring)?;
            }
            if edited.headers != request.headers {
                let headers = match request_dict.get_item("headers")? {
                    Some(h) => dict(&h, trigger, "cf.request.headers")?,
                    None => {
                        let h = PyDict::new(py);
                        request_dict.set_item("headers", &h)?;
                        h
                    }
                };
                write_headers(py, &headers, &request.headers, &edited.headers)?;
            }
            request_dict.into_any().unbind()
        }
        FunctionResult::Response(updated) => match (response_dict, response) {
            (Some(d), Some(before)) => {
                if updated.status != before.status {
                    d.set_item("status", &updated.status)?;
                    if let Some(description) = &updated.status_description {
                        d.set_item("statusDescription", description)?;
                    }
                }
                if updated.headers != before.headers {
                    let headers = match d.get_item("headers")? {
                        Some(h) => dict(&h, trigger, "cf.response.headers")?,
                        None => {
                            let h = PyDict::new(py);
                            d.set_item("headers", &h)?;
                            h
                        }
                    };
                    write_headers(py, &headers, &before.headers, &updated.headers)?;
                }
                if let Some(body) = &updated.body {
                    d.set_item("body", body)?;
                    d.set_item("bodyEncoding", encoding_name(updated.body_encoding))?;
                }
                d.into_any().unbind()
            }
            _ => new_response_dict(py, &updated)?.into_any().unbind(),
        },
    }))
}
