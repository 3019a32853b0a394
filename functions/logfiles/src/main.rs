use std::sync::Arc;

use lambda_runtime::Error;
use vigil_shared::config::Config;
use vigil_shared::ports::QueueName;
use vigil_shared::runtime::{SqsBatch, lambda};
use vigil_shared::{telemetry, wiring};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let config = Config::from_env()?;
    let ports = wiring::aws_ports(&config).await?.stage_ports();
    let objects = Arc::new(wiring::aws_objects(&config).await);
    let stage = vigil_logfiles::stage(&ports, &config, objects)?;
    lambda::serve_sqs(SqsBatch::over(Arc::new(stage), &ports, QueueName::LogFiles)).await
}
