//! Redirects: exact paths, prefixes (the rest carried over) and patterns with captures, each with
//! its own status, and optionally its own host, query handling and dates; permanent ones are
//! cacheable. A table of ten thousand rules is indexed ([`PathIndex`]), not scanned.

use serde::{Deserialize, Serialize};

use crate::blocks::path_index::{PathIndex, PathKey};
use crate::blocks::path_pattern::{self, PathPattern};
use crate::data::Supplied;
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
    /// Only requests for this host (the `Host` header, without a port; any case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Carry the query string over (the block's `keep_query` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_query: Option<bool>,
    /// In force from this moment (`2026-12-01` or `2026-12-01T09:00:00Z`, UTC unless an offset
    /// is given) ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts: Option<String>,
    /// ... until this one (excluded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends: Option<String>,
    /// `false` keeps the rule in the table, switched off.
    #[serde(default = "on", skip_serializing_if = "is_on")]
    pub enabled: bool,
}

fn on() -> bool {
    true
}

fn is_on(enabled: &bool) -> bool {
    *enabled
}

/// The `redirects` block: answers a matching request itself with a redirect. Exact rules win;
/// then prefix and pattern rules, the first listed that matches. A request no rule matches goes
/// on.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redirects {
    pub rules: Vec<RedirectRule>,
    /// The status of rules that do not give one.
    #[serde(default = "default_status")]
    pub status: u16,
    /// Carry the request's query string over to the target (for rules that do not say).
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

/// The rules, ready to match: what each does, and the index that finds them.
#[derive(Debug, Clone, Default)]
struct Compiled {
    rules: Vec<CompiledRule>,
    index: PathIndex,
    /// Whether there are exact rules (else their lookup is skipped).
    any_exact: bool,
    /// The prefix and pattern rules in order, while there are few: trying them costs less than
    /// walking the index (`None`: the index is used).
    few_ordered: Option<Vec<u32>>,
    /// Whether any rule names a host (then the block reads `Host`).
    by_host: bool,
}

/// Up to this many prefix and pattern rules are tried in order rather than looked up: a walk
/// of the index hashes each segment of the path, which costs more than a few `starts_with`.
const SCAN_AT_MOST: usize = 8;

#[derive(Debug, Clone)]
struct CompiledRule {
    matcher: Matcher,
    to: String,
    status: u16,
    keep_query: bool,
    host: Option<String>,
    /// Unix seconds: in force from `starts` (included) to `ends` (excluded).
    starts: Option<i64>,
    ends: Option<i64>,
}

#[derive(Debug, Clone)]
enum Matcher {
    Exact,
    Prefix(String),
    Pattern(PathPattern),
}

const REDIRECT_STATUSES: [u16; 5] = [301, 302, 303, 307, 308];

