//! Vigil's common crate: domain types, rules, enrichment, ports and their adapters.
pub mod adapters;
pub mod config;
pub mod domain;
pub mod enrich;
pub mod generator;
pub mod messages;
pub mod ports;
pub mod repo;
pub mod rules;
pub mod runtime;
pub mod telemetry;
#[cfg(feature = "aws")]
pub mod wiring;
