//! The reclassify Lambda: one function for the nightly schedule event and for the SQS
//! batches of the fan-out, told apart by the payload's shape.
use std::sync::Arc;

use chrono::Utc;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use vigil_shared::audit::ledger::checkpoint_all;
use vigil_shared::config::Config;
use vigil_shared::{telemetry, wiring};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let mut config = Config::from_env()?;
    wiring::resolve_keys(&mut config).await?;
    let aws = wiring::aws_ports(&config).await?;
    let audit = config
        .audit_signing_key
        .clone()
        .map(|signer| (Arc::new(signer), aws.store.clone()));
    let r = Arc::new(vigil_reclassify::reclassifier(&aws.stage_ports(), &config)?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let r = Arc::clone(&r);
        let audit = audit.clone();
        async move {
            let scheduled = event.payload.get("Records").is_none();
            let out = r.dispatch(event.payload).await?;
            // The nightly schedule also signs a checkpoint of every tenant's audit ledger.
            if let (true, Some((signer, store))) = (scheduled, audit) {
                match checkpoint_all(store.as_ref(), &signer, Utc::now()).await {
                    Ok(done) => tracing::info!(ledgers = done.len(), "audit checkpoints signed"),
                    Err(e) => tracing::error!(error = %e, "audit checkpoints failed"),
                }
            }
            vigil_shared::telemetry::flush_metrics();
            Ok::<Value, Error>(out)
        }
    }))
    .await
}
