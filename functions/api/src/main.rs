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
    let mut state = AppState::new(
        aws.store,
        aws.queue,
        Arc::new(SystemClock),
        enricher,
        &config,
    );
    if let Some(queues) = aws.source_queues {
        state = state.with_source_queues(queues);
    }
    let app = router(state);
    lambda_http::run(app).await
}
