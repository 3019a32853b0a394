//! [`Queue`] over SQS standard queues, each with a dead-letter queue behind it (the
//! main queue's RedrivePolicy moves a message there after maxReceiveCount receives).
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName,
    SendMessageBatchRequestEntry,
};

use crate::ports::queue::{
    DeadLetter, Delivery, MAX_MESSAGE_BYTES, OutMessage, Queue, QueueError, QueueName,
};

/// Most entries SQS takes in one batch call or returns from one receive.
const BATCH: usize = 10;
/// Most payload bytes one SendMessageBatch carries.
const MAX_BATCH_BYTES: usize = 256 * 1024;
/// Longest DelaySeconds SQS accepts.
const MAX_DELAY_SECS: u64 = 900;
/// Longest VisibilityTimeout SQS accepts (12 hours).
const MAX_VISIBILITY_SECS: u64 = 43_200;
/// Attempts at entries a SendMessageBatch reported as failed, before giving up.
const SEND_ATTEMPTS: u32 = 4;
/// How long messages being redriven stay hidden in the dead-letter queue.
const REDRIVE_VISIBILITY_SECS: i32 = 60;
/// Bounds one redrive, in receive calls, so a flood into the DLQ cannot pin it.
const REDRIVE_MAX_ROUNDS: usize = 10_000;

/// SQS queues by name: `(queue URL, dead-letter queue URL)`.
#[derive(Clone)]
pub struct SqsQueue {
    client: Client,
    urls: HashMap<QueueName, (String, String)>,
}

impl SqsQueue {
    pub fn new(client: Client, urls: HashMap<QueueName, (String, String)>) -> Self {
        Self { client, urls }
    }

    fn urls(&self, queue: QueueName) -> Result<(&str, &str), QueueError> {
        self.urls
            .get(&queue)
            .map(|(main, dlq)| (main.as_str(), dlq.as_str()))
            .ok_or_else(|| QueueError::Unavailable(format!("no SQS queue configured for {queue}")))
    }

    /// Sends one batch (≤ 10 entries, ≤ 256 KiB), retrying entries SQS reports as
    /// failed for a reason on its side.
    async fn send_batch(
        &self,
        queue: QueueName,
        url: &str,
        batch: &[(String, i32)],
    ) -> Result<(), QueueError> {
        let mut pending: Vec<usize> = (0..batch.len()).collect();
        let mut attempt = 0;
        loop {
            let mut entries = Vec::with_capacity(pending.len());
            for &i in &pending {
                let (body, delay) = &batch[i];
                let entry = SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .delay_seconds(*delay)
                    .build()
                    .map_err(|e| {
                        QueueError::Unavailable(format!("cannot build a send to {queue}: {e}"))
                    })?;
                entries.push(entry);
            }
            let out = self
                .client
                .send_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| unavailable("SendMessageBatch", queue, &e))?;
            let failed = out.failed();
            if failed.is_empty() {
                return Ok(());
            }
            attempt += 1;
            let describe = |f: &aws_sdk_sqs::types::BatchResultErrorEntry| {
                format!(
                    "{} of {} messages not sent to {queue}: {} ({})",
                    failed.len(),
                    batch.len(),
                    f.code(),
                    f.message().unwrap_or("no message")
                )
            };
            if let Some(f) = failed.iter().find(|f| f.sender_fault()) {
                // Retrying a message SQS rejected as invalid cannot help.
                return Err(QueueError::Unavailable(describe(f)));
            }
            if attempt >= SEND_ATTEMPTS {
                return Err(QueueError::Unavailable(format!(
                    "{} after {attempt} attempts",
                    describe(&failed[0])
                )));
            }
            tracing::warn!(
                queue = %queue,
                failed = failed.len(),
                code = failed[0].code(),
                attempt,
                "SQS did not accept some messages; retrying them"
            );
            pending = failed
                .iter()
                .filter_map(|f| f.id().parse::<usize>().ok())
                .filter(|&i| i < batch.len())
                .collect();
            if pending.is_empty() {
                return Err(QueueError::Unavailable(format!(
                    "SendMessageBatch to {queue} reported failures with unknown entry ids"
                )));
            }
            tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
        }
    }

    /// Sends `(body, delay seconds)` pairs in batches of ≤ 10 entries and ≤ 256 KiB.
    async fn send_all(
        &self,
        queue: QueueName,
        url: &str,
        messages: Vec<(String, i32)>,
    ) -> Result<(), QueueError> {
        let mut batch: Vec<(String, i32)> = Vec::with_capacity(BATCH);
        let mut bytes = 0;
        for message in messages {
            let len = message.0.len();
            if !batch.is_empty() && (batch.len() == BATCH || bytes + len > MAX_BATCH_BYTES) {
                self.send_batch(queue, url, &batch).await?;
                batch.clear();
                bytes = 0;
            }
            bytes += len;
            batch.push(message);
        }
        if !batch.is_empty() {
            self.send_batch(queue, url, &batch).await?;
        }
        Ok(())
    }

    /// One ReceiveMessage call, returning at most 10 messages with their receive counts.
    async fn receive_once(
        &self,
        queue: QueueName,
        url: &str,
        max: usize,
        visibility_secs: i32,
    ) -> Result<Vec<Message>, QueueError> {
        let out = self
            .client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(i32::try_from(max.clamp(1, BATCH)).unwrap_or(1))
            .visibility_timeout(visibility_secs)
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| unavailable("ReceiveMessage", queue, &e))?;
        Ok(out.messages.unwrap_or_default())
    }
}

