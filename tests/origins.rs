//! Routing to origins through the local distribution: the Catalogue sends `/api/*` to its own
//! HTTP service (`examples/catalogue-site/api/service.py`), two deployments of it, blue and
//! green, reached as custom origins; the `origin-router` block splits visitors between them.

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
        let script = root().join("examples/catalogue-site/api/service.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .args(["--name", name, "--port", "0"])
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
        let reply = http_from(&visitor, &site.address, "GET", "/api/products.json", &[]);
        assert!(reply.is(200), "{}: {}", reply.status, reply.body);
        let cookie = reply.header("set-cookie").unwrap_or_default();
        let by = served_by(&reply).to_owned();
        assert!(
            cookie.starts_with(&format!("api-pool=api-{by};")),
            "{by}: {cookie}"
        );
        *counts.entry(by).or_insert(0) += 1;
    }
    let green_share = counts.get("green").copied().unwrap_or(0);
    assert!(
        (5..=40).contains(&green_share) && counts["blue"] + green_share == 200,
        "{counts:?}"
    );

    // The cookie keeps a visitor; a tester asks for green; neither gets a new cookie.
    let kept = site.http("GET", "/api/health", &[("Cookie", "api-pool=api-green")]);
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

    drop(site);
    std::fs::remove_dir_all(&dir).unwrap();
}
