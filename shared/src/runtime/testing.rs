//! Test doubles for the runners: a stage that answers what each message tells it to, and
//! a queue that records what the runners asked of it.
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;

use super::stage::{Disposition, HandlerError, MessageMeta, Stage, StageMessage};
use crate::ports::{DeadLetter, Delivery, OutMessage, Queue, QueueError, QueueName};

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap()
}

/// `{"tenant": .., "answer": "done" | "after" | "at" | "dead" | "fail", "secs": ..}`
#[derive(Debug, Deserialize)]
pub struct Scripted {
    pub tenant: String,
    pub answer: String,
    #[serde(default)]
    pub secs: u64,
    #[serde(default)]
    pub request_id: Option<String>,
}

impl StageMessage for Scripted {
    fn tenant(&self) -> Option<&str> {
        Some(&self.tenant)
    }
    fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

pub fn body(answer: &str, secs: u64) -> String {
    serde_json::json!({"tenant": "acme", "answer": answer, "secs": secs}).to_string()
}

/// Answers as scripted; `RetryAt` is `secs` after [`t0`]. Records the metadata it saw.
#[derive(Default)]
pub struct ScriptedStage {
    pub seen: Mutex<Vec<MessageMeta>>,
}

#[async_trait]
impl Stage for ScriptedStage {
    const NAME: &'static str = "scripted";
    type Message = Scripted;

    async fn handle(&self, m: Scripted, meta: &MessageMeta) -> Result<Disposition, HandlerError> {
        self.seen.lock().unwrap().push(meta.clone());
        Ok(match m.answer.as_str() {
            "done" => Disposition::Done,
            "after" => Disposition::RetryAfter(Duration::from_secs(m.secs)),
            "at" => Disposition::RetryAt(t0() + chrono::Duration::seconds(m.secs as i64)),
            "dead" => Disposition::DeadLetter {
                reason: "scripted".into(),
            },
            _ => return Err(QueueError::Unavailable("scripted outage".into()).into()),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Send(QueueName, Vec<OutMessage>),
    Ack(QueueName, String),
    RetryAfter(QueueName, String, Duration),
}

/// Records calls; `receive` hands out `pending` once.
#[derive(Default)]
pub struct RecordingQueue {
    pub calls: Mutex<Vec<Call>>,
    pub pending: Mutex<Vec<Delivery>>,
}

impl RecordingQueue {
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait]
impl Queue for RecordingQueue {
    async fn send(&self, queue: QueueName, messages: Vec<OutMessage>) -> Result<(), QueueError> {
        self.calls.lock().unwrap().push(Call::Send(queue, messages));
        Ok(())
    }
    async fn receive(
        &self,
        _queue: QueueName,
        _max: usize,
        _visibility: Duration,
    ) -> Result<Vec<Delivery>, QueueError> {
        Ok(std::mem::take(&mut *self.pending.lock().unwrap()))
    }
    async fn ack(&self, queue: QueueName, receipt: &str) -> Result<(), QueueError> {
        self.calls
            .lock()
            .unwrap()
            .push(Call::Ack(queue, receipt.to_string()));
        Ok(())
    }
    async fn retry_after(
        &self,
        queue: QueueName,
        receipt: &str,
        delay: Duration,
    ) -> Result<(), QueueError> {
        self.calls
            .lock()
            .unwrap()
            .push(Call::RetryAfter(queue, receipt.to_string(), delay));
        Ok(())
    }
    async fn dead_letters(
        &self,
        _queue: QueueName,
        _max: usize,
    ) -> Result<Vec<DeadLetter>, QueueError> {
        Ok(Vec::new())
    }
    async fn redrive(&self, _queue: QueueName) -> Result<usize, QueueError> {
        Ok(0)
    }
}
