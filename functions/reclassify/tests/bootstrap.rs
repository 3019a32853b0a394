//! The `vigil-reclassify` bootstrap under the Lambda Runtime API emulator, over moto:
//! the nightly schedule event starts a run for the one tenant with an AI system (and
//! signs audit checkpoints with `VIGIL_AUDIT_SIGNING_KEY`), the sample SQS batch (a run
//! that does not exist) is dropped without a batch item failure, and a malformed SQS
//! payload is answered with an invocation error. Needs `VIGIL_MOTO_URL`; skipped without
//! it unless `VIGIL_REQUIRE_MOTO=1`.
use serde_json::json;
use vigil_shared::classifier::{Answers, Q};
use vigil_shared::domain::TenantId;
use vigil_shared::repo::ai_systems;
use vigil_testkit::{Function, MotoStack, fixtures, samples_for};

/// 32 zero bytes, base64: an Ed25519 seed for the checkpoints.
const AUDIT_KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

#[tokio::test]
async fn bootstrap_answers_its_samples_and_survives_a_bad_payload() {
    let Some(stack) = MotoStack::for_test("reclassify bootstrap", "reclassify").await else {
        return;
    };
    // One stored AI system, so the sweep has a tenant to start a run for.
    let system = fixtures::ai_system(
        &TenantId::parse("demo").unwrap(),
        "scorer",
        Answers::default().yes(Q::Creditworthiness),
    );
    ai_systems::create(&stack.store(), &system)
        .await
        .expect("seed an AI system");

    let mut f = Function::start_on(
        env!("CARGO_BIN_EXE_vigil-reclassify"),
        &stack,
        &[("VIGIL_AUDIT_SIGNING_KEY", AUDIT_KEY)],
    )
    .await;

    assert_eq!(
        samples_for("reclassify"),
        ["reclassify-schedule.json", "reclassify-sqs.json"]
    );
    let out = f.answer_sample("reclassify-schedule.json").await;
    assert_eq!(
        out["started"].as_array().map(Vec::len),
        Some(1),
        "{out} {}",
        f.process.logs()
    );

    f.assert_batch_succeeds("reclassify-sqs.json").await;

    f.assert_rejected_and_alive(json!({"Records": "not a list"}))
        .await;
}
