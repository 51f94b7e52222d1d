//! `serve`: the whole site through the local CloudFront distribution.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use clap::Args;
use cloudfront::{DataSources, Distribution, DistributionConfig};
use edge_functions::data::{DirTemplates, EmbeddedStore, ItemStore};

use crate::paths;

/// Serve the site through a local CloudFront distribution, with the Lambda@Edge functions run
/// where CloudFront runs them, a TTL cache, and CloudFront's validation of function results.
///
/// The sites' tables are kept in the embedded store (a JSON file per table in .edgekit/, seeded
/// from each table's `items` file); each write is on disk before it is acknowledged.
#[derive(Args)]
pub struct ServeArgs {
    /// The port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// The distribution config.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Serve the S3 origin from this directory instead of the config's `local_dir`.
    #[arg(long, value_name = "DIR")]
    origin_dir: Option<PathBuf>,
    /// The embedded store's directory (one `<table_name>.json` per table).
    #[arg(long, value_name = "DIR")]
    store: Option<PathBuf>,
    /// Reload the config on change, empty the cache when the origin changes, and rebuild and
    /// restart when the Rust sources change.
    #[arg(long)]
    watch: bool,
    /// The cache's size bound in MiB.
    #[arg(long, default_value_t = 64)]
    cache_mb: usize,
    /// No request log lines (errors are still logged).
    #[arg(long)]
    quiet: bool,
    /// Also speak HTTPS (HTTP/2 and HTTP/1.1) on the same port, with a certificate for
    /// localhost made by a certificate authority of this machine's own (in --tls-dir; trust its
    /// ca.pem to open the site in a browser). Plain HTTP then gets each behavior's viewer
    /// protocol policy: a 301 to HTTPS, a 403, or the page.
    #[arg(long)]
    https: bool,
    /// Where --https keeps its certificate authority, certificate and key (made on first use).
    #[arg(long, value_name = "DIR", default_value = ".edgekit/tls")]
    tls_dir: PathBuf,
    #[command(flatten)]
    data: crate::data_args::DataArgs,
}

/// Everything a distribution is built from, kept so that `--watch` can build it again.
struct Setup {
    config_path: PathBuf,
    origin_dir: Option<PathBuf>,
    store: Store,
    templates: Arc<DirTemplates>,
    caller: Arc<dyn edge_functions::data::Caller>,
    cache_bytes: usize,
}

/// Where the items are.
enum Store {
    /// The embedded store's directory: opened again on each build, so that a table a changed
    /// declaration adds is there (every write is on disk, so nothing is lost in between).
    Embedded(PathBuf),
    DynamoDb(Arc<dyn ItemStore>),
}

impl Setup {
    fn build(&self) -> Result<Distribution, String> {
        let mut config = DistributionConfig::load(&self.config_path).map_err(|e| e.to_string())?;
        if let Some(dir) = &self.origin_dir {
            for origin in &mut config.origins {
                if origin.get_ref().kind == cloudfront::config::OriginKind::S3 {
                    origin.get_mut().local_dir = Some(dir.clone());
                }
            }
        }
        let base = self.config_path.parent().unwrap_or(Path::new("."));
        // The site declarations are read on every build: `--watch` reloads them with the config.
        let loaded = cloudfront::distribution::load_sites(
            &config,
            &self.config_path,
            crate::registry(),
            Some(crate::serve_preparation()),
        )?;
        for warning in &loaded.warnings {
            tracing::warn!("{warning}");
        }
        let store: Arc<dyn ItemStore> = match &self.store {
            Store::Embedded(dir) => Arc::new(
                EmbeddedStore::open(dir, &loaded.all_tables()?).map_err(|e| e.to_string())?,
            ),
            Store::DynamoDb(store) => store.clone(),
        };
        let data = DataSources {
            store,
            templates: self.templates.clone(),
            caller: self.caller.clone(),
        };
        Distribution::new(config, &loaded.sites, data, base, self.cache_bytes)
    }
}

pub fn default_config() -> PathBuf {
    let local = PathBuf::from("cloudfront/distribution.toml");
    if local.is_file() {
        local
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("cloudfront/distribution.toml")
    }
}

