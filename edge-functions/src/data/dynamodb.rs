//! The DynamoDB item store (`aws-sdk-dynamodb`), with replica failover.
//!
//! Get → GetItem; list → one paginated Scan, ordered by the store (a site's tables are small
//! catalogues: a Scan reads each item once, where a sorted index would need a constant partition
//! key, a hot spot, to gain nothing at this size); add → UpdateItem `ADD #attribute :amount` with
//! `attribute_exists(#key)` and `ReturnValues=ALL_NEW`, so an unknown key creates nothing and
//! concurrent additions never lose an increment. Table and attribute names come from the site.
//!
//! Lambda@Edge runs in the regional edge cache nearest the viewer; `AWS_REGION` says which. The
//! store reads and writes the nearest configured replica first and, on a throttle, a 5xx, a
//! timeout or a connection error, tries the next one, all within a short budget: timeouts are
//! explicit, the SDK does not retry on its own, and a replica that failed is skipped for a
//! cooldown so that visitors do not each pay for discovering it is down.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::RequestId;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValue,
    ScalarAttributeType, TableStatus,
};

use serde_json::Value;

use super::{DataError, Item, ItemStore, Table, TableSpec};

pub use super::store_config::Replica;

/// How the store reaches the tables.
#[derive(Debug, Clone)]
pub struct DynamoConfig {
    /// Nearest first.
    pub replicas: Vec<Replica>,
    /// One attempt against one replica.
    pub attempt_timeout: Duration,
    /// Everything one operation may take, failovers included.
    pub budget: Duration,
    /// How long a replica that failed is skipped (unless every replica is down).
    pub cooldown: Duration,
}

impl DynamoConfig {
    pub fn new(replicas: Vec<Replica>) -> DynamoConfig {
        DynamoConfig {
            replicas,
            attempt_timeout: Duration::from_millis(800),
            budget: Duration::from_secs(2),
            cooldown: Duration::from_secs(2),
        }
    }
}

struct ReplicaClient {
    region: String,
    client: Client,
    down_until: Mutex<Option<Instant>>,
}

impl ReplicaClient {
    fn is_cooling_down(&self) -> bool {
        self.down_until
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|until| Instant::now() < until)
    }

    fn mark(&self, down: Option<Instant>) {
        *self.down_until.lock().unwrap_or_else(|p| p.into_inner()) = down;
    }
}

/// The item store on DynamoDB. Its calls block the calling thread (the store runs its own small
/// runtime), so it serves hosts with or without an async runtime of their own; the client is
/// built once and reused.
pub struct DynamoStore {
    /// Always `Some` but while dropping.
    runtime: Option<tokio::runtime::Runtime>,
    replicas: Vec<ReplicaClient>,
    config: DynamoConfig,
}

/// Why one attempt failed, and whether another replica may do better.
struct AttemptError {
    retry_elsewhere: bool,
    error: DataError,
}

impl DynamoStore {
    /// Builds one client per replica. Local endpoints get dummy credentials unless the
    /// environment has some; AWS endpoints use the default credential chain.
    pub fn connect(config: DynamoConfig) -> Result<DynamoStore, String> {
        if config.replicas.is_empty() {
            return Err("no DynamoDB replica configured".into());
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("dynamodb")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the DynamoDB runtime: {e}"))?;
        let replicas = config
            .replicas
            .iter()
            .map(|replica| ReplicaClient {
                region: replica.region.clone(),
                client: runtime.block_on(client(replica, config.attempt_timeout)),
                down_until: Mutex::new(None),
            })
            .collect();
        Ok(DynamoStore {
            runtime: Some(runtime),
            replicas,
            config,
        })
    }

    /// The first replica's region and client, for tools (`seed`) that write to one replica.
    pub fn primary_region(&self) -> &str {
        &self.replicas[0].region
    }

    /// The first replica's client, for tools (`seed`) that write to one replica.
    pub fn primary(&self) -> &Client {
        &self.replicas[0].client
    }

    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        match &self.runtime {
            Some(runtime) => runtime.block_on(future),
            None => unreachable!("the runtime is taken only by drop"),
        }
    }

