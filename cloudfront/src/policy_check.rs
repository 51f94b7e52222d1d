//! What origin functions read against what each behavior's policies give them.
//!
//! CloudFront forwards to origin-request (and so to the origin and origin-response) only the
//! headers, cookies and query parameters the behavior's cache policy or origin request policy
//! list. A step that reads one that neither lists sees nothing there; worse, one that the origin
//! request policy forwards but the cache key leaves out lets a page made for one visitor be
//! served to the next. Steps say which paths they act on ([`Paths`]), so each is checked only on
//! the behaviors its paths can reach.

use edge_functions::EventType;
use edge_functions::function::{HeaderNames, HeaderReads, PathSpec, Paths};

use crate::config::{Behavior, CachePolicy, DistributionConfig, OriginRequestPolicy, QueryStrings};
use crate::distribution::Sites;
use crate::pattern;

/// One read a behavior's policies do not serve well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadProblem {
    /// The behavior's path pattern (`*` for the default behavior).
    pub behavior: String,
    pub function: String,
    pub trigger: EventType,
    /// `header x-experiment-variant`, `cookie liked` or `query parameter id`.
    pub what: String,
    pub kind: ProblemKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// Forwarded by the origin request policy but not in the cache key of a behavior that
    /// caches: one visitor's answer would be served to another. The config is refused.
    NotInCacheKey,
    /// Given by neither policy: the step cannot act on it on this behavior (a warning).
    NotGiven,
}

/// What the problems say: those that refuse the config, one line each, and the warnings, one
/// line per read naming every behavior it concerns.
pub fn messages(problems: &[ReadProblem]) -> (Vec<String>, Vec<String>) {
    let mut refused = Vec::new();
    let mut warned: Vec<(String, Vec<&str>)> = Vec::new();
    for p in problems {
        let read = format!(
            "the {} function `{}` reads {}",
            p.trigger, p.function, p.what
        );
        match p.kind {
            ProblemKind::NotInCacheKey => refused.push(format!(
                "behavior `{}`: {read}, which the origin request policy forwards but the cache \
                 policy leaves out of the cache key: the answer made for one visitor would be \
                 cached and served to others (add it to the cache policy)",
                p.behavior
            )),
            ProblemKind::NotGiven => match warned.iter_mut().find(|(r, _)| *r == read) {
                Some((_, behaviors)) => behaviors.push(&p.behavior),
                None => warned.push((read, vec![&p.behavior])),
            },
        }
    }
    let warned = warned
        .into_iter()
        .map(|(read, behaviors)| {
            format!(
                "{read}, which the policies of behavior{} {} do not give it: it cannot act on \
                 it there (add it to a policy if it should)",
                if behaviors.len() == 1 { "" } else { "s" },
                behaviors.join(", ")
            )
        })
        .collect();
    (refused, warned)
}

/// Every problem, in the order of the behaviors and their associations.
pub fn check(config: &DistributionConfig, sites: &Sites) -> Vec<ReadProblem> {
    let behaviors: Vec<&Behavior> = config.behaviors_in_order().collect();
    let mut problems = Vec::new();
    for (index, behavior) in behaviors.iter().enumerate() {
        let pattern = behavior
            .path_pattern
            .as_ref()
            .map(|p| p.get_ref().as_str())
            .unwrap_or("*");
        let earlier: Vec<&str> = behaviors[..index]
            .iter()
            .filter_map(|b| b.path_pattern.as_ref().map(|p| p.get_ref().as_str()))
            .collect();
        let Some(cache) = config.cache_policies.get(behavior.cache_policy.get_ref()) else {
            continue;
        };
        let empty = OriginRequestPolicy::default();
        let forwarded = behavior
            .origin_request_policy
            .as_ref()
            .and_then(|p| config.origin_request_policies.get(p.get_ref()))
            .unwrap_or(&empty);
        for association in behavior.functions.iter().map(|a| a.get_ref()) {
            if !matches!(
                association.event,
                EventType::OriginRequest | EventType::OriginResponse
            ) {
                continue;
            }
            let Some(function) = config.function(&association.function) else {
                continue;
            };
            let Some(functions) = sites.get(&function.site) else {
                continue;
            };
            for (paths, reads) in functions.origin_step_reads(association.event) {
                if !reaches(&paths, pattern, &earlier) {
                    continue;
                }
                for (what, kind) in problems_of(&reads, cache, forwarded) {
                    let problem = ReadProblem {
                        behavior: pattern.to_owned(),
                        function: function.name.clone(),
                        trigger: association.event,
                        what,
                        kind,
                    };
                    if !problems.contains(&problem) {
                        problems.push(problem);
                    }
                }
            }
        }
    }
    problems
}

