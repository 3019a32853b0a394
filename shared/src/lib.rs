//! Vigil's common crate: domain types, rules, enrichment, ports and their adapters.
pub mod adapters;
pub mod audit;
pub mod classifier;
pub mod config;
pub mod domain;
pub mod enrich;
pub mod messages;
pub mod ports;
pub mod reclassify;
pub mod repo;
pub mod rules;
pub mod runtime;
pub mod telemetry;
pub mod webhooks;
#[cfg(feature = "aws")]
pub mod wiring;
