//! Where a site's tables are: one model of the item store's configuration that every host parses
//! into — the distribution config's `[data]` (`serve`, `invoke`, `seed`, `template`), the
//! package's `edgekit.json` (the Python host), the `bootstrap` binary's environment — and that
//! says, for the Region a function runs in, which replicas to use and how to reach them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The replicas per Region, and endpoints for local servers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `AWS_REGION` of the running function → replica Regions, nearest first. A Region not
    /// listed uses its own replica only.
    #[serde(default)]
    pub replicas: BTreeMap<String, Vec<String>>,
    /// Endpoints to use instead of AWS's, by Region (local servers, tests).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub endpoints: BTreeMap<String, String>,
    /// The endpoint of every Region without one of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// One replica: its Region, and the endpoint to use instead of AWS's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replica {
    pub region: String,
    pub endpoint: Option<String>,
}

/// What is wrong with a store configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreConfigError {
    #[error("replicas.{region}: list at least one replica Region")]
    NoReplicas { region: String },
    #[error("the endpoint `{endpoint}` (for {region}) is not an http:// or https:// URL")]
    BadEndpoint { region: String, endpoint: String },
}

impl StoreConfig {
    /// Refuses a Region with no replicas and an endpoint that is not a URL.
    pub fn check(&self) -> Result<(), StoreConfigError> {
        if let Some((region, _)) = self.replicas.iter().find(|(_, list)| list.is_empty()) {
            return Err(StoreConfigError::NoReplicas {
                region: region.clone(),
            });
        }
        let endpoints = self
            .endpoints
            .iter()
            .map(|(r, e)| (r.as_str(), e))
            .chain(self.endpoint.iter().map(|e| ("every Region", e)));
        for (region, endpoint) in endpoints {
            if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                return Err(StoreConfigError::BadEndpoint {
                    region: region.to_owned(),
                    endpoint: endpoint.clone(),
                });
            }
        }
        Ok(())
    }

    /// Adds an endpoint as the command line gives it: `URL` for every Region, `REGION=URL` for
    /// one.
    pub fn with_endpoint(mut self, given: &str) -> StoreConfig {
        match given.split_once('=') {
            Some((region, url)) if !region.contains("://") => {
                self.endpoints.insert(region.to_owned(), url.to_owned());
            }
            _ => self.endpoint = Some(given.to_owned()),
        }
        self
    }

    /// The replicas a function running in `region` uses, nearest first, each with its endpoint.
    pub fn replicas_for(&self, region: &str) -> Vec<Replica> {
        self.replicas
            .get(region)
            .cloned()
            .unwrap_or_else(|| vec![region.to_owned()])
            .into_iter()
            .map(|region| Replica {
                endpoint: self
                    .endpoints
                    .get(&region)
                    .or(self.endpoint.as_ref())
                    .cloned(),
                region,
            })
            .collect()
    }

    /// Every Region that holds a replica (what a global table is created in).
    pub fn replica_regions(&self) -> Vec<String> {
        let mut regions: Vec<String> = self.replicas.values().flatten().cloned().collect();
        regions.sort();
        regions.dedup();
        regions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_and_endpoints_resolve_per_region() {
        let config = StoreConfig {
            replicas: [(
                "eu-central-1".to_owned(),
                vec!["eu-west-1".to_owned(), "us-east-1".to_owned()],
            )]
            .into(),
            ..Default::default()
        }
        .with_endpoint("eu-west-1=http://127.0.0.1:8001")
        .with_endpoint("http://127.0.0.1:8000");
        assert_eq!(config.check(), Ok(()));
        assert_eq!(
            config.replicas_for("eu-central-1"),
            vec![
                Replica {
                    region: "eu-west-1".into(),
                    endpoint: Some("http://127.0.0.1:8001".into())
                },
                Replica {
                    region: "us-east-1".into(),
                    endpoint: Some("http://127.0.0.1:8000".into())
                },
            ]
        );
        // A Region not listed uses its own replica.
        assert_eq!(config.replicas_for("ap-south-1")[0].region, "ap-south-1");
        assert_eq!(config.replica_regions(), ["eu-west-1", "us-east-1"]);
    }

    #[test]
    fn mistakes_are_typed() {
        let empty = StoreConfig {
            replicas: [("us-east-1".to_owned(), vec![])].into(),
            ..Default::default()
        };
        assert_eq!(
            empty.check(),
            Err(StoreConfigError::NoReplicas {
                region: "us-east-1".into()
            })
        );
        let bad = StoreConfig::default().with_endpoint("us-east-1=localhost:8000");
        assert!(matches!(
            bad.check(),
            Err(StoreConfigError::BadEndpoint { .. })
        ));
    }
}
