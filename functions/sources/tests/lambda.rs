//! The Lambda adapter over the sources stage with embedded adapters and the sample SQS
//! event (`events/sources-sqs.json`): a signed native envelope and a CloudTrail rule
//! event reach the ingest queue under the sources' tenant; a bad signature, another
//! tenant's source, a record that cannot be read and an unknown shape each fail alone,
//! the first three recorded against their source with the reason.
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::SqsEvent;
use chrono::DateTime;
use serde_json::{Value, json};
use vigil_shared::adapters::embedded::{EmbeddedDb, EmbeddedQueue, EmbeddedStore};
use vigil_shared::domain::TenantId;
use vigil_shared::messages::EventMessage;
use vigil_shared::ports::{Clock, ItemStore, ManualClock, Queue, QueueName, WriteOp};
use vigil_shared::repo::sources as repo;
use vigil_shared::runtime::SqsBatch;
use vigil_shared::sources::intake::SourceIntake;
use vigil_shared::sources::{Source, SourceKind, SourceSpec};
use vigil_shared::webhooks::SecretKey;
use vigil_shared::webhooks::signing::SigningSecret;
use vigil_sources::{SourcesStage, signed_envelope};

/// The secret the sample's envelope is signed with.
pub const SAMPLE_SECRET: &str = "whsec_c291cmNlcy1zYW1wbGUtc2VjcmV0LTMyLWJ5dGVzISE=";
pub const NATIVE: &str = "src_demo_0190f0c5a1b27c3d8e9f00112233aa01";
pub const CLOUDTRAIL: &str = "src_demo_0190f0c5a1b27c3d8e9f00112233aa02";

fn spec(kind: SourceKind) -> SourceSpec {
    SourceSpec {
        kind,
        name: None,
        drop_unmapped: false,
        principals: vec![],
    }
}

async fn put(
    store: &dyn ItemStore,
    key: &SecretKey,
    id: &str,
    tenant: &str,
    kind: SourceKind,
    clock: &dyn Clock,
    secret: &str,
) {
    let secret = SigningSecret::parse(secret).unwrap();
    let tenant = TenantId::parse(tenant).unwrap();
    let s = Source::with_id_and_secret(id, &tenant, spec(kind), key, &secret, clock.now()).unwrap();
    let op: WriteOp = repo::create_op(&s).unwrap();
    store.write(vec![op]).await.unwrap();
}

fn record(id: &str, body: &str) -> Value {
    let mut r = vigil_testkit::sample("sources-sqs.json")["Records"][0].clone();
    r["messageId"] = json!(id);
    r["body"] = json!(body);
    r
}

