//! Fan-out: one domain event becomes one stored message (and one queue job) per
//! endpoint that wants it. Message ids derive from (event, endpoint), so fanning the
//! same event out twice yields the same `webhook-id` and no second message.
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::delivery::{DeliveryJob, MessageStatus, WebhookMessage};
use super::endpoint::{Endpoint, TEST_EVENT};
use super::signing::canonical_json;
use crate::domain::{Severity, TenantId};
use crate::ports::{DomainEvent, ItemStore, StoreError};
use crate::repo::webhooks as repo;

/// A domain event as the fan-out needs it, from the local bus or an EventBridge envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct BusEvent {
    pub id: String,
    pub tenant: TenantId,
    pub detail_type: String,
    pub time: DateTime<Utc>,
    /// Without the `id`, `tenant` and `request_id` keys the bus merges in.
    pub detail: Value,
    pub request_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("not a Vigil domain event: {0}")]
pub struct NotAnEvent(pub String);

fn strip(detail: &Value) -> Value {
    match detail {
        Value::Object(m) => {
            let mut m = m.clone();
            m.remove("id");
            m.remove("tenant");
            m.remove("request_id");
            Value::Object(m)
        }
        other => other.clone(),
    }
}

impl BusEvent {
    pub fn from_domain(e: &DomainEvent) -> Result<Self, NotAnEvent> {
        Ok(Self {
            id: e.id.clone(),
            tenant: TenantId::parse(&e.tenant).map_err(|x| NotAnEvent(x.to_string()))?,
            detail_type: e.detail_type.clone(),
            time: e.time,
            detail: strip(&e.detail),
            request_id: e.request_id.clone(),
        })
    }

    /// Reads the EventBridge envelope SQS delivers. The event id and tenant are the ones
    /// Vigil put in the detail (the envelope's own id differs per put).
    pub fn from_envelope(v: &Value) -> Result<Self, NotAnEvent> {
        let s = |k: &str| v.get(k).and_then(Value::as_str);
        let detail = v
            .get("detail")
            .ok_or_else(|| NotAnEvent("no detail".into()))?;
        let tenant = detail
            .get("tenant")
            .and_then(Value::as_str)
            .ok_or_else(|| NotAnEvent("no tenant in detail".into()))?;
        let id = detail
            .get("id")
            .and_then(Value::as_str)
            .or_else(|| s("id"))
            .ok_or_else(|| NotAnEvent("no id".into()))?;
        let time = s("time")
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.to_utc())
            .ok_or_else(|| NotAnEvent("no time".into()))?;
        Ok(Self {
            id: id.to_string(),
            tenant: TenantId::parse(tenant).map_err(|x| NotAnEvent(x.to_string()))?,
            detail_type: s("detail-type")
                .ok_or_else(|| NotAnEvent("no detail-type".into()))?
                .to_string(),
            time,
            detail: strip(detail),
            request_id: detail
                .get("request_id")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }

    pub fn severity(&self) -> Option<Severity> {
        self.detail
            .get("severity")
            .and_then(Value::as_str)
            .and_then(Severity::parse)
    }

    /// The webhook body: Standard Webhooks' recommended `type`, `timestamp`, `data`.
    pub fn body(&self) -> String {
        canonical_json(&json!({
            "type": self.detail_type,
            "timestamp": self.time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "data": self.detail,
        }))
    }
}

/// `msg_` and 32 hex characters, stable for one event and one endpoint.
pub fn message_id(tenant: &TenantId, event_id: &str, endpoint_id: &str) -> String {
    let digest = Sha256::digest(format!("{tenant}\n{event_id}\n{endpoint_id}").as_bytes());
    format!("msg_{}", &hex::encode(digest)[..32])
}

/// A `webhook.test` message for one endpoint.
pub fn test_message(endpoint: &Endpoint, now: DateTime<Utc>) -> WebhookMessage {
    let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
    let body = canonical_json(&json!({
        "type": TEST_EVENT,
        "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": {"endpoint_id": endpoint.id, "message": "This is a test message from Vigil."},
    }));
    WebhookMessage::new(id, endpoint, TEST_EVENT, None, body, now)
}

/// Stores one message per interested endpoint and returns the jobs to queue. A repeated
/// fan-out re-queues only messages that were stored but never attempted (a crash between
/// storing and queueing); the attempt records keep the deliveries themselves single.
pub async fn fan_out(
    store: &dyn ItemStore,
    event: &BusEvent,
    now: DateTime<Utc>,
) -> Result<Vec<DeliveryJob>, StoreError> {
    let severity = event.severity();
    let endpoints = repo::list_endpoints(store, &event.tenant).await?;
    let body = event.body();
    let mut jobs = Vec::new();
    for ep in endpoints
        .iter()
        .filter(|e| e.wants(&event.detail_type, severity))
    {
        let m = WebhookMessage::new(
            message_id(&event.tenant, &event.id, &ep.id),
            ep,
            &event.detail_type,
            Some(event.id.clone()),
            body.clone(),
            now,
        );
        if repo::create_message(store, &m).await? {
            jobs.push(m.job());
        } else if let Some(existing) = repo::get_message(store, &event.tenant, &m.id).await? {
            if existing.value.status == MessageStatus::Pending && existing.value.attempts == 0 {
                jobs.push(m.job());
            }
        }
    }
    for job in &mut jobs {
        job.request_id = event.request_id.clone();
    }
    Ok(jobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_and_local_events_read_alike() {
        let raw = include_str!("../../../events/webhook-sqs.json");
        let v: Value = serde_json::from_str(raw).unwrap();
        let body: Value = serde_json::from_str(v["Records"][0]["body"].as_str().unwrap()).unwrap();
        let e = BusEvent::from_envelope(&body).unwrap();
        assert_eq!(e.tenant.as_str(), "demo");
        assert_eq!(e.detail_type, "finding.created");
        assert_eq!(e.severity(), Some(Severity::Critical));
        assert!(e.detail.get("tenant").is_none());
        let local = BusEvent::from_domain(&DomainEvent {
            id: e.id.clone(),
            tenant: "demo".into(),
            detail_type: e.detail_type.clone(),
            time: e.time,
            detail: e.detail.clone(),
            request_id: None,
        })
        .unwrap();
        assert_eq!(local, e);
        assert!(e.body().starts_with(r#"{"data":{"#));
    }

    #[test]
    fn message_ids_are_stable_per_event_and_endpoint() {
        let t = TenantId::parse("acme").unwrap();
        assert_eq!(message_id(&t, "e1", "ep1"), message_id(&t, "e1", "ep1"));
        assert_ne!(message_id(&t, "e1", "ep1"), message_id(&t, "e1", "ep2"));
        assert_eq!(message_id(&t, "e1", "ep1").len(), 36);
    }
}
