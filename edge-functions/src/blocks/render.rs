//! Page rendering: minijinja templates from the origin, with HTML autoescaping, so that data
//! from the store can never inject markup.

use std::sync::{Arc, Mutex, PoisonError};

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
    let env = compiled(data, names)?;
    let template = env
        .get_template(entry)
        .map_err(|err| template_error(entry, &err))?;
    template
        .render(context)
        .map_err(|err| template_error(entry, &err))
}

/// Compiled template sets. The texts are supplied with every event (the function does no I/O),
/// but they change only when the origin's templates do, so parsing them again for each page
/// would be wasted: a set is found again by its templates' names and exact texts. A site uses
/// a few sets (Alien Cards: home, card and error pages); a `serve --watch` session makes a new one
/// per edit, so the oldest goes when the list is full.
static COMPILED: Mutex<Vec<Arc<Environment<'static>>>> = Mutex::new(Vec::new());
const COMPILED_KEPT: usize = 16;

fn compiled(data: &Supplied, names: &[&str]) -> Result<Arc<Environment<'static>>, FunctionError> {
    // A name listed twice (a layout that is also the error page) is one template.
    let mut sources: Vec<(&str, &str)> = Vec::with_capacity(names.len());
    for name in names {
        if !sources.iter().any(|(kept, _)| kept == name) {
            sources.push((name, template_text(data, name)?));
        }
    }
    let same = |env: &Environment<'_>| {
        env.templates().count() == sources.len()
            && sources.iter().all(|(name, text)| {
                env.get_template(name)
                    .is_ok_and(|template| template.source() == *text)
            })
    };
    let find = |kept: &[Arc<Environment<'static>>]| kept.iter().find(|env| same(env)).cloned();
    // Compared outside the lock, so that serve's threads do not wait on each other.
    let kept = COMPILED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    if let Some(env) = find(&kept) {
        return Ok(env);
    }

    let mut env = Environment::new();
    // Block tags on lines of their own leave no blank lines behind.
    if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build()
    {
        env.set_syntax(syntax);
    }
    for (name, text) in &sources {
        env.add_template_owned(name.to_string(), text.to_string())
            .map_err(|err| template_error(name, &err))?;
    }
    let env = Arc::new(env);
    let mut kept = COMPILED.lock().unwrap_or_else(PoisonError::into_inner);
    // Another thread may have compiled the same set meanwhile.
    if let Some(env) = find(&kept) {
        return Ok(env);
    }
    if kept.len() >= COMPILED_KEPT {
        kept.remove(0);
    }
    kept.push(env.clone());
    Ok(env)
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

/// The page shown when even the error template cannot be had: plain, static, safe, with the
/// site's own title and message (no sentence of the library's).
pub fn fallback_error_page(status: u16, title: &str, message: &str) -> String {
    let title = minijinja::HtmlEscape(title).to_string();
    let message = minijinja::HtmlEscape(message).to_string();
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
<body><main><h1>{status} · {title}</h1><p>{message}</p></main></body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn supplied(templates: &[(&str, &str)]) -> Supplied {
        Supplied {
            templates: templates
                .iter()
                .map(|(name, text)| (name.to_string(), Ok(Some(text.to_string()))))
                .collect(),
            ..Supplied::default()
        }
    }

    fn page(data: &Supplied) -> Result<String, FunctionError> {
        render(
            data,
            &["render-test-base.html", "render-test-page.html"],
            "render-test-page.html",
            minijinja::context! { who => "<b>you</b>" },
        )
    }

    /// Compiled templates are kept by their texts: an edited template (as `serve --watch` sees
    /// one), in the page or in the layout it extends, renders as edited, the old texts still
    /// render as they did, and a broken one is refused every time it comes, not only the first.
    #[test]
    fn kept_templates_follow_the_texts_supplied() {
        let base = "<p>{% block body %}{% endblock %}</p>";
        let hello =
            "{% extends 'render-test-base.html' %}{% block body %}hello {{ who }}{% endblock %}";
        let first = supplied(&[
            ("render-test-base.html", base),
            ("render-test-page.html", hello),
        ]);
        let edited = supplied(&[
            ("render-test-base.html", base),
            (
                "render-test-page.html",
                "{% extends 'render-test-base.html' %}{% block body %}bye {{ who }}{% endblock %}",
            ),
        ]);
        let edited_base = supplied(&[
            (
                "render-test-base.html",
                "<div>{% block body %}{% endblock %}</div>",
            ),
            ("render-test-page.html", hello),
        ]);
        let broken = supplied(&[
            ("render-test-base.html", base),
            ("render-test-page.html", "{% block body %}"),
        ]);
        for _ in 0..2 {
            assert_eq!(
                page(&first).unwrap(),
                "<p>hello &lt;b&gt;you&lt;&#x2f;b&gt;</p>"
            );
            assert_eq!(
                page(&edited).unwrap(),
                "<p>bye &lt;b&gt;you&lt;&#x2f;b&gt;</p>"
            );
            assert_eq!(
                page(&edited_base).unwrap(),
                "<div>hello &lt;b&gt;you&lt;&#x2f;b&gt;</div>"
            );
            assert!(matches!(
                page(&broken),
                Err(FunctionError::Template { ref name, .. }) if name == "render-test-page.html"
            ));
        }
    }

    /// A set is found again only with the same templates: the same texts give the same compiled
    /// set, a set with one template more or less is another one, and a name listed twice counts
    /// once (so such a set is found again too).
    #[test]
    fn a_kept_set_is_found_by_all_its_templates() {
        let data = supplied(&[
            ("render-test-one.html", "one"),
            ("render-test-two.html", "two"),
        ]);
        let both = compiled(&data, &["render-test-one.html", "render-test-two.html"]).unwrap();
        let again = compiled(&data, &["render-test-one.html", "render-test-two.html"]).unwrap();
        assert!(Arc::ptr_eq(&both, &again));

        let one = compiled(&data, &["render-test-one.html"]).unwrap();
        assert!(!Arc::ptr_eq(&both, &one));
        assert!(one.get_template("render-test-two.html").is_err());

        let twice = compiled(&data, &["render-test-one.html", "render-test-one.html"]).unwrap();
        assert!(Arc::ptr_eq(&one, &twice));
    }
}