#[tokio::test]
async fn the_sample_reaches_ingest_and_bad_messages_fail_alone_with_their_reason() {
    let now = DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
        .unwrap()
        .to_utc();
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(now));
    let db = EmbeddedDb::in_memory(clock.clone()).unwrap();
    let store = Arc::new(EmbeddedStore::new(db.clone()));
    let queue = Arc::new(EmbeddedQueue::new(db, 5));
    let key = SecretKey::generate().unwrap();
    put(
        store.as_ref(),
        &key,
        NATIVE,
        "demo",
        SourceKind::Native,
        clock.as_ref(),
        SAMPLE_SECRET,
    )
    .await;
    put(
        store.as_ref(),
        &key,
        CLOUDTRAIL,
        "demo",
        SourceKind::Cloudtrail,
        clock.as_ref(),
        SAMPLE_SECRET,
    )
    .await;
    let other = "src_globex_0190f0c5a1b27c3d8e9f00112233aa03";
    put(
        store.as_ref(),
        &key,
        other,
        "globex",
        SourceKind::Native,
        clock.as_ref(),
        "whsec_Z2xvYmV4LW93bi1zZWNyZXQtMzItYnl0ZXMtbG9uZyE=",
    )
    .await;
    let stage = SourcesStage {
        intake: SourceIntake {
            store: store.clone(),
            queue: queue.clone(),
            clock: clock.clone(),
            max_age: chrono::Duration::days(3650),
        },
        secret_key: Some(key),
        cloudtrail_source_id: Some(CLOUDTRAIL.into()),
        source_queue_prefix: "vigil-src-".into(),
    };
    let lambda = SqsBatch::new(Arc::new(stage), queue.clone(), QueueName::Sources, clock);

    let mut event = vigil_testkit::sample("sources-sqs.json");
    let native =
        r#"[{"event_type":"login_failed","timestamp":"2026-11-25T09:00:00Z","user":"eve"}]"#;
    let records = event["Records"].as_array_mut().unwrap();
    // Signed with another secret.
    records.push(record(
        "bad-signature",
        &signed_envelope(NATIVE, "whsec_bm90LXRoZS1zZWNyZXQtYXQtYWxs", native).to_string(),
    ));
    // Another tenant's source id with this producer's secret: its secret differs.
    let mut forged = signed_envelope(other, SAMPLE_SECRET, native);
    forged["signature"] = signed_envelope(NATIVE, SAMPLE_SECRET, native)["signature"].clone();
    records.push(record("other-tenant", &forged.to_string()));
    let unreadable = r#"[{"event_type":"x","timestamp":"2026-02-30T00:00:00Z","user":"u"}]"#;
    records.push(record(
        "unreadable",
        &signed_envelope(NATIVE, SAMPLE_SECRET, unreadable).to_string(),
    ));
    records.push(record("no-envelope", r#"{"event_type":"login_failed"}"#));
    let event: SqsEvent = serde_json::from_value(event).unwrap();

    let resp = lambda.handle(event).await;
    let mut failed: Vec<&str> = resp
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    failed.sort();
    assert_eq!(
        failed,
        ["bad-signature", "no-envelope", "other-tenant", "unreadable"]
    );

    let got = queue
        .receive(QueueName::Ingest, 10, Duration::from_secs(30))
        .await
        .unwrap();
    let msgs: Vec<EventMessage> = got
        .iter()
        .map(|m| serde_json::from_str(&m.body).unwrap())
        .collect();
    assert!(msgs.iter().all(|m| m.tenant.as_str() == "demo"));
    let mut types: Vec<&str> = msgs
        .iter()
        .flat_map(|m| m.events.iter().map(|e| e.event_type.as_str()))
        .collect();
    types.sort();
    assert_eq!(types, ["deployment_failed", "login_success"]);
    let login = msgs
        .iter()
        .flat_map(|m| &m.events)
        .find(|e| e.event_type.as_str() == "login_success")
        .unwrap();
    assert_eq!(login.user, "root@123456789012");
    assert_eq!(login.raw_data["source_id"], CLOUDTRAIL);

    let demo = TenantId::parse("demo").unwrap();
    let dead = repo::dead_letters(store.as_ref(), &demo, NATIVE, 10)
        .await
        .unwrap();
    let mut reasons: Vec<(&str, &str)> = dead
        .iter()
        .map(|d| (d.message_id.as_str(), d.reason.as_str()))
        .collect();
    reasons.sort();
    assert_eq!(
        reasons[0],
        (
            "bad-signature",
            "the signature does not match the source's secret"
        )
    );
    assert_eq!(reasons[1].0, "unreadable");
    assert!(reasons[1].1.starts_with("[0].timestamp"), "{reasons:?}");
    let globex = TenantId::parse("globex").unwrap();
    let dead = repo::dead_letters(store.as_ref(), &globex, other, 10)
        .await
        .unwrap();
    assert_eq!(
        dead.len(),
        1,
        "the forged message is refused under the named source"
    );
    assert_eq!(dead[0].message_id, "other-tenant");
}

pub const QUEUED: &str = "src_demo_0190f0c5a1b27c3d8e9f00112233aa03";
const QUEUED_ARN: &str =
    "arn:aws:sqs:us-east-1:123456789012:vigil-src-demo_0190f0c5a1b27c3d8e9f00112233aa03";

fn queued_record(id: &str, arn: &str, body: &str) -> Value {
    let mut r = vigil_testkit::sample("sources-sqs-source-queue.json")["Records"][0].clone();
    r["messageId"] = json!(id);
    r["eventSourceARN"] = json!(arn);
    r["body"] = json!(body);
    r
}

#[tokio::test]
async fn a_source_queues_records_land_for_the_queues_tenant_whatever_the_body_says() {
    let now = DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
        .unwrap()
        .to_utc();
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(now));
    let db = EmbeddedDb::in_memory(clock.clone()).unwrap();
    let store = Arc::new(EmbeddedStore::new(db.clone()));
    let queue = Arc::new(EmbeddedQueue::new(db, 5));
    let key = SecretKey::generate().unwrap();
    let demo = TenantId::parse("demo").unwrap();
    let secret = SigningSecret::parse(SAMPLE_SECRET).unwrap();
    let mut s =
        Source::with_id_and_secret(QUEUED, &demo, spec(SourceKind::Native), &key, &secret, now)
            .unwrap();
    s.queue = Some(vigil_shared::sources::source::SourceQueue {
        url: "https://sqs.us-east-1.amazonaws.com/123456789012/q".into(),
        arn: QUEUED_ARN.into(),
        dlq_url: "https://sqs.us-east-1.amazonaws.com/123456789012/q-dlq".into(),
        dlq_arn: format!("{QUEUED_ARN}-dlq"),
    });
    store
        .write(vec![repo::create_op(&s).unwrap()])
        .await
        .unwrap();
    let other = "src_globex_0190f0c5a1b27c3d8e9f00112233aa04";
    put(
        store.as_ref(),
        &key,
        other,
        "globex",
        SourceKind::Native,
        clock.as_ref(),
        SAMPLE_SECRET,
    )
    .await;
    let stage = SourcesStage {
        intake: SourceIntake {
            store: store.clone(),
            queue: queue.clone(),
            clock: clock.clone(),
            max_age: chrono::Duration::days(3650),
        },
        secret_key: Some(key),
        cloudtrail_source_id: None,
        source_queue_prefix: "vigil-src-".into(),
    };
    let lambda = SqsBatch::new(Arc::new(stage), queue.clone(), QueueName::Sources, clock);

    let mut event = vigil_testkit::sample("sources-sqs-source-queue.json");
    let records = event["Records"].as_array_mut().unwrap();
    let native =
        r#"[{"event_type":"login_failed","timestamp":"2026-11-25T09:00:00Z","user":"eve"}]"#;
    // A signed envelope naming another tenant's source, on this tenant's queue: the
    // queue decides, and an envelope is no event.
    records.push(queued_record(
        "names-globex",
        QUEUED_ARN,
        &signed_envelope(other, SAMPLE_SECRET, native).to_string(),
    ));
    records.push(queued_record("not-json", QUEUED_ARN, "login_failed eve"));
    // A queue of the same name in another account is not the source's.
    let foreign = QUEUED_ARN.replace("123456789012", "999999999999");
    records.push(queued_record("foreign", &foreign, native));
    let event: SqsEvent = serde_json::from_value(event).unwrap();

    let resp = lambda.handle(event).await;
    let mut failed: Vec<&str> = resp
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    failed.sort();
    assert_eq!(failed, ["foreign", "names-globex", "not-json"]);

    let got = queue
        .receive(QueueName::Ingest, 10, Duration::from_secs(30))
        .await
        .unwrap();
    let msgs: Vec<EventMessage> = got
        .iter()
        .map(|m| serde_json::from_str(&m.body).unwrap())
        .collect();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].tenant, demo);
    assert_eq!(msgs[0].events[0].user, "mallory");

    let dead = repo::dead_letters(store.as_ref(), &demo, QUEUED, 10)
        .await
        .unwrap();
    let mut ids: Vec<&str> = dead.iter().map(|d| d.message_id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["foreign", "names-globex", "not-json"]);
    let not_json = dead.iter().find(|d| d.message_id == "not-json").unwrap();
    assert!(
        not_json.reason.starts_with("malformed sources message"),
        "{not_json:?}"
    );
    let globex = TenantId::parse("globex").unwrap();
    assert!(
        repo::dead_letters(store.as_ref(), &globex, other, 10)
            .await
            .unwrap()
            .is_empty()
    );
}
