//! The `vigil-rules` bootstrap under the Lambda Runtime API emulator, over moto: the
//! sample SQS batch in `events/` raises findings (the admin grant) that are queued for
//! enrichment, and a payload that is no SQS event is answered with an invocation error.
//! Needs `VIGIL_MOTO_URL`; skipped without it unless `VIGIL_REQUIRE_MOTO=1`.
use std::time::Duration;

use serde_json::json;
use vigil_shared::ports::{Queue, QueueName};
use vigil_testkit::{Function, InvocationError, MotoStack, moto_url, sample, samples_for};

#[tokio::test]
async fn bootstrap_answers_its_samples_and_survives_a_bad_payload() {
    let Some(url) = moto_url("rules bootstrap") else {
        return;
    };
    let stack = MotoStack::provision(&url, "rules")
        .await
        .expect("provision moto");
    let mut f = Function::start(env!("CARGO_BIN_EXE_vigil-rules"), &stack.env())
        .await
        .expect("bootstrap starts");

    assert_eq!(samples_for("rules"), ["rules-sqs.json"]);
    let out = f.invoke(sample("rules-sqs.json")).await.expect("answered");
    assert_eq!(
        out,
        json!({"batchItemFailures": []}),
        "{}",
        f.process.logs()
    );
    let queued = stack
        .queue()
        .receive(QueueName::Enrich, 10, Duration::from_secs(30))
        .await
        .expect("receive from the enrich queue");
    assert!(
        !queued.is_empty(),
        "the admin grant raised a finding to enrich"
    );

    let err = f
        .invoke(json!({"Records": [{"body": 42}]}))
        .await
        .expect_err("not an SQS event");
    assert!(matches!(err, InvocationError::Function { .. }), "{err}");
    assert!(f.alive(), "a bad payload must not kill the function");
}