    /// Runs `op` on the nearest healthy replica, failing over within the budget.
    fn with_failover<T, F, Fut>(&self, what: &str, op: F) -> Result<T, DataError>
    where
        F: Fn(Client) -> Fut,
        Fut: std::future::Future<Output = Result<T, AttemptError>>,
    {
        let started = Instant::now();
        let all_down = self.replicas.iter().all(ReplicaClient::is_cooling_down);
        let mut last = DataError::Unavailable("no replica was tried".into());
        for replica in &self.replicas {
            if replica.is_cooling_down() && !all_down {
                continue;
            }
            let left = self.config.budget.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(DataError::Timeout(format!(
                    "{what}: the {:?} budget ran out",
                    self.config.budget
                )));
            }
            let attempt = self.block_on(async {
                tokio::time::timeout(
                    left.min(self.config.attempt_timeout),
                    op(replica.client.clone()),
                )
                .await
            });
            match attempt {
                Ok(Ok(value)) => {
                    replica.mark(None);
                    return Ok(value);
                }
                Ok(Err(AttemptError {
                    retry_elsewhere: false,
                    error,
                })) => return Err(error),
                Ok(Err(AttemptError { error, .. })) => {
                    warn(&format!(
                        "{what} on {}: {error}; trying the next replica",
                        replica.region
                    ));
                    last = error;
                }
                Err(_) => {
                    warn(&format!(
                        "{what} on {}: no answer in time; trying the next replica",
                        replica.region
                    ));
                    last = DataError::Timeout(format!("{what} on {}", replica.region));
                }
            }
            replica.mark(Some(Instant::now() + self.config.cooldown));
        }
        Err(last)
    }
}

impl Drop for DynamoStore {
    fn drop(&mut self) {
        // A host may drop the store inside its own runtime, where a blocking shutdown panics.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn warn(message: &str) {
    tracing::warn!("dynamodb: {message}");
}

async fn client(replica: &Replica, attempt_timeout: Duration) -> Client {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(attempt_timeout.min(Duration::from_millis(500)))
        .operation_attempt_timeout(attempt_timeout)
        .operation_timeout(attempt_timeout)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new(replica.region.clone()))
        .timeout_config(timeouts)
        // Failover is the store's job: the SDK must not spend the budget retrying one replica.
        .retry_config(RetryConfig::standard().with_max_attempts(1));
    if let Some(endpoint) = &replica.endpoint {
        loader = loader.endpoint_url(endpoint);
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "local",
                "local",
                None,
                None,
                "edgekit-local",
            ));
        }
    }
    Client::new(&loader.load().await)
}

/// Sorts an SDK error into "try another replica" or "this is the answer", keeping the request id
/// for the log and nothing raw for the visitor.
fn classify<E>(
    what: &str,
    err: SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> AttemptError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let request_id = err.request_id().unwrap_or("-").to_owned();
    let (retry_elsewhere, detail) = match &err {
        SdkError::TimeoutError(_) => (true, "timed out".to_owned()),
        SdkError::DispatchFailure(e) => (
            true,
            format!(
                "connection failed ({:?})",
                e.as_connector_error().map(|c| c.to_string())
            ),
        ),
        SdkError::ResponseError(_) => (true, "unreadable response".to_owned()),
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().unwrap_or("unknown");
            let throttled = matches!(
                code,
                "ThrottlingException"
                    | "ProvisionedThroughputExceededException"
                    | "RequestLimitExceeded"
                    | "InternalServerError"
                    // A replica whose table is missing (not created yet in that region).
                    | "ResourceNotFoundException"
            );
            (
                throttled || status >= 500,
                format!("{code} (HTTP {status})"),
            )
        }
        _ => (false, err.to_string()),
    };
    let message = format!("{what}: {detail}, request id {request_id}");
    let error = match err {
        SdkError::TimeoutError(_) => DataError::Timeout(message),
        _ => DataError::Unavailable(message),
    };
    AttemptError {
        retry_elsewhere,
        error,
    }
}

/// An item as the functions see it: each attribute as a JSON value (S → string, N → number,
/// BOOL, NULL, L → list, M → map, SS/NS → lists; binary as base64). A number JSON cannot hold is
/// kept as its string.
pub fn item_from_dynamo(item: &HashMap<String, AttributeValue>) -> Item {
    item.iter()
        .map(|(name, value)| (name.clone(), value_from_dynamo(value)))
        .collect()
}

