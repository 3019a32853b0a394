//! The queue port: at-least-once delivery with visibility timeouts and a dead-letter
//! state, shaped like SQS.
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// The pipeline's queues. Each has a dead-letter queue behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueName {
    Ingest,
    Rules,
    Enrich,
    Webhook,
    Reclassify,
    Drift,
    /// Records producers send straight to Vigil (issue 16), and CloudTrail management
    /// events from the EventBridge rule.
    Sources,
    /// Risk and compliance requests (`POST /risk`, `POST /compliance`) to decide.
    Decide,
    /// S3 notifications of new CloudTrail log files, each read and normalized (AWS).
    LogFiles,
}

impl QueueName {
    pub const ALL: [QueueName; 9] = [
        QueueName::Ingest,
        QueueName::Rules,
        QueueName::Enrich,
        QueueName::Webhook,
        QueueName::Reclassify,
        QueueName::Drift,
        QueueName::Sources,
        QueueName::Decide,
        QueueName::LogFiles,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QueueName::Ingest => "ingest",
            QueueName::Rules => "rules",
            QueueName::Enrich => "enrich",
            QueueName::Webhook => "webhook",
            QueueName::Reclassify => "reclassify",
            QueueName::Drift => "drift",
            QueueName::Sources => "sources",
            QueueName::Decide => "decide",
            QueueName::LogFiles => "logfiles",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|q| q.as_str() == name)
    }
}

impl std::fmt::Display for QueueName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutMessage {
    pub body: String,
    pub delay: Duration,
}

impl OutMessage {
    pub fn new(body: impl Into<String>) -> Self {
        Self {
            body: body.into(),
            delay: Duration::ZERO,
        }
    }
}

/// A received message; `receipt` acknowledges this delivery only.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub receipt: String,
    pub body: String,
    /// 1 on first delivery.
    pub receive_count: u32,
}

/// A message that exhausted its retries.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    pub id: String,
    pub body: String,
    pub receive_count: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("message too large: {0} bytes")]
    TooLarge(usize),
    #[error("unknown or expired receipt")]
    UnknownReceipt,
    #[error("queue unavailable: {0}")]
    Unavailable(String),
}

/// Largest message body SQS accepts.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

#[async_trait]
pub trait Queue: Send + Sync {
    /// Sends every message durably before returning (all or, on error, possibly some).
    async fn send(&self, queue: QueueName, messages: Vec<OutMessage>) -> Result<(), QueueError>;
    /// Receives up to `max` visible messages and hides them for `visibility`.
    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<Delivery>, QueueError>;
    /// Deletes a delivered message.
    async fn ack(&self, queue: QueueName, receipt: &str) -> Result<(), QueueError>;
    /// Acknowledges every receipt (SQS DeleteMessageBatch, one SQLite transaction).
    async fn ack_all(&self, queue: QueueName, receipts: &[&str]) -> Result<(), QueueError> {
        for r in receipts {
            self.ack(queue, r).await?;
        }
        Ok(())
    }
    /// Makes a delivered message visible again after `delay`.
    async fn retry_after(
        &self,
        queue: QueueName,
        receipt: &str,
        delay: Duration,
    ) -> Result<(), QueueError>;
    /// Lists up to `max` dead letters of `queue`.
    async fn dead_letters(
        &self,
        queue: QueueName,
        max: usize,
    ) -> Result<Vec<DeadLetter>, QueueError>;
    /// Moves every dead letter of `queue` back onto it; returns how many moved.
    async fn redrive(&self, queue: QueueName) -> Result<usize, QueueError>;
}
