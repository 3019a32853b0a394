//! The `vigil-enrich` bootstrap under the Lambda Runtime API emulator, over moto: the
//! sample SQS batch in `events/` names a finding the store does not have, which is
//! dropped rather than retried; a payload that is no SQS event is answered with an
//! invocation error. Needs `VIGIL_MOTO_URL`; skipped without it unless
//! `VIGIL_REQUIRE_MOTO=1`.
use serde_json::json;
use vigil_testkit::{Function, samples_for};

#[tokio::test]
async fn bootstrap_answers_its_samples_and_survives_a_bad_payload() {
    let binary = env!("CARGO_BIN_EXE_vigil-enrich");
    let Some((_stack, mut f)) = Function::on_new_stack("enrich", binary, &[]).await else {
        return;
    };

    assert_eq!(samples_for("enrich"), ["enrich-sqs.json"]);
    f.assert_batch_succeeds("enrich-sqs.json").await;

    f.assert_rejected_and_alive(json!({"Records": "not a list"}))
        .await;
}
