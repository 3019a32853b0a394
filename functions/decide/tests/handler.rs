//! The decide Lambda's sample batch (`events/decide-sqs.json`) through the SQS runner,
//! over the embedded store and, with `VIGIL_MOTO_URL`, over DynamoDB, SQS and
//! EventBridge on moto: the sample names the request an `Idempotency-Key` of
//! `sample-1` stores for tenant `demo`; the batch runs it to APPROVED and announces
//! `risk.decided`; a redelivery changes nothing; a message naming no request fails.
use std::sync::Arc;

use serde_json::{Value, json};
use vigil_decide::DecideStage;
use vigil_shared::adapters::embedded::{EmbeddedBus, EmbeddedDb, EmbeddedQueue, EmbeddedStore};
use vigil_shared::decide::{Ask, DecisionKind, Status};
use vigil_shared::domain::{AiSystemSpec, TenantId};
use vigil_shared::governance::registry::{Action, ModelSpec, PromptSpec, Spec};
use vigil_shared::ports::{Clock, EventBus, ItemStore, ManualClock, Queue, QueueName};
use vigil_shared::runtime::SqsBatch;
use vigil_shared::service::{Origin, ai_systems, decisions, governance};
use vigil_testkit::{MotoStack, sample, samples_for};

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-11-26T12:00:00Z")
        .unwrap()
        .to_utc()
}

/// Stores what the sample's request needs and submits it; answers its id.
async fn seed(store: &dyn ItemStore, queue: &dyn Queue) -> String {
    let tenant = TenantId::parse("demo").unwrap();
    let analyst = Origin::key(tenant.clone(), "analyst", None);
    let approver = Origin::key(tenant.clone(), "approver", None);
    let spec = AiSystemSpec::from_json(&json!({
        "name": "spam filter",
        "answers": {"interacts_with_humans": false, "generates_synthetic_content": false,
                    "emotion_recognition": false, "biometric_categorisation": false,
                    "generates_deepfakes": false, "public_interest_text": false,
                    "makes_automated_decisions": false}
    }))
    .unwrap();
    let system = ai_systems::create(store, &analyst, spec, now())
        .await
        .unwrap();
    let mut ids = Vec::new();
    for spec in [
        Spec::Model(
            ModelSpec::from_json(&json!({"provider": "openai", "name": "m", "version": "1",
                "endpoint": "https://api.openai.com/v1/chat/completions", "purpose": "screening"}))
            .unwrap(),
        ),
        Spec::Prompt(
            PromptSpec::from_json(&json!({"name": "p", "version": "1", "template": "{{finding}}", "purpose": "screening"}))
                .unwrap(),
        ),
    ] {
        let kind = spec.kind();
        let v = governance::register(store, &analyst, spec, true, now()).await.unwrap();
        governance::act(store, &approver, kind, &v.record.id, Action::Approve, None, now())
            .await
            .unwrap();
        ids.push(v.record.id);
    }
    let ask = Ask::parse(
        DecisionKind::Risk,
        &json!({"ai_system_id": system.system.id, "model_id": ids[0], "prompt_id": ids[1],
                "purpose": "filter", "decision": "quarantine", "data_categories": ["email"]}),
    )
    .unwrap();
    let s = decisions::submit(
        store,
        queue,
        &analyst,
        ask,
        Some("sample-1"),
        "h".into(),
        now(),
    )
    .await
    .unwrap();
    s.decision.id
}

async fn run_sample(store: Arc<dyn ItemStore>, queue: Arc<dyn Queue>, bus: Arc<dyn EventBus>) {
    let clock = Arc::new(ManualClock::new(now()));
    let id = seed(store.as_ref(), queue.as_ref()).await;
    let event = sample("decide-sqs.json");
    let body: Value = serde_json::from_str(event["Records"][0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        body["decision_id"],
        id.as_str(),
        "the sample names the seeded request"
    );

    let stage = DecideStage {
        store: store.clone(),
        bus,
        clock: clock.clone() as Arc<dyn Clock>,
    };
    let batch = SqsBatch::new(Arc::new(stage), queue, QueueName::Decide, clock);
    let tenant = TenantId::parse("demo").unwrap();
    for _ in 0..2 {
        let out = batch
            .handle(serde_json::from_value(event.clone()).unwrap())
            .await;
        assert!(out.batch_item_failures.is_empty());
        let d = decisions::get(store.as_ref(), &tenant, &id).await.unwrap();
        assert_eq!(d.record.status, Status::Approved);
        assert_eq!(d.record.steps.len(), 5);
    }
    let mut bogus = event.clone();
    bogus["Records"][0]["body"] = json!(r#"{"tenant":"demo","decision_id":"dec_nope"}"#);
    let out = batch.handle(serde_json::from_value(bogus).unwrap()).await;
    assert_eq!(out.batch_item_failures.len(), 1);
}

#[tokio::test]
async fn the_sample_runs_a_request_to_its_decision_on_the_embedded_store() {
    assert_eq!(samples_for("decide"), ["decide-sqs.json"]);
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(now()));
    let db = EmbeddedDb::open(&dir.path().join("v.db"), clock as Arc<dyn Clock>).unwrap();
    let bus = Arc::new(EmbeddedBus::new(db.clone()));
    run_sample(
        Arc::new(EmbeddedStore::new(db.clone())),
        Arc::new(EmbeddedQueue::new(db, 5)),
        bus.clone(),
    )
    .await;
    let events = bus.read_after(0, 100).await.unwrap();
    let decided: Vec<_> = events
        .iter()
        .filter(|(_, e)| e.detail_type == decisions::DECIDED)
        .collect();
    // Published by the first delivery and again (same id, stored once) by the second.
    assert_eq!(decided.len(), 1);
    assert_eq!(decided[0].1.detail["status"], "APPROVED");
    assert_eq!(decided[0].1.detail["score"], 0);
}

#[tokio::test]
async fn the_sample_runs_a_request_to_its_decision_on_moto() {
    let Some(stack) = MotoStack::for_test("decide on moto", "decide").await else {
        return;
    };
    run_sample(
        Arc::new(stack.store()),
        Arc::new(stack.queue()),
        Arc::new(stack.event_bus()),
    )
    .await;
}
