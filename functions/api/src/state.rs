//! What every request handler can reach.
use std::sync::Arc;

use vigil_shared::enrich::Enricher;
use vigil_shared::ports::{Clock, ItemStore, Queue};
use vigil_shared::resilience::{RateLimits, StoreRateLimiter};

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn ItemStore>,
    pub queue: Arc<dyn Queue>,
    pub clock: Arc<dyn Clock>,
    pub enricher: Enricher,
    /// Secret key, address guard and schedule for webhook endpoints.
    pub webhooks: vigil_shared::webhooks::WebhookSettings,
    /// Signs audit checkpoints; None when no key is configured.
    pub audit_signer: Option<Arc<vigil_shared::audit::CheckpointSigner>>,
    /// Lease length and batch sizes of re-classification runs.
    pub reclassify: vigil_shared::reclassify::ReclassifySettings,
    /// Request limits and timeouts.
    pub http: vigil_shared::config::HttpSettings,
    /// Oldest event time accepted.
    pub event_max_age: chrono::Duration,
    /// The request and ingest budgets of every tenant.
    pub limits: Arc<vigil_shared::resilience::RateLimits>,
    /// Renders the process's metrics in Prometheus text for `GET /metrics` (`vigil
    /// serve`); None under Lambda, where metrics leave as EMF log lines.
    pub metrics: Option<MetricsText>,
    /// Makes a new source's own SQS queue (AWS); none otherwise.
    pub source_queues: Arc<dyn vigil_shared::ports::SourceQueues>,
}

pub type MetricsText = Arc<dyn Fn() -> String + Send + Sync>;

impl AppState {
    /// The state over `store`, `queue` and `clock` with every setting read from `config`
    /// (no metrics endpoint: `vigil serve` adds its own).
    pub fn new(
        store: Arc<dyn ItemStore>,
        queue: Arc<dyn Queue>,
        clock: Arc<dyn Clock>,
        enricher: Enricher,
        config: &vigil_shared::config::Config,
    ) -> Self {
        Self {
            queue,
            clock,
            enricher,
            webhooks: config.webhooks.clone(),
            audit_signer: config.audit_signing_key.clone().map(Arc::new),
            reclassify: config.reclassify.clone(),
            http: config.http.clone(),
            event_max_age: config.event_max_age,
            limits: Arc::new(RateLimits::new(
                // Every Lambda instance counts against the same windows.
                Arc::new(StoreRateLimiter::new(store.clone())),
                store.clone(),
                config.resilience.limits,
            )),
            store,
            metrics: None,
            source_queues: Arc::new(vigil_shared::ports::NoSourceQueues),
        }
    }

    /// The state making per-source queues with `queues`.
    pub fn with_source_queues(
        mut self,
        queues: Arc<dyn vigil_shared::ports::SourceQueues>,
    ) -> Self {
        self.source_queues = queues;
        self
    }

    /// The state with `limits` in place of the store-shared ones (`vigil serve` keeps
    /// its windows in the process).
    pub fn with_rate_limits(mut self, limits: Arc<RateLimits>) -> Self {
        self.limits = limits;
        self
    }
}