/// Whether a request on one of `paths` can come to the behavior with `pattern`: it matches the
/// pattern and no earlier behavior takes all of it (CloudFront picks the first that matches).
fn reaches(paths: &Paths, pattern: &str, earlier: &[&str]) -> bool {
    let specs = match paths {
        Paths::Any => return true,
        Paths::Only(specs) => specs,
    };
    specs.iter().any(|spec| match spec {
        PathSpec::Exact(path) => {
            pattern::matches(pattern, path) && !earlier.iter().any(|e| pattern::matches(e, path))
        }
        PathSpec::Prefix(prefix) => {
            may_match_with_prefix(pattern, prefix)
                && !earlier.iter().any(|e| takes_every_path_under(e, prefix))
        }
    })
}

/// Whether some path starting with `prefix` matches `pattern`.
fn may_match_with_prefix(pattern: &str, prefix: &str) -> bool {
    fn go(pattern: &[u8], prefix: &[u8]) -> bool {
        match (pattern.first(), prefix.first()) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(b'*'), Some(_)) => go(&pattern[1..], prefix) || go(pattern, &prefix[1..]),
            (Some(b'?'), Some(_)) => go(&pattern[1..], &prefix[1..]),
            (Some(p), Some(c)) => p == c && go(&pattern[1..], &prefix[1..]),
        }
    }
    let pattern = pattern.strip_prefix('/').unwrap_or(pattern);
    let prefix = prefix.strip_prefix('/').unwrap_or(prefix);
    go(pattern.as_bytes(), prefix.as_bytes())
}

/// Whether `pattern` matches every path that starts with `prefix`: a literal start that the
/// prefix begins with, then `*`.
fn takes_every_path_under(pattern: &str, prefix: &str) -> bool {
    let pattern = pattern.strip_prefix('/').unwrap_or(pattern);
    let prefix = prefix.strip_prefix('/').unwrap_or(prefix);
    match pattern.strip_suffix('*') {
        Some(start) => !start.contains(['*', '?']) && prefix.starts_with(start),
        None => false,
    }
}

/// What of `reads` the policies serve badly.
fn problems_of(
    reads: &HeaderReads,
    cache: &CachePolicy,
    forwarded: &OriginRequestPolicy,
) -> Vec<(String, ProblemKind)> {
    let caches = cache.max_ttl > 0;
    let judge = |in_key: bool, in_forwarded: bool| match (in_key, in_forwarded) {
        (true, _) => None,
        (false, true) if caches => Some(ProblemKind::NotInCacheKey),
        (false, true) => None,
        (false, false) => Some(ProblemKind::NotGiven),
    };
    let has = |list: &[String], name: &str| list.iter().any(|n| n.eq_ignore_ascii_case(name));
    let mut out = Vec::new();
    if let HeaderNames::Only(headers) = &reads.request {
        // The cookie header is judged cookie by cookie; Host is always sent to the origin.
        for header in headers.iter().filter(|h| *h != "cookie" && *h != "host") {
            if let Some(kind) = judge(has(&cache.headers, header), has(&forwarded.headers, header))
            {
                out.push((format!("header {header}"), kind));
            }
        }
    }
    if let HeaderNames::Only(cookies) = &reads.cookies {
        for cookie in cookies {
            let listed = |list: &[String]| list.iter().any(|c| c == cookie);
            if let Some(kind) = judge(listed(&cache.cookies), listed(&forwarded.cookies)) {
                out.push((format!("cookie {cookie}"), kind));
            }
        }
    }
    if let HeaderNames::Only(parameters) = &reads.query {
        let gives = |q: &QueryStrings, name: &str| match q {
            QueryStrings::None => false,
            QueryStrings::All => true,
            QueryStrings::Only(names) => names.iter().any(|n| n == name),
        };
        for name in parameters {
            if let Some(kind) = judge(
                gives(&cache.query_strings, name),
                gives(&forwarded.query_strings, name),
            ) {
                out.push((format!("query parameter {name}"), kind));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_reach_the_behaviors_they_can() {
        assert!(may_match_with_prefix("/card/*", "/card/"));
        assert!(may_match_with_prefix("*", "/css/"));
        assert!(may_match_with_prefix("/c*", "/css/"));
        assert!(!may_match_with_prefix("/api/*", "/card/"));
        assert!(may_match_with_prefix("/images/*.jpg", "/images/"));
        assert!(takes_every_path_under("/css/*", "/css/"));
        assert!(takes_every_path_under("/css/*", "/css/mobile/"));
        assert!(!takes_every_path_under("/css/*.css", "/css/"));
        assert!(!takes_every_path_under("/css", "/css/"));
        let card = Paths::Only(vec![PathSpec::Prefix("/card/".into())]);
        assert!(reaches(&card, "/card/*", &[]));
        assert!(
            !reaches(&card, "*", &["/card/*"]),
            "an earlier behavior takes them all"
        );
        let home = Paths::Only(vec![PathSpec::Exact("/".into())]);
        assert!(reaches(&home, "/", &["/api/*"]));
        assert!(!reaches(&home, "*", &["/"]));
        assert!(!reaches(&home, "/card/*", &[]));
    }
}
