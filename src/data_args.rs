//! Choosing the item store: the embedded file store by default, DynamoDB with `--dynamodb` or
//! `--dynamodb-endpoint`. The tables (names, keys) are the site's, from its declaration.

use std::sync::Arc;

use clap::Args;
use edge_functions::data::{ItemStore, StoreConfig};

#[derive(Args, Clone, Debug, Default)]
pub struct DataArgs {
    /// Use the site's DynamoDB tables instead of the embedded store. Without
    /// --dynamodb-endpoint, AWS's endpoints, the default credential chain and the region below
    /// are used, as AWS tools do.
    #[arg(long)]
    pub dynamodb: bool,
    /// A DynamoDB endpoint: `URL` for every replica, or `REGION=URL` for one (repeatable).
    /// Implies DynamoDB. Local endpoints get dummy credentials when none are set.
    #[arg(long = "dynamodb-endpoint", value_name = "[REGION=]URL")]
    pub endpoints: Vec<String>,
    /// The region the function runs in (as AWS_REGION does on Lambda@Edge), which picks the
    /// replicas from the config's `data.replicas`. Default: AWS_REGION, then AWS_DEFAULT_REGION,
    /// then us-east-1.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
}

impl DataArgs {
    pub fn uses_dynamodb(&self) -> bool {
        self.dynamodb || !self.endpoints.is_empty()
    }

    pub fn region(&self) -> String {
        self.region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok())
            .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
            .unwrap_or_else(|| "us-east-1".into())
    }

    /// The config's store configuration with these arguments' endpoints.
    #[cfg(feature = "dynamodb")]
    pub fn store_config(&self, data: &StoreConfig) -> Result<StoreConfig, String> {
        let config = self
            .endpoints
            .iter()
            .fold(data.clone(), |config, given| config.with_endpoint(given));
        config
            .check()
            .map_err(|e| format!("--dynamodb-endpoint: {e}"))?;
        Ok(config)
    }

    /// The DynamoDB store these arguments describe.
    #[cfg(feature = "dynamodb")]
    pub fn dynamo_store(
        &self,
        data: &StoreConfig,
    ) -> Result<edge_functions::data::dynamodb::DynamoStore, String> {
        use edge_functions::data::dynamodb::{DynamoConfig, DynamoStore};
        let replicas = self.store_config(data)?.replicas_for(&self.region());
        DynamoStore::connect(DynamoConfig::new(replicas))
    }

    /// The store `serve` and `invoke` use when DynamoDB is asked for.
    pub fn item_store(&self, data: &StoreConfig) -> Result<Arc<dyn ItemStore>, String> {
        #[cfg(feature = "dynamodb")]
        {
            Ok(Arc::new(self.dynamo_store(data)?))
        }
        #[cfg(not(feature = "dynamodb"))]
        {
            let _ = data;
            Err("this build has no DynamoDB support; build with `--features dynamodb`".into())
        }
    }
}
