//! The ingest stage: stores each accepted event exactly once (with its counters) and
//! hands it to the rules stage.
use std::sync::Arc;

use async_trait::async_trait;
use vigil_shared::messages::EventMessage;
use vigil_shared::ports::{ItemStore, OutMessage, Queue, QueueName};
use vigil_shared::repo::events;
use vigil_shared::runtime::{HandlerError, MessageHandler, parse_body};

pub struct IngestHandler {
    pub store: Arc<dyn ItemStore>,
    pub queue: Arc<dyn Queue>,
}

#[async_trait]
impl MessageHandler for IngestHandler {
    async fn handle(&self, body: &str, _receive_count: u32) -> Result<(), HandlerError> {
        let msg: EventMessage = parse_body(body)?;
        let forward = if events::insert(self.store.as_ref(), &msg.tenant, &msg.event).await? {
            body.to_string()
        } else {
            // Already stored (a redelivery, or a client re-sending an id): forward the
            // stored copy, since the rules stage may not have seen it yet.
            match events::get(self.store.as_ref(), &msg.tenant, &msg.event.id).await? {
                Some(stored) => serde_json::to_string(&EventMessage {
                    tenant: msg.tenant,
                    event: stored,
                })
                .map_err(|e| HandlerError::Malformed(e.to_string()))?,
                None => body.to_string(),
            }
        };
        self.queue
            .send(QueueName::Rules, vec![OutMessage::new(forward)])
            .await?;
        Ok(())
    }
}
