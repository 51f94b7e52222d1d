//! The edge cache: keyed as the behavior's cache policy says, kept as long as CloudFront would
//! keep it, bounded in size, and with concurrent misses for one key sharing one origin fetch.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use edge_functions::{Headers, Request};

use crate::config::{CachePolicy, QueryStrings};

/// A response as the edge holds it: status, headers in the Lambda@Edge shape, body bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Headers,
    pub body: Bytes,
}

impl HttpResponse {
    /// The response as a response event shows it: status and headers; CloudFront never exposes
    /// the body to a function.
    pub fn event_response(&self) -> edge_functions::Response {
        edge_functions::Response {
            status: self.status.to_string(),
            status_description: Some(edge_functions::event::reason_phrase(self.status).to_owned()),
            headers: self.headers.clone(),
            ..Default::default()
        }
    }

    /// The bytes this entry costs the cache.
    fn weight(&self) -> usize {
        self.body.len()
            + self
                .headers
                .iter()
                .map(|(n, e)| n.len() + e.iter().map(|v| v.value.len() + 16).sum::<usize>())
                .sum::<usize>()
            + 64
    }
}

/// The cache key: the path CloudFront fetches plus what the policy puts in the key.
pub fn cache_key(policy: &CachePolicy, request: &Request) -> String {
    let mut key = String::with_capacity(request.uri.len() + 32);
    key.push_str(&request.uri);
    let query = select_query(&policy.query_strings, &request.querystring);
    if !query.is_empty() {
        key.push('?');
        key.push_str(&query);
    }
    for name in &policy.headers {
        let lower = name.to_ascii_lowercase();
        key.push_str("\nh:");
        key.push_str(&lower);
        key.push('=');
        for value in request.headers.get_all(&lower) {
            key.push_str(value);
            key.push(',');
        }
    }
    for name in &policy.cookies {
        key.push_str("\nc:");
        key.push_str(name);
        key.push('=');
        if let Some(value) = request.headers.cookie(name) {
            key.push_str(value);
        }
    }
    key
}

/// The query string with only the parameters the policy names, in their order of arrival.
pub fn select_query(policy: &QueryStrings, query: &str) -> String {
    match policy {
        QueryStrings::None => String::new(),
        QueryStrings::All => query.to_owned(),
        QueryStrings::Only(names) => query
            .split('&')
            .filter(|pair| {
                let name = pair.split('=').next().unwrap_or("");
                names.iter().any(|n| n == name)
            })
            .collect::<Vec<_>>()
            .join("&"),
    }
}

/// Statuses CloudFront caches as ordinary answers, and those it caches as errors.
/// <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/HTTPStatusCodes.html>
const CACHEABLE: [u16; 5] = [200, 203, 300, 301, 410];
/// The error statuses CloudFront caches (for the error caching minimum TTL unless the answer
/// says otherwise), which are also those a custom error response may name.
pub const CACHEABLE_ERRORS: [u16; 11] = [400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504];

/// How long CloudFront keeps a response: `s-maxage` > `max-age` > `Expires`, bounded by the
/// policy's min and max; no caching header → the default TTL; `no-store`, `no-cache` and `private`
/// → the min TTL; errors without caching headers → the error caching min TTL.
/// <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/Expiration.html>
pub fn ttl(policy: &CachePolicy, response: &HttpResponse, error_min_ttl: u64) -> Duration {
    let clamp = |secs: u64| Duration::from_secs(secs.clamp(policy.min_ttl, policy.max_ttl));
    let is_error = CACHEABLE_ERRORS.contains(&response.status);
    if !CACHEABLE.contains(&response.status) && !is_error {
        return Duration::ZERO;
    }
    let cache_control: Vec<String> = response
        .headers
        .get_all("cache-control")
        .flat_map(|v| v.split(','))
        .map(|d| d.trim().to_ascii_lowercase())
        .collect();
    let directive = |name: &str| -> Option<u64> {
        cache_control.iter().find_map(|d| {
            d.strip_prefix(name)?
                .strip_prefix('=')?
                .trim_matches('"')
                .parse()
                .ok()
        })
    };
    if cache_control
        .iter()
        .any(|d| d == "no-store" || d == "no-cache" || d == "private")
    {
        return Duration::from_secs(policy.min_ttl);
    }
    if let Some(secs) = directive("s-maxage").or_else(|| directive("max-age")) {
        return clamp(secs);
    }
    if let Some(expires) = response.headers.get("expires") {
        let left = httpdate::parse_http_date(expires)
            .ok()
            .and_then(|at| at.duration_since(SystemTime::now()).ok())
            .map(|d| d.as_secs())
            .unwrap_or(0);
        return clamp(left);
    }
    if is_error {
        return Duration::from_secs(error_min_ttl);
    }
    Duration::from_secs(policy.default_ttl)
}

