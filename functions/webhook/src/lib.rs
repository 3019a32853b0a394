//! The webhook stage. Its queues and bus rule exist already; endpoint management and
//! signed delivery arrive with the webhook work. Until then it parses the domain events
//! the bus routes to it and records that no endpoint is subscribed.
use async_trait::async_trait;
use serde::Deserialize;
use vigil_shared::runtime::{HandlerError, MessageHandler, parse_body};

/// The EventBridge envelope as SQS delivers it.
#[derive(Debug, Deserialize)]
pub struct Envelope {
    pub id: String,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub source: String,
    pub detail: serde_json::Value,
}

pub struct WebhookHandler;

#[async_trait]
impl MessageHandler for WebhookHandler {
    async fn handle(&self, body: &str, _receive_count: u32) -> Result<(), HandlerError> {
        let env: Envelope = parse_body(body)?;
        tracing::info!(id = %env.id, detail_type = %env.detail_type, source = %env.source, "domain event received; no webhook endpoints are subscribed");
        Ok(())
    }
}
