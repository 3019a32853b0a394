use std::sync::Arc;

use lambda_runtime::Error;
use vigil_shared::config::Config;
use vigil_shared::ports::QueueName;
use vigil_shared::runtime::{SqsBatch, lambda};
use vigil_shared::{telemetry, wiring};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let mut config = Config::from_env()?;
    wiring::resolve_keys(&mut config).await?;
    // Fail at cold start, not on every message, when secrets cannot be opened.
    config.require_secret_key()?;
    let ports = wiring::aws_ports(&config).await?.stage_ports();
    let stage = vigil_webhook::stage(&ports, &config)?;
    lambda::serve_sqs(
        SqsBatch::over(Arc::new(stage), &ports, QueueName::Webhook)
            .with_concurrency(vigil_webhook::LAMBDA_CONCURRENCY),
    )
    .await
}