impl Redirects {
    /// Checks the rules and makes them ready to match; what is wrong, said about the rule.
    pub fn compile(mut self) -> Result<Redirects, String> {
        let mut compiled = Compiled {
            index: PathIndex::new(),
            ..Compiled::default()
        };
        let mut exact_seen = std::collections::HashSet::new();
        for (index, rule) in self.rules.iter().enumerate() {
            let n = index + 1;
            let status = rule.status.unwrap_or(self.status);
            if !REDIRECT_STATUSES.contains(&status) {
                return Err(format!(
                    "rule {n}: status {status} is not a redirect (301, 302, 303, 307 or 308)"
                ));
            }
            let starts = rule
                .starts
                .as_deref()
                .map(unix_seconds)
                .transpose()
                .map_err(|e| format!("rule {n}: starts: {e}"))?;
            let ends = rule
                .ends
                .as_deref()
                .map(unix_seconds)
                .transpose()
                .map_err(|e| format!("rule {n}: ends: {e}"))?;
            if let (Some(starts), Some(ends)) = (starts, ends)
                && ends <= starts
            {
                return Err(format!("rule {n}: it ends before it starts"));
            }
            let host = match &rule.host {
                Some(host) if host.is_empty() || host.contains(['/', ' ', ':']) => {
                    return Err(format!(
                        "rule {n}: host `{host}` is not a host name (no scheme, port or path)"
                    ));
                }
                host => host.as_ref().map(|h| h.to_ascii_lowercase()),
            };
            let matcher = match (&rule.from, &rule.prefix, &rule.pattern) {
                (Some(from), None, None) => {
                    if !exact_seen.insert((host.clone(), from.clone(), rule.starts.clone())) {
                        return Err(format!("rule {n}: `{from}` is listed twice"));
                    }
                    Matcher::Exact
                }
                (None, Some(prefix), None) => {
                    if prefix.is_empty() {
                        return Err(format!("rule {n}: an empty prefix matches everything"));
                    }
                    Matcher::Prefix(prefix.clone())
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
                    Matcher::Pattern(parsed)
                }
                _ => {
                    return Err(format!(
                        "rule {n}: give exactly one of `from`, `prefix` or `pattern`"
                    ));
                }
            };
            // A switched-off rule is checked, then left out.
            if !rule.enabled {
                continue;
            }
            let number = u32::try_from(compiled.rules.len())
                .map_err(|_| "more than 2^32 rules".to_owned())?;
            compiled.index.insert(
                match (&matcher, &rule.from) {
                    (Matcher::Prefix(prefix), _) => PathKey::Prefix(prefix),
                    (Matcher::Pattern(pattern), _) => PathKey::Pattern(pattern),
                    (Matcher::Exact, from) => PathKey::Exact(from.as_deref().unwrap_or_default()),
                },
                number,
            );
            compiled.by_host |= host.is_some();
            compiled.any_exact |= matches!(matcher, Matcher::Exact);
            compiled.rules.push(CompiledRule {
                matcher,
                to: rule.to.clone(),
                status,
                keep_query: rule.keep_query.unwrap_or(self.keep_query),
                host,
                starts,
                ends,
            });
        }
        let ordered: Vec<u32> = (0..compiled.rules.len() as u32)
            .filter(|&n| !matches!(compiled.rules[n as usize].matcher, Matcher::Exact))
            .collect();
        compiled.few_ordered = (ordered.len() <= SCAN_AT_MOST).then_some(ordered);
        self.compiled = compiled;
        Ok(self)
    }

    /// The rule `uri` (requested of `host`) redirects by at `now` (Unix seconds, asked only
    /// when a candidate has dates), and its target.
    fn target(
        &self,
        uri: &str,
        host: Option<&str>,
        now: impl Fn() -> i64,
    ) -> Option<(&CompiledRule, String)> {
        let rules = &self.compiled.rules;
        let applies = |rule: &CompiledRule| {
            rule.host
                .as_deref()
                .is_none_or(|wanted| host.is_some_and(|h| h.eq_ignore_ascii_case(wanted)))
                && (rule.starts.is_none() && rule.ends.is_none() || {
                    let now = now();
                    rule.starts.is_none_or(|s| now >= s) && rule.ends.is_none_or(|e| now < e)
                })
        };
        if self.compiled.any_exact
            && let Some(rule) = self
                .compiled
                .index
                .exact(uri)
                .iter()
                .map(|&n| &rules[n as usize])
                .find(|rule| applies(rule))
        {
            return Some((rule, rule.to.clone()));
        }
        let candidates = match &self.compiled.few_ordered {
            Some(ordered) => std::borrow::Cow::Borrowed(ordered.as_slice()),
            None => {
                let mut found = Vec::new();
                self.compiled.index.candidates(uri, &mut found);
                found.sort_unstable();
                std::borrow::Cow::Owned(found)
            }
        };
        for &n in candidates.iter() {
            let rule = &rules[n as usize];
            if !applies(rule) {
                continue;
            }
            match &rule.matcher {
                Matcher::Prefix(prefix) => {
                    if let Some(rest) = uri.strip_prefix(prefix.as_str()) {
                        return Some((rule, format!("{}{rest}", rule.to)));
                    }
                }
                Matcher::Pattern(pattern) => {
                    if let Some(captured) = pattern.captures(uri) {
                        return Some((rule, path_pattern::fill(&rule.to, &captured)));
                    }
                }
                Matcher::Exact => {}
            }
        }
        None
    }
}

