//! `serve` as a process: it prints its URL, refuses a bad config with the line, keeps likes
//! across a restart, and stops cleanly on SIGTERM.

use std::path::Path;
use std::process::Command;

mod process;
use process::{Served, scratch};

fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_edgekit"));
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

/// Alien Cards served from the checkout with its own store.
fn start(store: &Path) -> Served {
    Served::start("Alien Cards", &["--store".as_ref(), store.as_os_str()])
}

fn terminate(mut served: Served) {
    let status = Command::new("kill")
        .args(["-TERM", &served.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = served.child.wait().unwrap();
    assert!(exit.success(), "serve stops cleanly on SIGTERM: {exit}");
}

/// A header of the answer to a GET ("" when absent).
fn header_of_get(served: &Served, path: &str, name: &str) -> String {
    served
        .http("GET", path, &[])
        .header(name)
        .unwrap_or("")
        .to_owned()
}

/// The `x-cache` of a GET.
fn x_cache(served: &Served, path: &str) -> String {
    header_of_get(served, path, "x-cache")
}

#[test]
fn acknowledged_likes_survive_a_crash() {
    let dir = scratch("restart");
    let store = dir.join("store");
    let mut served = start(&store);
    for _ in 0..2 {
        let like = served.http("POST", "/api/like?id=fe2f80a7", &[]);
        assert!(like.is(200), "{}", like.status);
        assert!(like.body.contains("\"likes\""), "{}", like.body);
    }
    // SIGKILL: no chance to flush anything the like had not already put on disk.
    served.child.kill().unwrap();
    served.child.wait().unwrap();
    let served = start(&store);
    let like = served.http("POST", "/api/like?id=fe2f80a7", &[]);
    assert!(like.is(200), "{}", like.status);
    assert!(
        like.body.contains("\"likes\":3"),
        "two likes before the restart, one after: {}",
        like.body
    );
    terminate(served);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bad_config_is_refused_at_start_with_its_line() {
    let dir = scratch("config");
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("cloudfront/distribution.toml"),
    )
    .unwrap();
    let broken = shipped.replacen(
        "origin = \"alien-cards-s3\"\ncache_policy = \"pages\"",
        "origin = \"nowhere\"\ncache_policy = \"pages\"",
        1,
    );
    let line = broken
        .lines()
        .position(|l| l.contains("\"nowhere\""))
        .unwrap()
        + 1;
    let config = dir.join("distribution.toml");
    std::fs::write(&config, broken).unwrap();
    let output = binary()
        .args(["serve", "--port", "0", "--config"])
        .arg(&config)
        .arg("--store")
        .arg(dir.join("store"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "distribution.toml:{line}: unknown origin or origin group `nowhere`"
        )),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn watch_reloads_the_config_and_empties_the_cache_when_the_origin_changes() {
    let dir = scratch("watch");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let site = dir.join("site");
    std::fs::create_dir_all(site.join("js")).unwrap();
    std::fs::create_dir_all(site.join("data")).unwrap();
    std::fs::create_dir_all(site.join("templates")).unwrap();
    std::fs::copy(root.join("origin-site/js/like.js"), site.join("js/like.js")).unwrap();
    std::fs::copy(
        root.join("origin-site/data/cards.json"),
        site.join("data/cards.json"),
    )
    .unwrap();
    let config = dir.join("distribution.toml");
    std::fs::copy(root.join("cloudfront/distribution.toml"), &config).unwrap();
    let declaration = dir.join("alien-cards.site.toml");
    let text = std::fs::read_to_string(root.join("cloudfront/alien-cards.site.toml"))
        .unwrap()
        .replace("../origin-site/data/cards.json", "site/data/cards.json");
    std::fs::write(&declaration, text).unwrap();
    let store = dir.join("store");
    let served = Served::start(
        "Alien Cards",
        &[
            "--watch".as_ref(),
            "--config".as_ref(),
            config.as_os_str(),
            "--origin-dir".as_ref(),
            site.as_os_str(),
            "--store".as_ref(),
            store.as_os_str(),
        ],
    );

    assert_eq!(x_cache(&served, "/js/like.js"), "Miss from cloudfront");
    assert_eq!(x_cache(&served, "/js/like.js"), "Hit from cloudfront");
    std::fs::write(site.join("js/like.js"), "// changed\n").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1300));
    assert_eq!(
        x_cache(&served, "/js/like.js"),
        "Miss from cloudfront",
        "origin change empties the cache"
    );

    // A broken config is refused and the running one kept.
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("default_ttl = 86400", "default_ttl = \"soon\""),
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1300));
    assert_eq!(
        x_cache(&served, "/js/like.js"),
        "Hit from cloudfront",
        "still serving"
    );
    // A good one replaces it (and starts with an empty cache).
    std::fs::write(&config, text).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1300));
    assert_eq!(
        x_cache(&served, "/js/like.js"),
        "Miss from cloudfront",
        "config reloaded"
    );

    // A content change in the site declaration: served at once, no Rust build.
    assert_eq!(
        header_of_get(&served, "/r/cat", "location"),
        "/card/k9b430fc"
    );
    let site_text = std::fs::read_to_string(&declaration).unwrap();
    std::fs::write(
        &declaration,
        site_text.replace(
            "from = \"/r/cat\", to = \"/card/k9b430fc\"",
            "from = \"/r/cat\", to = \"/card/da8398f4\"",
        ),
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1300));
    assert_eq!(
        header_of_get(&served, "/r/cat", "location"),
        "/card/da8398f4",
        "the declaration reloaded"
    );
    // A declaration with a mistake is refused, and the running site kept.
    std::fs::write(
        &declaration,
        site_text.replace("block = \"redirects\"", "block = \"redirect\""),
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1300));
    assert_eq!(
        header_of_get(&served, "/r/cat", "location"),
        "/card/da8398f4",
        "still serving the last good declaration"
    );
    terminate(served);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn with_https_plain_http_gets_each_behaviors_viewer_protocol_policy() {
    let dir = scratch("https");
    let (store, tls) = (dir.join("store"), dir.join("tls"));
    let served = Served::start(
        "Alien Cards",
        &[
            "--https".as_ref(),
            "--tls-dir".as_ref(),
            tls.as_os_str(),
            "--store".as_ref(),
            store.as_os_str(),
        ],
    );
    // Its certificate authority, made on first use, to be trusted by a browser.
    assert!(
        std::fs::read_to_string(tls.join("ca.pem"))
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    // redirect-to-https (the pages): a 301 to the same host, path and query; no function ran.
    let page = served.http("GET", "/card/music?ref=mail", &[]);
    assert!(page.is(301), "{}", page.status);
    assert_eq!(
        page.header("location"),
        Some(format!("https://{}/card/music?ref=mail", served.address).as_str())
    );
    assert_eq!(page.header("x-cache"), Some("Redirect from cloudfront"));
    // https-only (the like API): a 403.
    assert!(served.http("POST", "/api/like?id=da8398f4", &[]).is(403));
    drop(served);
    // Without --https, plain HTTP is served as before (there is no HTTPS to send anyone to).
    let plain = start(&store);
    let page = plain.http("GET", "/css/site.css", &[]);
    assert!(page.is(200), "{}", page.status);
    assert!(plain.http("POST", "/api/like?id=da8398f4", &[]).is(200));
    drop(plain);
    std::fs::remove_dir_all(&dir).unwrap();
}
