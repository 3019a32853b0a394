//! The one contract every queue-fed stage implements, so the same code runs under Lambda
//! (the SQS batch adapter in [`super::sqs`]) and locally (the worker in [`super::worker`]).
//!
//! A stage receives its message already parsed (a body that does not parse is
//! dead-lettered at the edge with a reason) plus the delivery's metadata, and answers a
//! [`Disposition`]. Errors are transient by definition (store, queue, bus): the runners
//! retry them with [`retry_delay`] until the queue's receive limit dead-letters them.
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use tracing::{Instrument, Span};

use crate::config::ConfigError;
use crate::domain::TenantId;
use crate::governance::{FailureClass, failures};
use crate::ports::{BusError, Clock, EventBus, ItemStore, Queue, QueueError, StoreError};

/// Longest visibility SQS allows one message (12 hours).
pub const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 3_600);
/// Longest delay SQS allows on a send.
pub const MAX_SEND_DELAY: Duration = Duration::from_secs(900);
/// A message told to wait that has been received this often is re-sent fresh instead
/// of kept, staying below the queues' maxReceiveCount (5), which would otherwise
/// dead-letter a healthy scheduled retry.
pub const REFRESH_AT_RECEIVE: u32 = 4;

/// What the runner does with a message once its stage has seen it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Finished (or nothing to do): delete it.
    Done,
    /// Not yet: deliver it again after this long.
    RetryAfter(Duration),
    /// Not yet: deliver it again at this time.
    RetryAt(DateTime<Utc>),
    /// It can never be processed. The runners keep today's behaviour: the message fails
    /// every delivery until the queue's receive limit moves it to the dead-letter queue.
    DeadLetter { reason: String },
}

/// What the runner knows about one delivery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageMeta {
    pub message_id: String,
    /// 1 on first delivery.
    pub receive_count: u32,
    /// The request id of the HTTP call that caused this work, from the message.
    pub request_id: Option<String>,
    /// The queue the record came from (an SQS record's `eventSourceARN`); None
    /// locally. A stage fed by several queues tells them apart by it.
    pub source_arn: Option<String>,
}

impl MessageMeta {
    pub fn new(message_id: impl Into<String>, receive_count: u32) -> Self {
        Self {
            message_id: message_id.into(),
            receive_count,
            request_id: None,
            source_arn: None,
        }
    }

    /// The metadata of a record from the queue `arn`.
    pub fn on_queue(mut self, arn: Option<String>) -> Self {
        self.source_arn = arn;
        self
    }
}

