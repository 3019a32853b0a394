//! The one local queue worker: polls an embedded queue and runs a stage with the same
//! dispositions as the Lambda adapter ([`super::sqs`]):
//! - `Done`: acknowledged.
//! - `RetryAfter` / `RetryAt`: hidden until then, or past the 12-hour cap (or near the
//!   receive limit) re-sent fresh with the longest SQS delay and acknowledged.
//! - `DeadLetter`: logged with its reason and retried with [`retry_delay`] until the
//!   queue's receive limit moves it to the dead letters (as before).
//! - an error: retried with [`retry_delay`].
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::watch;
use tracing::Instrument;

use super::stage::{Action, DynStage, FailureLog, MessageMeta, message_span, plan, retry_delay};
use crate::ports::{Clock, Delivery, OutMessage, Queue, QueueError, QueueName, SystemClock};

#[derive(Clone)]
pub struct Worker {
    pub queue: Arc<dyn Queue>,
    pub name: QueueName,
    pub stage: Arc<dyn DynStage>,
    /// Turns `RetryAt` into a wait; the embedded queue's clock, so tests can move it.
    pub clock: Arc<dyn Clock>,
    pub batch: usize,
    pub concurrency: usize,
    pub visibility: Duration,
    /// Where failed messages are counted by class (none: the metrics only).
    pub failures: FailureLog,
}

/// What one poll did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PollStats {
    pub received: usize,
    /// Done (acknowledged, or re-sent fresh for a later retry).
    pub succeeded: usize,
    /// Hidden until a retry the stage asked for.
    pub waiting: usize,
    /// Failed or dead-lettered; retried after a backoff.
    pub failed: usize,
}

enum Settled {
    Succeeded,
    Waiting,
    Failed,
}

impl Worker {
    pub fn new(queue: Arc<dyn Queue>, name: QueueName, stage: Arc<dyn DynStage>) -> Self {
        Self {
            queue,
            name,
            stage,
            clock: Arc::new(SystemClock),
            batch: 50,
            concurrency: 4,
            visibility: Duration::from_secs(60),
            failures: FailureLog::default(),
        }
    }

