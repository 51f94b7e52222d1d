//! The DynamoDB store against a real DynamoDB-compatible server (moto).
//!
//! `scripts/test` installs moto, starts one server and sets `EDGEKIT_DYNAMODB` to its URL and
//! `MOTO_SERVER` to the program, which the failover tests start twice more as two "regions".
//! Without them these tests say loudly that they were skipped.
#![cfg(feature = "dynamodb")]

mod support;

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use edge_functions::EventType;
use edge_functions::data::dynamodb::{self, DynamoConfig, DynamoStore, Replica};
use edge_functions::data::{DirTemplates, ItemStore, Table, TableSpec};
use edge_functions::event::{Cf, Config, FunctionResult, Request, Response};
use edge_functions::function::EdgeFunctions;
use edge_functions::runner;

fn endpoint() -> Option<String> {
    match std::env::var("EDGEKIT_DYNAMODB") {
        Ok(url) => Some(url),
        Err(_) => {
            eprintln!(
                "SKIPPED: EDGEKIT_DYNAMODB is not set (scripts/test starts a moto server and sets it)"
            );
            None
        }
    }
}

fn unique_table(name: &str) -> String {
    format!(
        "{name}-{}-{:?}",
        std::process::id(),
        Instant::now().elapsed().as_nanos() ^ rand_nanos()
    )
}

fn rand_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// The cards table under another DynamoDB name.
fn spec(table: &str) -> TableSpec {
    TableSpec {
        table_name: table.to_owned(),
        ..support::cards_spec()
    }
}

fn table(name: &str) -> Table {
    spec(name).table()
}

/// The Alien Cards functions on a table of this name: the declaration with its table renamed.
fn functions(table: &str) -> EdgeFunctions {
    let path = support::root().join("cloudfront/alien-cards.site.toml");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "table_name = \"alien-cards\"",
        &format!("table_name = {table:?}"),
    );
    edge_functions::site::load(
        &text,
        &path,
        &edge_functions::site::Registry::builtin(),
        None,
    )
    .unwrap()
    .functions
}

fn store(replicas: &[(&str, &str)]) -> DynamoStore {
    let replicas = replicas
        .iter()
        .map(|(region, url)| Replica {
            region: (*region).to_owned(),
            endpoint: Some((*url).to_owned()),
        })
        .collect();
    let mut config = DynamoConfig::new(replicas);
    config.cooldown = Duration::from_millis(500);
    DynamoStore::connect(config).unwrap()
}

fn seeded(table: &str, url: &str) -> DynamoStore {
    let store = store(&[("us-east-1", url)]);
    dynamodb::seed(
        &store,
        &spec(table),
        &support::seed_cards(),
        false,
        &mut |_| {},
    )
    .unwrap();
    store
}

fn origin_request(method: &str, uri: &str, query: &str) -> Cf {
    Cf {
        config: Config {
            event_type: EventType::OriginRequest,
            ..Default::default()
        },
        request: Request {
            client_ip: "203.0.113.9".into(),
            method: method.into(),
            uri: uri.into(),
            querystring: query.into(),
            ..Default::default()
        },
        response: None,
        extra: Default::default(),
    }
}

fn page(store: &dyn ItemStore, table: &str, method: &str, uri: &str, query: &str) -> Response {
    let templates = DirTemplates::new(support::origin_site().join("templates"));
    let invocation = runner::run(
        &functions(table),
        EventType::OriginRequest,
        origin_request(method, uri, query),
        runner::Sources::offline(store, &templates),
    );
    assert_eq!(invocation.violations, vec![]);
    match invocation.result {
        Ok(FunctionResult::Response(response)) => response,
        other => panic!("expected a response for {method} {uri}: {other:?}"),
    }
}

#[test]
fn seeding_twice_changes_nothing_and_reset_resets() {
    let Some(url) = endpoint() else { return };
    let name = unique_table("seed");
    let store = store(&[("us-east-1", &url)]);
    let mut cards = support::seed_cards();
    // An attribute the library has never heard of is kept.
    cards[0].insert(
        "Artist".into(),
        serde_json::json!({"name": "Zorg", "planets": [3, 7]}),
    );
    let first = dynamodb::seed(&store, &spec(&name), &cards, false, &mut |_| {}).unwrap();
    assert!(first.table_created);
    assert_eq!(first.added, 6);
    let first_id = cards[0]["CardId"].as_str().unwrap().to_owned();
    let kept = store.get(&table(&name), &first_id).unwrap().unwrap();
    assert_eq!(kept["Artist"], cards[0]["Artist"]);
    store.add(&table(&name), "k9b430fc", "Likes", 1).unwrap();
    let mut lines = Vec::new();
    let second =
        dynamodb::seed(&store, &spec(&name), &cards, false, &mut |l| lines.push(l)).unwrap();
    assert_eq!(
        (
            second.table_created,
            second.added,
            second.updated,
            second.unchanged
        ),
        (false, 0, 0, 6)
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("k9b430fc") && l.contains("unchanged, kept Likes 1")),
        "{lines:?}"
    );
    let likes = |id: &str| support::likes(&store.get(&table(&name), id).unwrap().unwrap());
    assert_eq!(likes("k9b430fc"), 1, "likes are kept");
    let reset = dynamodb::seed(&store, &spec(&name), &cards, true, &mut |_| {}).unwrap();
    assert_eq!(reset.updated, 1);
    assert_eq!(likes("k9b430fc"), 0);
}

