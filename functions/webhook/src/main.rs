use std::sync::Arc;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use vigil_shared::config::{Config, LogFormat};
use vigil_shared::ports::SystemClock;
use vigil_shared::{telemetry, wiring};
use vigil_webhook::WebhookFunction;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init(LogFormat::Json);
    let mut config = Config::from_env()?;
    wiring::resolve_keys(&mut config).await?;
    // Fail at cold start, not on every message, when secrets cannot be opened.
    config.require_secret_key()?;
    let aws = wiring::aws_ports(&config).await?;
    let function = Arc::new(WebhookFunction::new(
        aws.store,
        aws.queue,
        Arc::new(SystemClock),
        config.webhooks.clone(),
    )?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let function = Arc::clone(&function);
        async move {
            Ok::<SqsBatchResponse, Error>(
                vigil_webhook::lambda::handle_sqs_event(&function, event.payload).await,
            )
        }
    }))
    .await
}
