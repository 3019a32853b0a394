//! The `vigil-webhook` bootstrap under the Lambda Runtime API emulator, over moto, with
//! the sealing key from `VIGIL_SECRET_KEY` (as for local runs): the sample fan-out batch
//! in `events/` (a `finding.created` envelope for a tenant without endpoints) succeeds,
//! and a payload that is no SQS event is answered with an invocation error. Without a
//! sealing key the function stops at init. Needs `VIGIL_MOTO_URL`; skipped without it
//! unless `VIGIL_REQUIRE_MOTO=1`.
use serde_json::json;
use vigil_testkit::{Function, InvocationError, MotoStack, moto_url, sample, samples_for};

/// 32 bytes, base64.
const SEALING_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

#[tokio::test]
async fn bootstrap_answers_its_samples_and_survives_a_bad_payload() {
    let Some(url) = moto_url("webhook bootstrap") else {
        return;
    };
    let stack = MotoStack::provision(&url, "webhook")
        .await
        .expect("provision moto");
    let mut env = stack.env();
    env.push(("VIGIL_SECRET_KEY".into(), SEALING_KEY.into()));
    let mut f = Function::start(env!("CARGO_BIN_EXE_vigil-webhook"), &env)
        .await
        .expect("bootstrap starts");

    assert_eq!(samples_for("webhook"), ["webhook-sqs.json"]);
    let out = f
        .invoke(sample("webhook-sqs.json"))
        .await
        .expect("answered");
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

#[tokio::test]
async fn without_a_sealing_key_the_function_stops_at_init() {
    let Some(url) = moto_url("webhook bootstrap without a key") else {
        return;
    };
    let stack = MotoStack::provision(&url, "webhook-nokey")
        .await
        .expect("provision moto");
    let started = Function::start(env!("CARGO_BIN_EXE_vigil-webhook"), &stack.env()).await;
    let Err(why) = started else {
        panic!("the webhook function polled for events without a sealing key")
    };
    assert!(why.contains("VIGIL_SECRET_KEY"), "{why}");
}