    /// Counts failed messages per tenant and class in `store`.
    pub fn with_failures(mut self, failures: FailureLog) -> Self {
        self.failures = failures;
        self
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Receives one batch and handles it.
    pub async fn poll_once(&self) -> Result<PollStats, QueueError> {
        let deliveries = self
            .queue
            .receive(self.name, self.batch, self.visibility)
            .await?;
        let mut stats = PollStats {
            received: deliveries.len(),
            ..PollStats::default()
        };
        let bodies: Vec<(&str, MessageMeta)> = deliveries
            .iter()
            .map(|d| {
                (
                    d.body.as_str(),
                    MessageMeta::new(d.id.as_str(), d.receive_count),
                )
            })
            .collect();
        if self.stage.handle_bodies(&bodies).await {
            let receipts: Vec<&str> = deliveries.iter().map(|d| d.receipt.as_str()).collect();
            if let Err(e) = self.queue.ack_all(self.name, &receipts).await {
                tracing::warn!(queue = %self.name, error = &e as &dyn std::error::Error, "ack failed; messages will be redelivered");
            }
            stats.succeeded = deliveries.len();
            return Ok(stats);
        }
        let outcomes: Vec<Settled> = futures::stream::iter(deliveries)
            .map(|d| {
                let span = message_span(self.stage.name(), &d.id);
                self.settle(d).instrument(span)
            })
            .buffer_unordered(self.concurrency.max(1))
            .collect()
            .await;
        for o in outcomes {
            match o {
                Settled::Succeeded => stats.succeeded += 1,
                Settled::Waiting => stats.waiting += 1,
                Settled::Failed => stats.failed += 1,
            }
        }
        Ok(stats)
    }

    async fn settle(&self, d: Delivery) -> Settled {
        let meta = MessageMeta::new(d.id.as_str(), d.receive_count);
        let disposition = match self
            .stage
            .handle_logged(&d.body, meta, &self.failures)
            .await
        {
            Ok(disposition) => disposition,
            Err(e) => {
                tracing::warn!(queue = %self.name, attempt = d.receive_count, error = &e as &dyn std::error::Error, "message failed; will retry");
                self.back_off(&d).await;
                return Settled::Failed;
            }
        };
        match plan(disposition, d.receive_count, self.clock.now()) {
            Action::Ack => {
                self.ack(&d).await;
                Settled::Succeeded
            }
            Action::Hide(wait) => {
                if let Err(e) = self.queue.retry_after(self.name, &d.receipt, wait).await {
                    tracing::warn!(queue = %self.name, error = &e as &dyn std::error::Error, "cannot delay the message; it returns when its visibility ends");
                }
                Settled::Waiting
            }
            Action::Resend(delay) => {
                let copy = OutMessage {
                    body: d.body.clone(),
                    delay,
                };
                match self.queue.send(self.name, vec![copy]).await {
                    Ok(()) => {
                        self.ack(&d).await;
                        Settled::Succeeded
                    }
                    Err(e) => {
                        tracing::warn!(queue = %self.name, error = &e as &dyn std::error::Error, "cannot re-send the waiting message; will retry");
                        self.back_off(&d).await;
                        Settled::Failed
                    }
                }
            }
            Action::DeadLetter(reason) => {
                tracing::error!(queue = %self.name, attempt = d.receive_count, %reason, "message cannot be processed; it stays until the dead letters");
                crate::telemetry::count_in(
                    crate::telemetry::metric::MESSAGES_DEAD_LETTERED,
                    self.name.as_str(),
                    1,
                );
                self.back_off(&d).await;
                Settled::Failed
            }
        }
    }

    async fn ack(&self, d: &Delivery) {
        if let Err(e) = self.queue.ack(self.name, &d.receipt).await {
            tracing::warn!(queue = %self.name, error = &e as &dyn std::error::Error, "ack failed; message will be redelivered");
        }
    }

    async fn back_off(&self, d: &Delivery) {
        if let Err(e) = self
            .queue
            .retry_after(self.name, &d.receipt, retry_delay(d.receive_count))
            .await
        {
            tracing::warn!(queue = %self.name, error = &e as &dyn std::error::Error, "cannot delay the failed message; it returns when its visibility ends");
        }
    }

    /// Polls until `shutdown` turns true, idling briefly when the queue is empty.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            let idle = match self.poll_once().await {
                Ok(s) => s.received == 0,
                Err(e) => {
                    tracing::error!(queue = %self.name, error = &e as &dyn std::error::Error, "poll failed");
                    true
                }
            };
            if idle {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::adapters::embedded::{EmbeddedDb, EmbeddedQueue};
    use crate::ports::ManualClock;
    use crate::runtime::stage::{Disposition, HandlerError, MAX_SEND_DELAY, MAX_VISIBILITY, Stage};
    use crate::runtime::testing::{Call, RecordingQueue, Scripted, ScriptedStage, body, t0};

    /// Waits until `at` by the clock, then is done.
    struct UntilStage {
        clock: Arc<ManualClock>,
        at: DateTime<Utc>,
    }

    #[async_trait]
    impl Stage for UntilStage {
        const NAME: &'static str = "until";
        type Message = Scripted;

        async fn handle(
            &self,
            _m: Scripted,
            _meta: &MessageMeta,
        ) -> Result<Disposition, HandlerError> {
            Ok(if self.clock.now() < self.at {
                Disposition::RetryAt(self.at)
            } else {
                Disposition::Done
            })
        }
    }

    fn embedded(clock: &Arc<ManualClock>) -> Arc<EmbeddedQueue> {
        let db = EmbeddedDb::in_memory(clock.clone()).unwrap();
        Arc::new(EmbeddedQueue::new(db, 5))
    }

    #[tokio::test]
    async fn retry_at_is_honoured_on_the_queue_clock() {
        let clock = Arc::new(ManualClock::new(t0()));
        let queue = embedded(&clock);
        let at = t0() + chrono::Duration::minutes(10);
        let stage = Arc::new(UntilStage {
            clock: clock.clone(),
            at,
        });
        let worker =
            Worker::new(queue.clone(), QueueName::Webhook, stage).with_clock(clock.clone());
        queue
            .send(QueueName::Webhook, vec![OutMessage::new(body("at", 0))])
            .await
            .unwrap();

        let first = worker.poll_once().await.unwrap();
        assert_eq!((first.received, first.waiting), (1, 1));
        clock.advance(chrono::Duration::seconds(599));
        assert_eq!(worker.poll_once().await.unwrap().received, 0, "not before");
        clock.advance(chrono::Duration::seconds(1));
        let due = worker.poll_once().await.unwrap();
        assert_eq!((due.received, due.succeeded), (1, 1));
        assert_eq!(queue.depth(QueueName::Webhook).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn dispositions_become_queue_calls() {
        let queue = Arc::new(RecordingQueue::default());
        let far = MAX_VISIBILITY.as_secs() + 1;
        let deliveries = [
            ("done", body("done", 0)),
            ("after", body("after", 30)),
            ("far", body("after", far)),
            ("dead", body("dead", 0)),
            ("fail", body("fail", 0)),
            ("malformed", "{not json".to_string()),
        ];
        *queue.pending.lock().unwrap() = deliveries
            .iter()
            .map(|(id, body)| Delivery {
                id: id.to_string(),
                receipt: id.to_string(),
                body: body.clone(),
                receive_count: 2,
            })
            .collect();
        let worker = Worker::new(
            queue.clone(),
            QueueName::Rules,
            Arc::new(ScriptedStage::default()),
        )
        .with_clock(Arc::new(ManualClock::new(t0())));
        let stats = worker.poll_once().await.unwrap();
        assert_eq!(
            stats,
            PollStats {
                received: 6,
                succeeded: 2,
                waiting: 1,
                failed: 3,
            }
        );
        let mut calls = queue.calls();
        calls.sort_by_key(|c| format!("{c:?}"));
        let backoff = retry_delay(2);
        assert_eq!(
            calls,
            [
                Call::Ack(QueueName::Rules, "done".into()),
                Call::Ack(QueueName::Rules, "far".into()),
                Call::RetryAfter(QueueName::Rules, "after".into(), Duration::from_secs(30)),
                Call::RetryAfter(QueueName::Rules, "dead".into(), backoff),
                Call::RetryAfter(QueueName::Rules, "fail".into(), backoff),
                Call::RetryAfter(QueueName::Rules, "malformed".into(), backoff),
                Call::Send(
                    QueueName::Rules,
                    vec![OutMessage {
                        body: body("after", far),
                        delay: MAX_SEND_DELAY,
                    }]
                ),
            ]
        );
    }

    #[tokio::test]
    async fn a_malformed_body_ends_in_the_dead_letters_and_never_reaches_the_stage() {
        let clock = Arc::new(ManualClock::new(t0()));
        let queue = embedded(&clock);
        let stage = Arc::new(ScriptedStage::default());
        let worker =
            Worker::new(queue.clone(), QueueName::Ingest, stage.clone()).with_clock(clock.clone());
        queue
            .send(QueueName::Ingest, vec![OutMessage::new("{not json")])
            .await
            .unwrap();
        let mut received = 0;
        for _ in 0..10 {
            received += worker.poll_once().await.unwrap().received;
            clock.advance(chrono::Duration::minutes(2));
        }
        assert_eq!(received, 5, "received up to the receive limit, then dead");
        let dead = queue.dead_letters(QueueName::Ingest, 10).await.unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].body, "{not json");
        assert!(stage.seen.lock().unwrap().is_empty());
    }
}

#[cfg(test)]
mod failure_tests {
    use super::*;
    use crate::adapters::embedded::{EmbeddedDb, EmbeddedQueue, EmbeddedStore};
    use crate::domain::TenantId;
    use crate::governance::failures;
    use crate::ports::{ItemStore, ManualClock};
    use crate::runtime::stage::FailureLog;
    use crate::runtime::testing::{ScriptedStage, body, t0};

