//! The fast path of the Python host: read what a function reads straight from the event dict,
//! run it, and apply its edits to the dict in place. No JSON, no copy of the whole event: of the
//! headers, only those the function declares it reads ([`HeaderReads`]) are copied out, and only
//! those it changed are written back.

use edge_functions::EventType;
use edge_functions::data::Supplied;
use edge_functions::event::{
    BodyEncoding, FunctionResult, HeaderEntry, Headers, Request, Response,
};
use edge_functions::function::{HeaderNames, HeaderReads};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString};
use pyo3::{Borrowed, ffi};

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
    key: &Bound<'py, PyString>,
    trigger: EventType,
    path: &str,
) -> PyResult<Bound<'py, PyAny>> {
    d.get_item(key)?
        .ok_or_else(|| bad(trigger, &format!("`{path}.{key}` is missing")))
}

/// A string field, kept as the Python string: the result is compared with it afterwards.
fn optional_text<'py>(
    d: &Bound<'py, PyDict>,
    key: &Bound<'py, PyString>,
    trigger: EventType,
    path: &str,
) -> PyResult<Option<Bound<'py, PyString>>> {
    d.get_item(key)?
        .map(|value| {
            value
                .cast_into::<PyString>()
                .map_err(|_| bad(trigger, &format!("`{path}.{key}` is not a string")))
        })
        .transpose()
}

fn text<'py>(
    d: &Bound<'py, PyDict>,
    key: &Bound<'py, PyString>,
    trigger: EventType,
    path: &str,
) -> PyResult<Bound<'py, PyString>> {
    optional_text(d, key, trigger, path)?
        .ok_or_else(|| bad(trigger, &format!("`{path}.{key}` is missing")))
}

fn owned(text: &Bound<'_, PyString>) -> PyResult<String> {
    Ok(text.to_str()?.to_owned())
}

fn owned_or_empty(text: &Option<Bound<'_, PyString>>) -> PyResult<String> {
    text.as_ref()
        .map(owned)
        .unwrap_or_else(|| Ok(String::new()))
}

fn str_or_empty<'a>(text: &'a Option<Bound<'_, PyString>>) -> PyResult<&'a str> {
    text.as_ref().map(|t| t.to_str()).unwrap_or(Ok(""))
}

/// The header names one trigger's function reads, prepared once as Python strings.
enum Names {
    All,
    Only(Vec<(String, Py<PyString>)>),
}

impl Names {
    fn new(py: Python<'_>, names: &HeaderNames) -> Names {
        match names {
            HeaderNames::All => Names::All,
            HeaderNames::Only(names) => Names::Only(
                names
                    .iter()
                    .map(|n| (n.clone(), PyString::intern(py, n).unbind()))
                    .collect(),
            ),
        }
    }

    fn contains(&self, name: &str) -> bool {
        match self {
            Names::All => true,
            Names::Only(names) => names.iter().any(|(n, _)| n == name),
        }
    }

    /// The prepared Python string for a header name the function reads.
    fn interned(&self, name: &str) -> Option<&Py<PyString>> {
        match self {
            Names::All => None,
            Names::Only(names) => names.iter().find(|(n, _)| n == name).map(|(_, k)| k),
        }
    }
}

struct Plan {
    request: Names,
    response: Names,
}

static PLANS: PyOnceLock<[Plan; 4]> = PyOnceLock::new();

