use std::sync::Arc;

use vigil_shared::config::Config;
use vigil_shared::ports::QueueName;
use vigil_shared::runtime::{SqsBatch, lambda};
use vigil_shared::{telemetry, wiring};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_lambda();
    let config = Config::from_env()?;
    let ports = wiring::aws_ports(&config).await?.stage_ports();
    let stage = vigil_decide::stage(&ports)?;
    lambda::serve_sqs(SqsBatch::over(Arc::new(stage), &ports, QueueName::Decide)).await
}
