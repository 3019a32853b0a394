//! Lambda glue for SQS-triggered stages: each record is handled on its own and failures
//! are reported per record (`ReportBatchItemFailures`), so one bad message never replays
//! the whole batch.
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use futures::StreamExt;

use super::handler::MessageHandler;

/// Records handled at once within one invocation.
const CONCURRENCY: usize = 4;

pub async fn handle_sqs_event(handler: &dyn MessageHandler, event: SqsEvent) -> SqsBatchResponse {
    let results: Vec<Option<String>> = futures::stream::iter(event.records)
        .map(|record| async move {
            let id = record.message_id.clone().unwrap_or_default();
            let count = record
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|c| c.parse().ok())
                .unwrap_or(1);
            let Some(body) = record.body.as_deref() else {
                tracing::error!(message_id = %id, "SQS record without a body");
                return Some(id);
            };
            match handler.handle(body, count).await {
                Ok(()) => None,
                Err(e) => {
                    tracing::error!(message_id = %id, receive_count = count, error = %e, "message failed; SQS will retry it");
                    Some(id)
                }
            }
        })
        .buffered(CONCURRENCY)
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