pub fn serve(args: ServeArgs) -> ExitCode {
    let quiet = args.quiet;
    tracing_subscriber::fmt()
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::INFO)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args, !quiet)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: ServeArgs, log_requests: bool) -> Result<(), String> {
    let config_path = args.config.clone().unwrap_or_else(default_config);
    // The origin directory the store is seeded from and templates are read from.
    let config = DistributionConfig::load(&config_path).map_err(|e| e.to_string())?;
    // A distribution of custom origins only has no bucket: its templates, if any, are beside
    // the config.
    let origin_dir = match &args.origin_dir {
        Some(dir) => dir.clone(),
        None => paths::origin_dir_of(&config, &config_path).unwrap_or_else(|| {
            config_path
                .parent()
                .map(std::path::Path::to_path_buf)
                .unwrap_or_default()
        }),
    };
    let (store, store_name) = if args.data.uses_dynamodb() {
        let data_args = args.data.clone();
        let data_config = config.data.clone();
        // The store builds its client on its own runtime: not from inside this one.
        let store = tokio::task::spawn_blocking(move || data_args.item_store(&data_config))
            .await
            .map_err(|e| e.to_string())??;
        let replicas = config
            .data
            .replicas_for(&args.data.region())
            .iter()
            .map(|r| r.region.as_str())
            .collect::<Vec<_>>()
            .join(" → ");
        (
            Store::DynamoDb(store),
            format!("DynamoDB (replicas {replicas})"),
        )
    } else {
        let dir = args.store.clone().unwrap_or_else(paths::default_store_dir);
        let name = format!("embedded in {}", dir.display());
        (Store::Embedded(dir), name)
    };
    let setup = Setup {
        config_path: config_path.clone(),
        origin_dir: args.origin_dir.clone(),
        store,
        templates: Arc::new(DirTemplates::new(origin_dir.join("templates"))),
        caller: Arc::new(cloudfront::calls::HttpsCaller::new()?),
        cache_bytes: args.cache_mb.max(1) * 1024 * 1024,
    };
    let distribution: cloudfront::server::Shared = Arc::new(RwLock::new(Arc::new(setup.build()?)));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", args.port))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let tls = if args.https {
        let tls = cloudfront::tls::local_tls(&args.tls_dir)?;
        println!(
            "{} is served at https://localhost:{}/",
            config.distribution.comment,
            address.port()
        );
        tracing::info!(
            "HTTPS and plain HTTP on port {}; the certificate authority to trust is {}{}",
            address.port(),
            tls.authority.display(),
            if tls.created { " (made now)" } else { "" }
        );
        Some(tls.config)
    } else {
        println!(
            "{} is served at http://{address}/",
            config.distribution.comment
        );
        None
    };
    tracing::info!(
        "config {} · origin {} · store {} · cache {} MiB{}",
        config_path.display(),
        origin_dir.display(),
        store_name,
        args.cache_mb,
        if args.watch {
            " · watching for changes"
        } else {
            ""
        }
    );
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    if args.watch {
        let distribution = distribution.clone();
        let watched = Watched::new(&config_path, &config, &origin_dir);
        std::thread::spawn(move || watch(watched, setup, distribution, stop_tx));
    } else {
        drop(stop_tx);
    }
    let shutdown = async move {
        let restart = async {
            match stop_rx.await {
                Ok(()) => (),
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            () = interrupted() => tracing::info!("stopping: finishing the requests in flight"),
            () = restart => tracing::info!("restarting with the rebuilt binary"),
        }
    };
    cloudfront::server::serve(listener, distribution, log_requests, tls, shutdown).await;
    if args.watch && RESTART.load(std::sync::atomic::Ordering::SeqCst) {
        restart_self();
    }
    tracing::info!("stopped");
    Ok(())
}

async fn interrupted() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

static RESTART: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The files `--watch` looks at, with their last modification times.
struct Watched {
    /// The distribution config and the site declarations its functions name.
    config: Vec<PathBuf>,
    origin: PathBuf,
    sources: Vec<PathBuf>,
}

impl Watched {
    fn new(config_path: &Path, config: &DistributionConfig, origin: &Path) -> Watched {
        let base = config_path.parent().unwrap_or(Path::new("."));
        let mut files = vec![config_path.to_owned()];
        for function in config.functions.iter().map(|f| f.get_ref()) {
            let file = cloudfront::distribution::site_file(base, &function.site);
            if !files.contains(&file) {
                files.push(file);
            }
        }
        let checkout = Path::new(env!("CARGO_MANIFEST_DIR"));
        let sources = ["src", "edge-functions/src", "cloudfront/src"]
            .iter()
            .map(|d| checkout.join(d))
            .filter(|d| d.is_dir())
            .collect();
        Watched {
            config: files,
            origin: origin.to_owned(),
            sources,
        }
    }
}

fn snapshot(roots: &[PathBuf]) -> BTreeMap<PathBuf, SystemTime> {
    let mut out = BTreeMap::new();
    let mut stack: Vec<PathBuf> = roots.to_vec();
    while let Some(path) = stack.pop() {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                stack.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()));
            }
        } else if let Ok(modified) = meta.modified() {
            out.insert(path, modified);
        }
    }
    out
}

fn watch(
    watched: Watched,
    setup: Setup,
    distribution: cloudfront::server::Shared,
    stop: tokio::sync::oneshot::Sender<()>,
) {
    let mut config = snapshot(&watched.config);
    let mut origin = snapshot(std::slice::from_ref(&watched.origin));
    let mut sources = snapshot(&watched.sources);
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now_sources = snapshot(&watched.sources);
        if now_sources != sources {
            sources = now_sources;
            tracing::info!("sources changed: rebuilding");
            if rebuild() {
                RESTART.store(true, std::sync::atomic::Ordering::SeqCst);
                let _ = stop.send(());
                return;
            }
            tracing::warn!("the build failed; still serving the previous build");
        }
        let now_config = snapshot(&watched.config);
        if now_config != config {
            config = now_config;
            match setup.build() {
                Ok(fresh) => {
                    *distribution.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(fresh);
                    tracing::info!("config and site declarations reloaded (cache emptied)");
                }
                Err(err) => tracing::error!("config not reloaded: {err}"),
            }
        }
        let now_origin = snapshot(std::slice::from_ref(&watched.origin));
        if now_origin != origin {
            origin = now_origin;
            distribution
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .cache()
                .clear();
            tracing::info!("origin changed: cache emptied");
        }
    }
}

/// Builds the binary again with the profile this one was built with.
fn rebuild() -> bool {
    let release = std::env::current_exe()
        .map(|p| p.components().any(|c| c.as_os_str() == "release"))
        .unwrap_or(false);
    let mut cargo =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--bin", "edgekit"]);
    if release {
        cargo.arg("--release");
    }
    cargo.status().map(|s| s.success()).unwrap_or(false)
}

fn restart_self() {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        if let Ok(exe) = std::env::current_exe() {
            let err = std::process::Command::new(exe)
                .args(std::env::args_os().skip(1))
                .exec();
            tracing::error!("cannot restart: {err}");
        }
    }
}