fn unavailable<E, R>(operation: &str, queue: QueueName, err: &SdkError<E, R>) -> QueueError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    QueueError::Unavailable(format!(
        "{operation} on queue {queue}: {}",
        DisplayErrorContext(err)
    ))
}

/// Whole seconds, rounded up so a message never becomes visible early.
fn ceil_secs(d: Duration, max: u64) -> i32 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i32::try_from(secs.min(max)).unwrap_or(i32::MAX)
}

fn receive_count(m: &Message) -> u32 {
    m.attributes()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

fn delivery(queue: QueueName, m: Message) -> Result<Delivery, QueueError> {
    let receive_count = receive_count(&m);
    let (Some(id), Some(receipt)) = (m.message_id, m.receipt_handle) else {
        return Err(QueueError::Unavailable(format!(
            "SQS returned a message on {queue} without id or receipt handle"
        )));
    };
    Ok(Delivery {
        id,
        receipt,
        body: m.body.unwrap_or_default(),
        receive_count,
    })
}

/// Whether an error code says the receipt handle is not (or no longer) valid.
fn is_receipt_error(code: Option<&str>) -> bool {
    code.is_some_and(|c| {
        c.contains("ReceiptHandleIsInvalid")
            || c.contains("InvalidIdFormat")
            || c.contains("MessageNotInflight")
    })
}

/// What a call on one receipt (`operation`) comes to: done, a receipt that no longer
/// names an in-flight message, or the queue unavailable.
fn receipt_outcome<T, E, R>(
    operation: &str,
    queue: QueueName,
    sent: Result<T, SdkError<E, R>>,
) -> Result<(), QueueError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match sent {
        Ok(_) => Ok(()),
        Err(e) if is_receipt_error(e.code()) => Err(QueueError::UnknownReceipt),
        Err(e) => Err(unavailable(operation, queue, &e)),
    }
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, queue: QueueName, messages: Vec<OutMessage>) -> Result<(), QueueError> {
        if let Some(m) = messages.iter().find(|m| m.body.len() > MAX_MESSAGE_BYTES) {
            return Err(QueueError::TooLarge(m.body.len()));
        }
        if messages.is_empty() {
            return Ok(());
        }
        let (url, _) = self.urls(queue)?;
        let messages = messages
            .into_iter()
            .map(|m| {
                if m.delay > Duration::from_secs(MAX_DELAY_SECS) {
                    tracing::warn!(
                        queue = %queue,
                        delay_secs = m.delay.as_secs(),
                        "SQS delays are at most 900 s; sending with 900 s"
                    );
                }
                (m.body, ceil_secs(m.delay, MAX_DELAY_SECS))
            })
            .collect();
        self.send_all(queue, url, messages).await
    }

    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<Delivery>, QueueError> {
        let (url, _) = self.urls(queue)?;
        let max = max.max(1);
        let visibility = ceil_secs(visibility, MAX_VISIBILITY_SECS);
        let mut out = Vec::new();
        while out.len() < max {
            let messages = self
                .receive_once(queue, url, max - out.len(), visibility)
                .await?;
            if messages.is_empty() {
                break;
            }
            for m in messages {
                out.push(delivery(queue, m)?);
            }
        }
        Ok(out)
    }

    async fn ack(&self, queue: QueueName, receipt: &str) -> Result<(), QueueError> {
        let (url, _) = self.urls(queue)?;
        let sent = self
            .client
            .delete_message()
            .queue_url(url)
            .receipt_handle(receipt)
            .send()
            .await;
        receipt_outcome("DeleteMessage", queue, sent)
    }

    /// DeleteMessageBatch, ten receipts per call. Every receipt is tried; a stale one
    /// answers `UnknownReceipt` once all are done.
    async fn ack_all(&self, queue: QueueName, receipts: &[&str]) -> Result<(), QueueError> {
        let (url, _) = self.urls(queue)?;
        let mut stale = false;
        for chunk in receipts.chunks(BATCH) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(*r)
                        .build()
                        .map_err(|e| {
                            QueueError::Unavailable(format!(
                                "cannot build a delete on {queue}: {e}"
                            ))
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client
                .delete_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| unavailable("DeleteMessageBatch", queue, &e))?;
            for f in out.failed() {
                if is_receipt_error(Some(f.code())) {
                    stale = true;
                } else {
                    return Err(QueueError::Unavailable(format!(
                        "DeleteMessageBatch on {queue}: {} ({})",
                        f.code(),
                        f.message().unwrap_or_default()
                    )));
                }
            }
        }
        if stale {
            Err(QueueError::UnknownReceipt)
        } else {
            Ok(())
        }
    }

    async fn retry_after(
        &self,
        queue: QueueName,
        receipt: &str,
        delay: Duration,
    ) -> Result<(), QueueError> {
        let (url, _) = self.urls(queue)?;
        let sent = self
            .client
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(receipt)
            .visibility_timeout(ceil_secs(delay, MAX_VISIBILITY_SECS))
            .send()
            .await;
        receipt_outcome("ChangeMessageVisibility", queue, sent)
    }

    async fn dead_letters(
        &self,
        queue: QueueName,
        max: usize,
    ) -> Result<Vec<DeadLetter>, QueueError> {
        let (_, dlq) = self.urls(queue)?;
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        // Peek: receive with visibility 0, so the messages stay available. The same
        // messages may come back on the next call; stop once a call adds nothing new.
        while out.len() < max {
            let messages = self.receive_once(queue, dlq, max - out.len(), 0).await?;
            let mut fresh = false;
            for m in messages {
                // The peek itself counts as a receive on the dead-letter queue.
                let receive_count = receive_count(&m).saturating_sub(1).max(1);
                let Some(id) = m.message_id else { continue };
                if out.len() < max && seen.insert(id.clone()) {
                    fresh = true;
                    out.push(DeadLetter {
                        id,
                        body: m.body.unwrap_or_default(),
                        receive_count,
                    });
                }
            }
            if !fresh {
                break;
            }
        }
        Ok(out)
    }

    async fn redrive(&self, queue: QueueName) -> Result<usize, QueueError> {
        let (url, dlq) = self.urls(queue)?;
        let mut moved = 0;
        for _ in 0..REDRIVE_MAX_ROUNDS {
            let messages = self
                .receive_once(queue, dlq, BATCH, REDRIVE_VISIBILITY_SECS)
                .await?;
            if messages.is_empty() {
                return Ok(moved);
            }
            let bodies = messages
                .iter()
                .map(|m| (m.body.clone().unwrap_or_default(), 0))
                .collect();
            self.send_all(queue, url, bodies).await?;
            let mut entries = Vec::with_capacity(messages.len());
            for (i, m) in messages.iter().enumerate() {
                let Some(receipt) = m.receipt_handle() else {
                    continue;
                };
                let entry = DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(receipt)
                    .build()
                    .map_err(|e| {
                        QueueError::Unavailable(format!(
                            "cannot build a dead-letter delete for {queue}: {e}"
                        ))
                    })?;
                entries.push(entry);
            }
            let out = self
                .client
                .delete_message_batch()
                .queue_url(dlq)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| unavailable("DeleteMessageBatch (dead letters)", queue, &e))?;
            if let Some(f) = out.failed().first() {
                // The bodies are already back on the main queue; a failed delete only
                // means they may be redriven twice (delivery is at least once anyway).
                return Err(QueueError::Unavailable(format!(
                    "redrive of {queue}: {} dead letters were requeued but not deleted: {} ({}); {moved} moved before",
                    out.failed().len(),
                    f.code(),
                    f.message().unwrap_or("no message")
                )));
            }
            moved += messages.len();
        }
        tracing::warn!(queue = %queue, moved, "redrive stopped after its round limit");
        Ok(moved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_up_and_clamp() {
        assert_eq!(ceil_secs(Duration::ZERO, 900), 0);
        assert_eq!(ceil_secs(Duration::from_millis(1), 900), 1);
        assert_eq!(ceil_secs(Duration::from_millis(1500), 900), 2);
        assert_eq!(ceil_secs(Duration::from_secs(3600), 900), 900);
    }

    #[test]
    fn receipt_errors() {
        assert!(is_receipt_error(Some("ReceiptHandleIsInvalid")));
        assert!(is_receipt_error(Some(
            "AWS.SimpleQueueService.MessageNotInflight"
        )));
        assert!(!is_receipt_error(Some("QueueDoesNotExist")));
        assert!(!is_receipt_error(None));
    }
}
