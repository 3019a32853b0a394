//! [`EventBus`] over an EventBridge event bus.
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::error::DisplayErrorContext;
use aws_sdk_eventbridge::primitives::DateTime;
use aws_sdk_eventbridge::types::{PutEventsRequestEntry, PutEventsResultEntry};

use crate::ports::bus::{BusError, DomainEvent, EVENT_SOURCE, EventBus};

/// Most entries one PutEvents call takes.
const BATCH: usize = 10;
/// Attempts at entries EventBridge failed for a transient reason.
const ATTEMPTS: u32 = 3;

#[derive(Clone)]
pub struct EventBridgeBus {
    client: Client,
    bus_name: String,
}

impl EventBridgeBus {
    pub fn new(client: Client, bus_name: impl Into<String>) -> Self {
        Self {
            client,
            bus_name: bus_name.into(),
        }
    }

    pub fn bus_name(&self) -> &str {
        &self.bus_name
    }

    fn entry(&self, event: &DomainEvent) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .source(EVENT_SOURCE)
            .detail_type(&event.detail_type)
            .detail(detail_json(event).to_string())
            .time(DateTime::from_millis(event.time.timestamp_millis()))
            .event_bus_name(&self.bus_name)
            .build()
    }

    /// Publishes one chunk; retries entries that failed transiently. Returns the
    /// entries that still failed, with their error.
    async fn put_chunk(&self, chunk: &[DomainEvent]) -> Result<Vec<String>, BusError> {
        let mut pending: Vec<&DomainEvent> = chunk.iter().collect();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let out = self
                .client
                .put_events()
                .set_entries(Some(pending.iter().map(|e| self.entry(e)).collect()))
                .send()
                .await
                .map_err(|e| {
                    BusError::Unavailable(format!(
                        "PutEvents on bus {}: {}",
                        self.bus_name,
                        DisplayErrorContext(&e)
                    ))
                })?;
            if out.failed_entry_count() == 0 {
                return Ok(Vec::new());
            }
            // Result entries are positional: one per request entry.
            let failed: Vec<(&DomainEvent, &PutEventsResultEntry)> = pending
                .iter()
                .copied()
                .zip(out.entries())
                .filter(|(_, r)| r.error_code().is_some())
                .collect();
            if failed.is_empty() {
                return Ok(vec![format!(
                    "{} entries failed without an error code",
                    out.failed_entry_count()
                )]);
            }
            let transient = failed
                .iter()
                .all(|(_, r)| r.error_code().is_some_and(is_transient));
            if !transient || attempt >= ATTEMPTS {
                return Ok(failed
                    .iter()
                    .map(|(e, r)| {
                        format!(
                            "event {}: {} ({})",
                            e.id,
                            r.error_code().unwrap_or("unknown"),
                            r.error_message().unwrap_or("no message")
                        )
                    })
                    .collect());
            }
            tracing::warn!(
                bus = %self.bus_name,
                failed = failed.len(),
                attempt,
                "EventBridge did not accept some events; retrying them"
            );
            pending = failed.into_iter().map(|(e, _)| e).collect();
            tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
        }
    }
}

fn is_transient(code: &str) -> bool {
    matches!(
        code,
        "ThrottlingException" | "InternalFailure" | "InternalException" | "ServiceUnavailable"
    )
}

/// The event's detail with `id`, `tenant` and any `request_id` merged in (they win over detail keys of
/// the same name). A detail that is not an object is kept under `data`.
fn detail_json(event: &DomainEvent) -> serde_json::Value {
    let mut detail = match &event.detail {
        serde_json::Value::Object(map) => map.clone(),
        serde_json::Value::Null => serde_json::Map::new(),
        other => serde_json::Map::from_iter([("data".to_string(), other.clone())]),
    };
    detail.insert("id".into(), event.id.clone().into());
    detail.insert("tenant".into(), event.tenant.clone().into());
    if let Some(request_id) = &event.request_id {
        detail.insert("request_id".into(), request_id.clone().into());
    }
    serde_json::Value::Object(detail)
}

#[async_trait]
impl EventBus for EventBridgeBus {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), BusError> {
        let mut failures = Vec::new();
        for chunk in events.chunks(BATCH) {
            failures.extend(self.put_chunk(chunk).await?);
        }
        if failures.is_empty() {
            return Ok(());
        }
        Err(BusError::Rejected {
            failed: failures.len(),
            total: events.len(),
            reason: failures.join("; "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(detail: serde_json::Value) -> DomainEvent {
        DomainEvent {
            id: "e1".into(),
            tenant: "t1".into(),
            detail_type: "finding.opened".into(),
            time: chrono::Utc::now(),
            detail,
            request_id: None,
        }
    }

    #[test]
    fn detail_carries_the_request_id_when_there_is_one() {
        let mut e = event(json!({"a": 1}));
        e.request_id = Some("req-1".into());
        assert_eq!(
            detail_json(&e),
            json!({"a": 1, "id": "e1", "tenant": "t1", "request_id": "req-1"})
        );
    }

    #[test]
    fn detail_merges_id_and_tenant() {
        assert_eq!(
            detail_json(&event(json!({"a": 1, "id": "spoof"}))),
            json!({"a": 1, "id": "e1", "tenant": "t1"})
        );
        assert_eq!(
            detail_json(&event(json!(null))),
            json!({"id": "e1", "tenant": "t1"})
        );
        assert_eq!(
            detail_json(&event(json!([1]))),
            json!({"data": [1], "id": "e1", "tenant": "t1"})
        );
    }
}
