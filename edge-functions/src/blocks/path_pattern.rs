//! Path patterns with captured segments (`/blog/{year}/{slug}`), shared by the blocks that route
//! by path: redirects, pages.

/// One segment of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Capture(String),
}

/// A path pattern: literal segments and whole-segment captures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    segments: Vec<Segment>,
    /// The literal text before the first capture (all of it without captures): most paths are
    /// told apart by it, with one comparison.
    prefix: String,
    exact: bool,
}

impl PathPattern {
    /// Parses `/blog/{year}/{slug}`: a capture is a whole segment, named with letters, digits and
    /// `_`. A pattern without captures matches its path exactly.
    pub fn parse(pattern: &str) -> Result<PathPattern, String> {
        if !pattern.starts_with('/') {
            return Err(format!("pattern `{pattern}` does not start with /"));
        }
        let mut segments = Vec::new();
        for segment in pattern.split('/') {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    return Err(format!(
                        "`{{{name}}}` is not a capture name (letters, digits, _)"
                    ));
                }
                if segments.contains(&Segment::Capture(name.to_owned())) {
                    return Err(format!("`{{{name}}}` is captured twice"));
                }
                segments.push(Segment::Capture(name.to_owned()));
            } else if segment.contains('{') || segment.contains('}') {
                return Err(format!(
                    "segment `{segment}`: a capture is a whole segment, such as `{{slug}}`"
                ));
            } else {
                segments.push(Segment::Literal(segment.to_owned()));
            }
        }
        let mut pattern = PathPattern {
            segments,
            prefix: String::new(),
            exact: false,
        };
        (pattern.prefix, pattern.exact) = pattern.literal_prefix();
        Ok(pattern)
    }

    /// Whether the pattern captures `name`.
    pub fn captures_name(&self, name: &str) -> bool {
        self.segments
            .iter()
            .any(|s| matches!(s, Segment::Capture(c) if c == name))
    }

    /// The captured segments, by name, if `path` matches. A capture never matches an empty
    /// segment.
    pub fn captures<'p>(&self, path: &'p str) -> Option<Vec<(&str, &'p str)>> {
        if self.exact {
            return (path == self.prefix).then(Vec::new);
        }
        if !path.starts_with(self.prefix.as_str()) {
            return None;
        }
        let mut parts = path.split('/');
        let mut captured = Vec::new();
        for segment in &self.segments {
            let part = parts.next()?;
            match segment {
                Segment::Literal(literal) if literal == part => {}
                Segment::Literal(_) => return None,
                Segment::Capture(_) if part.is_empty() => return None,
                Segment::Capture(name) => captured.push((name.as_str(), part)),
            }
        }
        if parts.next().is_some() {
            return None;
        }
        Some(captured)
    }

    /// Its segments in order: `Some(literal)`, or `None` for a capture (what [`PathIndex`]
    /// files it under).
    ///
    /// [`PathIndex`]: crate::blocks::path_index::PathIndex
    pub fn segments(&self) -> impl Iterator<Item = Option<&str>> {
        self.segments.iter().map(|segment| match segment {
            Segment::Literal(literal) => Some(literal.as_str()),
            Segment::Capture(_) => None,
        })
    }

    /// The literal path before the first capture (and whether that is all of it).
    pub fn prefix(&self) -> (&str, bool) {
        (&self.prefix, self.exact)
    }

    fn literal_prefix(&self) -> (String, bool) {
        let mut prefix = String::new();
        for (n, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Literal(literal) => {
                    if n > 0 {
                        prefix.push('/');
                    }
                    prefix.push_str(literal);
                }
                Segment::Capture(_) => {
                    prefix.push('/');
                    return (prefix, false);
                }
            }
        }
        (prefix, true)
    }
}

/// `to` with each `{name}` replaced by what was captured.
pub fn fill(to: &str, captured: &[(&str, &str)]) -> String {
    let mut out = to.to_owned();
    for (name, value) in captured {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// The capture names `{name}` used in a target.
pub fn names_in(to: &str) -> impl Iterator<Item = &str> {
    to.split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|(name, _)| name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_capture_whole_segments() {
        let pattern = PathPattern::parse("/blog/{year}/{slug}").unwrap();
        assert_eq!(
            pattern.captures("/blog/2024/hello"),
            Some(vec![("year", "2024"), ("slug", "hello")])
        );
        assert_eq!(pattern.captures("/blog/2024/"), None);
        assert_eq!(pattern.captures("/blog/2024/hello/more"), None);
        assert_eq!(pattern.captures("/news/2024/hello"), None);
        assert_eq!(pattern.prefix(), ("/blog/", false));
        let exact = PathPattern::parse("/index.html").unwrap();
        assert_eq!(exact.captures("/index.html"), Some(vec![]));
        assert_eq!(exact.captures("/index.htm"), None);
        assert_eq!(exact.prefix(), ("/index.html", true));
        assert_eq!(PathPattern::parse("/").unwrap().prefix(), ("/", true));
        assert_eq!(PathPattern::parse("/").unwrap().captures("/"), Some(vec![]));
        let first = PathPattern::parse("/{lang}/guide").unwrap();
        assert_eq!(first.prefix(), ("/", false));
        assert_eq!(first.captures("/de/guide"), Some(vec![("lang", "de")]));
        assert!(PathPattern::parse("/a{b}").is_err());
        assert!(PathPattern::parse("/{a}/{a}").is_err());
        assert!(PathPattern::parse("a").is_err());
        assert_eq!(fill("/posts/{slug}", &[("slug", "x")]), "/posts/x");
    }
}
