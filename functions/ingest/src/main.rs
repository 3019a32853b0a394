use std::sync::Arc;

use vigil_ingest::IngestHandler;
use vigil_shared::config::{Config, LogFormat};
use vigil_shared::{runtime, telemetry, wiring};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init(LogFormat::Json);
    let config = Config::from_env()?;
    let aws = wiring::aws_ports(&config).await?;
    runtime::lambda::serve_sqs(Arc::new(IngestHandler {
        store: aws.store,
        queue: aws.queue,
    }))
    .await
}