    #[tokio::test]
    async fn failed_messages_are_counted_once_by_class_however_often_delivered() {
        let clock = Arc::new(ManualClock::new(t0()));
        let db = EmbeddedDb::in_memory(clock.clone()).unwrap();
        let store: Arc<dyn ItemStore> = Arc::new(EmbeddedStore::new(db.clone()));
        let queue = Arc::new(EmbeddedQueue::new(db, 5));
        let worker = Worker::new(
            queue.clone(),
            QueueName::Rules,
            Arc::new(ScriptedStage::default()),
        )
        .with_clock(clock.clone())
        .with_failures(FailureLog::new(store.clone(), clock.clone()));
        let messages = ["dead", "fail", "done", "fail"].map(|a| OutMessage::new(body(a, 0)));
        queue
            .send(QueueName::Rules, messages.to_vec())
            .await
            .unwrap();
        // Up to the receive limit (5) each failing message comes back; then it is dead.
        let mut received = 0;
        for _ in 0..10 {
            received += worker.poll_once().await.unwrap().received;
            clock.advance(chrono::Duration::minutes(2));
        }
        assert_eq!(received, 1 + 3 * 5);
        let counts = failures::counts(store.as_ref(), &TenantId::parse("acme").unwrap())
            .await
            .unwrap();
        assert_eq!(counts["WORKFLOW_ERROR"], 1, "the dead letter, once");
        assert_eq!(counts["INFRA_ERROR"], 2, "two failing messages, each once");
        assert_eq!(counts.values().sum::<i64>(), 3);
    }
}