#[test]
fn every_page_and_every_like_api_case() {
    let Some(url) = endpoint() else { return };
    let name = unique_table("pages");
    let store = seeded(&name, &url);
    let page = |method, uri, query| page(&store, &name, method, uri, query);
    let home = page("GET", "/", "");
    assert_eq!(home.status, "200");
    assert_eq!(
        home.body
            .as_deref()
            .unwrap()
            .matches("class=\"tile-title\"")
            .count(),
        6
    );
    assert_eq!(page("GET", "/card/vc7efa69", "").status, "200");
    assert_eq!(page("GET", "/card/zzzzzzzz", "").status, "404");
    let like = page("POST", "/api/like", "id=vc7efa69");
    assert_eq!(like.status, "200");
    assert!(like.body.as_deref().unwrap().contains("\"likes\":1"));
    assert_eq!(page("POST", "/api/like", "id=zzzzzzzz").status, "404");
    assert_eq!(
        store.scan(&table(&name)).unwrap().len(),
        6,
        "an unknown id creates nothing"
    );
    assert_eq!(store.get(&table(&name), "zzzzzzzz").unwrap(), None);
    assert_eq!(page("POST", "/api/like", "id=..%2Fx").status, "400");
    assert_eq!(page("POST", "/api/like", "").status, "400");
    assert_eq!(page("GET", "/api/like", "id=vc7efa69").status, "405");
}

#[test]
fn a_thousand_concurrent_likes_make_a_thousand_likes() {
    let Some(url) = endpoint() else { return };
    let name = unique_table("likes");
    let store = Arc::new(seeded(&name, &url));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (store, table) = (store.clone(), table(&name));
            std::thread::spawn(move || {
                for _ in 0..125 {
                    store.add(&table, "da8398f4", "Likes", 1).unwrap().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let card = store.get(&table(&name), "da8398f4").unwrap().unwrap();
    assert_eq!(support::likes(&card), 1000);
}

#[test]
fn bad_items_render_sensibly() {
    let Some(url) = endpoint() else { return };
    let table_name = unique_table("bad");
    let store = seeded(&table_name, &url);
    use aws_sdk_dynamodb::types::AttributeValue as V;
    store.block_on(async {
        let client = store.primary();
        client
            .put_item()
            .table_name(&table_name)
            .item("CardId", V::S("bad00001".into()))
            .item("Description", V::S("Strange".into()))
            .item("Likes", V::S("many".into()))
            .send()
            .await
            .unwrap();
        client
            .put_item()
            .table_name(&table_name)
            .item("CardId", V::S("bad00002".into()))
            .item("Likes", V::N("4".into()))
            .send()
            .await
            .unwrap();
    });
    // Items are shown as they are: the templates decide what a missing or odd attribute looks
    // like, and a page never fails on one.
    let cards = store.scan(&table(&table_name)).unwrap();
    let strange = cards.iter().find(|c| c["CardId"] == "bad00001").unwrap();
    assert_eq!(strange["Likes"], "many");
    let untitled = cards.iter().find(|c| c["CardId"] == "bad00002").unwrap();
    assert_eq!(
        (untitled.get("Description"), &untitled["Likes"]),
        (None, &serde_json::json!(4))
    );
    let home = page(&store, &table_name, "GET", "/", "");
    assert_eq!(home.status, "200");
    assert!(
        home.body.as_deref().unwrap().contains("4 likes so far"),
        "the odd count is left out of the total"
    );
    assert_eq!(
        page(&store, &table_name, "GET", "/card/bad00001", "").status,
        "200"
    );
    // Adding to a counter that is not a number is refused, and nothing changes.
    assert_eq!(
        page(&store, &table_name, "POST", "/api/like", "id=bad00001").status,
        "503"
    );
    assert_eq!(
        store.get(&table(&table_name), "bad00001").unwrap().unwrap()["Likes"],
        "many"
    );
}

/// A moto server of our own on a free port, for tests that stop it.
struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    fn start(port: Option<u16>) -> Option<Moto> {
        let program = std::env::var("MOTO_SERVER").ok()?;
        let port = port.unwrap_or_else(|| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        });
        let child = Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Moto { child, port })
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.kill();
    }
}

