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

use super::stage::{Action, DynStage, MessageMeta, StagePorts, message_span, plan};
use crate::ports::{Clock, OutMessage, Queue, QueueName};

/// Records handled at once within one invocation, unless the stage asks for more.
const CONCURRENCY: usize = 4;

#[derive(Clone)]
pub struct SqsBatch {
    stage: Arc<dyn DynStage>,
    queue: Arc<dyn Queue>,
    home: QueueName,
    clock: Arc<dyn Clock>,
    concurrency: usize,
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
        }
    }

    /// [`Self::new`] over the queue and clock the stage was built from.
    pub fn over(stage: Arc<dyn DynStage>, ports: &StagePorts, home: QueueName) -> Self {
        Self::new(stage, ports.queue.clone(), home, ports.clock.clone())
    }

    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
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
        let receive_count = record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|c| c.parse().ok())
            .unwrap_or(1);
        let Some(body) = record.body else {
            tracing::error!("SQS record without a body; it stays until the dead-letter queue");
            return true;
        };
        let meta = MessageMeta::new(id, receive_count);
        let disposition = match self.stage.handle_body(&body, meta).await {
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
                true
            }
        }
    }
}
