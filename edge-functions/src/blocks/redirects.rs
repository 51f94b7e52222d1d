//! Redirects: exact paths, prefixes (the rest carried over) and patterns with captures, each with
//! its own status; permanent ones are cacheable.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::blocks::path_pattern::{self, PathPattern};
use crate::event::Response;
use crate::function::{Flow, HeaderReads, RequestEdit, ViewerRequestStep};

/// One rule, as a declaration writes it: exactly one of `from`, `prefix` or `pattern`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedirectRule {
    /// This exact path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Every path that starts with this; what follows it is appended to `to`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Path segments, `{name}` standing for any one segment: `/blog/{year}/{slug}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// The target path or URL; for a pattern, `{name}` is what that segment was.
    pub to: String,
    /// This rule's status (the block's `status` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

/// The `redirects` block: answers a matching request itself with a redirect. Exact rules are
/// looked up first (one hash lookup however many there are); then prefix and pattern rules, in
/// the order listed. A request no rule matches goes on.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redirects {
    pub rules: Vec<RedirectRule>,
    /// The status of rules that do not give one.
    #[serde(default = "default_status")]
    pub status: u16,
    /// Carry the request's query string over to the target.
    #[serde(default)]
    pub keep_query: bool,
    /// How long browsers and CloudFront may keep a permanent redirect (301, 308), in seconds;
    /// temporary ones are sent with `no-cache`.
    #[serde(default = "default_permanent_max_age")]
    pub permanent_max_age_secs: u64,
    #[serde(skip)]
    compiled: Compiled,
}

fn default_status() -> u16 {
    302
}

fn default_permanent_max_age() -> u64 {
    86_400
}

/// The rules, ready to match.
#[derive(Debug, Clone, Default)]
struct Compiled {
    exact: HashMap<String, Target, std::hash::BuildHasherDefault<crate::blocks::Fnv1a>>,
    ordered: Vec<(Matcher, Target)>,
}

#[derive(Debug, Clone)]
enum Matcher {
    Prefix(String),
    Pattern(PathPattern),
}

#[derive(Debug, Clone)]
struct Target {
    to: String,
    status: u16,
}

const REDIRECT_STATUSES: [u16; 5] = [301, 302, 303, 307, 308];

impl Redirects {
    /// Checks the rules and makes them ready to match; what is wrong, said about the rule.
    pub fn compile(mut self) -> Result<Redirects, String> {
        let mut compiled = Compiled::default();
        for (index, rule) in self.rules.iter().enumerate() {
            let n = index + 1;
            let status = rule.status.unwrap_or(self.status);
            if !REDIRECT_STATUSES.contains(&status) {
                return Err(format!(
                    "rule {n}: status {status} is not a redirect (301, 302, 303, 307 or 308)"
                ));
            }
            let target = Target {
                to: rule.to.clone(),
                status,
            };
            match (&rule.from, &rule.prefix, &rule.pattern) {
                (Some(from), None, None) => {
                    if compiled.exact.insert(from.clone(), target).is_some() {
                        return Err(format!("rule {n}: `{from}` is listed twice"));
                    }
                }
                (None, Some(prefix), None) => {
                    if prefix.is_empty() {
                        return Err(format!("rule {n}: an empty prefix matches everything"));
                    }
                    compiled
                        .ordered
                        .push((Matcher::Prefix(prefix.clone()), target));
                }
                (None, None, Some(pattern)) => {
                    let parsed =
                        PathPattern::parse(pattern).map_err(|e| format!("rule {n}: {e}"))?;
                    for name in path_pattern::names_in(&rule.to) {
                        if !parsed.captures_name(name) {
                            return Err(format!(
                                "rule {n}: `to` uses {{{name}}}, which the pattern does not capture"
                            ));
                        }
                    }
                    compiled.ordered.push((Matcher::Pattern(parsed), target));
                }
                _ => {
                    return Err(format!(
                        "rule {n}: give exactly one of `from`, `prefix` or `pattern`"
                    ));
                }
            }
        }
        self.compiled = compiled;
        Ok(self)
    }

    /// Where `uri` redirects to, and with which status.
    fn target(&self, uri: &str) -> Option<(String, u16)> {
        if !self.compiled.exact.is_empty()
            && let Some(t) = self.compiled.exact.get(uri)
        {
            return Some((t.to.clone(), t.status));
        }
        for (matcher, target) in &self.compiled.ordered {
            match matcher {
                Matcher::Prefix(prefix) => {
                    if let Some(rest) = uri.strip_prefix(prefix.as_str()) {
                        return Some((format!("{}{rest}", target.to), target.status));
                    }
                }
                Matcher::Pattern(pattern) => {
                    if let Some(captured) = pattern.captures(uri) {
                        return Some((path_pattern::fill(&target.to, &captured), target.status));
                    }
                }
            }
        }
        None
    }
}

impl ViewerRequestStep for Redirects {
    fn viewer_request(&self, request: &mut RequestEdit<'_>) -> Flow {
        let Some((mut location, status)) = self.target(&request.uri) else {
            return Flow::Continue;
        };
        if self.keep_query && !request.querystring.is_empty() {
            location.push(if location.contains('?') { '&' } else { '?' });
            location.push_str(&request.querystring);
        }
        let mut response = Response::new(status);
        response.headers.set("Location", location);
        let cache = if matches!(status, 301 | 308) {
            format!("public, max-age={}", self.permanent_max_age_secs)
        } else {
            "no-cache".to_owned()
        };
        response.headers.set("Cache-Control", cache);
        Flow::Respond(response)
    }