/// `2026-12-01`, `2026-12-01T09:00:00Z` or `2026-12-01T09:00:00+02:00` as Unix seconds.
fn unix_seconds(text: &str) -> Result<i64, String> {
    let bad = || {
        format!(
            "`{text}` is not a date (2026-12-01) or a time (2026-12-01T09:00:00Z, or with an \
             offset such as +02:00)"
        )
    };
    let number = |s: &str| -> Result<i64, String> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse().map_err(|_| bad())
    };
    let (date, time) = match text.split_once(['T', 't', ' ']) {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let mut parts = date.splitn(3, '-');
    let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let (year, month, day) = (number(y)?, number(m)?, number(d)?);
    if y.len() != 4 || !(1..=12).contains(&month) || day < 1 || day > days_in(year, month) {
        return Err(bad());
    }
    let mut seconds = days_from_civil(year, month, day) * 86_400;
    if let Some(time) = time {
        let (clock, offset) = if let Some(clock) = time.strip_suffix(['Z', 'z']) {
            (clock, 0)
        } else if let Some(at) = time.rfind(['+', '-']) {
            let (clock, offset) = time.split_at(at);
            let sign = if offset.starts_with('-') { -1 } else { 1 };
            let (h, m) = offset[1..].split_once(':').ok_or_else(bad)?;
            let (h, m) = (number(h)?, number(m)?);
            if h > 23 || m > 59 {
                return Err(bad());
            }
            (clock, sign * (h * 3600 + m * 60))
        } else {
            return Err(bad());
        };
        let mut fields = clock.split(':');
        let h = number(fields.next().ok_or_else(bad)?)?;
        let m = number(fields.next().ok_or_else(bad)?)?;
        let s = fields.next().map(number).transpose()?.unwrap_or(0);
        if fields.next().is_some() || h > 23 || m > 59 || s > 60 {
            return Err(bad());
        }
        seconds += h * 3600 + m * 60 + s - offset;
    }
    Ok(seconds)
}

