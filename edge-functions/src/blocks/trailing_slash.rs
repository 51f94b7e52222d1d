//! One form for directory-like paths: with a trailing slash (`/guide/`) or without (`/guide`),
//! by redirect (visitors and search engines see one URL) or by rewrite (the origin sees one key).

use serde::{Deserialize, Serialize};

use crate::data::Supplied;
use crate::function::{Flow, HeaderReads, RequestEdit, ViewerRequestStep};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SlashMode {
    /// `/guide` → `/guide/` (paths whose last segment has no `.`, which look like files).
    Add,
    /// `/guide/` → `/guide` (never `/` itself).
    Strip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SlashAction {
    Redirect,
    Rewrite,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrailingSlash {
    pub mode: SlashMode,
    /// `redirect` (default) or `rewrite`.
    #[serde(default = "redirect")]
    pub action: SlashAction,
    /// The redirect's status: 301 (default) or 308.
    #[serde(default = "moved_permanently")]
    pub status: u16,
    /// Paths under these prefixes are left alone (an API's own URLs).
    #[serde(default)]
    pub except: Vec<String>,
}

fn redirect() -> SlashAction {
    SlashAction::Redirect
}

fn moved_permanently() -> u16 {
    301
}

impl TrailingSlash {
    /// The path in the wanted form, if it is not in it already.
    fn fixed(&self, uri: &str) -> Option<String> {
        if self
            .except
            .iter()
            .any(|prefix| uri.starts_with(prefix.as_str()))
        {
            return None;
        }
        match self.mode {
            SlashMode::Add => {
                let last = uri.rsplit('/').next().unwrap_or_default();
                (!uri.ends_with('/') && !last.contains('.')).then(|| format!("{uri}/"))
            }
            SlashMode::Strip => without_trailing_slash(uri).map(str::to_owned),
        }
    }
}

/// `/a/b/` (or `/a/b//`) without its trailing slashes; the root stays `/`. `None`: nothing to
/// strip. (`normalize` strips by this rule too.)
pub(crate) fn without_trailing_slash(uri: &str) -> Option<&str> {
    if uri.len() <= 1 || !uri.ends_with('/') {
        return None;
    }
    let trimmed = uri.trim_end_matches('/');
    Some(if trimmed.is_empty() { "/" } else { trimmed }).filter(|fixed| *fixed != uri)
}

impl ViewerRequestStep for TrailingSlash {
    fn viewer_request(&self, request: &mut RequestEdit<'_>, _data: &Supplied) -> Flow {
        let Some(fixed) = self.fixed(&request.uri) else {
            return Flow::Continue;
        };
        match self.action {
            SlashAction::Rewrite => {
                request.set_uri(fixed);
                Flow::Continue
            }
            SlashAction::Redirect => Flow::Respond(crate::blocks::redirect_keeping_query(
                request,
                fixed,
                self.status,
                "public, max-age=86400",
            )),
        }
    }

    fn header_reads(&self, _reads: &mut HeaderReads) {}
}

impl crate::site::Block for TrailingSlash {
    const NAME: &'static str = "trailing-slash";
    const SUMMARY: &'static str = "One form for directory-like paths: `mode = \"add\"` (`/guide` → \
`/guide/`; a last segment with a `.` looks like a file and is left alone) or `\"strip\"` (`/guide/` → \
`/guide`), as a `redirect` (301, the query kept: one URL for visitors and search engines) or a \
`rewrite` (the origin sees one key). `except` lists prefixes left alone. Viewer-request: a redirect \
needs no origin, and a rewrite there makes both forms share one cache entry.";
    const RUNS_ON: &'static [crate::EventType] = &[crate::EventType::ViewerRequest];
    const EXAMPLE: &'static str = r#"mode = "add"
action = "redirect"
except = ["/api/"]"#;

    fn build(self, _site: &crate::site::SiteContext) -> Result<crate::site::Steps, String> {
        if self.action == SlashAction::Redirect && ![301, 302, 307, 308].contains(&self.status) {
            return Err(format!(
                "status {}: use 301 or 308 (permanent), 302 or 307",
                self.status
            ));
        }
        Ok(crate::site::Steps {
            viewer_request: Some(std::sync::Arc::new(self)),
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(mode: SlashMode) -> TrailingSlash {
        TrailingSlash {
            mode,
            action: SlashAction::Redirect,
            status: 301,
            except: vec!["/api/".into()],
        }
    }

    #[test]
    fn adds_or_strips_the_slash_of_directory_like_paths() {
        let add = block(SlashMode::Add);
        assert_eq!(add.fixed("/guide").as_deref(), Some("/guide/"));
        assert_eq!(add.fixed("/guide/"), None);
        assert_eq!(add.fixed("/css/site.css"), None);
        assert_eq!(add.fixed("/"), None);
        assert_eq!(add.fixed("/api/cards"), None);
        let strip = block(SlashMode::Strip);
        assert_eq!(strip.fixed("/guide/").as_deref(), Some("/guide"));
        assert_eq!(strip.fixed("/guide//").as_deref(), Some("/guide"));
        assert_eq!(strip.fixed("/"), None);
        assert_eq!(strip.fixed("//").as_deref(), Some("/"));
        assert_eq!(strip.fixed("/guide"), None);
    }
}
