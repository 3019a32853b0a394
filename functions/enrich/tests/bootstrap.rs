//! The `vigil-enrich` bootstrap under the Lambda Runtime API emulator, over moto: the
//! sample SQS batch in `events/` names a finding the store does not have, which is
//! dropped rather than retried; a payload that is no SQS event is answered with an
//! invocation error. Needs `VIGIL_MOTO_URL`; skipped without it unless
//! `VIGIL_REQUIRE_MOTO=1`.
use serde_json::json;
use vigil_testkit::{Function, InvocationError, MotoStack, moto_url, sample, samples_for};

#[tokio::test]
async fn bootstrap_answers_its_samples_and_survives_a_bad_payload() {
    let Some(url) = moto_url("enrich bootstrap") else {
        return;
    };
    let stack = MotoStack::provision(&url, "enrich")
        .await
        .expect("provision moto");
    let mut f = Function::start(env!("CARGO_BIN_EXE_vigil-enrich"), &stack.env())
        .await
        .expect("bootstrap starts");

    assert_eq!(samples_for("enrich"), ["enrich-sqs.json"]);
    let out = f.invoke(sample("enrich-sqs.json")).await.expect("answered");
    assert_eq!(
        out,
        json!({"batchItemFailures": []}),
        "{}",
        f.process.logs()
    );

    let err = f
        .invoke(json!({"Records": "not a list"}))
        .await
        .expect_err("not an SQS event");
    assert!(matches!(err, InvocationError::Function { .. }), "{err}");
    assert!(f.alive(), "a bad payload must not kill the function");
}
