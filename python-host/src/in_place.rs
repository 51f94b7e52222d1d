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

fn bad(trigger: EventType, what: &str) -> PyErr {
    PyValueError::new_err(format!("bad {trigger} event: {what}"))
}

/// `value` as a `T`. `json.loads` makes exact dicts, lists and strings, whose type is checked
/// inline; a subclass is checked through the type's flags, a call under the stable ABI.
fn cast<'py, T: PyTypeInfo>(value: Bound<'py, PyAny>) -> Option<Bound<'py, T>> {
    match value.cast_into_exact::<T>() {
        Ok(value) => Some(value),
        Err(e) => e.into_inner().cast_into::<T>().ok(),
    }
}

fn dict<'py>(
    value: Bound<'py, PyAny>,
    trigger: EventType,
    what: &str,
) -> PyResult<Bound<'py, PyDict>> {
    cast::<PyDict>(value).ok_or_else(|| bad(trigger, &format!("`{what}` is not an object")))
}

/// `d[key]`, absent when missing or `null` (as the typed route reads optional fields). Owned:
/// a caller's dict may hold keys whose comparisons run Python code, which could change it.
fn get<'py>(
    d: &Bound<'py, PyDict>,
    key: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    Ok(d.get_item(key)?.filter(|value| !value.is_none()))
}

fn item<'py>(
    d: &Bound<'py, PyDict>,
    key: &Bound<'py, PyString>,
    trigger: EventType,
    path: &str,
) -> PyResult<Bound<'py, PyAny>> {
    get(d, key)?.ok_or_else(|| bad(trigger, &format!("`{path}.{key}` is missing")))
}

