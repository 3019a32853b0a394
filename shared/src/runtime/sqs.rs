//! The one Lambda adapter for SQS-triggered stages. Each record is handled on its own
//! and failures are reported per record (`ReportBatchItemFailures`), so one bad message
//! never replays the whole batch.
//!
//! Dispositions, record by record:
//! - `Done`: not reported; Lambda deletes it.
//! - `RetryAfter` / `RetryAt` within 12 hours (and below the refresh receive count):
//!   ChangeMessageVisibility on the record's receipt handle, then reported as a failure
//!   so Lambda leaves it on the queue until then.
//! - a longer wait, or a message close to its receive limit: a fresh copy is sent with
//!   the longest delay SQS allows (15 min; the stage re-checks and waits again) and the
//!   record is not reported, so Lambda deletes it.
//! - `DeadLetter`: reported as a failure, so it comes back after the queue's visibility
//!   timeout until maxReceiveCount moves it to the dead-letter queue (as before).
//! - an error: reported as a failure and left to the queue's visibility timeout, as
//!   before; the local worker backs off with [`super::stage::retry_delay`] instead.
//!
//! Visibility changes and re-sends go to the stage's home queue, so a stage fed by
//! another queue (the webhook fan-out queue) must only answer `Done` or `DeadLetter` for
//! those records.
use std::sync::Arc;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures::StreamExt;
use tracing::Instrument;

use super::stage::{Action, DynStage, FailureLog, MessageMeta, StagePorts, message_span, plan};
use crate::ports::{Clock, OutMessage, Queue, QueueName};

/// Records handled at once within one invocation, unless the stage asks for more.
const CONCURRENCY: usize = 4;

fn receive_count(record: &SqsMessage) -> u32 {
    record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|c| c.parse().ok())
        .unwrap_or(1)
}

#[derive(Clone)]
pub struct SqsBatch {
    stage: Arc<dyn DynStage>,
    queue: Arc<dyn Queue>,
    home: QueueName,
    clock: Arc<dyn Clock>,
    concurrency: usize,
    failures: FailureLog,
}

