//! The whole pipeline over the AWS adapters (DynamoDB, SQS, EventBridge) on the moto
//! server the test command starts: the same handlers, the same assertions as locally.
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use vigil_api::{AppState, router};
use vigil_enrich::EnrichStage;
use vigil_ingest::IngestStage;
use vigil_rules::RulesStage;
use vigil_shared::domain::{Role, TenantId};
use vigil_shared::enrich::Enricher;
use vigil_shared::ports::{Clock, ManualClock, QueueName};
use vigil_shared::rules::RulesConfig;
use vigil_shared::runtime::Worker;
use vigil_shared::service::{Origin, api_keys};

#[tokio::test]
async fn events_become_enriched_findings_on_dynamodb_and_sqs() {
    let _ = tracing_subscriber::fmt().with_env_filter("warn").try_init();
    let Some(stack) = vigil_testkit::MotoStack::for_test("aws pipeline", "e2e").await else {
        return;
    };
    let store = Arc::new(stack.store());
    let queue = Arc::new(stack.queue());
    let bus = Arc::new(stack.event_bus());
    let now = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(now));

    let tenant = TenantId::parse("acme").unwrap();
    let (_, key) = api_keys::create(
        store.as_ref(),
        &Origin::system(tenant.clone(), "apikeys"),
        Role::Analyst,
        None,
        clock.now(),
    )
    .await
    .unwrap();
    let config = vigil_shared::config::Config::from_lookup(&|k| {
        (k == "VIGIL_EVENT_MAX_AGE_DAYS").then(|| "3650".to_string())
    })
    .unwrap();
    // Rate limits in DynamoDB, as the API function keeps them.
    let state = AppState::new(
        store.clone(),
        queue.clone(),
        clock.clone(),
        Enricher::heuristic(),
        &config,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router(state)).await.unwrap() });

    // Five failures a minute apart, 50 minutes before the manual clock's now.
    let base_time = now - chrono::Duration::minutes(50);
    let events: Vec<Value> = (0..5)
        .map(|i| {
            json!({
                "id": format!("okta-{i}"),
                "event_type": "login_failed",
                "user": "alice",
                "timestamp": (base_time + chrono::Duration::minutes(i)).to_rfc3339(),
                "raw_data": {"location": "USA"}
            })
        })
        .collect();
    let http = reqwest::Client::new();
    let get_json = async |path: &str| -> Value {
        let r = http
            .get(format!("{base}{path}"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.unwrap()
    };
    for _ in 0..2 {
        // Sent twice: the client ids make it one set of events.
        let r = http
            .post(format!("{base}/events"))
            .bearer_auth(&key)
            .json(&events)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
    }

    let workers = [
        Worker::new(
            queue.clone(),
            QueueName::Ingest,
            Arc::new(IngestStage {
                store: store.clone(),
                queue: queue.clone(),
            }),
        ),
        Worker::new(
            queue.clone(),
            QueueName::Rules,
            Arc::new(RulesStage {
                store: store.clone(),
                queue: queue.clone(),
                clock: clock.clone(),
                config: RulesConfig::default(),
                gap: chrono::Duration::minutes(60),
            }),
        ),
        Worker::new(
            queue.clone(),
            QueueName::Enrich,
            Arc::new(EnrichStage {
                store: store.clone(),
                bus,
                enricher: Enricher::heuristic(),
                clock: clock.clone(),
            }),
        ),
    ];
    // moto applies concurrent transactions without isolation (real DynamoDB serializes
    // them), so its workers take one message at a time.
    let workers = workers.map(|mut w| {
        w.concurrency = 1;
        w
    });
    let mut idle_rounds = 0;
    while idle_rounds < 2 {
        let mut received = 0;
        for w in &workers {
            let s = w.poll_once().await.unwrap();
            assert_eq!(s.failed, 0, "{:?} failed", w.name);
            received += s.received;
        }
        idle_rounds = if received == 0 { idle_rounds + 1 } else { 0 };
    }

    let findings = get_json("/findings").await;
    let items = findings["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{findings:#}");
    assert_eq!(items[0]["severity"], "high");
    assert_eq!(items[0]["event_ids"].as_array().unwrap().len(), 5);
    assert_eq!(items[0]["enriched_by"], "heuristic");
    let summary = get_json("/stats/summary").await;
    assert_eq!(summary["total_events"], 5, "{summary:#}");
    assert_eq!(summary["total_findings"], 1, "{summary:#}");
    let page = get_json("/events?user=alice&limit=2").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert!(page["next_cursor"].is_string());
}