/// A string field, kept as the Python string: the result is compared with it afterwards.
fn optional_text<'py>(
    d: &Bound<'py, PyDict>,
    key: &Bound<'py, PyString>,
    trigger: EventType,
    path: &str,
) -> PyResult<Option<Bound<'py, PyString>>> {
    get(d, key)?
        .map(|value| {
            cast::<PyString>(value)
                .ok_or_else(|| bad(trigger, &format!("`{path}.{key}` is not a string")))
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
    Ok(optional_str(text)?.unwrap_or(""))
}

fn optional_str<'a>(text: &'a Option<Bound<'_, PyString>>) -> PyResult<Option<&'a str>> {
    text.as_ref().map(|t| t.to_str()).transpose()
}

/// The header names one trigger's function reads, prepared once per trigger.
enum Names {
    All,
    Only(Vec<ReadName>),
}

/// A header name a function reads, with what tells it apart quickly: every header of every
/// event is looked up here.
struct ReadName {
    name: String,
    prefix: u64,
}

/// The first eight bytes of a name (padded): most names differ there.
fn prefix(name: &str) -> u64 {
    let mut word = [0u8; 8];
    let n = name.len().min(8);
    word[..n].copy_from_slice(&name.as_bytes()[..n]);
    u64::from_le_bytes(word)
}

impl Names {
    fn new(names: &HeaderNames) -> Names {
        match names {
            HeaderNames::All => Names::All,
            HeaderNames::Only(names) => Names::Only(
                names
                    .iter()
                    .map(|n| ReadName {
                        name: n.clone(),
                        prefix: prefix(n),
                    })
                    .collect(),
            ),
        }
    }

    fn contains(&self, name: &str) -> bool {
        match self {
            Names::All => true,
            Names::Only(names) => {
                let first = prefix(name);
                names
                    .iter()
                    .any(|n| n.prefix == first && n.name.len() == name.len() && n.name == name)
            }
        }
    }
}

struct Plan {
    request: Names,
    response: Names,
}

impl Plan {
    fn new(reads: HeaderReads) -> Plan {
        Plan {
            request: Names::new(&reads.request),
            response: Names::new(&reads.response),
        }
    }
}

static PLANS: PyOnceLock<[Plan; 4]> = PyOnceLock::new();

/// The origin-response plans by the origin's status, 100 to 599, made as statuses come.
static ORIGIN_RESPONSE_PLANS: [std::sync::OnceLock<Plan>; 500] =
    [const { std::sync::OnceLock::new() }; 500];

/// What the trigger's function reads, whatever the event.
fn plan(py: Python<'_>, trigger: EventType) -> PyResult<&'static Plan> {
    let plans = PLANS.get_or_try_init(py, || {
        let host = crate::host(py)?;
        Ok::<_, PyErr>(EventType::ALL.map(|t| Plan::new(host.functions.header_reads(t))))
    })?;
    // `EventType::ALL` lists the triggers in declaration order, so the discriminant indexes it.
    debug_assert_eq!(EventType::ALL[trigger as usize], trigger);
    Ok(&plans[trigger as usize])
}

/// What the origin-response function reads of a response with this status (the plan for any
/// status when it is not a number from 100 to 599).
fn origin_response_plan(host: &crate::Host, any: &'static Plan, status: &str) -> &'static Plan {
    let Some(status) = status
        .parse::<u16>()
        .ok()
        .filter(|s| (100..600).contains(s))
    else {
        return any;
    };
    ORIGIN_RESPONSE_PLANS[usize::from(status - 100)]
        .get_or_init(|| Plan::new(host.functions.origin_response_reads(status)))
}

/// `obj` as a string: the exact type is checked inline, subclasses through the type's flags.
fn as_str<'a, 'py>(obj: Borrowed<'a, 'py, PyAny>) -> Option<Borrowed<'a, 'py, PyString>> {
    obj.cast_exact::<PyString>()
        .or_else(|_| obj.cast::<PyString>())
        .ok()
}

/// Which field of a header entry a key names. `json.loads` makes one string object per distinct
/// key of a document, so after the first entry the keys are told apart by address.
struct EntryKeys {
    key: *mut ffi::PyObject,
    value: *mut ffi::PyObject,
}

enum EntryField {
    Key,
    Value,
    Other,
}

impl EntryKeys {
    fn field(&mut self, name: Borrowed<'_, '_, PyAny>) -> PyResult<EntryField> {
        let ptr = name.as_ptr();
        if ptr == self.value {
            return Ok(EntryField::Value);
        }
        if ptr == self.key {
            return Ok(EntryField::Key);
        }
        let Some(text) = as_str(name) else {
            return Ok(EntryField::Other);
        };
        Ok(match text.to_str()? {
            "value" => {
                self.value = ptr;
                EntryField::Value
            }
            "key" => {
                self.key = ptr;
                EntryField::Key
            }
            _ => EntryField::Other,
        })
    }
}

/// The Python strings of the headers copied out, so that the function's result is compared with
/// them directly instead of being looked up again. Held (not borrowed): writing the result into
/// the dict may run a caller's Python code, which could change the dict.
#[derive(Default)]
struct Copied<'py> {
    /// Name, and the range of its entries in `entries`.
    headers: Vec<(Bound<'py, PyString>, std::ops::Range<usize>)>,
    /// Each entry's value and key.
    entries: Vec<(Bound<'py, PyString>, Option<Bound<'py, PyString>>)>,
}

impl<'py> Copied<'py> {
    fn find(&self, name: &str) -> PyResult<Option<&std::ops::Range<usize>>> {
        for (copied, range) in &self.headers {
            if copied.to_str()? == name {
                return Ok(Some(range));
            }
        }
        Ok(None)
    }

    /// Whether the event had exactly `entries` under `name`.
    fn unchanged(&self, name: &str, entries: &[HeaderEntry]) -> PyResult<bool> {
        let Some(range) = self.find(name)? else {
            return Ok(false);
        };
        if range.len() != entries.len() {
            return Ok(false);
        }
        for ((value, key), entry) in self.entries[range.clone()].iter().zip(entries) {
            let same_key = match (&entry.key, key) {
                (None, None) => true,
                (Some(want), Some(key)) => key.to_str()? == want,
                _ => false,
            };
            if !same_key || value.to_str()? != entry.value {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// The headers of `value` that `names` lists (all of them for [`Names::All`]), in one walk over
/// the whole dict that also refuses what the typed model would refuse in any header, read or
/// not: names and values that are not strings, entries that are not a list of objects, request
/// keys that do not match their name, and geo or device headers in viewer-request.
fn read_headers<'py>(
    map: &Bound<'py, PyDict>,
    names: &Names,
    trigger: EventType,
    path: &str,
    request: bool,
) -> PyResult<(Headers, Copied<'py>)> {
    let py = map.py();
    let refused = |e: edge_functions::event::EventError| bad(trigger, &e.to_string());
    let mut headers = Headers::new();
    let copying = match names {
        Names::All => map.len(),
        Names::Only(names) => names.len(),
    };
    let mut copied = Copied {
        headers: Vec::with_capacity(copying),
        entries: Vec::with_capacity(copying),
    };
    let mut fields = EntryKeys {
        key: std::ptr::null_mut(),
        value: std::ptr::null_mut(),
    };
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
        let name_string = as_str(name).ok_or_else(|| {
            bad(
                trigger,
                &format!("`{path}` has a name that is not a string"),
            )
        })?;
        let name = name_string.to_str()?;
        if request {
            edge_functions::rules::check_request_header_name(trigger, name).map_err(refused)?;
        }
        let entries = entries
            .cast_exact::<PyList>()
            .or_else(|_| entries.cast::<PyList>())
            .map_err(|_| bad(trigger, &format!("`{path}.{name}` is not an array")))?;
        let copy = names.contains(name);
        let count = entries.len();
        let first = copied.entries.len();
        let mut list = Vec::with_capacity(if copy { count } else { 0 });
        for index in 0..count {
            // SAFETY: as above; `index` is within the list.
            let entry = unsafe {
                Borrowed::from_ptr(py, ffi::PyList_GetItem(entries.as_ptr(), index as _))
            };
            let entry = entry
                .cast_exact::<PyDict>()
                .or_else(|_| entry.cast::<PyDict>())
                .map_err(|_| bad(trigger, &format!("`{path}.{name}[]` is not an object")))?;
            let (mut value, mut key) = (None, None);
            let (mut at, mut field, mut item) = (0, std::ptr::null_mut(), std::ptr::null_mut());
            // SAFETY: as above, for the entry's dict.
            while unsafe { ffi::PyDict_Next(entry.as_ptr(), &mut at, &mut field, &mut item) } != 0 {
                let (field, item) =
                    unsafe { (Borrowed::from_ptr(py, field), Borrowed::from_ptr(py, item)) };
                match fields.field(field)? {
                    EntryField::Value => value = Some(item),
                    // `"key": null` is no key, as the typed route reads it.
                    EntryField::Key if !item.is_none() => key = Some(item),
                    EntryField::Key | EntryField::Other => {}
                }
            }
            let value = value
                .ok_or_else(|| bad(trigger, &format!("`{path}.{name}[].value` is missing")))?;
            let value = as_str(value)
                .ok_or_else(|| bad(trigger, &format!("`{path}.{name}[].value` is not a string")))?;
            let key_string = key
                .map(|key| {
                    as_str(key).ok_or_else(|| {
                        bad(trigger, &format!("`{path}.{name}[].key` is not a string"))
                    })
                })
                .transpose()?;
            let key = match key_string {
                None => None,
                Some(key) => {
                    let key = key.to_str()?;
                    if request {
                        edge_functions::rules::check_request_header_key(name, key)
                            .map_err(refused)?;
                    }
                    copy.then(|| key.to_owned())
                }
            };
            if copy {
                list.push(HeaderEntry {
                    key,
                    value: value.to_str()?.to_owned(),
                    extra: Default::default(),
                });
                copied
                    .entries
                    .push((value.to_owned(), key_string.map(|k| k.to_owned())));
            }
        }
        if copy {
            headers.0.insert(name.to_owned(), list);
            copied
                .headers
                .push((name_string.to_owned(), first..copied.entries.len()));
        }
    }
    Ok((headers, copied))
}

/// Headers functions write on many events (security headers, cache policies), kept as Python
/// objects: writing one again copies its kept entry dicts (CPython copies a small dict's table in
/// one go) instead of making every string and dict anew, as a plain-Python handler shares its
/// constants. Direct-mapped on the name and first value: a slot keeps the last header that
/// mapped to it, so per-visitor values (cookies) only take turns in a few slots. Nothing is
/// interned: interned strings would live as long as the interpreter.
struct HeaderCache {
    slots: Vec<Option<KeptHeader>>,
}

struct KeptHeader {
    name: Box<str>,
    entries: Vec<HeaderEntry>,
    py_name: Py<PyString>,
    dicts: Vec<Py<PyDict>>,
}

const CACHE_SLOTS: usize = 256;
/// Headers longer than this are made fresh: they are not the repeated constants this is for.
const CACHE_MAX_BYTES: usize = 1024;

static HEADERS: std::sync::Mutex<HeaderCache> =
    std::sync::Mutex::new(HeaderCache { slots: Vec::new() });

/// A cheap hash of a string's length and its first and last eight bytes (all of it when shorter).
fn mix(s: &str) -> u64 {
    let b = s.as_bytes();
    let n = b.len();
    if n < 8 {
        return b.iter().fold(n as u64, |h, &c| (h << 8) | u64::from(c));
    }
    let word = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or_default());
    (n as u64) ^ word(0) ^ word(n - 8).rotate_left(21)
}

/// A fresh dict for one header entry.
fn entry_dict<'py>(py: Python<'py>, entry: &HeaderEntry) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    if let Some(key) = &entry.key {
        d.set_item(intern!(py, "key"), key)?;
    }
    d.set_item(intern!(py, "value"), &entry.value)?;
    Ok(d)
}

/// A new list holding a copy of each dict.
fn list_of_copies<'py>(py: Python<'py>, dicts: &[Py<PyDict>]) -> PyResult<Bound<'py, PyList>> {
    // SAFETY: the GIL is held; `PyList_New` gives a new reference (or null with an error set),
    // and each `PyList_SetItem` takes the new reference `PyDict_Copy` returned, into a slot
    // within the list's length. A list dropped half-filled frees only the slots it holds.
    unsafe {
        let list = Bound::from_owned_ptr_or_err(py, ffi::PyList_New(dicts.len() as _))?;
        for (index, d) in dicts.iter().enumerate() {
            let copy = ffi::PyDict_Copy(d.as_ptr());
            if copy.is_null() {
                return Err(PyErr::fetch(py));
            }
            ffi::PyList_SetItem(list.as_ptr(), index as _, copy);
        }
        Ok(list.cast_into_unchecked())
    }
}

