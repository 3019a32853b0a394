//! The drift Lambda's payloads (the hourly schedule event and an SQS batch, from
//! `events/`) through `dispatch`, over the embedded store: the sample batch names a
//! model that does not exist and is dropped without a failure; the schedule event sends
//! the one due model's check, which the batch then runs once.
use std::sync::Arc;
use std::time::Duration;

use chrono::DateTime;
use serde_json::{Value, json};
use vigil_drift::DriftStage;
use vigil_shared::adapters::embedded::{EmbeddedBus, EmbeddedDb, EmbeddedQueue, EmbeddedStore};
use vigil_shared::domain::TenantId;
use vigil_shared::drift::model::ModelSpec;
use vigil_shared::ports::{Clock, ItemStore, ManualClock, Queue, QueueName};
use vigil_shared::repo::drift as repo;
use vigil_shared::service::Origin;
use vigil_shared::service::drift as service;
use vigil_testkit::{sample, samples_for};

#[tokio::test]
async fn samples_run_through_dispatch() {
    assert_eq!(
        samples_for("drift"),
        ["drift-schedule.json", "drift-sqs.json"]
    );
    let dir = tempfile::tempdir().unwrap();
    // The schedule event's time, 13:00; the model was registered at 12:10.
    let clock = Arc::new(ManualClock::new(
        DateTime::parse_from_rfc3339("2026-11-26T12:10:00Z")
            .unwrap()
            .to_utc(),
    ));
    let db = EmbeddedDb::open(&dir.path().join("v.db"), clock.clone() as Arc<dyn Clock>).unwrap();
    let store: Arc<dyn ItemStore> = Arc::new(EmbeddedStore::new(db.clone()));
    let queue = Arc::new(EmbeddedQueue::new(db.clone(), 5));
    let stage = DriftStage {
        store: store.clone(),
        queue: queue.clone(),
        bus: Arc::new(EmbeddedBus::new(db)),
        clock: clock.clone(),
        gap: chrono::Duration::minutes(60),
        reservoir_cap: 1_000,
    };

    // No such model: dropped, no batch item failure.
    let out = stage.dispatch(sample("drift-sqs.json")).await.unwrap();
    assert_eq!(out["batchItemFailures"], json!([]), "{out}");

    let tenant = TenantId::parse("demo").unwrap();
    let spec = ModelSpec::from_json(&json!({
        "model_id": "fraud", "model_version": "1", "schedule_interval": "hourly",
        "features": [{"name": "age", "type": "numeric"}],
    }))
    .unwrap();
    let origin = Origin::key(tenant.clone(), "k1", None);
    service::create_model(store.as_ref(), &origin, spec, clock.now())
        .await
        .unwrap();
    service::put_baseline(
        store.as_ref(),
        &origin,
        "fraud",
        &json!({"baseline_data": {"age": (0..100).collect::<Vec<_>>()}}),
        clock.now(),
    )
    .await
    .unwrap();

    clock.advance(chrono::Duration::minutes(50));
    let out = stage.dispatch(sample("drift-schedule.json")).await.unwrap();
    assert_eq!(out["sent"].as_array().map(Vec::len), Some(1), "{out}");
    // The queued check, delivered as the event source mapping would (twice: a redelivery).
    let got = queue
        .receive(QueueName::Drift, 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    let mut record = sample("drift-sqs.json")["Records"][0].clone();
    record["body"] = Value::String(got[0].body.clone());
    for _ in 0..2 {
        let out = stage
            .dispatch(json!({"Records": [record.clone()]}))
            .await
            .unwrap();
        assert_eq!(out["batchItemFailures"], json!([]), "{out}");
    }
    let model = repo::get_model(store.as_ref(), &tenant, "fraud")
        .await
        .unwrap()
        .unwrap();
    let page = store
        .query(&repo::checks_query(&tenant, &model.model.uid, None, None))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    let check = repo::check_from(&page.items[0]).unwrap();
    assert_eq!(
        check.scheduled_for.map(|t| t.to_rfc3339()),
        Some("2026-11-26T13:00:00+00:00".into())
    );
    assert_eq!(check.status.as_str(), "COMPLETED");
}