fn plan(py: Python<'_>, trigger: EventType) -> PyResult<&'static Plan> {
    let plans = PLANS.get_or_try_init(py, || {
        let host = crate::host(py)?;
        Ok::<_, PyErr>(EventType::ALL.map(|t| {
            let HeaderReads { request, response } = host.functions.header_reads(t);
            Plan {
                request: Names::new(py, &request),
                response: Names::new(py, &response),
            }
        }))
    })?;
    // `EventType::ALL` lists the triggers in declaration order, so the discriminant indexes it.
    debug_assert_eq!(EventType::ALL[trigger as usize], trigger);
    Ok(&plans[trigger as usize])
}

/// The headers of `value` that `names` lists (all of them for [`Names::All`]), in one walk over
/// the whole dict that also refuses what the typed model would refuse in any header, read or
/// not: names and values that are not strings, entries that are not a list of objects, request
/// keys that do not match their name, and geo or device headers in viewer-request.
fn read_headers(
    value: &Bound<'_, PyAny>,
    names: &Names,
    trigger: EventType,
    path: &str,
    request: bool,
) -> PyResult<Headers> {
    let map = dict(value, trigger, path)?;
    let py = map.py();
    let (key_name, value_name) = (intern!(py, "key"), intern!(py, "value"));
    let refused = |e: edge_functions::event::EventError| bad(trigger, &e.to_string());
    let mut headers = Headers::new();
    let (mut position, mut name, mut entries) = (0, std::ptr::null_mut(), std::ptr::null_mut());
    // A plain walk over borrowed items: this runs on every event, and PyO3's iterators pay for
    // length checks and reference counts on each item.
    // SAFETY: the GIL is held, nothing changes the dict or its lists during the walk, and every
    // borrowed item is used before the next call.
    while unsafe { ffi::PyDict_Next(map.as_ptr(), &mut position, &mut name, &mut entries) } != 0 {
        let (name, entries) = unsafe {
            (
                Borrowed::from_ptr(py, name),
                Borrowed::from_ptr(py, entries),
            )
        };
        let name = name.cast::<PyString>().map_err(|_| {
            bad(
                trigger,
                &format!("`{path}` has a name that is not a string"),
            )
        })?;
        let name = name.to_str()?;
        if request {
            edge_functions::rules::check_request_header_name(trigger, name).map_err(refused)?;
        }
        let entries = entries
            .cast::<PyList>()
            .map_err(|_| bad(trigger, &format!("`{path}.{name}` is not an array")))?;
        let copy = names.contains(name);
        let mut list = Vec::with_capacity(if copy { entries.len() } else { 0 });
        for index in 0..entries.len() {
            // SAFETY: as above; `index` is within the list.
            let entry = unsafe {
                Borrowed::from_ptr(py, ffi::PyList_GetItem(entries.as_ptr(), index as _))
            };
            let entry = entry
                .cast::<PyDict>()
                .map_err(|_| bad(trigger, &format!("`{path}.{name}[]` is not an object")))?;
            // SAFETY: both return a borrowed reference (or null when absent), used right away.
            let (value, key) = unsafe {
                (
                    ffi::PyDict_GetItem(entry.as_ptr(), value_name.as_ptr()),
                    ffi::PyDict_GetItem(entry.as_ptr(), key_name.as_ptr()),
                )
            };
            if value.is_null() {
                return Err(bad(trigger, &format!("`{path}.{name}[].value` is missing")));
            }
            // SAFETY: `value` is a live borrowed object.
            let value = unsafe { Borrowed::from_ptr(py, value) };
            let value = value
                .cast::<PyString>()
                .map_err(|_| bad(trigger, &format!("`{path}.{name}[].value` is not a string")))?;
            let key = if key.is_null() {
                None
            } else {
                // SAFETY: `key` is a live borrowed object.
                let key = unsafe { Borrowed::from_ptr(py, key) };
                let key = key
                    .cast::<PyString>()
                    .map_err(|_| bad(trigger, &format!("`{path}.{name}[].key` is not a string")))?;
                let key = key.to_str()?;
                if request {
                    edge_functions::rules::check_request_header_key(name, key).map_err(refused)?;
                }
                copy.then(|| key.to_owned())
            };
            if copy {
                list.push(HeaderEntry {
                    key,
                    value: value.to_str()?.to_owned(),
                    extra: Default::default(),
                });
            }
        }
        if copy {
            headers.0.insert(name.to_owned(), list);
        }
    }
    Ok(headers)
}

/// Python strings for the header names, keys and values functions write on every event (security
/// headers, cache policies): made once and shared, as a plain-Python handler shares its constants,
/// so writing them costs no decoding and no hashing. Direct-mapped: a slot keeps the last string
/// that hashed to it, so per-visitor values (cookies) only take turns in a few slots.
struct StringCache {
    slots: Vec<Option<(Box<str>, Py<PyString>)>>,
}

const CACHE_SLOTS: usize = 256;
/// Longer strings are made fresh: they are not the repeated constants this is for.
const CACHE_MAX_LEN: usize = 512;

static STRINGS: std::sync::Mutex<StringCache> =
    std::sync::Mutex::new(StringCache { slots: Vec::new() });

impl StringCache {
    /// A cheap slot index from the length and up to 24 bytes of the string; a hit is confirmed by
    /// comparing the whole string.
    fn slot(s: &str) -> usize {
        let b = s.as_bytes();
        let word = |at: usize| {
            let mut w = [0u8; 8];
            let end = (at + 8).min(b.len());
            if at < end {
                w[..end - at].copy_from_slice(&b[at..end]);
            }
            u64::from_le_bytes(w)
        };
        let mixed = (b.len() as u64)
            ^ word(0)
            ^ word(b.len().saturating_sub(8)).rotate_left(21)
            ^ word(b.len() / 2).rotate_left(42);
        (mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize % CACHE_SLOTS
    }

    fn get<'py>(&mut self, py: Python<'py>, s: &str) -> Bound<'py, PyString> {
        if s.len() > CACHE_MAX_LEN {
            return PyString::new(py, s);
        }
        if self.slots.is_empty() {
            self.slots.resize_with(CACHE_SLOTS, || None);
        }
        let slot = &mut self.slots[Self::slot(s)];
        match slot {
            Some((text, string)) if **text == *s => string.bind(py).clone(),
            _ => {
                // Not interned: interned strings live as long as the interpreter (3.12+ makes
                // them immortal), and a step may write a per-visitor value. The cache's own
                // reference keeps this one, and its hash once computed, until the slot is reused.
                let string = PyString::new(py, s);
                *slot = Some((s.into(), string.clone().unbind()));
                string
            }
        }
    }
}

