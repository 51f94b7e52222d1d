//! `bootstrap`: a site's functions as a `lambda_runtime` binary, for regional Lambda on
//! provided.al2023 and for testing against a Lambda Runtime API. One binary serves the four
//! triggers: the function's handler setting (`_HANDLER`) names the trigger, as
//! `viewer-request`, `origin-request`, `origin-response` or `viewer-response`.
//!
//! Configuration comes from the environment here (regional Lambda has it): `EDGEKIT_SITE`, the
//! site's declaration as `edgekit package` checked and wrote it (default `site.json` beside the
//! binary), read once when the process starts;
//! `EDGEKIT_TEMPLATES` (default `templates` beside the binary), and with the `dynamodb` feature
//! `EDGEKIT_REPLICAS` (comma-separated regions, nearest first; default `AWS_REGION`) and
//! `EDGEKIT_DYNAMODB_ENDPOINT` (local tests).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use edge_functions::EventType;
use edge_functions::data::{DirTemplates, ItemStore, KeptTemplates};
use edge_functions::runner;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

struct Host {
    trigger: EventType,
    functions: edge_functions::function::EdgeFunctions,
    store: Box<dyn ItemStore>,
    templates: KeptTemplates<DirTemplates>,
}

#[cfg(feature = "dynamodb")]
fn store() -> Result<Box<dyn ItemStore>, String> {
    use edge_functions::data::StoreConfig;
    use edge_functions::data::dynamodb::{DynamoConfig, DynamoStore};
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
    let mut config = StoreConfig::default();
    if let Ok(replicas) = std::env::var("EDGEKIT_REPLICAS") {
        let list = replicas.split(',').map(|r| r.trim().to_owned()).collect();
        config.replicas.insert(region.clone(), list);
    }
    config.endpoint = std::env::var("EDGEKIT_DYNAMODB_ENDPOINT").ok();
    config.check().map_err(|e| e.to_string())?;
    let replicas = config.replicas_for(&region);
    Ok(Box::new(DynamoStore::connect(DynamoConfig::new(replicas))?))
}

#[cfg(not(feature = "dynamodb"))]
fn store() -> Result<Box<dyn ItemStore>, String> {
    Ok(Box::new(edge_functions::data::MemoryStore::new()))
}

fn host() -> Result<Host, String> {
    let handler = std::env::var("_HANDLER")
        .map_err(|_| "_HANDLER is not set: name the trigger".to_owned())?;
    let trigger: EventType = handler.parse()?;
    let beside = |name: &str| {
        std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(|d| d.join(name)))
            .unwrap_or_else(|| PathBuf::from(name))
    };
    let templates = std::env::var_os("EDGEKIT_TEMPLATES")
        .map(PathBuf::from)
        .unwrap_or_else(|| beside("templates"));
    let site = std::env::var_os("EDGEKIT_SITE")
        .map(PathBuf::from)
        .unwrap_or_else(|| beside(edge_functions::site::declaration::PACKAGED_FILE));
    let site = read_site(&site, trigger)?;
    Ok(Host {
        trigger,
        functions: site.functions,
        store: store()?,
        templates: KeptTemplates::new(DirTemplates::new(templates)),
    })
}

/// The trigger's function from the declaration the package carries.
fn read_site(path: &Path, trigger: EventType) -> Result<edge_functions::site::Site, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the site's declaration {}: {e}", path.display()))?;
    let declaration = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{} is not a site declaration as `edgekit package` writes it: {e}",
            path.display()
        )
    })?;
    edge_functions::site::build(
        &declaration,
        &edge_functions::site::Registry::builtin(),
        Some(trigger),
    )
    .map_err(|e| format!("{}: {e}", path.display()))
}

async fn handle(host: Arc<Host>, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let bytes = serde_json::to_vec(&event.payload)?;
    // The function may wait on the store: off the runtime's thread.
    tokio::task::spawn_blocking(move || {
        let cf = runner::read_event(host.trigger, &bytes)
            .map_err(|e| format!("bad {} event: {e}", host.trigger))?;
        let invocation = runner::run(
            &host.functions,
            host.trigger,
            cf,
            runner::Sources {
                store: host.store.as_ref(),
                templates: &host.templates,
                // Sign-in's token exchange is made by the Lambda@Edge host (Python) and the
                // local distribution; this binary answers it as an outage, cleanly.
                caller: &edge_functions::data::NoCalls(
                    "the lambda_runtime binary does not make a sign-in block's token exchange",
                ),
            },
        );
        let result = invocation
            .result
            .map_err(|e| format!("the {} function failed: {e}", host.trigger))?;
        serde_json::to_value(result).map_err(|e| e.to_string())
    })
    .await?
    .map_err(Error::from)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    // Built once per process, reused by every event.
    let host = Arc::new(tokio::task::spawn_blocking(host).await??);
    lambda_runtime::run(service_fn(move |event| handle(host.clone(), event))).await
}
