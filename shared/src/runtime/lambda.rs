//! Runs a queue-fed stage handler under the Lambda runtime.
use std::sync::Arc;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};

use super::handler::MessageHandler;
use super::sqs::handle_sqs_event;

pub async fn serve_sqs(handler: Arc<dyn MessageHandler>) -> Result<(), Error> {
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let handler = Arc::clone(&handler);
        async move {
            Ok::<SqsBatchResponse, Error>(handle_sqs_event(handler.as_ref(), event.payload).await)
        }
    }))
    .await
}
