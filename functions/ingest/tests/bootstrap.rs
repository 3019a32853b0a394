//! The `vigil-ingest` bootstrap under the Lambda Runtime API emulator, over moto: the
//! sample SQS batch in `events/` is stored and forwarded to the rules queue, and a
//! payload that is no SQS event is answered with an invocation error, not a crash.
//! Needs `VIGIL_MOTO_URL`; skipped without it unless `VIGIL_REQUIRE_MOTO=1`.
use std::time::Duration;

use serde_json::json;
use vigil_shared::ports::{Queue, QueueName};
use vigil_testkit::{Function, InvocationError, MotoStack, moto_url, sample, samples_for};

#[tokio::test]
async fn bootstrap_answers_its_samples_and_survives_a_bad_payload() {
    let Some(url) = moto_url("ingest bootstrap") else {
        return;
    };
    let stack = MotoStack::provision(&url, "ingest")
        .await
        .expect("provision moto");
    let mut f = Function::start(env!("CARGO_BIN_EXE_vigil-ingest"), &stack.env())
        .await
        .expect("bootstrap starts");

    assert_eq!(samples_for("ingest"), ["ingest-sqs.json"]);
    let out = f.invoke(sample("ingest-sqs.json")).await.expect("answered");
    assert_eq!(
        out,
        json!({"batchItemFailures": []}),
        "{}",
        f.process.logs()
    );
    let forwarded = stack
        .queue()
        .receive(QueueName::Rules, 10, Duration::from_secs(30))
        .await
        .expect("receive from the rules queue");
    assert_eq!(
        forwarded.len(),
        3,
        "each stored event goes on to the rules queue"
    );

    let err = f
        .invoke(json!({"Records": "not a list"}))
        .await
        .expect_err("not an SQS event");
    assert!(matches!(err, InvocationError::Function { .. }), "{err}");
    assert!(f.alive(), "a bad payload must not kill the function");

    // Still serving; a redelivered batch is a no-op that succeeds.
    let out = f.invoke(sample("ingest-sqs.json")).await.expect("answered");
    assert_eq!(out, json!({"batchItemFailures": []}));
}
