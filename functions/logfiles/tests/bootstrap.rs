//! The `vigil-logfiles` bootstrap under the Lambda Runtime API emulator, over moto:
//! nothing is seeded, so the sample notification's CloudTrail source does not exist
//! and its message is a batch item failure (not a crash); a payload that is no SQS
//! event is an invocation error and the function keeps serving. (The sample's happy path runs in
//! `handler.rs` and `s3.rs`.) Needs `VIGIL_MOTO_URL`; skipped without it unless
//! `VIGIL_REQUIRE_MOTO=1`.
mod common;

use serde_json::json;
use vigil_testkit::Function;

#[tokio::test]
async fn bootstrap_fails_an_unreadable_file_and_survives_a_bad_payload() {
    let binary = env!("CARGO_BIN_EXE_vigil-logfiles");
    let Some((_stack, mut f)) = Function::on_new_stack(
        "logfiles",
        binary,
        &[("VIGIL_CLOUDTRAIL_SOURCE_ID", common::SOURCE)],
    )
    .await
    else {
        return;
    };
    let out = f.answer_sample("logfiles-sqs.json").await;
    assert_eq!(
        out["batchItemFailures"].as_array().map(Vec::len),
        Some(1),
        "nothing was seeded, so the sample's source does not exist: {out}"
    );
    f.assert_rejected_and_alive(json!({"Records": [{"body": 42}]}))
        .await;
}
