use std::sync::Arc;

use vigil_enrich::EnrichHandler;
use vigil_shared::config::{Config, ConfigError, LogFormat};
use vigil_shared::ports::SystemClock;
use vigil_shared::{runtime, telemetry, wiring};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init(LogFormat::Json);
    let config = Config::from_env()?;
    let aws = wiring::aws_ports(&config).await?;
    let bus = aws.bus.ok_or(ConfigError::Missing("VIGIL_EVENT_BUS"))?;
    let enricher = wiring::enricher(&config).await?;
    runtime::lambda::serve_sqs(Arc::new(EnrichHandler {
        store: aws.store,
        bus,
        enricher,
        clock: Arc::new(SystemClock),
    }))
    .await
}