fn moto_or_skip() -> Option<Moto> {
    let moto = Moto::start(None);
    if moto.is_none() {
        eprintln!(
            "SKIPPED: MOTO_SERVER is not set (scripts/test sets it to the installed moto_server)"
        );
    }
    moto
}

/// Seeds the table in `region` at `url`, the cat's description marking the region.
fn seed_region(table: &str, region: &str, url: &str, cat: &str) {
    let mut cards = support::seed_cards();
    cards
        .iter_mut()
        .find(|c| c["CardId"] == "k9b430fc")
        .unwrap()
        .insert("Description".into(), cat.into());
    let store = store(&[(region, url)]);
    dynamodb::seed(&store, &spec(table), &cards, false, &mut |_| {}).unwrap();
}

#[test]
fn a_failed_region_fails_over_to_the_next_replica_and_comes_back() {
    let Some(mut east) = moto_or_skip() else {
        return;
    };
    let Some(west) = Moto::start(None) else {
        return;
    };
    let table = "alien-cards";
    seed_region(table, "us-east-1", &east.url(), "Cat (us-east-1)");
    seed_region(table, "us-west-2", &west.url(), "Cat (us-west-2)");
    let store = store(&[("us-east-1", &east.url()), ("us-west-2", &west.url())]);
    let read = || {
        store
            .get(&self::table(table), "k9b430fc")
            .map(|c| c.unwrap()["Description"].as_str().unwrap().to_owned())
    };

    let mut killed_at = None;
    let mut failed_over_after = None;
    for i in 0..200 {
        if i == 50 {
            east.kill();
            killed_at = Some(Instant::now());
        }
        let started = Instant::now();
        let answer =
            read().unwrap_or_else(|e| panic!("request {i} reached the visitor as an error: {e}"));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "request {i} took {:?}",
            started.elapsed()
        );
        if i < 50 {
            assert_eq!(answer, "Cat (us-east-1)");
        } else {
            assert_eq!(answer, "Cat (us-west-2)", "request {i} after the kill");
            failed_over_after.get_or_insert_with(|| killed_at.unwrap().elapsed());
        }
    }
    // The first region comes back (empty, as a restarted moto is) and is seeded again.
    let east_port = east.port;
    drop(east);
    let east = Moto::start(Some(east_port)).unwrap();
    seed_region(table, "us-east-1", &east.url(), "Cat (us-east-1)");
    let back = Instant::now();
    let recovered_after = loop {
        if read().unwrap() == "Cat (us-east-1)" {
            break back.elapsed();
        }
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "the first region never came back into use"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    eprintln!(
        "failover: first answer from us-west-2 {:?} after the kill; us-east-1 back in use {:?} after it answered again",
        failed_over_after.unwrap(),
        recovered_after
    );
}

#[test]
fn serve_answers_a_clean_503_while_the_table_is_down_and_recovers_by_itself() {
    let Some(mut moto) = moto_or_skip() else {
        return;
    };
    let table = "alien-cards";
    seed_region(table, "us-east-1", &moto.url(), "Cat");
    let store: Arc<dyn ItemStore> = Arc::new(store(&[("us-east-1", &moto.url())]));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let site = support::TestSite::alien_cards(&support::shipped_config(), store).await;
        assert_eq!(site.get("/card/k9b430fc").await.status, 200);
        moto.kill();
        let started = Instant::now();
        let down = site.get("/card/da8398f4").await;
        assert_eq!(down.status, 503);
        assert!(down.text().contains("Taking a short break"));
        assert!(!down.text().contains("127.0.0.1") && !down.text().contains("alien-cards"));
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "answered in {:?}",
            started.elapsed()
        );
        let port = moto.port;
        drop(moto);
        let moto = tokio::task::spawn_blocking(move || {
            let moto = Moto::start(Some(port)).unwrap();
            seed_region(table, "us-east-1", &moto.url(), "Cat");
            moto
        })
        .await
        .unwrap();
        let back = Instant::now();
        loop {
            let reply = site.get("/card/da8398f4").await;
            if reply.status == 200 {
                break;
            }
            assert!(
                back.elapsed() < Duration::from_secs(10),
                "serve never recovered"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        drop(moto);
        site.stop().await;
    });
}
