//! Host-agnostic Lambda@Edge functions for CloudFront.
//!
//! The modules follow the data's path: [`event`] (the wire model) → [`rules`] (what CloudFront
//! accepts) → [`blocks`] (reusable customizations configured by data) → [`function`] (a trigger's
//! function composed of blocks, with the data it needs) → [`data`] (the stores a host uses to
//! supply that data) → [`site`] (a site declared as data: which blocks, with which settings, make
//! each trigger's function). The library knows no site: sites are declarations beside it.

mod wire;

pub mod event;
pub mod rules;

pub use event::{EventType, Headers, Request, Response};
#[cfg(feature = "sign-in")]
pub mod auth;
pub mod blocks;
pub mod data;
pub mod function;
pub mod runner;
pub mod site;
