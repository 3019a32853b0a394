//! The ingest stage: stores each accepted event exactly once (with its counters) and
//! hands the events on to the rules stage, a delivery batch at a time.
use std::sync::Arc;

use async_trait::async_trait;
use vigil_shared::config::Config;
use vigil_shared::domain::{Event, TenantId};
use vigil_shared::messages::EventMessage;
use vigil_shared::ports::{ItemStore, OutMessage, Queue, QueueName};
use vigil_shared::repo::events;
use vigil_shared::runtime::{
    BuildError, Disposition, HandlerError, MessageMeta, Stage, StagePorts, StageResult,
};
use vigil_shared::telemetry::{self, metric};

pub struct IngestStage {
    pub store: Arc<dyn ItemStore>,
    pub queue: Arc<dyn Queue>,
}

/// The ingest stage over `ports`, for the Lambda function and local mode alike.
pub fn stage(ports: &StagePorts, _config: &Config) -> Result<IngestStage, BuildError> {
    Ok(IngestStage {
        store: ports.store.clone(),
        queue: ports.queue.clone(),
    })
}

impl IngestStage {
    /// Stores the events of one tenant and forwards them. Already stored events (a
    /// redelivery, or a client re-sending an id) are forwarded too, as stored: the rules
    /// stage may not have seen them yet, and judging an event twice changes nothing.
    async fn ingest(
        &self,
        tenant: &TenantId,
        batch: &[Event],
        request_id: Option<&str>,
    ) -> Result<(), HandlerError> {
        let store = self.store.as_ref();
        let fresh = events::insert_batch(store, tenant, batch).await?;
        telemetry::count(metric::EVENTS_STORED, fresh.len());
        // Each source's last receipt moves to the newest it has stored (never back).
        let mut latest: Vec<(&str, &Event)> = Vec::new();
        for e in &fresh {
            if let Some(id) = events::source_id(e) {
                match latest.iter_mut().find(|(s, _)| *s == id) {
                    Some((_, l)) if l.received_at < e.received_at => *l = e,
                    Some(_) => {}
                    None => latest.push((id, e)),
                }
            }
        }
        for (id, e) in latest {
            vigil_shared::repo::sources::mark_seen(store, tenant, id, e.received_at, &e.id).await?;
        }
        let mut forward = Vec::with_capacity(batch.len());
        for e in batch {
            if fresh.iter().any(|f| f.id == e.id) {
                forward.push(e.clone());
            } else if let Some(stored) = events::get(store, tenant, &e.id).await? {
                forward.push(stored);
            }
        }
        forward.dedup_by(|a, b| a.id == b.id);
        let bodies = EventMessage::bodies(tenant, &forward, request_id)?;
        self.queue
            .send(
                QueueName::Rules,
                bodies.into_iter().map(OutMessage::new).collect(),
            )
            .await?;
        Ok(())
    }
}

#[async_trait]
impl Stage for IngestStage {
    const NAME: &'static str = "ingest";
    type Message = EventMessage;

    async fn handle(&self, msg: EventMessage, _meta: &MessageMeta) -> StageResult {
        self.ingest(&msg.tenant, &msg.events, msg.request_id.as_deref())
            .await?;
        Ok(Disposition::Done)
    }

    async fn handle_batch(
        &self,
        messages: Vec<EventMessage>,
        _metas: &[MessageMeta],
    ) -> Option<Result<(), HandlerError>> {
        // One write per tenant (and request id, which the next stage keeps).
        let mut groups: Vec<(TenantId, Option<String>, Vec<Event>)> = Vec::new();
        for m in messages {
            match groups
                .iter_mut()
                .find(|(t, r, _)| *t == m.tenant && *r == m.request_id)
            {
                Some((_, _, events)) => events.extend(m.events),
                None => groups.push((m.tenant, m.request_id, m.events)),
            }
        }
        for (tenant, request_id, batch) in &groups {
            if let Err(e) = self.ingest(tenant, batch, request_id.as_deref()).await {
                return Some(Err(e));
            }
        }
        Some(Ok(()))
    }
}
