//! What the stages that take source records share (the sources stage, the log-files
//! stage): finding the source a message belongs to, recording why a message is
//! dead-lettered against that source (`GET /sources/{id}` shows it), and putting what
//! records became on the ingest queue.
use std::sync::Arc;

use crate::domain::event::TimeBounds;
use crate::messages::EventMessage;
use crate::ports::{Clock, ItemStore, OutMessage, Queue, QueueName};
use crate::repo::sources::{self as repo, DeadLetter};
use crate::runtime::{Disposition, HandlerError, MessageMeta, StagePorts, StageResult};
use crate::sources::Normalized;
use crate::sources::source::{Source, tenant_of};

/// First bytes of a dead-lettered body kept beside its reason.
const EXCERPT_BYTES: usize = 512;

#[derive(Clone)]
pub struct SourceIntake {
    pub store: Arc<dyn ItemStore>,
    pub queue: Arc<dyn Queue>,
    pub clock: Arc<dyn Clock>,
    /// Oldest event time accepted (`VIGIL_EVENT_MAX_AGE_DAYS`).
    pub max_age: chrono::Duration,
}

impl SourceIntake {
    pub fn new(ports: &StagePorts, max_age: chrono::Duration) -> Self {
        Self {
            store: ports.store.clone(),
            queue: ports.queue.clone(),
            clock: ports.clock.clone(),
            max_age,
        }
    }

    /// The source `id` names, if it exists.
    pub async fn source(&self, id: &str) -> Result<Option<Source>, HandlerError> {
        let Some(tenant) = tenant_of(id) else {
            return Ok(None);
        };
        Ok(repo::get(self.store.as_ref(), &tenant, id)
            .await?
            .map(|v| v.value))
    }

    /// Dead-letters the message, recording why against its source.
    pub async fn dead(
        &self,
        source: &Source,
        meta: &MessageMeta,
        reason: String,
        body: &str,
    ) -> StageResult {
        let d = DeadLetter {
            message_id: meta.message_id.clone(),
            at: self.clock.now(),
            reason: reason.clone(),
            excerpt: excerpt(body),
        };
        repo::record_dead_letter(self.store.as_ref(), &source.tenant, &source.id, &d).await?;
        Ok(Disposition::DeadLetter { reason })
    }

    /// The times records may carry, judged now.
    pub fn bounds(&self) -> TimeBounds {
        TimeBounds {
            now: self.clock.now(),
            max_age: self.max_age,
        }
    }

    /// Puts the events of `n` on the ingest queue, then counts the records it dropped
    /// as unmapped (after, so a redelivery counts none twice and loses none).
    pub async fn forward(&self, source: &Source, n: &Normalized) -> Result<(), HandlerError> {
        if !n.events.is_empty() {
            let bodies = EventMessage::bodies(&source.tenant, &n.events, None)?;
            self.queue
                .send(
                    QueueName::Ingest,
                    bodies.into_iter().map(OutMessage::new).collect(),
                )
                .await?;
        }
        repo::count_dropped(
            self.store.as_ref(),
            &source.tenant,
            &source.id,
            &n.dropped,
            self.clock.now(),
        )
        .await?;
        Ok(())
    }
}

fn excerpt(s: &str) -> String {
    crate::sources::prefix_on_char(s, EXCERPT_BYTES).to_string()
}