impl HeaderCache {
    fn slot(name: &str, entries: &[HeaderEntry]) -> usize {
        let value = entries.first().map_or(0, |e| mix(&e.value).rotate_left(7));
        ((mix(name) ^ value).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize % CACHE_SLOTS
    }

    /// The header's name as a Python string and a fresh list of its entries.
    fn header<'py>(
        &mut self,
        py: Python<'py>,
        name: &str,
        entries: &[HeaderEntry],
    ) -> PyResult<(Bound<'py, PyString>, Bound<'py, PyList>)> {
        let bytes: usize = entries.iter().map(|e| e.value.len()).sum();
        if bytes > CACHE_MAX_BYTES {
            return fresh_header(py, name, entries);
        }
        if self.slots.is_empty() {
            self.slots.resize_with(CACHE_SLOTS, || None);
        }
        let slot = &mut self.slots[Self::slot(name, entries)];
        if let Some(kept) = slot
            && *kept.name == *name
            && kept.entries == entries
        {
            return Ok((
                kept.py_name.bind(py).clone(),
                list_of_copies(py, &kept.dicts)?,
            ));
        }
        let kept = KeptHeader {
            name: name.into(),
            entries: entries.to_vec(),
            py_name: PyString::new(py, name).unbind(),
            dicts: entry_dicts(py, entries)?,
        };
        let written = (
            kept.py_name.bind(py).clone(),
            list_of_copies(py, &kept.dicts)?,
        );
        *slot = Some(kept);
        Ok(written)
    }
}

