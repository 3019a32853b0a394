//! The event bus port: domain events for other services (EventBridge in AWS).
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The `source` every Vigil domain event carries on the bus.
pub const EVENT_SOURCE: &str = "vigil";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainEvent {
    /// Deterministic, so a re-published event can be de-duplicated downstream.
    pub id: String,
    pub tenant: String,
    pub detail_type: String,
    pub time: DateTime<Utc>,
    pub detail: serde_json::Value,
    /// The request id of the HTTP call that caused the event, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("{failed} of {total} events were not accepted: {reason}")]
    Rejected {
        failed: usize,
        total: usize,
        reason: String,
    },
    #[error("event bus unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait EventBus: Send + Sync {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), BusError>;
}
