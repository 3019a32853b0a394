//! Vigil's common crate: domain types, rules, enrichment, ports and their adapters.
pub mod adapters;
pub mod ports;
pub mod domain;
pub mod rules;
pub mod repo;
pub mod enrich;
pub mod config;
pub mod messages;
pub mod runtime;
pub mod telemetry;
#[cfg(feature = "aws")]
pub mod wiring;
pub mod generator;