fn days_in(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn now_unix_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl ViewerRequestStep for Redirects {
    fn viewer_request(&self, request: &mut RequestEdit<'_>, _data: &Supplied) -> Flow {
        let host = if self.compiled.by_host {
            request
                .headers
                .get("host")
                .map(|h| h.split(':').next().unwrap_or(h))
        } else {
            None
        };
        let Some((rule, mut location)) = self.target(&request.uri, host, now_unix_seconds) else {
            return Flow::Continue;
        };
        if rule.keep_query && !request.querystring.is_empty() {
            location.push(if location.contains('?') { '&' } else { '?' });
            location.push_str(&request.querystring);
        }
        let mut response = Response::new(rule.status);
        response.headers.set("Location", location);
        let cache = if matches!(rule.status, 301 | 308) {
            // A rule that ends is not kept past its end.
            let left = rule.ends.map_or(u64::MAX, |ends| {
                u64::try_from(ends - now_unix_seconds()).unwrap_or(0)
            });
            format!("public, max-age={}", self.permanent_max_age_secs.min(left))
        } else {
            "no-cache".to_owned()
        };
        response.headers.set("Cache-Control", cache);
        Flow::Respond(response)
    }

    fn header_reads(&self, reads: &mut HeaderReads) {
        if self.compiled.by_host {
            reads.request("host");
        }
    }
}

impl crate::site::Block for Redirects {
    const NAME: &'static str = "redirects";
    const SUMMARY: &'static str = "Redirects, one rule or a table of thousands: exact paths (`from`), \
prefixes with the rest carried over (`prefix`), and patterns with captured segments (`pattern = \
\"/blog/{year}/{slug}\"`, `to = \"/posts/{slug}\"`). Each rule may give its own `status` (else the \
block's), `host` (only requests for that Host), `keep_query`, `starts`/`ends` (dates or times, UTC \
unless an offset is given) and `enabled = false`. Exact rules win, then the first listed of the \
others that matches; rules are indexed by path segment, so 10,000 rules cost about what 10 do \
(BENCHMARKS.md). Permanent ones (301, 308) are cacheable for `permanent_max_age_secs` (never past a \
rule's end), temporary ones `no-cache`. Viewer-request: the answer needs no origin and no cache \
lookup, and a redirect table belongs before anything the origin would do.";
    const RUNS_ON: &'static [crate::EventType] = &[crate::EventType::ViewerRequest];
    const EXAMPLE: &'static str = r#"status = 302
keep_query = true
rules = [
  { from = "/r/cat", to = "/card/k9b430fc" },
  { prefix = "/old/", to = "/docs/", status = 301 },
  { pattern = "/blog/{year}/{slug}", to = "/posts/{slug}", status = 308 },
  { from = "/", host = "shop.example.com", to = "https://www.example.com/shop", status = 301 },
  { from = "/sale", to = "/winter-sale", starts = "2026-12-01", ends = "2027-01-07" },
  { prefix = "/beta/", to = "/", enabled = false },
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
        answer_for(block, None, uri, query)
    }

    fn answer_for(
        block: &Redirects,
        host: Option<&str>,
        uri: &str,
        query: &str,
    ) -> Option<Response> {
        let mut request = Request {
            uri: uri.into(),
            querystring: query.into(),
            ..Default::default()
        };
        if let Some(host) = host {
            request.headers.set("Host", host);
        }
        match block.viewer_request(&mut RequestEdit::new(&mut request), &Supplied::default()) {
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
        let rules = r#"[{ from = "/a", to = "/b" }, { from = "/c", to = "/d?x=1" }]"#;
        let block_without = block(rules);
        assert_eq!(
            answer(&block_without, "/a", "q=1")
                .unwrap()
                .headers
                .get("location"),
            Some("/b")
        );
        let mut settings: Redirects = toml::from_str(&format!("rules = {rules}")).unwrap();
        settings.keep_query = true;
        let block = settings.compile().unwrap();
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
    fn rules_for_one_host_switched_off_or_keeping_their_own_query() {
        let block = block(
            r#"[
              { from = "/", host = "Shop.Example.com", to = "https://www.example.com/shop" },
              { from = "/", to = "/home" },
              { prefix = "/beta/", to = "/", enabled = false },
              { prefix = "/b", to = "/c", keep_query = true },
            ]"#,
        );
        let shop = answer_for(&block, Some("shop.example.com:443"), "/", "").unwrap();
        assert_eq!(
            shop.headers.get("location"),
            Some("https://www.example.com/shop")
        );
        let other = answer_for(&block, Some("www.example.com"), "/", "").unwrap();
        assert_eq!(other.headers.get("location"), Some("/home"));
        assert_eq!(
            answer(&block, "/", "").unwrap().headers.get("location"),
            Some("/home"),
            "no Host header: only rules for every host"
        );
        assert_eq!(
            answer(&block, "/beta/x", "q=1")
                .unwrap()
                .headers
                .get("location"),
            Some("/ceta/x?q=1"),
            "the switched-off rule is skipped; the next keeps the query"
        );
        let mut reads = HeaderReads::default();
        block.header_reads(&mut reads);
        assert_eq!(reads, {
            let mut host = HeaderReads::default();
            host.request("host");
            host
        });
    }

    #[test]
    fn dated_rules_hold_from_their_start_to_their_end() {
        let block = block(
            r#"[
              { from = "/sale", to = "/winter", starts = "2026-12-01", ends = "2027-01-07T00:00:00+01:00" },
              { from = "/sale", to = "/no-sale" },
            ]"#,
        );
        let at = |when: &str| {
            let now = unix_seconds(when).unwrap();
            block.target("/sale", None, || now).map(|(_, to)| to)
        };
        assert_eq!(at("2026-11-30T23:59:59Z").as_deref(), Some("/no-sale"));
        assert_eq!(at("2026-12-01").as_deref(), Some("/winter"));
        assert_eq!(at("2027-01-06T22:59:59Z").as_deref(), Some("/winter"));
        assert_eq!(at("2027-01-06T23:00:00Z").as_deref(), Some("/no-sale"));
    }

    #[test]
    fn dates_and_times_are_read_as_utc_unless_an_offset_is_given() {
        assert_eq!(unix_seconds("1970-01-01"), Ok(0));
        assert_eq!(unix_seconds("2000-03-01T00:00:00Z"), Ok(951_868_800));
        assert_eq!(unix_seconds("2024-02-29T12:30:00Z"), Ok(1_709_209_800));
        assert_eq!(unix_seconds("2024-02-29T14:30:00+02:00"), Ok(1_709_209_800));
        assert_eq!(unix_seconds("2024-02-29T10:00-02:30"), Ok(1_709_209_800));
        for bad in [
            "2023-02-29",
            "2026-13-01",
            "26-01-01",
            "2026-1-1x",
            "2026-01-01T25:00:00Z",
            "2026-01-01T10:00:00",
            "tomorrow",
            "",
            "2026-01-01T10:00:00+2",
        ] {
            assert!(unix_seconds(bad).is_err(), "{bad}");
        }
    }

    /// The index finds what trying every rule in order finds, on a generated table.
    #[test]
    fn a_large_table_answers_as_a_scan_of_it_would() {
        let mut rules = Vec::new();
        for i in 0..300 {
            rules.push(format!(r#"{{ from = "/p/{i}", to = "/e/{i}" }}"#));
            rules.push(format!(r#"{{ prefix = "/d{}/", to = "/x{i}/" }}"#, i % 37));
            rules.push(format!(
                r#"{{ pattern = "/{{a}}/{}/{{b}}", to = "/y/{{b}}/{{a}}" }}"#,
                i % 23
            ));
            rules.push(format!(r#"{{ prefix = "/p/{}", to = "/z" }}"#, i % 11));
        }
        let block = block(&format!("[{}]", rules.join(",\n")));
        let paths = [
            "/p/5", "/p/50", "/p/3000", "/d3/a/b", "/d36/", "/d37/x", "/q/7/r", "/q/7/r/s", "/p/1",
            "/p/10/x", "/", "/x/22/y", "/x/23/y",
        ];
        for path in paths {
            let scanned = scan(&block.rules, path);
            let indexed = block.target(path, None, || 0).map(|(_, to)| to);
            assert_eq!(indexed, scanned, "{path}");
        }
    }

    /// What the rules say, tried one by one: exact rules first, then the others in order.
    fn scan(rules: &[RedirectRule], path: &str) -> Option<String> {
        if let Some(rule) = rules.iter().find(|r| r.from.as_deref() == Some(path)) {
            return Some(rule.to.clone());
        }
        rules.iter().find_map(|rule| {
            if let Some(prefix) = &rule.prefix {
                return path
                    .strip_prefix(prefix.as_str())
                    .map(|rest| format!("{}{rest}", rule.to));
            }
            let pattern = PathPattern::parse(rule.pattern.as_deref()?).unwrap();
            pattern
                .captures(path)
                .map(|captured| path_pattern::fill(&rule.to, &captured))
        })
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
            (
                r#"[{ from = "/a", to = "/b", starts = "soon" }]"#,
                "rule 1: starts: `soon` is not a date",
            ),
            (
                r#"[{ from = "/a", to = "/b", starts = "2026-02-01", ends = "2026-01-01" }]"#,
                "rule 1: it ends before it starts",
            ),
            (
                r#"[{ from = "/a", to = "/b", host = "https://x.com" }]"#,
                "is not a host name",
            ),
        ] {
            let text = format!("rules = {rules}");
            let redirects: Redirects = toml::from_str(&text).unwrap();
            let err = redirects.compile().unwrap_err();
            assert!(err.contains(wanted), "{rules}: {err}");
        }
    }
}
