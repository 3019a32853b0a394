//! Stored risk and compliance requests on the embedded store: versioned replaces refuse
//! a stale writer (so a step is recorded once), listings filter by status and kind,
//! tenants never see each other's requests.
use std::sync::Arc;

use chrono::{DateTime, Utc};
use vigil_shared::adapters::embedded::{EmbeddedDb, EmbeddedStore};
use vigil_shared::decide::{
    Ask, Decision, DecisionKind, Guardrails, Move, Status, StepName, StepRecord,
};
use vigil_shared::domain::TenantId;
use vigil_shared::ports::clock::ManualClock;
use vigil_shared::ports::store::ItemStore;
use vigil_shared::repo::decisions;

fn at() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH
}

fn ask(kind: DecisionKind) -> Ask {
    let mut body = serde_json::json!({
        "ai_system_id": "sys_1", "model_id": "mdl_1", "prompt_id": "prm_1",
        "purpose": "p", "decision": "d", "data_categories": []
    });
    if kind == DecisionKind::Compliance {
        body["regulation"] = "EU AI Act Art. 26".into();
        body["compliance_type"] = "deployer".into();
    }
    Ask::parse(kind, &body).unwrap()
}

#[tokio::test]
async fn versioned_steps_listing_and_isolation() {
    let db = EmbeddedDb::in_memory(Arc::new(ManualClock::new(at()))).unwrap();
    let store = EmbeddedStore::new(db);
    let store: &dyn ItemStore = &store;
    let t = TenantId::parse("acme").unwrap();
    let other = TenantId::parse("other").unwrap();

    let d = Decision::new(
        Decision::new_id(),
        ask(DecisionKind::Risk),
        "req_1".into(),
        "key:a".into(),
        at(),
    );
    store
        .write(vec![decisions::create_op(&t, &d).unwrap()])
        .await
        .unwrap();
    let c = Decision::new(
        Decision::new_id(),
        ask(DecisionKind::Compliance),
        "req_2".into(),
        "key:a".into(),
        at(),
    );
    store
        .write(vec![decisions::create_op(&t, &c).unwrap()])
        .await
        .unwrap();

    let read = decisions::get(store, &t, &d.id).await.unwrap().unwrap();
    let mut next = read.record.clone();
    next.apply(Move::Validate, at()).unwrap();
    next.apply(Move::Start, at()).unwrap();
    next.record_step(StepRecord {
        step: StepName::Retrieval,
        inputs: serde_json::json!({"ai_system_id": "sys_1"}),
        outputs: serde_json::json!({"level": "high"}),
        at: at(),
    })
    .unwrap();
    assert!(
        decisions::replace(store, &t, &read, &next, vec![])
            .await
            .unwrap()
    );
    // A second worker holding the same read loses: the step is not recorded twice.
    assert!(
        !decisions::replace(store, &t, &read, &next, vec![])
            .await
            .unwrap()
    );
    let now = decisions::get(store, &t, &d.id).await.unwrap().unwrap();
    assert_eq!(now.version, 2);
    assert_eq!(now.record.next_step(), Some(StepName::Policy));

    let all = decisions::list(store, &t, None, None, 10, None)
        .await
        .unwrap();
    assert_eq!(all.items.len(), 2);
    let processing = decisions::list(store, &t, Some(Status::Processing), None, 10, None)
        .await
        .unwrap();
    assert_eq!(processing.items.len(), 1);
    let compliance = decisions::list(store, &t, None, Some(DecisionKind::Compliance), 10, None)
        .await
        .unwrap();
    assert_eq!(compliance.items.len(), 1);
    assert_eq!(compliance.items[0].data["id"], c.id.as_str());

    assert!(
        decisions::get(store, &other, &d.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        decisions::list(store, &other, None, None, 10, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );

    assert_eq!(
        decisions::guardrails(store, &t).await.unwrap(),
        Guardrails::default()
    );
    let g = Guardrails::new(40, 80).unwrap();
    store
        .write(vec![decisions::guardrails_op(&t, &g).unwrap()])
        .await
        .unwrap();
    assert_eq!(decisions::guardrails(store, &t).await.unwrap(), g);
    assert_eq!(
        decisions::guardrails(store, &other).await.unwrap(),
        Guardrails::default()
    );
}
