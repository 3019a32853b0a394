//! Mapping between domain values and stored items. Business rules stay in `domain` and
//! `rules`; this module only knows keys, indexes and counters.
pub mod apikeys;
pub mod events;
pub mod findings;
pub mod idempotency;
pub mod keys;
pub mod page;
pub mod stats;
