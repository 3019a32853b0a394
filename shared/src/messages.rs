//! Bodies of the messages that travel between stages. Each carries the request id of
//! the HTTP call that caused it, when there was one; older bodies without it still parse.
use serde::{Deserialize, Serialize};

use crate::domain::{Event, TenantId};
use crate::reclassify::ReclassifyMessage;
use crate::runtime::StageMessage;
use crate::webhooks::DeliveryJob;

/// On the ingest and rules queues.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventMessage {
    pub tenant: TenantId,
    pub event: Event,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl StageMessage for EventMessage {
    fn tenant(&self) -> Option<&str> {
        Some(self.tenant.as_str())
    }
    fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

impl StageMessage for EnrichMessage {
    fn tenant(&self) -> Option<&str> {
        Some(self.tenant.as_str())
    }
    fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

impl StageMessage for ReclassifyMessage {
    fn tenant(&self) -> Option<&str> {
        match self {
            ReclassifyMessage::Scan { tenant, .. } | ReclassifyMessage::Batch { tenant, .. } => {
                Some(tenant.as_str())
            }
        }
    }
    /// Runs are audited by run id; their messages carry no request id.
    fn request_id(&self) -> Option<&str> {
        None
    }
}

impl StageMessage for DeliveryJob {
    fn tenant(&self) -> Option<&str> {
        Some(self.tenant.as_str())
    }
    fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_without_a_request_id_still_parse_and_none_is_not_written() {
        let old = r#"{"tenant":"acme","finding_id":"fd_1","reason":"created"}"#;
        let m: EnrichMessage = serde_json::from_str(old).unwrap();
        assert_eq!(m.request_id, None);
        assert_eq!(serde_json::to_string(&m).unwrap(), old);
        let with = EnrichMessage {
            request_id: Some("req-1".into()),
            ..m
        };
        let back: EnrichMessage =
            serde_json::from_str(&serde_json::to_string(&with).unwrap()).unwrap();
        assert_eq!(back.request_id.as_deref(), Some("req-1"));
    }
}
