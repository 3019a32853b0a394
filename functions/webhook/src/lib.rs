//! The webhook stage. One stage takes both of its queues' bodies, told apart by shape:
//! an EventBridge envelope (from the fan-out queue, via the bus rule) is fanned out into
//! one delivery job per interested endpoint on the webhook queue; a delivery job makes
//! the next attempt of its message. A job waiting for a retry answers
//! [`Disposition::RetryAfter`]; the runners keep it on the queue until then, so retries
//! survive restarts (see `vigil_shared::runtime::sqs` for the 12-hour SQS cap).

use std::sync::Arc;

use async_trait::async_trait;
use serde::de::{Deserialize, Deserializer, Error as _};
use serde_json::Value;
use vigil_shared::config::Config;
use vigil_shared::ports::{Clock, ItemStore, OutMessage, Queue, QueueName};
use vigil_shared::runtime::{
    BuildError, Disposition, HandlerError, MessageMeta, Stage, StageMessage, StagePorts,
    StageResult,
};
use vigil_shared::webhooks::delivery::DispatchError;
use vigil_shared::webhooks::fanout::{self, BusEvent, NotAnEvent};
use vigil_shared::webhooks::{self as hooks, DeliveryJob, Dispatcher, WebhookSettings};

/// Records one Lambda invocation handles at once: each may wait up to the 10 s delivery
/// timeout.
pub const LAMBDA_CONCURRENCY: usize = 10;
/// Jobs the local worker handles at once.
pub const LOCAL_CONCURRENCY: usize = 16;

/// What a received body is.
#[derive(Debug)]
pub enum Incoming {
    Event(BusEvent),
    Job(DeliveryJob),
}

#[derive(Debug, thiserror::Error)]
pub enum NotIncoming {
    #[error(transparent)]
    Envelope(#[from] NotAnEvent),
    #[error("not a delivery job")]
    Job(#[source] serde_json::Error),
    #[error("neither an EventBridge envelope nor a delivery job")]
    Neither,
}

impl Incoming {
    pub fn from_value(v: Value) -> Result<Self, NotIncoming> {
        if v.get("detail-type").is_some() {
            Ok(Incoming::Event(BusEvent::from_envelope(&v)?))
        } else if v.get("message_id").is_some() {
            serde_json::from_value(v)
                .map(Incoming::Job)
                .map_err(NotIncoming::Job)
        } else {
            Err(NotIncoming::Neither)
        }
    }
}

impl<'de> Deserialize<'de> for Incoming {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Incoming::from_value(Value::deserialize(d)?).map_err(D::Error::custom)
    }
}

impl StageMessage for Incoming {
    fn tenant(&self) -> Option<&str> {
        match self {
            Incoming::Event(e) => Some(e.tenant.as_str()),
            Incoming::Job(j) => j.tenant(),
        }
    }
    fn request_id(&self) -> Option<&str> {
        match self {
            Incoming::Event(e) => e.request_id.as_deref(),
            Incoming::Job(j) => j.request_id(),
        }
    }
}

pub fn parse_incoming(body: &str) -> Result<Incoming, serde_json::Error> {
    serde_json::from_str(body)
}

pub struct WebhookStage {
    pub store: Arc<dyn ItemStore>,
    pub queue: Arc<dyn Queue>,
    pub clock: Arc<dyn Clock>,
    pub dispatcher: Dispatcher,
}

/// The webhook stage over `ports` and the configured webhook settings.
pub fn stage(ports: &StagePorts, config: &Config) -> Result<WebhookStage, BuildError> {
    Ok(WebhookStage::new(
        ports.store.clone(),
        ports.queue.clone(),
        ports.clock.clone(),
        config.webhooks.clone(),
    )?)
}

impl WebhookStage {
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
                .collect::<Result<Vec<_>, _>>()?;
            self.queue.send(QueueName::Webhook, bodies).await?;
        }
        tracing::debug!(event = %event.id, kind = %event.detail_type, messages = n, "fanned out");
        Ok(n)
    }

    /// Queues a job for a stored message (tests, redelivery).
    pub async fn enqueue(&self, job: &DeliveryJob) -> Result<(), HandlerError> {
        let body = serde_json::to_string(job)?;
        self.queue
            .send(QueueName::Webhook, vec![OutMessage::new(body)])
            .await?;
        Ok(())
    }
}

#[async_trait]
impl Stage for WebhookStage {
    const NAME: &'static str = "webhook";
    type Message = Incoming;

    async fn handle(&self, msg: Incoming, _meta: &MessageMeta) -> StageResult {
        match msg {
            Incoming::Event(e) => {
                self.fan_out(&e).await?;
                Ok(Disposition::Done)
            }
            Incoming::Job(job) => match self.dispatcher.process(&job).await {
                Ok(hooks::Disposition::Done) => Ok(Disposition::Done),
                Ok(hooks::Disposition::Wait(wait)) => Ok(Disposition::RetryAfter(wait)),
                Err(DispatchError::Store(e)) => Err(e.into()),
                // Secrets that cannot be opened now may open after a key fix: retried,
                // then dead-lettered, as before.
                Err(e) => Err(HandlerError::other("webhook dispatch failed", e)),
            },
        }
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