struct Entry {
    response: Arc<HttpResponse>,
    stored: Instant,
    ttl: Duration,
    weight: usize,
    last_use: u64,
}

struct Store {
    entries: HashMap<String, Entry>,
    /// Last use → key: the least recently used entry goes first when space runs out.
    order: BTreeMap<u64, String>,
    bytes: usize,
    clock: u64,
}

/// What a lookup found.
pub struct Hit {
    pub response: Arc<HttpResponse>,
    pub age: Duration,
}

/// A size-bounded TTL cache with least-recently-used eviction.
pub struct Cache {
    max_bytes: usize,
    store: Mutex<Store>,
    inflight: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Fetched>>>>,
}

/// The outcome of one shared origin fetch.
pub type Fetched = Arc<crate::distribution::MissOutcome>;

impl Cache {
    pub fn new(max_bytes: usize) -> Cache {
        Cache {
            max_bytes,
            store: Mutex::new(Store {
                entries: HashMap::new(),
                order: BTreeMap::new(),
                bytes: 0,
                clock: 0,
            }),
            inflight: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A fresh entry for the key, if there is one.
    pub fn get(&self, key: &str) -> Option<Hit> {
        let mut store = self.lock();
        store.clock += 1;
        let clock = store.clock;
        let (expired, hit, old_use) = match store.entries.get_mut(key) {
            None => return None,
            Some(entry) => {
                let age = entry.stored.elapsed();
                if age >= entry.ttl {
                    (true, None, entry.last_use)
                } else {
                    let old = entry.last_use;
                    entry.last_use = clock;
                    (
                        false,
                        Some(Hit {
                            response: entry.response.clone(),
                            age,
                        }),
                        old,
                    )
                }
            }
        };
        store.order.remove(&old_use);
        if expired {
            if let Some(entry) = store.entries.remove(key) {
                store.bytes -= entry.weight;
            }
        } else {
            store.order.insert(clock, key.to_owned());
        }
        hit
    }

    /// Keeps a response for `ttl`; a zero TTL or an entry larger than the whole cache is not kept.
    pub fn put(&self, key: &str, response: Arc<HttpResponse>, ttl: Duration) {
        let weight = response.weight();
        if ttl.is_zero() || weight > self.max_bytes {
            return;
        }
        let mut store = self.lock();
        if let Some(old) = store.entries.remove(key) {
            store.bytes -= old.weight;
            store.order.remove(&old.last_use);
        }
        while store.bytes + weight > self.max_bytes {
            let Some((_, victim)) = store.order.pop_first() else {
                break;
            };
            if let Some(entry) = store.entries.remove(&victim) {
                store.bytes -= entry.weight;
            }
        }
        store.clock += 1;
        let clock = store.clock;
        store.order.insert(clock, key.to_owned());
        store.bytes += weight;
        store.entries.insert(
            key.to_owned(),
            Entry {
                response,
                stored: Instant::now(),
                ttl,
                weight,
                last_use: clock,
            },
        );
    }

    /// Drops everything (after the origin changed under `--watch`).
    pub fn clear(&self) {
        let mut store = self.lock();
        store.entries.clear();
        store.order.clear();
        store.bytes = 0;
    }

    /// Bytes held and entries, for logs and tests.
    pub fn usage(&self) -> (usize, usize) {
        let store = self.lock();
        (store.bytes, store.entries.len())
    }

    /// Runs `fetch` for the key unless a fetch for it is already running, in which case this
    /// waits for that one and shares its answer: concurrent misses make one origin request.
    /// Returns the answer and whether this caller was the one that fetched.
    pub async fn fetch_once<F, Fut>(&self, key: &str, fetch: F) -> (Fetched, bool)
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Fetched>,
    {
        let cell = {
            let mut inflight = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
            inflight.entry(key.to_owned()).or_default().clone()
        };
        let mut fetched_here = false;
        let answer = cell
            .get_or_init(|| {
                fetched_here = true;
                fetch()
            })
            .await
            .clone();
        if fetched_here {
            let mut inflight = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
            if inflight.get(key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                inflight.remove(key);
            }
        }
        (answer, fetched_here)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(min: u64, default: u64, max: u64) -> CachePolicy {
        CachePolicy {
            min_ttl: min,
            default_ttl: default,
            max_ttl: max,
            headers: vec![],
            cookies: vec![],
            query_strings: QueryStrings::None,
        }
    }

    fn response(status: u16, headers: &[(&str, &str)]) -> HttpResponse {
        let mut h = Headers::new();
        for (k, v) in headers {
            h.set(k, *v);
        }
        HttpResponse {
            status,
            headers: h,
            body: Bytes::from_static(b"hello"),
        }
    }

    #[test]
    fn ttl_follows_cloudfront_precedence() {
        let p = policy(0, 100, 1000);
        let secs = |r: HttpResponse| ttl(&p, &r, 10).as_secs();
        assert_eq!(secs(response(200, &[])), 100, "default TTL without headers");
        assert_eq!(secs(response(200, &[("Cache-Control", "max-age=50")])), 50);
        assert_eq!(
            secs(response(
                200,
                &[("Cache-Control", "max-age=50, s-maxage=70")]
            )),
            70
        );
        assert_eq!(
            secs(response(200, &[("Cache-Control", "max-age=5000")])),
            1000,
            "max TTL caps"
        );
        assert_eq!(secs(response(200, &[("Cache-Control", "no-store")])), 0);
        assert_eq!(
            secs(response(200, &[("Cache-Control", "private, max-age=60")])),
            0
        );
        let in_a_minute = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(61));
        let expires = secs(response(200, &[("Expires", &in_a_minute)]));
        assert!((59..=61).contains(&expires), "{expires}");
        assert_eq!(
            secs(response(
                200,
                &[("Expires", &in_a_minute), ("Cache-Control", "max-age=5")]
            )),
            5
        );
        assert_eq!(
            secs(response(404, &[])),
            10,
            "errors: the error caching min TTL"
        );
        assert_eq!(secs(response(302, &[])), 0, "302 is not cached");
        let min = policy(30, 100, 1000);
        assert_eq!(
            ttl(&min, &response(200, &[("Cache-Control", "no-store")]), 10).as_secs(),
            30
        );
        assert_eq!(
            ttl(&min, &response(200, &[("Cache-Control", "max-age=1")]), 10).as_secs(),
            30
        );
    }

    #[test]
    fn keys_separate_what_the_policy_names() {
        let mut p = policy(0, 10, 10);
        p.headers = vec!["CloudFront-Is-Mobile-Viewer".into()];
        p.cookies = vec!["liked".into()];
        p.query_strings = QueryStrings::Only(vec!["id".into()]);
        let mut a = Request {
            uri: "/css/site.css".into(),
            querystring: "id=1&utm=x".into(),
            ..Default::default()
        };
        a.headers.set("CloudFront-Is-Mobile-Viewer", "true");
        a.headers.set("Cookie", "other=1; liked=abc");
        let mut b = a.clone();
        b.headers.set("CloudFront-Is-Mobile-Viewer", "false");
        assert_ne!(cache_key(&p, &a), cache_key(&p, &b));
        let mut c = a.clone();
        c.headers.set("Cookie", "liked=abc; other=2");
        c.querystring = "utm=y&id=1".into();
        assert_eq!(
            cache_key(&p, &a),
            cache_key(&p, &c),
            "unlisted cookies and params are not in the key"
        );
    }

    #[test]
    fn entries_expire_and_the_size_bound_evicts_least_recently_used() {
        let cache = Cache::new(150);
        let r = Arc::new(response(200, &[]));
        cache.put("a", r.clone(), Duration::from_secs(60));
        cache.put("b", r.clone(), Duration::from_secs(60));
        assert!(cache.get("a").is_some()); // a is now more recent than b
        cache.put("c", r.clone(), Duration::from_secs(60));
        cache.put("d", r.clone(), Duration::from_secs(60));
        let (bytes, _) = cache.usage();
        assert!(bytes <= 150, "{bytes}");
        assert!(cache.get("b").is_none(), "least recently used went first");
        assert!(cache.get("d").is_some());
        cache.put("short", r, Duration::from_millis(20));
        std::thread::sleep(Duration::from_millis(40));
        assert!(cache.get("short").is_none(), "expired");
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_fetch() {
        let cache = Arc::new(Cache::new(1 << 20));
        let fetches = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let cache = cache.clone();
            let fetches = fetches.clone();
            tasks.push(tokio::spawn(async move {
                cache
                    .fetch_once("k", || async move {
                        fetches.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Arc::new(crate::distribution::MissOutcome {
                            response: response(200, &[]),
                            function_failed: false,
                            log: Default::default(),
                        })
                    })
                    .await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().0.response.status, 200);
        }
        assert_eq!(fetches.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
