//! A test harness: a local distribution from config text, served on a real 127.0.0.1 listener,
//! and a small client to drive it.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use cloudfront::distribution::Sites;
use cloudfront::{DataSources, Distribution, DistributionConfig};
use edge_functions::data::{DirTemplates, Item, ItemStore, MemoryStore, Table, TableSpec};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn origin_site() -> PathBuf {
    root().join("origin-site")
}

/// The shipped config, with the origin directory made absolute so it loads from anywhere.
pub fn shipped_config() -> String {
    std::fs::read_to_string(root().join("cloudfront/distribution.toml"))
        .unwrap()
        .replace(
            "\"../origin-site\"",
            &format!("{:?}", origin_site().display().to_string()),
        )
}

/// The cards table, as the Alien Cards declaration declares it.
pub fn cards_spec() -> TableSpec {
    let path = root().join("cloudfront/alien-cards.site.toml");
    let site =
        edge_functions::site::load_file(&path, &edge_functions::site::Registry::builtin(), None)
            .unwrap();
    site.tables["cards"].clone()
}

pub fn cards_table() -> Table {
    cards_spec().table()
}

pub fn seed_cards() -> Vec<Item> {
    edge_functions::data::read_items_file(&origin_site().join("data/cards.json"), &cards_spec())
        .unwrap()
}

pub fn memory_store() -> Arc<MemoryStore> {
    Arc::new(MemoryStore::new().with_table(&cards_table(), seed_cards()))
}

/// A card's likes, as a number.
pub fn likes(item: &Item) -> u64 {
    item.get("Likes").and_then(|v| v.as_u64()).unwrap_or(0)
}

pub struct TestSite {
    pub addr: SocketAddr,
    pub distribution: cloudfront::server::Shared,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    client: Client<HttpConnector, Full<Bytes>>,
}

pub struct Reply {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn x_cache(&self) -> &str {
        self.header("x-cache").unwrap_or("")
    }
}

impl TestSite {
    /// Serves `config` with the given sites and card store.
    pub async fn start(config: &str, sites: Sites, store: Arc<dyn ItemStore>) -> TestSite {
        let config = DistributionConfig::parse(config, std::path::Path::new("test.toml")).unwrap();
        let data = DataSources {
            store,
            templates: Arc::new(DirTemplates::new(origin_site().join("templates"))),
            caller: Arc::new(cloudfront::calls::HttpsCaller::new().unwrap()),
        };
        let distribution = Distribution::new(config, &sites, data, &root(), 8 << 20).unwrap();
        let shared: cloudfront::server::Shared = Arc::new(RwLock::new(Arc::new(distribution)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = shared.clone();
        let task = tokio::spawn(async move {
            cloudfront::server::serve(listener, served, false, None, async {
                let _ = stopped.await;
            })
            .await;
        });
        TestSite {
            addr,
            distribution: shared,
            stop: Some(stop),
            task: Some(task),
            client: Client::builder(TokioExecutor::new()).build(HttpConnector::new()),
        }
    }

    /// The Alien Cards site on the shipped config (or a variant of it).
    pub async fn alien_cards(config: &str, store: Arc<dyn ItemStore>) -> TestSite {
        let sites: Sites = HashMap::from([(
            "alien-cards.site.toml".to_owned(),
            Arc::new(alien_cards_functions()),
        )]);
        TestSite::start(config, sites, store).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[], Bytes::new()).await
    }

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.request("GET", path, headers, Bytes::new()).await
    }

    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Reply {
        let mut builder = hyper::Request::builder()
            .method(method)
            .uri(format!("http://{}{}", self.addr, path));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let response = self
            .client
            .request(builder.body(Full::new(body)).unwrap())
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        }
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// The Alien Cards functions, from its declaration (cloudfront/alien-cards.site.toml).
pub fn alien_cards_functions() -> edge_functions::function::EdgeFunctions {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cloudfront/alien-cards.site.toml");
    match edge_functions::site::load_file(&path, &edge_functions::site::Registry::builtin(), None) {
        Ok(site) => site.functions,
        Err(e) => panic!("{e}"),
    }
}
