//! The webhook stage. One function takes both of its queues' bodies, told apart by
//! shape: an EventBridge envelope (from the fan-out queue, via the bus rule) is fanned
//! out into one delivery job per interested endpoint on the webhook queue; a delivery job
//! makes the next attempt of its message. A job waiting for a retry stays on the queue,
//! made visible again when the retry is due (SQS ChangeMessageVisibility), so retries
//! survive restarts; past SQS's 12-hour visibility cap, or before the queue's receive
//! limit would dead-letter it, a fresh copy is sent instead.
pub mod lambda;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use vigil_shared::ports::{Clock, Delivery, ItemStore, OutMessage, Queue, QueueName};
use vigil_shared::runtime::HandlerError;
use vigil_shared::webhooks::delivery::DispatchError;
use vigil_shared::webhooks::fanout::{self, BusEvent};
use vigil_shared::webhooks::{DeliveryJob, Dispatcher, Disposition, WebhookSettings};

/// Longest visibility SQS allows one message.
pub const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 3_600);
/// Longest delay SQS allows on a send.
pub const MAX_SEND_DELAY: Duration = Duration::from_secs(900);
/// A waiting job received this often is re-sent fresh instead of kept, staying below
/// the queue's maxReceiveCount (5), which would otherwise dead-letter a healthy retry.
pub const REFRESH_AT_RECEIVE: u32 = 4;

/// What a received body is.
#[derive(Debug)]
pub enum Incoming {
    Event(BusEvent),
    Job(DeliveryJob),
}

pub fn parse_incoming(body: &str) -> Result<Incoming, HandlerError> {
    let v: Value =
        serde_json::from_str(body).map_err(|e| HandlerError::Malformed(e.to_string()))?;
    if v.get("detail-type").is_some() {
        BusEvent::from_envelope(&v)
            .map(Incoming::Event)
            .map_err(|e| HandlerError::Malformed(e.to_string()))
    } else if v.get("message_id").is_some() {
        serde_json::from_value(v)
            .map(Incoming::Job)
            .map_err(|e| HandlerError::Malformed(e.to_string()))
    } else {
        Err(HandlerError::Malformed(
            "neither an EventBridge envelope nor a delivery job".into(),
        ))
    }
}

fn dispatch_err(e: DispatchError) -> HandlerError {
    match e {
        DispatchError::Store(s) => HandlerError::Store(s),
        other => HandlerError::Malformed(other.to_string()),
    }
}

pub struct WebhookFunction {
    pub store: Arc<dyn ItemStore>,
    pub queue: Arc<dyn Queue>,
    pub clock: Arc<dyn Clock>,
    pub dispatcher: Dispatcher,
}

impl WebhookFunction {
    pub fn new(
        store: Arc<dyn ItemStore>,
        queue: Arc<dyn Queue>,
        clock: Arc<dyn Clock>,
        settings: WebhookSettings,
    ) -> Result<Self, reqwest::Error> {
        let dispatcher = Dispatcher::new(Arc::clone(&store), Arc::clone(&clock), settings)?;
        Ok(Self {
            store,
            queue,
            clock,
            dispatcher,
        })
    }

    /// Stores and queues one message per endpoint that wants `event`.
    pub async fn fan_out(&self, event: &BusEvent) -> Result<usize, HandlerError> {
        let jobs = fanout::fan_out(self.store.as_ref(), event, self.clock.now()).await?;
        let n = jobs.len();
        if n > 0 {
            let bodies = jobs
                .iter()
                .map(|j| serde_json::to_string(j).map(OutMessage::new))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| HandlerError::Malformed(e.to_string()))?;
            self.queue.send(QueueName::Webhook, bodies).await?;
        }
        tracing::debug!(event = %event.id, kind = %event.detail_type, messages = n, "fanned out");
        Ok(n)
    }

    /// Handles one received message. `Ok(true)`: delete it; `Ok(false)`: it stays on the
    /// queue (its visibility was set to when its retry is due).
    pub async fn process(&self, d: &Delivery) -> Result<bool, HandlerError> {
        match parse_incoming(&d.body)? {
            Incoming::Event(e) => {
                self.fan_out(&e).await?;
                Ok(true)
            }
            Incoming::Job(job) => {
                match self.dispatcher.process(&job).await.map_err(dispatch_err)? {
                    Disposition::Done => Ok(true),
                    Disposition::Wait(wait) => self.wait(d, &job, wait).await,
                }
            }
        }
    }

    async fn wait(
        &self,
        d: &Delivery,
        job: &DeliveryJob,
        wait: Duration,
    ) -> Result<bool, HandlerError> {
        if wait <= MAX_VISIBILITY && d.receive_count < REFRESH_AT_RECEIVE {
            self.queue
                .retry_after(QueueName::Webhook, &d.receipt, wait)
                .await?;
            return Ok(false);
        }
        let body =
            serde_json::to_string(job).map_err(|e| HandlerError::Malformed(e.to_string()))?;
        self.queue
            .send(
                QueueName::Webhook,
                vec![OutMessage {
                    body,
                    delay: wait.min(MAX_SEND_DELAY),
                }],
            )
            .await?;
        Ok(true)
    }

    /// Queues a job for a stored message (tests, redelivery).
    pub async fn enqueue(&self, job: &DeliveryJob) -> Result<(), HandlerError> {
        let body =
            serde_json::to_string(job).map_err(|e| HandlerError::Malformed(e.to_string()))?;
        self.queue
            .send(QueueName::Webhook, vec![OutMessage::new(body)])
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_told_apart_by_shape() {
        let raw = include_str!("../../../events/webhook-sqs.json");
        let v: Value = serde_json::from_str(raw).unwrap();
        let body = v["Records"][0]["body"].as_str().unwrap();
        assert!(matches!(parse_incoming(body).unwrap(), Incoming::Event(_)));
        let job = r#"{"tenant":"acme","endpoint_id":"ep_1","message_id":"msg_1"}"#;
        assert!(matches!(parse_incoming(job).unwrap(), Incoming::Job(_)));
        assert!(parse_incoming(r#"{"x":1}"#).is_err());
        assert!(parse_incoming("nope").is_err());
    }
}