/// A failed attempt. Every variant is worth retrying: a message that can never succeed
/// is answered with [`Disposition::DeadLetter`] instead.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("cannot encode a message for the next stage")]
    Encode(#[from] serde_json::Error),
    #[error("{context}")]
    Other {
        context: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl HandlerError {
    /// The failure class of a message whose attempt failed with this error.
    pub fn failure_class(&self) -> FailureClass {
        match self {
            HandlerError::Store(_)
            | HandlerError::Queue(_)
            | HandlerError::Bus(_)
            | HandlerError::Other { .. } => FailureClass::InfraError,
            HandlerError::Encode(_) => FailureClass::UnexpectedError,
        }
    }

    pub fn other(
        context: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Other {
            context,
            source: Box::new(source),
        }
    }
}

/// Where the runners count failed messages: per tenant and failure class, each message
/// once however often it is delivered ([`failures::count_message`]). Without a store
/// (tests, tools) failures go to the metrics only.
#[derive(Clone, Default)]
pub struct FailureLog {
    store: Option<(Arc<dyn ItemStore>, Arc<dyn Clock>)>,
}

impl FailureLog {
    pub fn new(store: Arc<dyn ItemStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store: Some((store, clock)),
        }
    }

    /// The one place a stage outcome is classified: an error is its
    /// [`HandlerError::failure_class`], a malformed body a validation error, any other
    /// dead letter a workflow error. Counting problems are logged, never fail the message.
    async fn record(
        &self,
        stage: &'static str,
        tenant: Option<&str>,
        meta: &MessageMeta,
        outcome: &StageResult,
        malformed: bool,
    ) {
        let class = match outcome {
            Ok(Disposition::DeadLetter { .. }) if malformed => FailureClass::ValidationError,
            Ok(Disposition::DeadLetter { .. }) => FailureClass::WorkflowError,
            Ok(_) => return,
            Err(e) => e.failure_class(),
        };
        let tenant = tenant.and_then(|t| TenantId::parse(t).ok());
        match (&self.store, tenant) {
            (Some((store, clock)), Some(tenant)) => {
                let counted = failures::count_message(
                    store.as_ref(),
                    &tenant,
                    stage,
                    &meta.message_id,
                    class,
                    clock.now(),
                )
                .await;
                if let Err(e) = counted {
                    tracing::warn!(
                        error = &e as &dyn std::error::Error,
                        class = class.as_str(),
                        "cannot count the failed message"
                    );
                }
            }
            _ => crate::telemetry::count_failure(class.as_str(), stage),
        }
    }
}

/// What the runners read off a parsed message for its tracing span and metadata.
pub trait StageMessage {
    fn tenant(&self) -> Option<&str>;
    fn request_id(&self) -> Option<&str>;
}

/// What handling one message comes to: how the runner goes on with it, or a transient
/// failure to retry.
pub type StageResult = Result<Disposition, HandlerError>;

/// A queue-fed stage over its typed message.
#[async_trait]
pub trait Stage: Send + Sync {
    /// The stage's name in logs and spans.
    const NAME: &'static str;
    type Message: DeserializeOwned + StageMessage + Send + 'static;

    /// Processes one message. Must be idempotent: any message may arrive again.
    async fn handle(&self, message: Self::Message, meta: &MessageMeta) -> StageResult;

    /// Processes a whole delivery batch at once, for stages that gain from it (one
    /// store write, one read per user). `None`, the default: the runner handles each
    /// message alone. `Some(Ok)`: every message is done. `Some(Err)`: the runner handles
    /// each message alone, so a failing message is retried without the others.
    async fn handle_batch(
        &self,
        _messages: Vec<Self::Message>,
        _metas: &[MessageMeta],
    ) -> Option<Result<(), HandlerError>> {
        None
    }

    /// Told of a body that does not parse as [`Self::Message`] (it is dead-lettered
    /// with `reason`), for a stage that records such messages somewhere (the sources
    /// stage, against the source whose queue it came from). By default nothing.
    async fn malformed(&self, _body: &str, _meta: &MessageMeta, _reason: &str) {}
}

/// A stage with its message type erased, as the runners hold it. Every [`Stage`] is one.
#[async_trait]
pub trait DynStage: Send + Sync {
    fn name(&self) -> &'static str;

    /// Parses `body` and handles it. An unparseable body answers
    /// [`Disposition::DeadLetter`]. Records the message's tenant and request id on the
    /// current span (the runners' `message` span).
    async fn handle_body(&self, body: &str, meta: MessageMeta) -> StageResult {
        self.handle_logged(body, meta, &FailureLog::default()).await
    }

    /// [`Self::handle_body`], counting a failure or dead letter in `failures`: what
    /// the runners call.
    async fn handle_logged(
        &self,
        body: &str,
        meta: MessageMeta,
        failures: &FailureLog,
    ) -> StageResult;

    /// Hands a delivery batch to [`Stage::handle_batch`]. True when every message is
    /// done; false when the runner must handle them one by one (the stage does not
    /// batch, a body does not parse, or the batch failed).
    async fn handle_bodies(&self, bodies: &[(&str, MessageMeta)]) -> bool;
}

#[async_trait]
impl<S: Stage> DynStage for S {
    fn name(&self) -> &'static str {
        S::NAME
    }

    async fn handle_logged(
        &self,
        body: &str,
        mut meta: MessageMeta,
        failures: &FailureLog,
    ) -> StageResult {
        let message: S::Message = match serde_json::from_str(body) {
            Ok(m) => m,
            Err(e) => {
                let reason = format!("malformed {} message: {e}", S::NAME);
                self.malformed(body, &meta, &reason).await;
                let out = Ok(Disposition::DeadLetter { reason });
                failures.record(S::NAME, None, &meta, &out, true).await;
                return out;
            }
        };
        let span = Span::current();
        let tenant = message.tenant().map(str::to_string);
        if let Some(tenant) = &tenant {
            span.record("tenant", tenant.as_str());
        }
        if let Some(request_id) = message.request_id() {
            span.record("request_id", request_id);
            meta.request_id = Some(request_id.to_string());
        }
        let out = self.handle(message, &meta).await;
        failures
            .record(S::NAME, tenant.as_deref(), &meta, &out, false)
            .await;
        out
    }

    async fn handle_bodies(&self, bodies: &[(&str, MessageMeta)]) -> bool {
        if bodies.len() < 2 {
            return false;
        }
        let Ok(messages) = bodies
            .iter()
            .map(|(b, _)| serde_json::from_str::<S::Message>(b))
            .collect::<Result<Vec<_>, _>>()
        else {
            return false;
        };
        let metas: Vec<MessageMeta> = bodies.iter().map(|(_, m)| m.clone()).collect();
        let span = tracing::info_span!("batch", stage = S::NAME, messages = bodies.len());
        match self.handle_batch(messages, &metas).instrument(span).await {
            None => false,
            Some(Ok(())) => true,
            Some(Err(e)) => {
                tracing::warn!(
                    stage = S::NAME,
                    error = &e as &dyn std::error::Error,
                    "batch failed; handling its messages one by one"
                );
                false
            }
        }
    }
}

