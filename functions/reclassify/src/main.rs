use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use vigil_shared::config::LogFormat;
use vigil_shared::telemetry;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init(LogFormat::Json);
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<CloudWatchEvent<Value>>| async move {
            Ok::<_, Error>(vigil_reclassify::on_schedule(&event.payload))
        },
    ))
    .await
}
