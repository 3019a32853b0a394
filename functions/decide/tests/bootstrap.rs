//! The `vigil-decide` bootstrap under the Lambda Runtime API emulator, over moto: a
//! payload that is no SQS event is answered with an invocation error and the function
//! keeps serving; a message naming no request is a batch item failure. (The sample's
//! happy path runs in `handler.rs`, which seeds the request it names.) Needs
//! `VIGIL_MOTO_URL`; skipped without it unless `VIGIL_REQUIRE_MOTO=1`.
use serde_json::json;
use vigil_testkit::Function;

#[tokio::test]
async fn bootstrap_fails_unknown_requests_and_survives_a_bad_payload() {
    let binary = env!("CARGO_BIN_EXE_vigil-decide");
    let Some((_stack, mut f)) = Function::on_new_stack("decide", binary, &[]).await else {
        return;
    };
    let out = f.answer_sample("decide-sqs.json").await;
    assert_eq!(
        out["batchItemFailures"].as_array().map(Vec::len),
        Some(1),
        "nothing was seeded, so the sample's request does not exist: {out}"
    );
    f.assert_rejected_and_alive(json!({"Records": [{"body": 42}]}))
        .await;
}
