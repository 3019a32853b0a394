//! The `vigil-webhook` bootstrap under the Lambda Runtime API emulator, over moto, with
//! the sealing key from `VIGIL_SECRET_KEY` (as for local runs): the sample fan-out batch
//! in `events/` (a `finding.created` envelope for a tenant without endpoints) succeeds,
//! and a payload that is no SQS event is answered with an invocation error. Without a
//! sealing key the function stops at init. Needs `VIGIL_MOTO_URL`; skipped without it
//! unless `VIGIL_REQUIRE_MOTO=1`.
use serde_json::json;
use vigil_testkit::{Function, MotoStack, samples_for};

/// 32 bytes, base64.
const SEALING_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

#[tokio::test]
async fn bootstrap_answers_its_samples_and_survives_a_bad_payload() {
    let binary = env!("CARGO_BIN_EXE_vigil-webhook");
    let sealing = [("VIGIL_SECRET_KEY", SEALING_KEY)];
    let Some((_stack, mut f)) = Function::on_new_stack("webhook", binary, &sealing).await else {
        return;
    };

    assert_eq!(samples_for("webhook"), ["webhook-sqs.json"]);
    f.assert_batch_succeeds("webhook-sqs.json").await;

    f.assert_rejected_and_alive(json!({"Records": "not a list"}))
        .await;
}

#[tokio::test]
async fn without_a_sealing_key_the_function_stops_at_init() {
    let Some(stack) = MotoStack::for_test("webhook bootstrap without a key", "webhook-nokey").await
    else {
        return;
    };
    let started = Function::start(env!("CARGO_BIN_EXE_vigil-webhook"), &stack.env()).await;
    let Err(why) = started else {
        panic!("the webhook function polled for events without a sealing key")
    };
    assert!(why.contains("VIGIL_SECRET_KEY"), "{why}");
}
