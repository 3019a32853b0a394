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
    // Signed messages cannot be checked without it: fail at cold start.
    config.require_secret_key()?;
    let ports = wiring::aws_ports(&config).await?.stage_ports();
    let stage = vigil_sources::stage(&ports, &config)?;
    lambda::serve_sqs(SqsBatch::over(Arc::new(stage), &ports, QueueName::Sources)).await
}
