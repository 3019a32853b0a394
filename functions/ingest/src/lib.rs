//! The ingest stage: stores each accepted event exactly once (with its counters) and
//! hands it to the rules stage.
use std::sync::Arc;

use async_trait::async_trait;
use vigil_shared::config::Config;
use vigil_shared::messages::EventMessage;
use vigil_shared::ports::{ItemStore, OutMessage, Queue, QueueName};
use vigil_shared::repo::events;
use vigil_shared::runtime::{BuildError, Disposition, MessageMeta, Stage, StagePorts, StageResult};

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

#[async_trait]
impl Stage for IngestStage {
    const NAME: &'static str = "ingest";
    type Message = EventMessage;

    async fn handle(&self, msg: EventMessage, _meta: &MessageMeta) -> StageResult {
        let forward = if events::insert(self.store.as_ref(), &msg.tenant, &msg.event).await? {
            msg
        } else {
            // Already stored (a redelivery, or a client re-sending an id): forward the
            // stored copy, since the rules stage may not have seen it yet.
            match events::get(self.store.as_ref(), &msg.tenant, &msg.event.id).await? {
                Some(stored) => EventMessage {
                    event: stored,
                    ..msg
                },
                None => msg,
            }
        };
        let body = serde_json::to_string(&forward)?;
        self.queue
            .send(QueueName::Rules, vec![OutMessage::new(body)])
            .await?;
        Ok(Disposition::Done)
    }
}
