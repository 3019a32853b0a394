use std::sync::Arc;

use vigil_rules::RulesHandler;
use vigil_shared::config::{Config, LogFormat};
use vigil_shared::ports::SystemClock;
use vigil_shared::{runtime, telemetry, wiring};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init(LogFormat::Json);
    let config = Config::from_env()?;
    let aws = wiring::aws_ports(&config).await?;
    runtime::lambda::serve_sqs(Arc::new(RulesHandler {
        store: aws.store,
        queue: aws.queue,
        clock: Arc::new(SystemClock),
        config: config.rules.clone(),
        dedup_minutes: config.dedup_minutes,
    }))
    .await
}
