//! Writing a function's edits back into the dict, with the headers written on many events kept
//! as Python objects.

use super::*;

/// Headers functions write on many events (security headers, cache policies), kept as Python
/// objects: writing one again copies its kept entry dicts (CPython copies a small dict's table in
/// one go) instead of making every string and dict anew, as a plain-Python handler shares its
/// constants. Direct-mapped on the name and first value: a slot keeps the last header that
/// mapped to it, so per-visitor values (cookies) only take turns in a few slots. Nothing is
/// interned: interned strings would live as long as the interpreter.
pub(super) struct HeaderCache {
    slots: Vec<Option<KeptHeader>>,
}

pub(super) struct KeptHeader {
    name: Box<str>,
    entries: Vec<HeaderEntry>,
    py_name: Py<PyString>,
    dicts: Vec<Py<PyDict>>,
}

pub(super) const CACHE_SLOTS: usize = 256;
/// Headers longer than this are made fresh: they are not the repeated constants this is for.
pub(super) const CACHE_MAX_BYTES: usize = 1024;

pub(super) static HEADERS: std::sync::Mutex<HeaderCache> =
    std::sync::Mutex::new(HeaderCache { slots: Vec::new() });

/// A cheap hash of a string's length and its first and last eight bytes (all of it when shorter).
pub(super) fn mix(s: &str) -> u64 {
    let b = s.as_bytes();
    let n = b.len();
    if n < 8 {
        return b.iter().fold(n as u64, |h, &c| (h << 8) | u64::from(c));
    }
    let word = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or_default());
    (n as u64) ^ word(0) ^ word(n - 8).rotate_left(21)
}

/// A fresh dict for one header entry.
pub(super) fn entry_dict<'py>(
    py: Python<'py>,
    entry: &HeaderEntry,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    if let Some(key) = &entry.key {
        d.set_item(intern!(py, "key"), key)?;
    }
    d.set_item(intern!(py, "value"), &entry.value)?;
    Ok(d)
}

/// A new list holding a copy of each dict.
pub(super) fn list_of_copies<'py>(
    py: Python<'py>,
    dicts: &[Py<PyDict>],
) -> PyResult<Bound<'py, PyList>> {
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
    pub(super) fn slot(name: &str, entries: &[HeaderEntry]) -> usize {
        let value = entries.first().map_or(0, |e| mix(&e.value).rotate_left(7));
        ((mix(name) ^ value).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize % CACHE_SLOTS
    }

    /// The header's name as a Python string and a fresh list of its entries.
    pub(super) fn header<'py>(
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

pub(super) fn entry_dicts(py: Python<'_>, entries: &[HeaderEntry]) -> PyResult<Vec<Py<PyDict>>> {
    entries
        .iter()
        .map(|e| entry_dict(py, e).map(Bound::unbind))
        .collect()
}

/// A header's name and entries made anew, without the cache.
pub(super) fn fresh_header<'py>(
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
pub(super) fn free_cache() -> Option<std::sync::MutexGuard<'static, HeaderCache>> {
    match HEADERS.try_lock() {
        Ok(cache) => Some(cache),
        Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}

/// Sets a header in a headers dict: the name and a fresh list of its entries.
pub(super) fn put_header(
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
pub(super) fn write_headers(
    target: &Bound<'_, PyDict>,
    copied: &Copied,
    after: &Headers,
) -> PyResult<()> {
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
pub(super) fn headers_dict<'py>(
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
pub(super) fn optional_headers<'py>(
    owner: &Bound<'py, PyDict>,
    trigger: EventType,
    path: &str,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    get(owner, intern!(owner.py(), "headers"))?
        .map(|h| dict(h, trigger, path))
        .transpose()
}

/// Sets `key` to `value`, or removes it when the value is gone.
pub(super) fn set_or_remove(
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

pub(super) fn new_response_dict<'py>(
    py: Python<'py>,
    response: &Response,
) -> PyResult<Bound<'py, PyDict>> {
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