fn value_from_dynamo(value: &AttributeValue) -> Value {
    use base64::Engine;
    match value {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => number(n),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::L(list) => Value::Array(list.iter().map(value_from_dynamo).collect()),
        AttributeValue::M(map) => Value::Object(item_from_dynamo(map)),
        AttributeValue::Ss(list) => Value::Array(list.iter().cloned().map(Value::String).collect()),
        AttributeValue::Ns(list) => Value::Array(list.iter().map(|n| number(n)).collect()),
        AttributeValue::B(blob) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(blob.as_ref()))
        }
        _ => Value::Null,
    }
}

fn number(n: &str) -> Value {
    n.parse::<i64>()
        .map(Value::from)
        .or_else(|_| n.parse::<u64>().map(Value::from))
        .ok()
        .or_else(|| {
            n.parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
        })
        .unwrap_or_else(|| Value::String(n.to_owned()))
}

/// A JSON value as DynamoDB holds it (the reverse of [`item_from_dynamo`] for what an items
/// file can hold).
pub fn value_to_dynamo(value: &Value) -> AttributeValue {
    match value {
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Null => AttributeValue::Null(true),
        Value::Array(list) => AttributeValue::L(list.iter().map(value_to_dynamo).collect()),
        Value::Object(map) => AttributeValue::M(
            map.iter()
                .map(|(k, v)| (k.clone(), value_to_dynamo(v)))
                .collect(),
        ),
    }
}

impl ItemStore for DynamoStore {
    fn get(&self, table: &Table, key: &str) -> Result<Option<Item>, DataError> {
        self.with_failover("GetItem", |client| async move {
            let output = client
                .get_item()
                .table_name(&table.name)
                .key(&table.key, AttributeValue::S(key.to_owned()))
                .send()
                .await
                .map_err(|e| classify("GetItem", e))?;
            Ok(output.item().map(item_from_dynamo))
        })
    }

    fn scan(&self, table: &Table) -> Result<Vec<Item>, DataError> {
        self.with_failover("Scan", |client| async move {
            let mut items = Vec::new();
            let mut start = None;
            loop {
                let output = client
                    .scan()
                    .table_name(&table.name)
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| classify("Scan", e))?;
                for item in output.items() {
                    if matches!(item.get(&table.key), Some(AttributeValue::S(_))) {
                        items.push(item_from_dynamo(item));
                    } else {
                        warn(&format!(
                            "{}: an item has no string {}; leaving it out",
                            table.name, table.key
                        ));
                    }
                }
                match output.last_evaluated_key() {
                    Some(key) if !key.is_empty() => start = Some(key.clone()),
                    _ => break,
                }
            }
            Ok(items)
        })
    }

    fn add(
        &self,
        table: &Table,
        key: &str,
        attribute: &str,
        amount: i64,
    ) -> Result<Option<Item>, DataError> {
        self.with_failover("UpdateItem", |client| async move {
            let result = client
                .update_item()
                .table_name(&table.name)
                .key(&table.key, AttributeValue::S(key.to_owned()))
                .update_expression("ADD #counter :amount")
                .condition_expression("attribute_exists(#key)")
                .expression_attribute_names("#counter", attribute)
                .expression_attribute_names("#key", &table.key)
                .expression_attribute_values(":amount", AttributeValue::N(amount.to_string()))
                .return_values(ReturnValue::AllNew)
                .send()
                .await;
            match result {
                Ok(output) => Ok(output.attributes().map(item_from_dynamo)),
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                {
                    Ok(None)
                }
                // An ADD to an attribute that is not a number.
                Err(err)
                    if err.as_service_error().and_then(|e| e.code())
                        == Some("ValidationException") =>
                {
                    Err(AttemptError {
                        retry_elsewhere: false,
                        error: DataError::BadItem(format!(
                            "{}: item `{key}`: `{attribute}` cannot be added to ({})",
                            table.name,
                            err.as_service_error()
                                .map(|e| e.to_string())
                                .unwrap_or_default()
                        )),
                    })
                }
                Err(err) => Err(classify("UpdateItem", err)),
            }
        })
    }
}

