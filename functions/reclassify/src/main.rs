//! The reclassify Lambda: one function for the nightly schedule event and for the SQS
//! batches of the fan-out, told apart by the payload's shape.
use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use vigil_reclassify::Reclassifier;
use vigil_shared::config::{Config, ConfigError, LogFormat};
use vigil_shared::ports::SystemClock;
use vigil_shared::{telemetry, wiring};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init(LogFormat::Json);
    let config = Config::from_env()?;
    let aws = wiring::aws_ports(&config).await?;
    let bus = aws.bus.ok_or(ConfigError::Missing("VIGIL_EVENT_BUS"))?;
    let r = Arc::new(Reclassifier {
        store: aws.store,
        queue: aws.queue,
        bus,
        clock: Arc::new(SystemClock),
        settings: config.reclassify.clone(),
    });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let r = Arc::clone(&r);
        async move { r.dispatch(event.payload).await }
    }))
    .await
}
