//! Signing cost per message (criterion) and deliveries per second to a local receiver
//! through the whole local path: fan-out, embedded queue, signing, POST, attempt records.
//! Run: `cargo bench -p vigil-local --bench delivery`.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use criterion::{Criterion, black_box};
use serde_json::json;
use vigil_local::webhook_pump::FanoutPump;
use vigil_shared::adapters::embedded::{EmbeddedBus, EmbeddedDb, EmbeddedQueue, EmbeddedStore};
use vigil_shared::domain::TenantId;
use vigil_shared::ports::{Clock, DomainEvent, EventBus, QueueName, SystemClock};
use vigil_shared::repo::webhooks as repo;
use vigil_shared::runtime::Worker;
use vigil_shared::webhooks::delivery::signed_headers;
use vigil_shared::webhooks::endpoint::{Endpoint, EndpointSpec};
use vigil_shared::webhooks::fanout::BusEvent;
use vigil_shared::webhooks::signing::SigningSecret;
use vigil_shared::webhooks::{SecretKey, UrlPolicy, WebhookSettings};
use vigil_webhook::{LOCAL_CONCURRENCY, WebhookStage};

fn sample_body() -> String {
    BusEvent {
        id: "fd_3f9a1c2b7d8e4f60a1b2c3d4:created".into(),
        tenant: TenantId::parse("demo").unwrap(),
        detail_type: "finding.created".into(),
        time: chrono::Utc::now(),
        detail: json!({
            "finding_id": "fd_3f9a1c2b7d8e4f60a1b2c3d4", "rule_id": "auth.brute_force",
            "rule_name": "Brute force", "severity": "critical", "status": "open",
            "title": "Repeated failed logins for alice from a suspicious location (Russia)",
            "user": "alice", "risk_score": 95.0, "event_count": 8,
        }),
        request_id: None,
    }
    .body()
}

fn bench_signing(c: &mut Criterion) {
    let body = sample_body();
    let one = vec![SigningSecret::generate().unwrap()];
    let two = vec![one[0].clone(), SigningSecret::generate().unwrap()];
    let now = chrono::Utc::now();
    let mut g = c.benchmark_group("signing");
    g.bench_function(format!("headers, 1 secret, {} B body", body.len()), |b| {
        b.iter(|| signed_headers(black_box(&one), "msg_x", now, black_box(&body)))
    });
    g.bench_function("headers, 2 secrets (rotation)", |b| {
        b.iter(|| signed_headers(black_box(&two), "msg_x", now, black_box(&body)))
    });
    let key = SecretKey::generate().unwrap();
    let tenant = TenantId::parse("demo").unwrap();
    let spec = EndpointSpec::from_json(&json!({"url": "https://example.com"})).unwrap();
    let (ep, _) = Endpoint::create(&tenant, spec, &key, now).unwrap();
    g.bench_function("open sealed secret + sign (per attempt)", |b| {
        b.iter(|| {
            let s = ep.signing_secrets(&key, now).unwrap();
            signed_headers(&s, "msg_x", now, black_box(&body))
        })
    });
    g.finish();
}

async fn deliveries_per_second(n: usize) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let c = counter.clone();
            async move {
                c.fetch_add(1, Ordering::Relaxed);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let dir = tempfile::tempdir().unwrap();
    let db = EmbeddedDb::open(&dir.path().join("bench.db"), clock.clone()).unwrap();
    let store = Arc::new(EmbeddedStore::new(db.clone()));
    let queue = Arc::new(EmbeddedQueue::new(db.clone(), 5));
    let bus = Arc::new(EmbeddedBus::new(db));
    let key = SecretKey::generate().unwrap();
    let settings = WebhookSettings {
        secret_key: Some(key.clone()),
        policy: UrlPolicy {
            allow_loopback_http: true,
        },
        ..WebhookSettings::default()
    };
    let tenant = TenantId::parse("demo").unwrap();
    let spec = EndpointSpec::from_json(&json!({"url": url})).unwrap();
    let (ep, _) = Endpoint::create(&tenant, spec, &key, clock.now()).unwrap();
    repo::create_endpoint(store.as_ref(), &ep).await.unwrap();
    let events: Vec<DomainEvent> = (0..n)
        .map(|i| DomainEvent {
            id: format!("ev{i}"),
            tenant: "demo".into(),
            detail_type: "finding.created".into(),
            time: clock.now(),
            detail: json!({"finding_id": format!("fd_{i}"), "severity": "high"}),
            request_id: None,
        })
        .collect();
    bus.publish(&events).await.unwrap();
    let stage = Arc::new(WebhookStage::new(store, queue.clone(), clock.clone(), settings).unwrap());
    let pump = FanoutPump::new(stage.clone(), bus);
    let worker = Worker::new(queue, QueueName::Webhook, stage)
        .with_clock(clock)
        .with_concurrency(LOCAL_CONCURRENCY);
    let started = Instant::now();
    loop {
        let pumped = pump.pump_once().await.unwrap();
        if pumped == 0 && worker.poll_once().await.unwrap().received == 0 {
            break;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(hits.load(Ordering::Relaxed), n);
    println!(
        "local delivery: {n} events fanned out and delivered (signed, recorded) in {secs:.2} s = {:.0} deliveries/s",
        n as f64 / secs
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_signing(&mut c);
    c.final_summary();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(deliveries_per_second(2_000));
}