fn entry_dicts(py: Python<'_>, entries: &[HeaderEntry]) -> PyResult<Vec<Py<PyDict>>> {
    entries
        .iter()
        .map(|e| entry_dict(py, e).map(Bound::unbind))
        .collect()
}

/// A header's name and entries made anew, without the cache.
fn fresh_header<'py>(
    py: Python<'py>,
    name: &str,
    entries: &[HeaderEntry],
) -> PyResult<(Bound<'py, PyString>, Bound<'py, PyList>)> {
    Ok((
        PyString::new(py, name),
        list_of_copies(py, &entry_dicts(py, entries)?)?,
    ))
}

/// The header cache, when it is free. Making Python objects can run Python code (the garbage
/// collector's finalizers) that releases the GIL or calls back in: a handler that finds the
/// cache in use makes its headers anew rather than wait for it.
fn free_cache() -> Option<std::sync::MutexGuard<'static, HeaderCache>> {
    match HEADERS.try_lock() {
        Ok(cache) => Some(cache),
        Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}

/// Sets a header in a headers dict: the name and a fresh list of its entries.
fn put_header(
    target: &Bound<'_, PyDict>,
    cache: &mut Option<std::sync::MutexGuard<'static, HeaderCache>>,
    name: &str,
    entries: &[HeaderEntry],
) -> PyResult<()> {
    let py = target.py();
    let (key, list) = match cache {
        Some(cache) => cache.header(py, name, entries)?,
        None => fresh_header(py, name, entries)?,
    };
    target.set_item(key, list)
}

