//! The DynamoDB card store (`aws-sdk-dynamodb`), with replica failover.
//!
//! Card page → GetItem; home page → one paginated Scan (the catalogue is a handful of items, and
//! the function sorts by likes itself: a Scan reads each item once, where a "by likes" index would
//! need a constant partition key, a hot spot, to gain nothing at this size); like → UpdateItem
//! `ADD Likes :one` with `attribute_exists(CardId)` and `ReturnValues=ALL_NEW`, so an unknown id
//! creates nothing and concurrent likes never lose an increment.
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

use super::{Card, CardStore, DataError};

/// Attribute names in the table.
pub const KEY: &str = "CardId";
pub const DESCRIPTION: &str = "Description";
pub const LIKES: &str = "Likes";

/// One replica of the table: its region, and an endpoint to use instead of AWS's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replica {
    pub region: String,
    pub endpoint: Option<String>,
}

/// How the store reaches the table.
#[derive(Debug, Clone)]
pub struct DynamoConfig {
    pub table: String,
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
    pub fn new(table: impl Into<String>, replicas: Vec<Replica>) -> DynamoConfig {
        DynamoConfig {
            table: table.into(),
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

/// The card store on DynamoDB. Its calls block the calling thread (the store runs its own small
/// runtime), so it serves hosts with or without an async runtime of their own; the client is
/// built once and reused.
pub struct DynamoStore {
    /// Always `Some` but while dropping.
    runtime: Option<tokio::runtime::Runtime>,
    table: String,
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
            table: config.table.clone(),
            replicas,
            config,
        })
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The first replica's client, for tools (`seed`) that talk to one table.
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

/// A card from an item; a missing or wrongly typed attribute is reported with the card's id and
/// replaced by something a page can show.
pub fn card_from_item(item: &HashMap<String, AttributeValue>) -> Result<Card, DataError> {
    let id = match item.get(KEY) {
        Some(AttributeValue::S(id)) => id.clone(),
        _ => return Err(DataError::BadItem("an item has no string CardId".into())),
    };
    let description = match item.get(DESCRIPTION) {
        Some(AttributeValue::S(d)) => d.clone(),
        other => {
            warn(&format!(
                "card {id}: Description is {}; showing the id",
                kind(other)
            ));
            format!("Card {id}")
        }
    };
    let likes = match item.get(LIKES) {
        Some(AttributeValue::N(n)) => n.parse().unwrap_or_else(|_| {
            warn(&format!(
                "card {id}: Likes `{n}` is not a whole number; showing 0"
            ));
            0
        }),
        Some(AttributeValue::S(s)) if s.trim().parse::<u64>().is_ok() => {
            warn(&format!(
                "card {id}: Likes is a string; reading it as a number"
            ));
            s.trim().parse().unwrap_or(0)
        }
        None => 0,
        other => {
            warn(&format!("card {id}: Likes is {}; showing 0", kind(other)));
            0
        }
    };
    Ok(Card {
        id,
        description,
        likes,
    })
}

fn kind(value: Option<&AttributeValue>) -> &'static str {
    match value {
        None => "missing",
        Some(AttributeValue::S(_)) => "a string",
        Some(AttributeValue::N(_)) => "a number",
        Some(AttributeValue::Bool(_)) => "a boolean",
        Some(AttributeValue::Null(_)) => "null",
        Some(_) => "of another type",
    }
}

impl CardStore for DynamoStore {
    fn get_card(&self, id: &str) -> Result<Option<Card>, DataError> {
        let table = self.table.clone();
        self.with_failover("GetItem", |client| {
            let table = table.clone();
            async move {
                let output = client
                    .get_item()
                    .table_name(table)
                    .key(KEY, AttributeValue::S(id.to_owned()))
                    .send()
                    .await
                    .map_err(|e| classify("GetItem", e))?;
                output
                    .item()
                    .map(card_from_item)
                    .transpose()
                    .map_err(|error| AttemptError {
                        retry_elsewhere: false,
                        error,
                    })
            }
        })
    }

