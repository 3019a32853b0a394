//! Bodies of the messages that travel between stages. Each carries the request id of
//! the HTTP call that caused it, when there was one; older bodies without it still parse.
use serde::{Deserialize, Serialize};

use crate::domain::{Event, TenantId};
use crate::reclassify::ReclassifyMessage;
use crate::runtime::StageMessage;
use crate::webhooks::DeliveryJob;

/// On the ingest and rules queues: the events of one request (or part of one), so a
/// 500-event `POST /events` costs one queue message per hop, not 500.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "EventMessageBody")]
pub struct EventMessage {
    pub tenant: TenantId,
    pub events: Vec<Event>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// What an event message may look like on the wire: older bodies carry one `event`.
#[derive(Deserialize)]
struct EventMessageBody {
    tenant: TenantId,
    #[serde(default)]
    events: Vec<Event>,
    #[serde(default)]
    event: Option<Event>,
    #[serde(default)]
    request_id: Option<String>,
}

impl From<EventMessageBody> for EventMessage {
    fn from(b: EventMessageBody) -> Self {
        let mut events = b.events;
        events.extend(b.event);
        Self {
            tenant: b.tenant,
            events,
            request_id: b.request_id,
        }
    }
}

/// Largest body an event message is given: SQS takes 256 KiB; the rest is headroom for
/// attributes.
pub const MAX_EVENT_MESSAGE_BYTES: usize = 240 * 1024;

impl EventMessage {
    /// The bodies carrying `events`, each within [`MAX_EVENT_MESSAGE_BYTES`] (an event
    /// too large for that alone travels alone; events are at most 64 KiB).
    pub fn bodies(
        tenant: &TenantId,
        events: &[Event],
        request_id: Option<&str>,
    ) -> Result<Vec<String>, serde_json::Error> {
        let mut out = Vec::new();
        let mut chunk: Vec<Event> = Vec::new();
        let mut size = 0;
        let encode = |events: Vec<Event>| {
            serde_json::to_string(&EventMessage {
                tenant: tenant.clone(),
                events,
                request_id: request_id.map(str::to_string),
            })
        };
        for e in events {
            let n = serde_json::to_vec(e)?.len() + 1;
            if !chunk.is_empty() && size + n > MAX_EVENT_MESSAGE_BYTES - 512 {
                out.push(encode(std::mem::take(&mut chunk))?);
                size = 0;
            }
            size += n;
            chunk.push(e.clone());
        }
        if !chunk.is_empty() {
            out.push(encode(chunk)?);
        }
        Ok(out)
    }
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

    fn event(i: usize, pad: usize) -> Event {
        serde_json::from_value(serde_json::json!({
            "id": format!("ev_{i}"), "event_type": "login_failed",
            "timestamp": "2026-01-01T00:00:00Z", "user": "u",
            "raw_data": {"pad": "x".repeat(pad)}, "received_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap()
    }

    #[test]
    fn event_messages_split_by_size_and_old_single_event_bodies_parse() {
        let t = TenantId::parse("acme").unwrap();
        let events: Vec<Event> = (0..40).map(|i| event(i, 20_000)).collect();
        let bodies = EventMessage::bodies(&t, &events, Some("r1")).unwrap();
        assert!(bodies.len() >= 4);
        let mut back = Vec::new();
        for b in &bodies {
            assert!(b.len() <= MAX_EVENT_MESSAGE_BYTES, "{}", b.len());
            let m: EventMessage = serde_json::from_str(b).unwrap();
            assert_eq!(m.request_id.as_deref(), Some("r1"));
            back.extend(m.events);
        }
        assert_eq!(back, events);
        let old = serde_json::json!({"tenant": "acme", "event": events[0]}).to_string();
        let m: EventMessage = serde_json::from_str(&old).unwrap();
        assert_eq!(m.events, vec![events[0].clone()]);
    }
}

/// On the drift queue: a scheduled check of one model for one schedule slot, or the
/// alert of a finished check. Both are idempotent: the slot's check id is derived from
/// it, and an alert is raised once per check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DriftMessage {
    Run {
        tenant: TenantId,
        model_id: String,
        model_uid: String,
        slot: chrono::DateTime<chrono::Utc>,
    },
    Alert {
        tenant: TenantId,
        check_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
    },
}

impl StageMessage for DriftMessage {
    fn tenant(&self) -> Option<&str> {
        match self {
            DriftMessage::Run { tenant, .. } | DriftMessage::Alert { tenant, .. } => {
                Some(tenant.as_str())
            }
        }
    }
    fn request_id(&self) -> Option<&str> {
        match self {
            DriftMessage::Run { .. } => None,
            DriftMessage::Alert { request_id, .. } => request_id.as_deref(),
        }
    }
}