impl SqsBatch {
    /// `home`: the queue the stage's records come from, where waits are applied.
    pub fn new(
        stage: Arc<dyn DynStage>,
        queue: Arc<dyn Queue>,
        home: QueueName,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            stage,
            queue,
            home,
            clock,
            concurrency: CONCURRENCY,
            failures: FailureLog::default(),
        }
    }

    /// [`Self::new`] over the queue and clock the stage was built from, counting failed
    /// messages in its store.
    pub fn over(stage: Arc<dyn DynStage>, ports: &StagePorts, home: QueueName) -> Self {
        Self::new(stage, ports.queue.clone(), home, ports.clock.clone())
            .with_failures(FailureLog::new(ports.store.clone(), ports.clock.clone()))
    }

    /// Counts failed messages per tenant and class where `failures` says.
    pub fn with_failures(mut self, failures: FailureLog) -> Self {
        self.failures = failures;
        self
    }

    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let bodies: Vec<(&str, MessageMeta)> = event
            .records
            .iter()
            .filter_map(|r| {
                let body = r.body.as_deref()?;
                let id = r.message_id.clone().unwrap_or_default();
                let meta =
                    MessageMeta::new(id, receive_count(r)).on_queue(r.event_source_arn.clone());
                Some((body, meta))
            })
            .collect();
        if bodies.len() == event.records.len() && self.stage.handle_bodies(&bodies).await {
            return SqsBatchResponse::default();
        }
        let failed: Vec<Option<String>> = futures::stream::iter(event.records)
            .map(|record| async move {
                let id = record.message_id.clone().unwrap_or_default();
                let span = message_span(self.stage.name(), &id);
                let keep = self.record(&id, record).instrument(span).await;
                keep.then_some(id)
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = failed
            .into_iter()
            .flatten()
            .map(|id| {
                let mut f = BatchItemFailure::default();
                f.item_identifier = id;
                f
            })
            .collect();
        response
    }

    /// Handles one record; true when it must stay on the queue (a batch item failure).
    async fn record(&self, id: &str, record: SqsMessage) -> bool {
        let receive_count = receive_count(&record);
        let source_arn = record.event_source_arn.clone();
        let Some(body) = record.body else {
            tracing::error!("SQS record without a body; it stays until the dead-letter queue");
            return true;
        };
        let meta = MessageMeta::new(id, receive_count).on_queue(source_arn);
        let disposition = match self.stage.handle_logged(&body, meta, &self.failures).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(
                    receive_count,
                    error = &e as &dyn std::error::Error,
                    "message failed; SQS will retry it"
                );
                return true;
            }
        };
        match plan(disposition, receive_count, self.clock.now()) {
            Action::Ack => false,
            Action::Hide(wait) => {
                let Some(receipt) = record.receipt_handle.as_deref() else {
                    tracing::warn!(
                        "SQS record without a receipt handle; it returns after the queue's visibility timeout"
                    );
                    return true;
                };
                if let Err(e) = self.queue.retry_after(self.home, receipt, wait).await {
                    tracing::warn!(
                        error = &e as &dyn std::error::Error,
                        "cannot delay the message; it returns after the queue's visibility timeout"
                    );
                }
                true
            }
            Action::Resend(delay) => {
                let copy = OutMessage { body, delay };
                match self.queue.send(self.home, vec![copy]).await {
                    Ok(()) => false,
                    Err(e) => {
                        tracing::warn!(
                            error = &e as &dyn std::error::Error,
                            "cannot re-send the waiting message; SQS will retry it"
                        );
                        true
                    }
                }
            }
            Action::DeadLetter(reason) => {
                tracing::error!(receive_count, %reason, "message cannot be processed; it stays until the dead-letter queue");
                crate::telemetry::count_in(
                    crate::telemetry::metric::MESSAGES_DEAD_LETTERED,
                    self.home.as_str(),
                    1,
                );
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::ports::ManualClock;
    use crate::runtime::stage::{Disposition, MAX_SEND_DELAY, MAX_VISIBILITY, REFRESH_AT_RECEIVE};
    use crate::runtime::testing::{Call, RecordingQueue, ScriptedStage, body, t0};

    fn record(id: &str, body: Option<String>, receive_count: u32) -> serde_json::Value {
        json!({
            "messageId": id,
            "receiptHandle": format!("rh-{id}"),
            "body": body,
            "attributes": {"ApproximateReceiveCount": receive_count.to_string()},
            "eventSource": "aws:sqs",
        })
    }

    fn event(records: Vec<serde_json::Value>) -> SqsEvent {
        serde_json::from_value(json!({ "Records": records })).unwrap()
    }

    fn failed(resp: &SqsBatchResponse) -> Vec<String> {
        let mut ids: Vec<String> = resp
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        ids.sort();
        ids
    }

    fn adapter(queue: Arc<RecordingQueue>) -> (SqsBatch, Arc<ScriptedStage>) {
        let stage = Arc::new(ScriptedStage::default());
        let clock = Arc::new(ManualClock::new(t0()));
        let batch = SqsBatch::new(stage.clone(), queue, QueueName::Webhook, clock);
        (batch, stage)
    }

    #[tokio::test]
    async fn dispositions_become_batch_item_failures_visibility_changes_and_resends() {
        let queue = Arc::new(RecordingQueue::default());
        let (batch, stage) = adapter(queue.clone());
        let far = MAX_VISIBILITY.as_secs() + 3_600;
        let resp = batch
            .handle(event(vec![
                record("done", Some(body("done", 0)), 1),
                record("after", Some(body("after", 30)), 1),
                record("at", Some(body("at", 600)), 2),
                record("far", Some(body("after", far)), 1),
                record("refresh", Some(body("after", 5)), REFRESH_AT_RECEIVE),
                record("dead", Some(body("dead", 0)), 1),
                record("fail", Some(body("fail", 0)), 1),
                record("malformed", Some("{not json".into()), 1),
                record("empty", None, 1),
            ]))
            .await;
        // Waiting, dead-lettered, failed, malformed and body-less records stay on the
        // queue; done and re-sent ones are deleted by Lambda.
        assert_eq!(
            failed(&resp),
            ["after", "at", "dead", "empty", "fail", "malformed"]
        );
        let mut calls = queue.calls();
        calls.sort_by_key(|c| format!("{c:?}"));
        assert_eq!(
            calls,
            [
                Call::RetryAfter(
                    QueueName::Webhook,
                    "rh-after".into(),
                    Duration::from_secs(30)
                ),
                Call::RetryAfter(QueueName::Webhook, "rh-at".into(), Duration::from_secs(600)),
                // Past the 12-hour visibility cap: a fresh copy, delayed as long as SQS allows.
                Call::Send(
                    QueueName::Webhook,
                    vec![OutMessage {
                        body: body("after", far),
                        delay: MAX_SEND_DELAY,
                    }]
                ),
                // Near the receive limit: a fresh copy keeps the wait.
                Call::Send(
                    QueueName::Webhook,
                    vec![OutMessage {
                        body: body("after", 5),
                        delay: Duration::from_secs(5),
                    }]
                ),
            ]
        );
        // The malformed body never reached the stage.
        let seen = stage.seen.lock().unwrap();
        assert_eq!(seen.len(), 7);
        assert!(seen.iter().all(|m| m.message_id != "malformed"));
        let at = seen.iter().find(|m| m.message_id == "at").unwrap();
        assert_eq!(at.receive_count, 2);
    }

    #[tokio::test]
    async fn a_malformed_body_is_dead_lettered_with_a_reason() {
        let stage = ScriptedStage::default();
        let d = stage
            .handle_body("{not json", MessageMeta::new("m1", 1))
            .await
            .unwrap();
        let Disposition::DeadLetter { reason } = d else {
            panic!("{d:?}")
        };
        assert!(
            reason.starts_with("malformed scripted message:"),
            "{reason}"
        );
    }

    #[tokio::test]
    async fn the_request_id_travels_from_the_message_into_the_metadata() {
        let stage = ScriptedStage::default();
        let b = json!({"tenant": "acme", "answer": "done", "request_id": "req-7"}).to_string();
        stage
            .handle_body(&b, MessageMeta::new("m1", 1))
            .await
            .unwrap();
        let seen = stage.seen.lock().unwrap();
        assert_eq!(seen[0].request_id.as_deref(), Some("req-7"));
    }
}