/// The span both runners open around one message; [`DynStage::handle_body`] fills in
/// the tenant and request id once the body is parsed.
pub fn message_span(stage: &'static str, message_id: &str) -> Span {
    tracing::info_span!(
        "message",
        stage,
        message_id,
        tenant = tracing::field::Empty,
        request_id = tracing::field::Empty
    )
}

/// Backoff before a failed message is tried again: 1 s, 2 s, 4 s ... at most a minute.
pub fn retry_delay(receive_count: u32) -> Duration {
    Duration::from_secs(1u64 << receive_count.saturating_sub(1).min(6)).min(Duration::from_secs(60))
}

/// What a runner does to the queue for a disposition, the same under Lambda and locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Delete the message.
    Ack,
    /// Keep it, hidden for this long (SQS ChangeMessageVisibility).
    Hide(Duration),
    /// Send a fresh copy delayed this long, then delete this one: the wait is past the
    /// 12-hour visibility cap, or the message is close to its receive limit.
    Resend(Duration),
    /// Leave it failing until the receive limit dead-letters it.
    DeadLetter(String),
}

/// Turns a stage's disposition into queue operations.
pub fn plan(disposition: Disposition, receive_count: u32, now: DateTime<Utc>) -> Action {
    let wait = match disposition {
        Disposition::Done => return Action::Ack,
        Disposition::DeadLetter { reason } => return Action::DeadLetter(reason),
        Disposition::RetryAfter(wait) => wait,
        // A time already past means "now".
        Disposition::RetryAt(at) => (at - now).to_std().unwrap_or(Duration::ZERO),
    };
    if wait <= MAX_VISIBILITY && receive_count < REFRESH_AT_RECEIVE {
        Action::Hide(wait)
    } else {
        Action::Resend(wait.min(MAX_SEND_DELAY))
    }
}

/// The ports a stage is built from, the same for Lambda (AWS adapters) and local mode
/// (embedded adapters). Each function crate's `stage(&StagePorts, &Config)` builds its
/// stage from them.
#[derive(Clone)]
pub struct StagePorts {
    pub store: Arc<dyn ItemStore>,
    pub queue: Arc<dyn Queue>,
    /// Absent on AWS when no event bus is configured; the stages that publish require it.
    pub bus: Option<Arc<dyn EventBus>>,
    pub clock: Arc<dyn Clock>,
}

impl StagePorts {
    pub fn require_bus(&self) -> Result<Arc<dyn EventBus>, ConfigError> {
        self.bus
            .clone()
            .ok_or(ConfigError::Missing("VIGIL_EVENT_BUS"))
    }
}

/// Why a stage could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("the stage's HTTP client cannot start")]
    Http(#[from] reqwest::Error),
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap()
    }

    #[test]
    fn dispositions_plan_queue_operations() {
        let now = t0();
        assert_eq!(plan(Disposition::Done, 1, now), Action::Ack);
        assert_eq!(
            plan(Disposition::RetryAfter(Duration::from_secs(30)), 1, now),
            Action::Hide(Duration::from_secs(30))
        );
        assert_eq!(
            plan(
                Disposition::RetryAt(now + chrono::Duration::minutes(5)),
                2,
                now
            ),
            Action::Hide(Duration::from_secs(300))
        );
        assert_eq!(
            plan(
                Disposition::RetryAt(now - chrono::Duration::minutes(5)),
                1,
                now
            ),
            Action::Hide(Duration::ZERO)
        );
        // Past the 12-hour visibility cap: a fresh copy with the longest send delay.
        assert_eq!(
            plan(
                Disposition::RetryAfter(MAX_VISIBILITY + Duration::from_secs(1)),
                1,
                now
            ),
            Action::Resend(MAX_SEND_DELAY)
        );
        assert_eq!(
            plan(Disposition::RetryAfter(MAX_VISIBILITY), 1, now),
            Action::Hide(MAX_VISIBILITY)
        );
        // Close to the receive limit: re-sent fresh, keeping a short delay as it is.
        assert_eq!(
            plan(
                Disposition::RetryAfter(Duration::from_secs(5)),
                REFRESH_AT_RECEIVE,
                now
            ),
            Action::Resend(Duration::from_secs(5))
        );
        assert_eq!(
            plan(
                Disposition::DeadLetter {
                    reason: "bad".into()
                },
                1,
                now
            ),
            Action::DeadLetter("bad".into())
        );
    }

    #[test]
    fn failures_back_off_up_to_a_minute() {
        assert_eq!(retry_delay(1), Duration::from_secs(1));
        assert_eq!(retry_delay(3), Duration::from_secs(4));
        assert_eq!(retry_delay(20), Duration::from_secs(60));
    }
}