fn header_list<'py>(
    py: Python<'py>,
    strings: &mut StringCache,
    entries: &[HeaderEntry],
) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for entry in entries {
        let d = PyDict::new(py);
        if let Some(key) = &entry.key {
            d.set_item(intern!(py, "key"), strings.get(py, key))?;
        }
        d.set_item(intern!(py, "value"), strings.get(py, &entry.value))?;
        list.append(d)?;
    }
    Ok(list)
}

/// Whether `value` is the string `want` (both absent counts as equal).
fn is_str(value: Option<Bound<'_, PyAny>>, want: Option<&str>) -> PyResult<bool> {
    Ok(match (value, want) {
        (None, None) => true,
        (Some(value), Some(want)) => match value.cast::<PyString>() {
            Ok(s) => s.to_str()? == want,
            Err(_) => false,
        },
        _ => false,
    })
}

/// Whether a header's entries in the dict are exactly `entries`.
fn same_entries(current: &Bound<'_, PyAny>, entries: &[HeaderEntry]) -> PyResult<bool> {
    let Ok(list) = current.cast::<PyList>() else {
        return Ok(false);
    };
    if list.len() != entries.len() {
        return Ok(false);
    }
    let py = list.py();
    for (item, entry) in list.iter().zip(entries) {
        let Ok(d) = item.cast::<PyDict>() else {
            return Ok(false);
        };
        if !is_str(d.get_item(intern!(py, "value"))?, Some(&entry.value))?
            || !is_str(d.get_item(intern!(py, "key"))?, entry.key.as_deref())?
        {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Brings the headers dict to what the function left: each header that differs is replaced, and
/// each header it read and no longer has is removed. Headers it did not read stay as they were,
/// so nothing is copied out and back just to be compared.
fn write_headers(target: &Bound<'_, PyDict>, read: &Names, after: &Headers) -> PyResult<()> {
    let py = target.py();
    let mut strings = STRINGS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for (name, entries) in after.iter() {
        let key = match read.interned(name) {
            Some(key) => key.bind(py).clone(),
            None => strings.get(py, name),
        };
        let same = match target.get_item(&key)? {
            Some(current) => same_entries(&current, entries)?,
            None => false,
        };
        if !same {
            target.set_item(key, header_list(py, &mut strings, entries)?)?;
        }
    }
    match read {
        Names::Only(names) => {
            for (name, key) in names {
                if !after.contains(name) && target.contains(key.bind(py))? {
                    target.del_item(key.bind(py))?;
                }
            }
        }
        Names::All => {
            let mut gone = Vec::new();
            for name in target.keys() {
                if !after.contains(name.cast::<PyString>()?.to_str()?) {
                    gone.push(name);
                }
            }
            for name in gone {
                target.del_item(name)?;
            }
        }
    }
    Ok(())
}

/// The `headers` dict of a request or response dict, created when it has none.
fn headers_dict<'py>(
    owner: &Bound<'py, PyDict>,
    trigger: EventType,
    path: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let py = owner.py();
    match owner.get_item(intern!(py, "headers"))? {
        Some(h) => dict(&h, trigger, path),
        None => {
            let h = PyDict::new(py);
            owner.set_item(intern!(py, "headers"), &h)?;
            Ok(h)
        }
    }
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
    d.set_item(intern!(py, "status"), &response.status)?;
    if let Some(description) = &response.status_description {
        d.set_item(intern!(py, "statusDescription"), description)?;
    }
    let headers = PyDict::new(py);
    let mut strings = STRINGS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for (name, entries) in response.headers.iter() {
        headers.set_item(
            strings.get(py, name),
            header_list(py, &mut strings, entries)?,
        )?;
    }
    d.set_item(intern!(py, "headers"), headers)?;
    if let Some(body) = &response.body {
        d.set_item(intern!(py, "body"), body)?;
        d.set_item(
            intern!(py, "bodyEncoding"),
            encoding_name(response.body_encoding),
        )?;
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
    let plan = plan(py, trigger)?;
    let event = dict(event, trigger, "event")?;
    let records = item(&event, intern!(py, "Records"), trigger, "event")?;
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
    let record = dict(&records.get_item(0)?, trigger, "Records[0]")?;
    let cf = dict(
        &item(&record, intern!(py, "cf"), trigger, "Records[0]")?,
        trigger,
        "cf",
    )?;
    let config = dict(
        &item(&cf, intern!(py, "config"), trigger, "cf")?,
        trigger,
        "cf.config",
    )?;
    let event_type = text(&config, intern!(py, "eventType"), trigger, "cf.config")?;
    if event_type.to_str()? != trigger.as_str() {
        return Err(bad(trigger, &format!("this is a {event_type} event")));
    }
    let request_dict = dict(
        &item(&cf, intern!(py, "request"), trigger, "cf")?,
        trigger,
        "cf.request",
    )?;
    if request_dict.contains(intern!(py, "body"))?
        || (trigger.is_request() && request_dict.contains(intern!(py, "origin"))?)
    {
        return Ok(None);
    }
    let path = "cf.request";
    let uri = text(&request_dict, intern!(py, "uri"), trigger, path)?;
    let querystring = optional_text(&request_dict, intern!(py, "querystring"), trigger, path)?;
    let request_headers = request_dict.get_item(intern!(py, "headers"))?;
    let request = Request {
        client_ip: owned(&text(
            &request_dict,
            intern!(py, "clientIp"),
            trigger,
            path,
        )?)?,
        method: owned(&text(&request_dict, intern!(py, "method"), trigger, path)?)?,
        uri: owned(&uri)?,
        querystring: owned_or_empty(&querystring)?,
        headers: match &request_headers {
            Some(h) => read_headers(h, &plan.request, trigger, "cf.request.headers", true)?,
            None => Headers::new(),
        },
        ..Default::default()
    };
    let (response_dict, response, status) = if trigger.is_request() {
        (None, None, None)
    } else {
        let d = dict(
            &item(&cf, intern!(py, "response"), trigger, "cf")?,
            trigger,
            "cf.response",
        )?;
        if d.contains(intern!(py, "body"))? {
            return Ok(None);
        }
        let path = "cf.response";
        let status = text(&d, intern!(py, "status"), trigger, path)?;
        let response = Response {
            status: owned(&status)?,
            status_description: optional_text(&d, intern!(py, "statusDescription"), trigger, path)?
                .as_ref()
                .map(owned)
                .transpose()?,
            headers: match d.get_item(intern!(py, "headers"))? {
                Some(h) => read_headers(&h, &plan.response, trigger, "cf.response.headers", false)?,
                None => Headers::new(),
            },
            ..Default::default()
        };
        (Some(d), Some(response), Some(status))
    };
    let typed = edge_functions::event::Cf {
        config: edge_functions::event::Config {
            event_type: trigger,
            ..Default::default()
        },
        request,
        response,
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
            if edited.uri != uri.to_str()? {
                request_dict.set_item(intern!(py, "uri"), &edited.uri)?;
            }
            if edited.querystring != str_or_empty(&querystring)? {
                request_dict.set_item(intern!(py, "querystring"), &edited.querystring)?;
            }
            if request_headers.is_some() || !edited.headers.0.is_empty() {
                let headers = headers_dict(&request_dict, trigger, "cf.request.headers")?;
                write_headers(&headers, &plan.request, &edited.headers)?;
            }
            request_dict.into_any().unbind()
        }
        FunctionResult::Response(updated) => match (response_dict, status) {
            (Some(d), Some(status)) => {
                if updated.status != status.to_str()? {
                    d.set_item(intern!(py, "status"), &updated.status)?;
                    if let Some(description) = &updated.status_description {
                        d.set_item(intern!(py, "statusDescription"), description)?;
                    }
                }
                if d.contains(intern!(py, "headers"))? || !updated.headers.0.is_empty() {
                    let headers = headers_dict(&d, trigger, "cf.response.headers")?;
                    write_headers(&headers, &plan.response, &updated.headers)?;
                }
                if let Some(body) = &updated.body {
                    d.set_item(intern!(py, "body"), body)?;
                    d.set_item(
                        intern!(py, "bodyEncoding"),
                        encoding_name(updated.body_encoding),
                    )?;
                }
                d.into_any().unbind()
            }
            // A request trigger's function answered: a new response, all its headers written.
            _ => new_response_dict(py, &updated)?.into_any().unbind(),
        },
    }))
}
