//! Page rendering: minijinja templates from the origin, with HTML autoescaping, so that data
//! from the store can never inject markup.

use minijinja::Environment;

use crate::data::Supplied;
use crate::event::Response;
use crate::function::FunctionError;

/// Renders `entry`, with every template in `names` available to `{% extends %}` and
/// `{% include %}`. Templates ending in `.html` are autoescaped.
pub fn render(
    data: &Supplied,
    names: &[&str],
    entry: &str,
    context: minijinja::Value,
) -> Result<String, FunctionError> {
    let mut env = Environment::new();
    // Block tags on lines of their own leave no blank lines behind.
    if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build()
    {
        env.set_syntax(syntax);
    }
    for name in names {
        let source = template_text(data, name)?;
        env.add_template(name, source)
            .map_err(|err| template_error(name, &err))?;
    }
    let template = env
        .get_template(entry)
        .map_err(|err| template_error(entry, &err))?;
    template
        .render(context)
        .map_err(|err| template_error(entry, &err))
}

fn template_text<'a>(data: &'a Supplied, name: &str) -> Result<&'a str, FunctionError> {
    match data.templates.get(name) {
        Some(Ok(Some(text))) => Ok(text),
        Some(Ok(None)) | None => Err(FunctionError::MissingTemplate {
            name: name.to_owned(),
        }),
        Some(Err(err)) => Err(FunctionError::Template {
            name: name.to_owned(),
            message: err.to_string(),
        }),
    }
}

fn template_error(name: &str, err: &minijinja::Error) -> FunctionError {
    let mut message = err.to_string();
    if let Some(line) = err.line() {
        message = format!("line {line}: {message}");
    }
    FunctionError::Template {
        name: name.to_owned(),
        message,
    }
}

/// An HTML response.
pub fn html_response(status: u16, body: String, cache_control: &str) -> Response {
    let mut response = Response::new(status).with_text_body(body);
    response
        .headers
        .set("Content-Type", "text/html; charset=utf-8");
    response.headers.set("Cache-Control", cache_control);
    response
}

/// A JSON response that no cache keeps.
pub fn json_response(status: u16, body: &serde_json::Value) -> Response {
    let mut response = Response::new(status).with_text_body(body.to_string());
    response.headers.set("Content-Type", "application/json");
    response.headers.set("Cache-Control", "no-store");
    response
}

/// The page shown when even the error template cannot be had: plain, static, safe.
pub fn fallback_error_page(status: u16, title: &str) -> String {
    let title = minijinja::HtmlEscape(title).to_string();
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
<body><main><h1>{status} · {title}</h1><p>Please try again in a moment.</p><p><a href=\"/\">Home</a></p></main></body></html>\n"
    )
}
