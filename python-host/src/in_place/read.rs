//! Copying out the headers a function reads, in one walk that also refuses what the typed
//! model would refuse.

use super::*;

/// `obj` as a string: the exact type is checked inline, subclasses through the type's flags.
pub(super) fn as_str<'a, 'py>(
    obj: Borrowed<'a, 'py, PyAny>,
) -> Option<Borrowed<'a, 'py, PyString>> {
    obj.cast_exact::<PyString>()
        .or_else(|_| obj.cast::<PyString>())
        .ok()
}

/// Which field of a header entry a key names. `json.loads` makes one string object per distinct
/// key of a document, so after the first entry the keys are told apart by address.
pub(super) struct EntryKeys {
    key: *mut ffi::PyObject,
    value: *mut ffi::PyObject,
}

pub(super) enum EntryField {
    Key,
    Value,
    Other,
}

impl EntryKeys {
    pub(super) fn field(&mut self, name: Borrowed<'_, '_, PyAny>) -> PyResult<EntryField> {
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
pub(super) struct Copied<'py> {
    /// Name, and the range of its entries in `entries`.
    pub(super) headers: Vec<(Bound<'py, PyString>, std::ops::Range<usize>)>,
    /// Each entry's value and key.
    pub(super) entries: Vec<(Bound<'py, PyString>, Option<Bound<'py, PyString>>)>,
}

impl<'py> Copied<'py> {
    pub(super) fn find(&self, name: &str) -> PyResult<Option<&std::ops::Range<usize>>> {
        for (copied, range) in &self.headers {
            if copied.to_str()? == name {
                return Ok(Some(range));
            }
        }
        Ok(None)
    }

    /// Whether the event had exactly `entries` under `name`.
    pub(super) fn unchanged(&self, name: &str, entries: &[HeaderEntry]) -> PyResult<bool> {
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
pub(super) fn read_headers<'py>(
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
