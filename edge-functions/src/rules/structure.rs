//! A result read as CloudFront reads it: JSON structure first, then the typed shape.

use super::*;

/// Reads a result as CloudFront does: structure first (objects, arrays, strings, no `null`),
/// then the typed shape. A request trigger's result is a generated response when it has `status`.
pub fn parse_result(trigger: EventType, value: &Value) -> Result<FunctionResult, Vec<Violation>> {
    let mut violations = Vec::new();
    let Some(object) = value.as_object() else {
        return Err(vec![Violation::new(
            Rule::MalformedResult,
            "the result must be a JSON object (the request or the response)",
        )]);
    };
    find_nulls(value, "", &mut violations);
    let is_response = !trigger.is_request() || object.contains_key("status");
    if !trigger.is_request() && !object.contains_key("status") {
        violations.push(Violation::new(
            Rule::WrongResultKind,
            format!("{trigger} must return the response (an object with `status`)"),
        ));
        return Err(violations);
    }
    if let Some(headers) = object.get("headers") {
        check_header_structure(headers, "headers", &mut violations);
    }
    if !violations.is_empty() {
        return Err(violations);
    }
    let bytes = value.to_string();
    let parsed = if is_response {
        crate::event::from_json::<Response>(bytes.as_bytes()).map(FunctionResult::Response)
    } else {
        crate::event::from_json::<Request>(bytes.as_bytes()).map(FunctionResult::Request)
    };
    parsed.map_err(|err: EventError| {
        vec![Violation::new(
            Rule::MalformedResult,
            format!(
                "the {} {err}",
                if is_response { "response" } else { "request" }
            ),
        )]
    })
}

pub(super) fn find_nulls(value: &Value, path: &str, out: &mut Vec<Violation>) {
    match value {
        Value::Null => out.push(Violation::new(
            Rule::MalformedResult,
            format!("`{path}` is null; omit an absent field instead"),
        )),
        Value::Object(map) => {
            for (key, v) in map {
                let p = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                find_nulls(v, &p, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                find_nulls(v, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

pub(super) fn check_header_structure(headers: &Value, path: &str, out: &mut Vec<Violation>) {
    let Some(map) = headers.as_object() else {
        out.push(Violation::new(
            Rule::MalformedResult,
            format!("`{path}` must be an object of header arrays"),
        ));
        return;
    };
    for (name, entries) in map {
        let Some(entries) = entries.as_array() else {
            out.push(Violation::new(
                Rule::MalformedResult,
                format!(
                    "`{path}.{name}`: each header entry in the headers object must be an array"
                ),
            ));
            continue;
        };
        for (i, entry) in entries.iter().enumerate() {
            let value = entry.get("value");
            if !value.is_some_and(Value::is_string) {
                out.push(Violation::new(
                    Rule::MalformedResult,
                    format!("`{path}.{name}[{i}].value` must be a string"),
                ));
            }
        }
    }
}
