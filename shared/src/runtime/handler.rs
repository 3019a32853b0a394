//! What every queue-fed stage implements, so the same code runs under Lambda and in
//! the local workers.
use async_trait::async_trait;

use crate::ports::{BusError, QueueError, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The body can never be processed; it goes to the dead-letter queue after retries.
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Bus(#[from] BusError),
}

#[async_trait]
pub trait MessageHandler: Send + Sync {
    /// Processes one message. Must be idempotent: any message may arrive again.
    async fn handle(&self, body: &str, receive_count: u32) -> Result<(), HandlerError>;
}

/// Parses a message body, mapping failure to [`HandlerError::Malformed`].
pub fn parse_body<T: serde::de::DeserializeOwned>(body: &str) -> Result<T, HandlerError> {
    serde_json::from_str(body).map_err(|e| HandlerError::Malformed(e.to_string()))
}