    fn list_cards(&self) -> Result<Vec<Card>, DataError> {
        let table = self.table.clone();
        self.with_failover("Scan", |client| {
            let table = table.clone();
            async move {
                let mut cards = Vec::new();
                let mut start = None;
                loop {
                    let output = client
                        .scan()
                        .table_name(&table)
                        .set_exclusive_start_key(start)
                        .send()
                        .await
                        .map_err(|e| classify("Scan", e))?;
                    for item in output.items() {
                        match card_from_item(item) {
                            Ok(card) => cards.push(card),
                            Err(err) => warn(&err.to_string()),
                        }
                    }
                    match output.last_evaluated_key() {
                        Some(key) if !key.is_empty() => start = Some(key.clone()),
                        _ => break,
                    }
                }
                Ok(cards)
            }
        })
    }

    fn add_like(&self, id: &str) -> Result<Option<Card>, DataError> {
        let table = self.table.clone();
        self.with_failover("UpdateItem", |client| {
            let table = table.clone();
            async move {
                let result = client
                    .update_item()
                    .table_name(table)
                    .key(KEY, AttributeValue::S(id.to_owned()))
                    .update_expression("ADD #likes :one")
                    .condition_expression("attribute_exists(#key)")
                    .expression_attribute_names("#likes", LIKES)
                    .expression_attribute_names("#key", KEY)
                    .expression_attribute_values(":one", AttributeValue::N("1".into()))
                    .return_values(ReturnValue::AllNew)
                    .send()
                    .await;
                match result {
                    Ok(output) => {
                        output
                            .attributes()
                            .map(card_from_item)
                            .transpose()
                            .map_err(|error| AttemptError {
                                retry_elsewhere: false,
                                error,
                            })
                    }
                    Err(err)
                        if err
                            .as_service_error()
                            .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                    {
                        Ok(None)
                    }
                    Err(err) => Err(classify("UpdateItem", err)),
                }
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

/// Creates the table if it is missing (key `CardId`, on-demand), and loads the cards
/// idempotently: a new card is added, an existing one keeps its likes (unless `reset`) and gets
/// the seed's description. `progress` hears one line per step.
pub fn seed(
    store: &DynamoStore,
    cards: &[Card],
    reset: bool,
    progress: &mut dyn FnMut(String),
) -> Result<SeedReport, String> {
    let client = store.primary().clone();
    let table = store.table().to_owned();
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
                progress(format!("table {table}: creating (key {KEY}, on-demand)"));
                client
                    .create_table()
                    .table_name(&table)
                    .key_schema(
                        KeySchemaElement::builder()
                            .attribute_name(KEY)
                            .key_type(KeyType::Hash)
                            .build()
                            .map_err(|e| e.to_string())?,
                    )
                    .attribute_definitions(
                        AttributeDefinition::builder()
                            .attribute_name(KEY)
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
        for card in cards {
            let likes = if reset {
                "#likes = :zero"
            } else {
                "#likes = if_not_exists(#likes, :zero)"
            };
            let output = client
                .update_item()
                .table_name(&table)
                .key(KEY, AttributeValue::S(card.id.clone()))
                .update_expression(format!("SET #description = :description, {likes}"))
                .expression_attribute_names("#description", DESCRIPTION)
                .expression_attribute_names("#likes", LIKES)
                .expression_attribute_values(
                    ":description",
                    AttributeValue::S(card.description.clone()),
                )
                .expression_attribute_values(":zero", AttributeValue::N(card.likes.to_string()))
                .return_values(ReturnValue::AllOld)
                .send()
                .await
                .map_err(|e| format!("UpdateItem {}: {}", card.id, e.into_service_error()))?;
            let old = output
                .attributes()
                .map(card_from_item)
                .transpose()
                .map_err(|e| e.to_string())?;
            let what = match old {
                None => {
                    report.added += 1;
                    "added".to_owned()
                }
                Some(old)
                    if old.description == card.description
                        && (!reset || old.likes == card.likes) =>
                {
                    report.unchanged += 1;
                    format!("unchanged ({} likes)", old.likes)
                }
                Some(old) => {
                    report.updated += 1;
                    if reset {
                        format!("updated, likes reset from {}", old.likes)
                    } else {
                        format!("updated, {} likes kept", old.likes)
                    }
                }
            };
            progress(format!("card {} ({}): {what}", card.id, card.description));
        }
        Ok(report)
    })
}
