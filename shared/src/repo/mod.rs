//! Mapping between domain values and stored items. Business rules stay in `domain` and
//! `rules`; this module only knows keys, indexes and counters.
pub mod ai_systems;
pub mod apikeys;
pub mod audit;
pub mod decisions;
pub mod drift;
pub mod drift_events;
pub mod events;
pub mod findings;
pub mod governance;
pub mod idempotency;
pub(crate) mod item;
pub mod notifications;
pub mod page;
pub mod reclassify_runs;
pub mod sessions;
pub mod sources;
pub mod stats;
pub mod storage_keys;
pub mod webhooks;
