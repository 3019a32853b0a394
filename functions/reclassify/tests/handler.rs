//! The reclassify Lambda's payloads (the schedule event and an SQS batch, from
//! `events/`) through `dispatch`, over the embedded store and over moto.
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use vigil_reclassify::Reclassifier;
use vigil_shared::adapters::embedded::{EmbeddedBus, EmbeddedDb, EmbeddedQueue, EmbeddedStore};
use vigil_shared::classifier::{Answers, Q};
use vigil_shared::domain::TenantId;
use vigil_shared::ports::{Clock, EventBus, ItemStore, ManualClock, Queue, QueueName};
use vigil_shared::reclassify::ReclassifySettings;
use vigil_shared::repo::{ai_systems, drift_events, reclassify_runs};
use vigil_testkit::{fixtures, sample};

/// A system whose stored result came from an older classifier.
async fn stale_system(store: &dyn ItemStore, tenant: &TenantId, name: &str) -> String {
    let mut s = fixtures::ai_system(tenant, name, Answers::default().yes(Q::Creditworthiness));
    s.classification
        .as_mut()
        .expect("classified")
        .classifier_version = "older".into();
    ai_systems::create(store, &s).await.unwrap();
    s.id
}

/// Feeds queued messages to `dispatch` as SQS events, as the event source mapping does,
/// until the queue is empty. A reported batch item failure is delivered again at once,
/// as SQS would after its visibility timeout (a loaded machine can make a store write
/// lose its retries: the stage then asks for the whole batch again, which is correct).
/// Returns the failures of messages that failed on every one of 3 deliveries.
async fn pump(r: &Reclassifier, queue: &dyn Queue, template: &Value) -> Vec<Value> {
    let mut failures = Vec::new();
    let mut attempts: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    let mut idle = 0;
    while idle < 3 {
        let got = queue
            .receive(QueueName::Reclassify, 10, Duration::from_secs(30))
            .await
            .unwrap();
        if got.is_empty() {
            idle += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        idle = 0;
        let records: Vec<Value> = got
            .iter()
            .map(|d| {
                let mut rec = template["Records"][0].clone();
                rec["messageId"] = Value::String(d.id.clone());
                rec["body"] = Value::String(d.body.clone());
                rec
            })
            .collect();
        let resp = r
            .dispatch(serde_json::json!({ "Records": records }))
            .await
            .unwrap();
        let failed = resp["batchItemFailures"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for d in &got {
            match failed.iter().find(|f| f["itemIdentifier"] == d.id.as_str()) {
                None => queue.ack(QueueName::Reclassify, &d.receipt).await.unwrap(),
                Some(f) => {
                    let n = attempts.entry(d.id.clone()).or_insert(0);
                    *n += 1;
                    if *n >= 3 {
                        failures.push(f.clone());
                        queue.ack(QueueName::Reclassify, &d.receipt).await.unwrap();
                    } else {
                        queue
                            .retry_after(QueueName::Reclassify, &d.receipt, Duration::ZERO)
                            .await
                            .unwrap();
                    }
                }
            }
        }
    }
    failures
}

async fn scenario(
    store: Arc<dyn ItemStore>,
    queue: Arc<dyn Queue>,
    bus: Arc<dyn EventBus>,
    clock: Arc<dyn Clock>,
) {
    let tenant = TenantId::parse("demo").unwrap();
    let a = stale_system(store.as_ref(), &tenant, "scorer").await;
    let b = stale_system(store.as_ref(), &tenant, "scorer 2").await;
    let r = Reclassifier {
        store: store.clone(),
        queue: queue.clone(),
        bus,
        clock,
        settings: ReclassifySettings {
            batch_size: 1,
            page_size: 1,
            ..ReclassifySettings::default()
        },
    };
    // The schedule event starts one run per tenant.
    let summary = r
        .dispatch(sample("reclassify-schedule.json"))
        .await
        .unwrap();
    let run_id = summary["started"][0].as_str().unwrap().to_string();
    // A second trigger while it runs is refused with the running run's id.
    let again = r
        .dispatch(sample("reclassify-schedule.json"))
        .await
        .unwrap();
    assert_eq!(again["busy"][0][1], run_id.as_str());

    let template = sample("reclassify-sqs.json");
    let failures = pump(&r, queue.as_ref(), &template).await;
    assert!(failures.is_empty(), "{failures:?}");
    let view = reclassify_runs::get(store.as_ref(), &tenant, &run_id, Utc::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.systems_scanned, 2);
    assert_eq!(view.drift_events, 2);
    assert_eq!(view.batches_total, 2);
    assert!(view.scan_complete);
    assert_eq!(serde_json::to_value(view.run.status).unwrap(), "completed");
    for id in [&a, &b] {
        let (events, _) = drift_events::list(store.as_ref(), &tenant, id, 10, None)
            .await
            .unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].drift_type.as_str(), "classifier_version_change");
    }

    // The sample batch names systems and a run that do not exist: dropped, not failed.
    let resp = r.dispatch(template.clone()).await.unwrap();
    assert!(resp["batchItemFailures"].as_array().unwrap().is_empty());
    // A malformed body is reported for that record only.
    let mut bad = template.clone();
    bad["Records"][0]["body"] = Value::String("{\"kind\":\"nonsense\"}".into());
    let resp = r.dispatch(bad).await.unwrap();
    assert_eq!(
        resp["batchItemFailures"][0]["itemIdentifier"],
        template["Records"][0]["messageId"]
    );
}

#[tokio::test]
async fn embedded_schedule_and_sqs_payloads() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let db = EmbeddedDb::in_memory(clock.clone()).unwrap();
    scenario(
        Arc::new(EmbeddedStore::new(db.clone())),
        Arc::new(EmbeddedQueue::new(db.clone(), 5)),
        Arc::new(EmbeddedBus::new(db)),
        clock,
    )
    .await;
}

#[tokio::test]
async fn moto_schedule_and_sqs_payloads() {
    let Some(stack) =
        vigil_testkit::MotoStack::for_test("moto_schedule_and_sqs_payloads", "rc").await
    else {
        return;
    };
    scenario(
        Arc::new(stack.store()),
        Arc::new(stack.queue()),
        Arc::new(stack.event_bus()),
        Arc::new(vigil_shared::ports::SystemClock),
    )
    .await;
}
