use std::sync::Arc;

use lambda_runtime::Error;
use vigil_shared::adapters::aws::S3Objects;
use vigil_shared::config::Config;
use vigil_shared::ports::QueueName;
use vigil_shared::runtime::{SqsBatch, lambda};
use vigil_shared::{telemetry, wiring};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let config = Config::from_env()?;
    let aws = wiring::aws_ports(&config).await?;
    let ports = aws.stage_ports();
    let objects = Arc::new(S3Objects::new(&aws.sdk));
    let stage = vigil_logfiles::stage(&ports, &config, objects)?;
    lambda::serve_sqs(SqsBatch::over(Arc::new(stage), &ports, QueueName::LogFiles)).await
}
