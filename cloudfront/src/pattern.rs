//! Cache behavior path patterns, as CloudFront matches them: `*` is zero or more characters
//! (slashes included), `?` exactly one, case-sensitive, and a leading `/` makes no difference.
//! <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/distribution-web-values-specify.html#DownloadDistValuesPathPattern>

/// Whether `path` (the URI without its query string) matches `pattern`.
pub fn matches(pattern: &str, path: &str) -> bool {
    let pattern = pattern.strip_prefix('/').unwrap_or(pattern).as_bytes();
    let path = path.strip_prefix('/').unwrap_or(path).as_bytes();
    // Greedy matching with one backtrack point, the usual linear-time glob.
    let (mut p, mut s) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while s < path.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == path[s]) {
            p += 1;
            s += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, s));
            p += 1;
        } else if let Some((star_p, star_s)) = star {
            p = star_p + 1;
            s = star_s + 1;
            star = Some((star_p, star_s + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == b'*')
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn star_question_mark_and_case() {
        assert!(matches("/api/*", "/api/like"));
        assert!(matches("api/*", "/api/like"));
        assert!(
            matches("/images/*.jpg", "/images/a/b/c.jpg"),
            "`*` crosses slashes"
        );
        assert!(!matches("*.jpg", "/LOGO.JPG"), "case-sensitive");
        assert!(matches("/card/????????", "/card/da8398f4"));
        assert!(!matches("/card/????????", "/card/da8398f"));
        assert!(matches("/", "/"));
        assert!(!matches("/", "/index.html"));
        assert!(matches("*", "/anything/at/all"));
        assert!(matches("/a*b*c", "/axxbyyc"));
        assert!(!matches("/a*b*c", "/axxbyy"));
        assert!(!matches("/api/*", "/apix"));
    }
}
