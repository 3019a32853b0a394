use std::sync::Arc;

use vigil_shared::config::LogFormat;
use vigil_shared::{runtime, telemetry};
use vigil_webhook::WebhookHandler;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init(LogFormat::Json);
    runtime::lambda::serve_sqs(Arc::new(WebhookHandler)).await
}
