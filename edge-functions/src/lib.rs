//! Host-agnostic Lambda@Edge functions for CloudFront.
//!
//! The modules follow the data's path: [`event`] (the wire model) → [`rules`] (what CloudFront
//! accepts) → [`blocks`] (reusable customizations configured by data) → [`function`] (a trigger's
//! function composed of blocks, with the data it needs) → [`data`] (the stores a host uses to
//! supply that data). [`alien_cards`] is the example site composed from the blocks.

mod wire;

pub mod event;
pub mod rules;

pub use event::{EventType, Headers, Request, Response};
pub mod alien_cards;
pub mod blocks;
pub mod data;
pub mod function;
pub mod runner;
