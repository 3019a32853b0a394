//! Lambda glue: each SQS record is processed on its own; a record that failed, or that
//! waits for its retry (its visibility already moved), is reported as a batch item
//! failure so Lambda leaves it on the queue.
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use futures::StreamExt;
use vigil_shared::ports::Delivery;

use crate::WebhookFunction;

/// Records handled at once: each may wait up to the 10 s delivery timeout.
const CONCURRENCY: usize = 10;

pub async fn handle_sqs_event(f: &WebhookFunction, event: SqsEvent) -> SqsBatchResponse {
    let results: Vec<Option<String>> = futures::stream::iter(event.records)
        .map(|record| async move {
            let id = record.message_id.clone().unwrap_or_default();
            let receive_count = record
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|c| c.parse().ok())
                .unwrap_or(1);
            let (Some(body), Some(receipt)) = (record.body, record.receipt_handle) else {
                tracing::error!(message_id = %id, "SQS record without body or receipt handle");
                return Some(id);
            };
            let d = Delivery {
                id: id.clone(),
                receipt,
                body,
                receive_count,
            };
            match f.process(&d).await {
                Ok(true) => None,
                Ok(false) => Some(id),
                Err(e) => {
                    tracing::error!(message_id = %id, receive_count, error = %e, "webhook message failed; SQS will retry it");
                    Some(id)
                }
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = results
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
