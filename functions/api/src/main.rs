use std::sync::Arc;

use vigil_api::{AppState, router};
use vigil_shared::config::Config;
use vigil_shared::ports::SystemClock;
use vigil_shared::{telemetry, wiring};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_lambda();
    let mut config = Config::from_env()?;
    wiring::resolve_keys(&mut config).await?;
    let aws = wiring::aws_ports(&config).await?;
    let enricher = wiring::enricher(&config).await?;
    let app = router(AppState {
        store: aws.store,
        queue: aws.queue,
        clock: Arc::new(SystemClock),
        enricher,
        webhooks: config.webhooks.clone(),
        audit_signer: config.audit_signing_key.clone().map(Arc::new),
        reclassify: config.reclassify.clone(),
        http: config.http.clone(),
        event_max_age: config.event_max_age,
        metrics: None,
    });
    lambda_http::run(app).await
}
