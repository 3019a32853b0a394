//! The drift Lambda: the hourly schedule event (sweep the due models onto the drift
//! queue) and the SQS batches of that queue (run each check, raise its alert), told
//! apart by the payload's shape.
use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use vigil_shared::config::Config;
use vigil_shared::{telemetry, wiring};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let mut config = Config::from_env()?;
    wiring::resolve_keys(&mut config).await?;
    let aws = wiring::aws_ports(&config).await?;
    let stage = Arc::new(vigil_drift::stage(&aws.stage_ports(), &config)?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let stage = Arc::clone(&stage);
        async move {
            let out = stage.dispatch(event.payload).await?;
            telemetry::flush_metrics();
            Ok::<Value, Error>(out)
        }
    }))
    .await
}
