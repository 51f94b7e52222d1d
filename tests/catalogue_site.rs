//! The Catalogue (`examples/catalogue-site`) through the local distribution: `/api/*` goes to its
//! own HTTP service (`api/service.py`), two deployments of it, blue and green, reached as custom
//! origins and split by the `origin-router` block; origin groups fail over, under load too; the
//! preview behind Basic auth; price lists by country; the app's next build for half the visitors.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

mod process;
use process::{Served, http, http_from, scratch};

/// One deployment of the Catalogue's API, on a free port.
struct Service {
    child: Child,
    address: String,
}

impl Service {
    fn start(name: &str) -> Service {
        Service::start_on(name, "0")
    }

    /// On a given port (`"0"`: a free one).
    fn start_on(name: &str, port: &str) -> Service {
        Service::start_with(name, &["--port", port])
    }

    fn start_with(name: &str, args: &[&str]) -> Service {
        let script = root().join("examples/catalogue-site/api/service.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .args(["--name", name, "--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs the Catalogue's API");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line
            .trim()
            .rsplit("http://")
            .next()
            .filter(|a| a.starts_with("127.0.0.1:"))
            .unwrap_or_else(|| panic!("the service did not start: {line}"))
            .to_owned();
        Service { child, address }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Catalogue's distribution config, with its files by absolute path and the API's
/// deployments where the test started them.
fn catalogue_config(dir: &Path, blue: &str, green: &str) -> PathBuf {
    let site = root().join("examples/catalogue-site");
    let text = std::fs::read_to_string(site.join("distribution.toml"))
        .unwrap()
        .replace(
            "site = \"catalogue.site.toml\"",
            &format!("site = {:?}", site.join("catalogue.site.toml")),
        )
        .replace(
            "local_dir = \"origin\"",
            &format!("local_dir = {:?}", site.join("origin")),
        )
        .replace("127.0.0.1:8791", blue)
        .replace("127.0.0.1:8792", green);
    let config = dir.join("distribution.toml");
    std::fs::write(&config, text).unwrap();
    config
}

fn served_by(reply: &process::Reply) -> &str {
    reply.header("x-served-by").unwrap_or("(none)")
}

#[test]
fn api_calls_reach_the_sites_own_service_split_and_kept_by_cookie() {
    let dir = scratch("origins");
    let blue = Service::start("blue");
    let mut green = Service::start("green");
    let config = catalogue_config(&dir, &blue.address, &green.address);
    let site = Served::start("The Catalogue", &["--config".as_ref(), config.as_os_str()]);

    // The app's page still comes from S3; the API from the service.
    let page = site.http("GET", "/", &[]);
    assert!(page.is(200), "{}", page.status);
    assert_eq!(served_by(&page), "(none)");

    // New visitors are split about 9:1 and told with a cookie which deployment keeps them.
    let mut counts = std::collections::BTreeMap::new();
    for i in 0..200 {
        let visitor = format!("127.0.{}.{}", i / 250, i % 250 + 1);
        let reply = http_from(&visitor, &site.address, "GET", "/api/health", &[]);
        assert!(reply.is(200), "{}: {}", reply.status, reply.body);
        let by = served_by(&reply).to_owned();
        let pool = format!("api-pool=api-{by};");
        assert!(
            reply
                .headers
                .iter()
                .any(|(n, v)| n == "set-cookie" && v.starts_with(&pool)),
            "{by}: {:?}",
            reply.headers
        );
        *counts.entry(by).or_insert(0) += 1;
    }
    let green_share = counts.get("green").copied().unwrap_or(0);
    assert!(
        (5..=40).contains(&green_share) && counts["blue"] + green_share == 200,
        "{counts:?}"
    );

    // The cookie keeps a visitor, who gets no new one (the app experiment's cookie is sent
    // too, so that no cookie at all is set).
    let kept = site.http(
        "GET",
        "/api/health",
        &[("Cookie", "api-pool=api-green; catalogue-app=current")],
    );
    assert_eq!(served_by(&kept), "green");
    assert_eq!(kept.header("set-cookie"), None);
    let kept = site.http("GET", "/api/health", &[("Cookie", "api-pool=api-blue")]);
    assert_eq!(served_by(&kept), "blue");

    // What reaches the service: the origin's name, the header CloudFront adds for it, the
    // visitor's address, the query; a viewer's own X-Origin-Verify does not get through.
    let seen = site.http(
        "GET",
        "/api/request?pool=green&lang=de",
        &[("X-Origin-Verify", "forged")],
    );
    assert!(seen.is(200), "{}: {}", seen.status, seen.body);
    assert_eq!(served_by(&seen), "green");
    let seen: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
    let headers = &seen["headers"];
    assert_eq!(headers["host"], "api-green.catalogue.example");
    assert_eq!(headers["x-origin-verify"], "catalogue-edge");
    assert_eq!(headers["true-client-ip"], "127.0.0.1");
    assert_eq!(headers["x-lang"], "de");
    assert!(headers["via"].as_str().unwrap().contains("CloudFront"));
    assert_eq!(seen["query"], "pool=green&lang=de");

    // Around the distribution, the service refuses.
    let direct = http(&blue.address, "GET", "/api/health", &[]);

    assert!(direct.is(403), "{}", direct.status);

    // Green goes down: its visitors get CloudFront's 502, blue's are unaffected.
    green.stop();
    let down = site.http("GET", "/api/health", &[("Cookie", "api-pool=api-green")]);
    assert!(down.is(502), "{}", down.status);
    assert!(down.body.contains("wasn't able to connect to the origin"));
    let up = site.http("GET", "/api/health", &[("Cookie", "api-pool=api-blue")]);
    assert!(up.is(200), "{}: {}", up.status, up.body);

    // Blue goes down too: the product list (an origin group: blue, then the bucket) comes from
    // the snapshot in S3, and the visitor sees no error.
    let mut blue = blue;
    blue.stop();
    let products = site.http("GET", "/api/products.json", &[]);
    assert!(products.is(200), "{}: {}", products.status, products.body);
    assert_eq!(products.header("server"), Some("AmazonS3"));
    assert!(products.body.contains("\"sku\""));

    drop(site);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A distribution of one origin group, the primary and the secondary two deployments of the
/// Catalogue's API, caching off, so that every request reaches an origin.
fn failover_config(dir: &Path, primary: &str, secondary: &str) -> PathBuf {
    let origin = |id: &str, address: &str| {
        format!(
            "[[origins]]\nid = \"{id}\"\nkind = \"custom\"\ndomain_name = \"{id}.api.example\"\n\
             port = 443\nprotocol = \"https\"\nconnection_attempts = 1\nconnection_timeout_secs = 1\n\
             read_timeout_secs = 5\ncustom_headers = {{ \"X-Origin-Verify\" = \"catalogue-edge\" }}\n\
             local_address = \"{address}\"\n\n"
        )
    };
    let text = format!(
        "[distribution]\ncomment = \"Failover\"\nerror_caching_min_ttl = 0\n\n{}{}\
         [[origin_groups]]\nid = \"api\"\nprimary = \"primary\"\nsecondary = \"secondary\"\n\n\
         [cache_policies.disabled]\nmin_ttl = 0\ndefault_ttl = 0\nmax_ttl = 0\n\n\
         [default_behavior]\norigin = \"api\"\ncache_policy = \"disabled\"\n",
        origin("primary", primary),
        origin("secondary", secondary)
    );
    let config = dir.join("distribution.toml");
    std::fs::write(&config, text).unwrap();
    config
}

/// What one visitor saw: when it asked (since the start), the status, who answered, how long
/// it took.
struct Seen {
    at: std::time::Duration,
    ok: bool,
    by: String,
    took: std::time::Duration,
}

#[test]
fn an_origin_group_fails_over_under_load_without_a_visitor_error_and_fails_back() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    let dir = scratch("failover");
    let mut primary = Service::start("primary");
    let secondary = Service::start("secondary");
    let port = primary.address.rsplit(':').next().unwrap().to_owned();
    let config = failover_config(&dir, &primary.address, &secondary.address);
    let site = Served::start("Failover", &["--config".as_ref(), config.as_os_str()]);

    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let visitors: Vec<_> = (0..4)
        .map(|_| {
            let (stop, seen, address) = (stop.clone(), seen.clone(), site.address.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let at = start.elapsed();
                    let reply = http(&address, "GET", "/api/health", &[]);
                    let took = start.elapsed() - at;
                    let by = reply.header("x-served-by").unwrap_or("(none)").to_owned();
                    seen.lock().unwrap().push(Seen {
                        at,
                        ok: reply.is(200),
                        by,
                        took,
                    });
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    let stopped_at = start.elapsed();
    primary.stop();
    std::thread::sleep(Duration::from_millis(1000));
    let restarted_at = start.elapsed();
    let _primary_again = Service::start_on("primary", &port);
    std::thread::sleep(Duration::from_millis(1000));
    stop.store(true, Ordering::Relaxed);
    for visitor in visitors {
        visitor.join().unwrap();
    }

    let seen = seen.lock().unwrap();
    let errors = seen.iter().filter(|s| !s.ok).count();
    let by = |who: &str, from: Duration, to: Duration| {
        seen.iter()
            .filter(|s| s.by == who && s.at >= from && s.at < to)
            .count()
    };
    let before = by("primary", Duration::ZERO, stopped_at);
    let failed_over = by("secondary", stopped_at, restarted_at);
    let primary_while_down = by(
        "primary",
        stopped_at + Duration::from_millis(50),
        restarted_at,
    );
    // After the restart, the primary is used again (every request tries it first).
    let back = by(
        "primary",
        restarted_at + Duration::from_millis(300),
        start.elapsed(),
    );
    let first_secondary = seen
        .iter()
        .filter(|s| s.by == "secondary")
        .map(|s| s.at + s.took)
        .min()
        .map(|t| t.saturating_sub(stopped_at));
    let mut failover_latency: Vec<Duration> = seen
        .iter()
        .filter(|s| s.by == "secondary")
        .map(|s| s.took)
        .collect();
    failover_latency.sort();
    let median = failover_latency.get(failover_latency.len() / 2).copied();
    eprintln!(
        "failover under load: {} requests, {errors} visitor errors; primary before {before}, \
         secondary while down {failed_over}, primary after restart {back}; first secondary \
         answer {first_secondary:?} after the stop; failed-over requests median {median:?}, \
         max {:?}",
        seen.len(),
        failover_latency.last()
    );
    assert_eq!(errors, 0, "no visitor sees an error");
    assert!(
        before > 0 && failed_over > 0 && back > 0,
        "{before} {failed_over} {back}"
    );
    assert_eq!(primary_while_down, 0, "the stopped primary answered");

    drop(site);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_origin_group_fails_over_on_its_statuses_only() {
    let dir = scratch("failover-statuses");
    let secondary = Service::start("secondary");
    for (status, expected_status, expected_by) in [
        ("503", 200, "secondary"),
        ("500", 200, "secondary"),
        ("404", 404, "primary"),
        ("403", 403, "primary"),
    ] {
        let primary = Service::start_with("primary", &["--fail-with", status]);
        let config = failover_config(&dir, &primary.address, &secondary.address);
        let site = Served::start("Failover", &["--config".as_ref(), config.as_os_str()]);
        let reply = site.http("GET", "/api/health", &[]);
        assert!(reply.is(expected_status), "{status}: {}", reply.status);
        assert_eq!(served_by(&reply), expected_by, "primary answering {status}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_catalogue_preview_asks_for_its_password() {
    let dir = scratch("preview");
    let config = catalogue_config(&dir, "127.0.0.1:9", "127.0.0.1:9");
    let site = Served::start("The Catalogue", &["--config".as_ref(), config.as_os_str()]);
    let asked = site.http("GET", "/preview/index.html", &[]);
    assert!(asked.is(401), "{}", asked.status);
    assert!(
        asked
            .header("www-authenticate")
            .is_some_and(|v| v.starts_with("Basic realm=\"Catalogue preview\""))
    );
    // team:catalogue-preview (the fixture's password; the declaration has only its hash).
    let open = site.http(
        "GET",
        "/preview/index.html",
        &[("Authorization", "Basic dGVhbTpjYXRhbG9ndWUtcHJldmlldw==")],
    );
    assert!(open.is(200), "{}", open.status);
    assert!(open.body.contains("Next season"));
    // A cached copy is not a way around it: viewer-request runs before the cache.
    assert!(site.http("GET", "/preview/index.html", &[]).is(401));
    assert!(
        site.http("GET", "/index.html", &[]).is(200),
        "the rest is public"
    );
    drop(site);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn catalogue_price_lists_only_for_shipping_countries_each_cached_apart() {
    let dir = scratch("geo");
    let config = catalogue_config(&dir, "127.0.0.1:9", "127.0.0.1:9");
    let site = Served::start("The Catalogue", &["--config".as_ref(), config.as_os_str()]);
    let from = |country: &str| {
        site.http(
            "GET",
            "/downloads/price-list.csv",
            &[("X-Edgekit-Country", country)],
        )
    };
    let us = from("US");
    assert!(us.is(200), "{}", us.status);
    assert!(us.body.contains("a100,Lamp"));
    assert_eq!(us.header("content-disposition"), Some("attachment"));
    // Japan after the US: the US copy is cached, but not for Japan.
    let japan = from("JP");
    assert!(japan.is(403), "{}", japan.status);
    assert!(japan.body.contains("We do not ship to your country yet"));
    assert!(
        from("JP")
            .header("x-cache")
            .is_some_and(|c| c.starts_with("Hit"))
    );
    let again = from("US");
    assert!(
        again.is(200)
            && again
                .header("x-cache")
                .is_some_and(|c| c.starts_with("Hit"))
    );
    drop(site);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn half_the_visitors_get_the_apps_next_build_and_keep_it() {
    let dir = scratch("next-app");
    let config = catalogue_config(&dir, "127.0.0.1:9", "127.0.0.1:9");
    let site = Served::start("The Catalogue", &["--config".as_ref(), config.as_os_str()]);
    let mut builds = std::collections::BTreeMap::new();
    for i in 0..40 {
        let visitor = format!("127.0.1.{}", i + 1);
        let app = http_from(&visitor, &site.address, "GET", "/assets/app.js", &[]);
        assert!(app.is(200), "{}", app.status);
        let next = app.body.contains("build = \"next\"");
        let cookie = app.header("set-cookie").unwrap_or_default();
        let named = if next { "next" } else { "current" };
        assert!(
            cookie.starts_with(&format!("catalogue-app={named};")),
            "{cookie}"
        );
        // With the cookie, the same build again, and no new cookie.
        let again = http_from(
            &visitor,
            &site.address,
            "GET",
            "/assets/app.js",
            &[("Cookie", &format!("catalogue-app={named}"))],
        );
        assert_eq!(again.body.contains("build = \"next\""), next);
        assert_eq!(again.header("set-cookie"), None);
        *builds.entry(named).or_insert(0) += 1;
    }
    assert!(builds.len() == 2, "both builds are served: {builds:?}");
    drop(site);
    std::fs::remove_dir_all(&dir).unwrap();
}