/// Brings the headers dict to what the function left: each header that differs is replaced, and
/// each header it read and no longer has is removed. Headers it did not read stay as they were,
/// so nothing is copied out and back just to be compared.
fn write_headers(target: &Bound<'_, PyDict>, copied: &Copied, after: &Headers) -> PyResult<()> {
    let mut cache = free_cache();
    for (name, entries) in after.iter() {
        // A header the function did not read is one it set: only read ones can be unchanged.
        if !copied.unchanged(name, entries)? {
            put_header(target, &mut cache, name, entries)?;
        }
    }
    // Headers the event had and the function no longer has: it removed them.
    for (name, _) in &copied.headers {
        if !after.contains(name.to_str()?) {
            target.del_item(name)?;
        }
    }
    Ok(())
}

/// The `headers` dict of a request or response dict: the one it had, or a new one.
fn headers_dict<'py>(
    owner: &Bound<'py, PyDict>,
    existing: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyDict>> {
    match existing {
        Some(h) => Ok(h.clone()),
        None => {
            let py = owner.py();
            let h = PyDict::new(py);
            owner.set_item(intern!(py, "headers"), &h)?;
            Ok(h)
        }
    }
}

/// The `headers` dict of a request or response dict, if it has one.
fn optional_headers<'py>(
    owner: &Bound<'py, PyDict>,
    trigger: EventType,
    path: &str,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    get(owner, intern!(owner.py(), "headers"))?
        .map(|h| dict(h, trigger, path))
        .transpose()
}

