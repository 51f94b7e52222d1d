//! Reading the event dict: typed access to its fields, the way `json.loads` builds them.

use super::*;

pub(super) fn bad(trigger: EventType, what: &str) -> PyErr {
    PyValueError::new_err(format!("bad {trigger} event: {what}"))
}

/// `value` as a `T`. `json.loads` makes exact dicts, lists and strings, whose type is checked
/// inline; a subclass is checked through the type's flags, a call under the stable ABI.
pub(super) fn cast<'py, T: PyTypeInfo>(value: Bound<'py, PyAny>) -> Option<Bound<'py, T>> {
    match value.cast_into_exact::<T>() {
        Ok(value) => Some(value),
        Err(e) => e.into_inner().cast_into::<T>().ok(),
    }
}

pub(super) fn dict<'py>(
    value: Bound<'py, PyAny>,
    trigger: EventType,
    what: &str,
) -> PyResult<Bound<'py, PyDict>> {
    cast::<PyDict>(value).ok_or_else(|| bad(trigger, &format!("`{what}` is not an object")))
}

/// `d[key]`, absent when missing or `null` (as the typed route reads optional fields). Owned:
/// a caller's dict may hold keys whose comparisons run Python code, which could change it.
pub(super) fn get<'py>(
    d: &Bound<'py, PyDict>,
    key: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    Ok(d.get_item(key)?.filter(|value| !value.is_none()))
}

pub(super) fn item<'py>(
    d: &Bound<'py, PyDict>,
    key: &Bound<'py, PyString>,
    trigger: EventType,
    path: &str,
) -> PyResult<Bound<'py, PyAny>> {
    get(d, key)?.ok_or_else(|| bad(trigger, &format!("`{path}.{key}` is missing")))
}

/// A string field, kept as the Python string: the result is compared with it afterwards.
pub(super) fn optional_text<'py>(
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

pub(super) fn text<'py>(
    d: &Bound<'py, PyDict>,
    key: &Bound<'py, PyString>,
    trigger: EventType,
    path: &str,
) -> PyResult<Bound<'py, PyString>> {
    optional_text(d, key, trigger, path)?
        .ok_or_else(|| bad(trigger, &format!("`{path}.{key}` is missing")))
}

pub(super) fn owned(text: &Bound<'_, PyString>) -> PyResult<String> {
    Ok(text.to_str()?.to_owned())
}

pub(super) fn owned_or_empty(text: &Option<Bound<'_, PyString>>) -> PyResult<String> {
    text.as_ref()
        .map(owned)
        .unwrap_or_else(|| Ok(String::new()))
}

pub(super) fn str_or_empty<'a>(text: &'a Option<Bound<'_, PyString>>) -> PyResult<&'a str> {
    Ok(optional_str(text)?.unwrap_or(""))
}

pub(super) fn optional_str<'a>(text: &'a Option<Bound<'_, PyString>>) -> PyResult<Option<&'a str>> {
    text.as_ref().map(|t| t.to_str()).transpose()
}
