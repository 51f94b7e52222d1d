pub mod cache;
pub mod calls;
pub mod config;
pub mod distribution;
pub mod origin;
pub mod pattern;
pub mod policy_check;
pub mod server;
pub mod template;
pub mod tls;
pub mod viewer;

pub use config::DistributionConfig;
pub use distribution::{DataSources, Distribution, ViewerProtocol, ViewerRequest, ViewerResponse};
