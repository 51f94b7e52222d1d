//! Request bodies: read from and written back into the dict.

use super::*;

/// `cf.request.body`, as Include Body exposes it.
pub(super) fn read_request_body(
    value: Bound<'_, PyAny>,
    trigger: EventType,
) -> PyResult<RequestBody> {
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

pub(super) fn encoding(
    name: &Bound<'_, PyString>,
    trigger: EventType,
    path: &str,
) -> PyResult<BodyEncoding> {
    let name = name.to_str()?;
    BodyEncoding::from_wire(name).ok_or_else(|| {
        bad(
            trigger,
            &format!("`{path}` is `{name}`, not `base64` or `text`"),
        )
    })
}

/// Writes the function's request body over the event's, keeping fields the model does not know.
pub(super) fn write_request_body(
    request: &Bound<'_, PyDict>,
    body: Option<&RequestBody>,
) -> PyResult<()> {
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
