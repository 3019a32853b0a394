//! Runs a queue-fed stage under the Lambda runtime.
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};

use super::sqs::SqsBatch;

pub async fn serve_sqs(batch: SqsBatch) -> Result<(), Error> {
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let batch = batch.clone();
        async move {
            let answer = batch.handle(event.payload).await;
            crate::telemetry::flush_metrics();
            Ok::<SqsBatchResponse, Error>(answer)
        }
    }))
    .await
}
