//! Webhooks receivers can trust: endpoints (subscriptions), Standard Webhooks signing,
//! the address guard, retry schedule, fan-out of domain events and delivery.
pub mod cipher;
pub mod delivery;
pub mod endpoint;
pub mod fanout;
pub mod retry;
pub mod secret_ring;
pub mod signing;
pub mod ssrf;

use std::time::Duration;

pub use cipher::SecretKey;
pub use delivery::{DeliveryJob, Dispatcher, Disposition};
pub use endpoint::{Endpoint, EndpointSpec};
pub use retry::RetrySchedule;
pub use ssrf::UrlPolicy;

/// Default time one delivery may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Webhook settings from the configuration.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Seals signing secrets; without it endpoints cannot be created or delivered to.
    pub secret_key: Option<SecretKey>,
    pub policy: UrlPolicy,
    pub schedule: RetrySchedule,
    pub timeout: Duration,
    /// The breaker in front of each endpoint (`VIGIL_BREAKER_*`).
    pub breaker: crate::resilience::BreakerSettings,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            secret_key: None,
            policy: UrlPolicy::default(),
            schedule: RetrySchedule::default(),
            timeout: DEFAULT_TIMEOUT,
            breaker: Default::default(),
        }
    }
}
