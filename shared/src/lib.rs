//! Vigil's common crate: domain types, rules, enrichment, ports and their adapters.
pub mod adapters;
pub mod ports;
pub mod domain;
pub mod rules;
