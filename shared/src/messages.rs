//! Bodies of the messages that travel between stages.
use serde::{Deserialize, Serialize};

use crate::domain::{Event, TenantId};

/// On the ingest and rules queues.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventMessage {
    pub tenant: TenantId,
    pub event: Event,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnrichReason {
    Created,
    Escalated,
    /// Re-sent after a redelivery, when the original send may have been lost.
    Retry,
}

/// On the enrich queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrichMessage {
    pub tenant: TenantId,
    pub finding_id: String,
    pub reason: EnrichReason,
}