    fn header_reads(&self, _reads: &mut HeaderReads) {}
}

impl crate::site::Block for Redirects {
    const NAME: &'static str = "redirects";
    const SUMMARY: &'static str = "Redirects: exact paths (`from`), prefixes with the rest carried over \
(`prefix`), and patterns with captured segments (`pattern = \"/blog/{year}/{slug}\"`, `to = \
\"/posts/{slug}\"`), each with its own status (else the block's). Exact rules win, then the others \
in the order listed. Permanent ones (301, 308) are cacheable for `permanent_max_age_secs`, temporary \
ones `no-cache`. Viewer-request: the answer needs no origin and no cache lookup.";
    const RUNS_ON: &'static [crate::EventType] = &[crate::EventType::ViewerRequest];
    const EXAMPLE: &'static str = r#"status = 302
keep_query = true
rules = [
  { from = "/r/cat", to = "/card/k9b430fc" },
  { prefix = "/old/", to = "/docs/", status = 301 },
  { pattern = "/blog/{year}/{slug}", to = "/posts/{slug}", status = 308 },
]"#;

    fn build(self, _site: &crate::site::SiteContext) -> Result<crate::site::Steps, String> {
        Ok(crate::site::Steps {
            viewer_request: Some(std::sync::Arc::new(self.compile()?)),
            ..Default::default()
        })
    }
}

// The rules are written as a declaration writes them (TOML).
#[cfg(all(test, feature = "toml"))]
mod tests {
    use super::*;
    use crate::event::Request;

    fn block(rules: &str) -> Redirects {
        let text = format!("rules = {rules}");
        let redirects: Redirects = toml::from_str(&text).unwrap();
        redirects.compile().unwrap()
    }

    fn answer(block: &Redirects, uri: &str, query: &str) -> Option<Response> {
        let mut request = Request {
            uri: uri.into(),
            querystring: query.into(),
            ..Default::default()
        };
        match block.viewer_request(&mut RequestEdit::new(&mut request)) {
            Flow::Respond(response) => Some(response),
            Flow::Continue => None,
        }
    }

    #[test]
    fn exact_prefix_and_pattern_rules_with_their_statuses() {
        let block = block(
            r#"[
              { prefix = "/r/", to = "/short/" },
              { from = "/r/cat", to = "/card/k9b430fc" },
              { prefix = "/old/", to = "/docs/", status = 301 },
              { pattern = "/blog/{year}/{slug}", to = "/posts/{slug}?y={year}", status = 308 },
            ]"#,
        );
        let cat = answer(&block, "/r/cat", "").unwrap();
        assert_eq!(cat.status, "302", "exact rules win over an earlier prefix");
        assert_eq!(cat.headers.get("location"), Some("/card/k9b430fc"));
        assert_eq!(cat.headers.get("cache-control"), Some("no-cache"));
        let old = answer(&block, "/old/a/b.html", "").unwrap();
        assert_eq!(old.status, "301");
        assert_eq!(old.headers.get("location"), Some("/docs/a/b.html"));
        assert_eq!(
            old.headers.get("cache-control"),
            Some("public, max-age=86400")
        );
        let post = answer(&block, "/blog/2026/edge", "").unwrap();
        assert_eq!(post.status, "308");
        assert_eq!(post.headers.get("location"), Some("/posts/edge?y=2026"));
        assert!(answer(&block, "/blog/2026", "").is_none());
        assert!(answer(&block, "/blog/2026/", "").is_none());
        assert!(answer(&block, "/blog/2026/edge/more", "").is_none());
        assert!(answer(&block, "/other", "").is_none());
    }

    #[test]
    fn the_query_is_kept_when_asked() {
        let mut block = block(r#"[{ from = "/a", to = "/b" }, { from = "/c", to = "/d?x=1" }]"#);
        assert_eq!(
            answer(&block, "/a", "q=1").unwrap().headers.get("location"),
            Some("/b")
        );
        block.keep_query = true;
        assert_eq!(
            answer(&block, "/a", "q=1").unwrap().headers.get("location"),
            Some("/b?q=1")
        );
        assert_eq!(
            answer(&block, "/c", "q=1").unwrap().headers.get("location"),
            Some("/d?x=1&q=1")
        );
    }

    #[test]
    fn bad_rules_are_refused_with_their_number() {
        for (rules, wanted) in [
            (
                r#"[{ from = "/a", to = "/b", status = 200 }]"#,
                "rule 1: status 200",
            ),
            (r#"[{ to = "/b" }]"#, "rule 1: give exactly one"),
            (
                r#"[{ from = "/a", prefix = "/a", to = "/b" }]"#,
                "rule 1: give exactly one",
            ),
            (
                r#"[{ from = "/a", to = "/b" }, { from = "/a", to = "/c" }]"#,
                "rule 2: `/a` is listed twice",
            ),
            (r#"[{ pattern = "/x/{y}", to = "/{z}" }]"#, "uses {z}"),
            (
                r#"[{ pattern = "/x/a{y}", to = "/" }]"#,
                "a capture is a whole segment",
            ),
            (
                r#"[{ pattern = "x/{y}", to = "/" }]"#,
                "does not start with /",
            ),
            (r#"[{ prefix = "", to = "/" }]"#, "empty prefix"),
        ] {
            let text = format!("rules = {rules}");
            let redirects: Redirects = toml::from_str(&text).unwrap();
            let err = redirects.compile().unwrap_err();
            assert!(err.contains(wanted), "{rules}: {err}");
        }
    }
}
