//! The `vigil-ingest` bootstrap under the Lambda Runtime API emulator, over moto: the
//! sample SQS batch in `events/` is stored and forwarded to the rules queue, and a
//! payload that is no SQS event is answered with an invocation error, not a crash.
//! Needs `VIGIL_MOTO_URL`; skipped without it unless `VIGIL_REQUIRE_MOTO=1`.
use serde_json::json;
use vigil_shared::ports::QueueName;
use vigil_testkit::{Function, samples_for};

#[tokio::test]
async fn bootstrap_answers_its_samples_and_survives_a_bad_payload() {
    let binary = env!("CARGO_BIN_EXE_vigil-ingest");
    let Some((stack, mut f)) = Function::on_new_stack("ingest", binary, &[]).await else {
        return;
    };

    assert_eq!(samples_for("ingest"), ["ingest-sqs.json"]);
    f.assert_batch_succeeds("ingest-sqs.json").await;
    assert_eq!(
        stack.events_waiting_on(QueueName::Rules).await,
        3,
        "each stored event goes on to the rules queue"
    );

    f.assert_rejected_and_alive(json!({"Records": "not a list"}))
        .await;

    // Still serving; a redelivered batch is a no-op that succeeds.
    f.assert_batch_succeeds("ingest-sqs.json").await;
}