/// What `seed` did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SeedReport {
    pub table_created: bool,
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// Creates the table if it is missing (its key, on-demand), and loads the items idempotently: a
/// new item is added; an existing one gets every attribute of the file and keeps the live value
/// of each counter (unless `reset`). Nothing already in the table is removed. `progress` hears
/// one line per step.
pub fn seed(
    store: &DynamoStore,
    spec: &TableSpec,
    items: &[Item],
    reset: bool,
    progress: &mut dyn FnMut(String),
) -> Result<SeedReport, String> {
    let client = store.primary().clone();
    let table = spec.table_name.clone();
    let key = spec.key.clone();
    store.block_on(async move {
        let mut report = SeedReport::default();
        let described = client.describe_table().table_name(&table).send().await;
        match described {
            Ok(_) => progress(format!("table {table}: exists")),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                progress(format!("table {table}: creating (key {key}, on-demand)"));
                client
                    .create_table()
                    .table_name(&table)
                    .key_schema(
                        KeySchemaElement::builder()
                            .attribute_name(&key)
                            .key_type(KeyType::Hash)
                            .build()
                            .map_err(|e| e.to_string())?,
                    )
                    .attribute_definitions(
                        AttributeDefinition::builder()
                            .attribute_name(&key)
                            .attribute_type(ScalarAttributeType::S)
                            .build()
                            .map_err(|e| e.to_string())?,
                    )
                    .billing_mode(BillingMode::PayPerRequest)
                    .send()
                    .await
                    .map_err(|e| format!("CreateTable {table}: {}", e.into_service_error()))?;
                report.table_created = true;
                // The SDK's waiter polls every 20 s at first; poll often instead.
                let deadline = Instant::now() + Duration::from_secs(60);
                loop {
                    let status = client
                        .describe_table()
                        .table_name(&table)
                        .send()
                        .await
                        .ok()
                        .and_then(|d| d.table().and_then(|t| t.table_status().cloned()));
                    if status == Some(TableStatus::Active) {
                        break;
                    }
                    if Instant::now() > deadline {
                        return Err(format!("table {table} is not ACTIVE after 60 s"));
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                progress(format!("table {table}: active"));
            }
            Err(err) => {
                return Err(format!(
                    "DescribeTable {table}: {}",
                    err.as_service_error()
                        .map(|e| e.to_string())
                        .unwrap_or_else(|| err.to_string())
                ));
            }
        }
        for item in items {
            let Some(Value::String(id)) = item.get(&key) else {
                return Err(format!("an item has no string `{key}`"));
            };
            let mut update = client
                .update_item()
                .table_name(&table)
                .key(&key, AttributeValue::S(id.clone()))
                .return_values(ReturnValue::AllOld);
            let mut sets = Vec::new();
            for (n, (name, value)) in item.iter().filter(|(name, _)| **name != key).enumerate() {
                let expression = if spec.counters.contains(name) && !reset {
                    format!("#a{n} = if_not_exists(#a{n}, :v{n})")
                } else {
                    format!("#a{n} = :v{n}")
                };
                sets.push(expression);
                update = update
                    .expression_attribute_names(format!("#a{n}"), name)
                    .expression_attribute_values(format!(":v{n}"), value_to_dynamo(value));
            }
            if !sets.is_empty() {
                update = update.update_expression(format!("SET {}", sets.join(", ")));
            }
            let output = update
                .send()
                .await
                .map_err(|e| format!("UpdateItem {id}: {}", e.into_service_error()))?;
            let what = match output.attributes().map(item_from_dynamo) {
                None => {
                    report.added += 1;
                    "added".to_owned()
                }
                Some(old) => {
                    // What the item is now: the file's attributes over the old ones, the
                    // counters kept unless reset.
                    let mut now = old.clone();
                    for (name, value) in item {
                        if reset || !spec.counters.contains(name) || !old.contains_key(name) {
                            now.insert(name.clone(), value.clone());
                        }
                    }
                    let kept: Vec<String> = spec
                        .counters
                        .iter()
                        .filter_map(|c| old.get(c).map(|v| format!("{c} {v}")))
                        .collect();
                    let kept = if kept.is_empty() {
                        String::new()
                    } else if reset {
                        format!(", reset from {}", kept.join(", "))
                    } else {
                        format!(", kept {}", kept.join(", "))
                    };
                    if now == old {
                        report.unchanged += 1;
                        format!("unchanged{}", if reset { String::new() } else { kept })
                    } else {
                        report.updated += 1;
                        format!("updated{kept}")
                    }
                }
            };
            progress(format!("item {id}: {what}"));
        }
        Ok(report)
    })
}