/// Sets `key` to `value`, or removes it when the value is gone.
fn set_or_remove(
    d: &Bound<'_, PyDict>,
    key: &Bound<'_, PyString>,
    value: Option<&str>,
) -> PyResult<()> {
    match value {
        Some(value) => d.set_item(key, value),
        None if d.contains(key)? => d.del_item(key),
        None => Ok(()),
    }
}

fn new_response_dict<'py>(py: Python<'py>, response: &Response) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item(intern!(py, "status"), &response.status)?;
    if let Some(description) = &response.status_description {
        d.set_item(intern!(py, "statusDescription"), description)?;
    }
    let headers = PyDict::new(py);
    let mut cache = free_cache();
    for (name, entries) in response.headers.iter() {
        put_header(&headers, &mut cache, name, entries)?;
    }
    d.set_item(intern!(py, "headers"), headers)?;
    if let Some(body) = &response.body {
        d.set_item(intern!(py, "body"), body)?;
    }
    if let Some(encoding) = response.body_encoding {
        d.set_item(intern!(py, "bodyEncoding"), encoding.as_str())?;
    }
    Ok(d)
}

/// `cf.request.body`, as Include Body exposes it.
fn read_request_body(value: Bound<'_, PyAny>, trigger: EventType) -> PyResult<RequestBody> {
    let path = "cf.request.body";
    let d = dict(value, trigger, path)?;
    let py = d.py();
    let input_truncated = match get(&d, intern!(py, "inputTruncated"))? {
        None => false,
        Some(v) => cast::<PyBool>(v)
            .ok_or_else(|| {
                bad(
                    trigger,
                    &format!("`{path}.inputTruncated` is not a boolean"),
                )
            })?
            .is_true(),
    };
    let action = match optional_text(&d, intern!(py, "action"), trigger, path)? {
        None => BodyAction::default(),
        Some(name) => {
            let name = name.to_str()?;
            BodyAction::from_wire(name).ok_or_else(|| {
                bad(
                    trigger,
                    &format!("`{path}.action` is `{name}`, not `read-only` or `replace`"),
                )
            })?
        }
    };
    let encoding = match optional_text(&d, intern!(py, "encoding"), trigger, path)? {
        None => BodyEncoding::default(),
        Some(name) => encoding(&name, trigger, &format!("{path}.encoding"))?,
    };
    Ok(RequestBody {
        input_truncated,
        action,
        encoding,
        data: owned_or_empty(&optional_text(&d, intern!(py, "data"), trigger, path)?)?,
        extra: Default::default(),
    })
}

fn encoding(name: &Bound<'_, PyString>, trigger: EventType, path: &str) -> PyResult<BodyEncoding> {
    let name = name.to_str()?;
    BodyEncoding::from_wire(name).ok_or_else(|| {
        bad(
            trigger,
            &format!("`{path}` is `{name}`, not `base64` or `text`"),
        )
    })
}

/// Writes the function's request body over the event's, keeping fields the model does not know.
fn write_request_body(request: &Bound<'_, PyDict>, body: Option<&RequestBody>) -> PyResult<()> {
    let py = request.py();
    let key = intern!(py, "body");
    let Some(body) = body else {
        return set_or_remove(request, key, None);
    };
    let d = match request.get_item(key)?.map(|b| b.cast_into::<PyDict>()) {
        Some(Ok(d)) => d,
        _ => {
            let d = PyDict::new(py);
            request.set_item(key, &d)?;
            d
        }
    };
    d.set_item(intern!(py, "inputTruncated"), body.input_truncated)?;
    d.set_item(intern!(py, "action"), body.action.as_str())?;
    d.set_item(intern!(py, "encoding"), body.encoding.as_str())?;
    d.set_item(intern!(py, "data"), &body.data)?;
    Ok(())
}

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
/// function; `None` when it needs data (the typed route's job).
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
    if !host.functions.needs(trigger, &typed).is_empty() {
        return Ok(None);
    }
    let result = host
        .functions
        .run_owned(trigger, typed, &Supplied::default())
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
