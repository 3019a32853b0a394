//! The `vigil-rules` bootstrap under the Lambda Runtime API emulator, over moto: the
//! sample SQS batch in `events/` raises findings (the admin grant) that are queued for
//! enrichment, and a payload that is no SQS event is answered with an invocation error.
//! Needs `VIGIL_MOTO_URL`; skipped without it unless `VIGIL_REQUIRE_MOTO=1`.
use serde_json::json;
use vigil_shared::ports::QueueName;
use vigil_testkit::{Function, samples_for};

#[tokio::test]
async fn bootstrap_answers_its_samples_and_survives_a_bad_payload() {
    let binary = env!("CARGO_BIN_EXE_vigil-rules");
    let Some((stack, mut f)) = Function::on_new_stack("rules", binary, &[]).await else {
        return;
    };

    assert_eq!(samples_for("rules"), ["rules-sqs.json"]);
    f.assert_batch_succeeds("rules-sqs.json").await;
    let queued = stack.waiting_on(QueueName::Enrich).await;
    assert!(
        !queued.is_empty(),
        "the admin grant raised a finding to enrich"
    );

    f.assert_rejected_and_alive(json!({"Records": [{"body": 42}]}))
        .await;
}
