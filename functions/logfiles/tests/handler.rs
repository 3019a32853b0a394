//! The log-files stage over the embedded system and an in-memory object store: the
//! sample notification (`events/logfiles-sqs.json`) has its gzip log file (the
//! CloudTrail golden corpus and 1,200 failed logins, so three batches) streamed,
//! normalized and ingested for the CloudTrail source's tenant, the rules fire on it,
//! and delivering the notification again, before or after ingest, stores nothing
//! twice. Files or records that cannot be read are recorded against the source, with
//! their index in the file, and dead-lettered; the readable records are ingested.
mod common;

use std::sync::Arc;

use async_trait::async_trait;
use common::*;
use serde_json::{Value, json};
use vigil_local::LocalSystem;
use vigil_shared::adapters::embedded::EmbeddedDb;
use vigil_shared::config::Config;
use vigil_shared::domain::TenantId;
use vigil_shared::ports::objects::MemoryObjectStore;
use vigil_shared::ports::{
    Clock, ItemStore, ManualClock, ObjectBody, ObjectError, ObjectRef, ObjectStore, QueueName,
    WriteOp,
};
use vigil_shared::repo::findings::{self, FindingFilter};
use vigil_shared::repo::sources as repo;
use vigil_shared::runtime::{SqsBatch, StagePorts};
use vigil_shared::sources::SourceKind;

struct Harness {
    _dir: tempfile::TempDir,
    system: LocalSystem,
    clock: Arc<ManualClock>,
    tenant: TenantId,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(now()));
    let db = EmbeddedDb::open(&dir.path().join("v.db"), clock.clone() as Arc<dyn Clock>).unwrap();
    let vars = [
        ("VIGIL_CLOUDTRAIL_SOURCE_ID", SOURCE),
        ("VIGIL_CLOUDTRAIL_BUCKET", BUCKET),
    ];
    let config = Config::from_lookup(&|k| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    })
    .unwrap();
    let system = LocalSystem::over(db, clock.clone(), config).unwrap();
    let tenant = TenantId::parse("demo").unwrap();
    let source = vigil_testkit::fixtures::source(SOURCE, &tenant, SourceKind::Cloudtrail, now());
    let op: WriteOp = repo::create_op(&source).unwrap();
    system.store.write(vec![op]).await.unwrap();
    Harness {
        _dir: dir,
        system,
        clock,
        tenant,
    }
}

impl Harness {
    fn batch(&self, objects: Arc<dyn ObjectStore>) -> SqsBatch {
        let ports = StagePorts {
            store: self.system.store.clone(),
            queue: self.system.queue.clone(),
            bus: None,
            clock: self.clock.clone(),
        };
        let stage = vigil_logfiles::stage(&ports, &self.system.config, objects).unwrap();
        SqsBatch::new(
            Arc::new(stage),
            self.system.queue.clone(),
            QueueName::LogFiles,
            self.clock.clone(),
        )
    }

    async fn stored_events(&self) -> i64 {
        repo::counts(self.system.store.as_ref(), &self.tenant, SOURCE)
            .await
            .unwrap()
            .values()
            .sum()
    }

    async fn dead_letters(&self) -> Vec<String> {
        repo::dead_letters(self.system.store.as_ref(), &self.tenant, SOURCE, 50)
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.reason)
            .collect()
    }
}

#[tokio::test]
async fn the_sample_file_is_streamed_once_however_often_it_is_notified() {
    assert_eq!(
        vigil_testkit::samples_for("logfiles"),
        ["logfiles-sqs.json"]
    );
    let h = harness().await;
    let mut records = corpus();
    let golden = records.len();
    records.extend(failed_logins(1200));
    let objects = Arc::new(MemoryObjectStore::default());
    objects.put(BUCKET, KEY, gz_file(&records));
    let batch = h.batch(objects);
    let sample = vigil_testkit::sample("logfiles-sqs.json");

    // Delivered twice before ingest runs, and once more after.
    for _ in 0..2 {
        let out = batch
            .handle(serde_json::from_value(sample.clone()).unwrap())
            .await;
        assert!(out.batch_item_failures.is_empty(), "{out:?}");
    }
    h.system.drain().await.unwrap();
    assert_eq!(h.stored_events().await, (golden + 1200) as i64);
    let out = batch
        .handle(serde_json::from_value(sample.clone()).unwrap())
        .await;
    assert!(out.batch_item_failures.is_empty());
    h.system.drain().await.unwrap();
    assert_eq!(h.stored_events().await, (golden + 1200) as i64);

    let counts = repo::counts(h.system.store.as_ref(), &h.tenant, SOURCE)
        .await
        .unwrap();
    assert!(counts["login_failed"] >= 1200, "{counts:?}");
    assert!(counts.contains_key("permission_changed"), "{counts:?}");
    // The rules judge normalized events as native ones: the failed logins are findings.
    let found = findings::list(
        h.system.store.as_ref(),
        &h.tenant,
        &FindingFilter::default(),
        100,
        None,
    )
    .await
    .unwrap();
    assert!(
        found.items.iter().any(|f| f.data["user"]
            .as_str()
            .is_some_and(|u| u.starts_with("user"))),
        "{:?}",
        found
            .items
            .iter()
            .map(|f| &f.data["rule_id"])
            .collect::<Vec<_>>()
    );
    assert!(h.dead_letters().await.is_empty());
}

#[tokio::test]
async fn what_cannot_be_read_is_recorded_and_dead_lettered_and_the_rest_ingested() {
    let h = harness().await;
    let objects = Arc::new(MemoryObjectStore::default());
    let mut good = failed_logins(3);
    // An impossible date: refused, never re-dated.
    good[1]["eventTime"] = json!("2026-02-30T10:00:00Z");
    let dir = "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/26";
    objects.put(BUCKET, &format!("{dir}/bad date.json.gz"), gz_file(&good));
    objects.put(
        BUCKET,
        &format!("{dir}/garbage.json.gz"),
        b"<html>nope</html>".to_vec(),
    );
    let plain = json!({"Records": [failed_logins(4)[3]]}).to_string();
    objects.put(BUCKET, &format!("{dir}/plain.json"), plain.into_bytes());
    let batch = h.batch(objects);

    let test_event = json!({"Service": "Amazon S3", "Event": "s3:TestEvent",
        "Time": "2026-11-26T11:55:00.000Z", "Bucket": BUCKET, "RequestId": "r", "HostId": "h"});
    let digest = notification(
        BUCKET,
        "AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2026/11/26/d.json.gz",
    );
    let cases: Vec<(&str, Value, Option<&str>)> = vec![
        ("m-test", test_event, None),
        ("m-digest", digest, None),
        (
            "m-plain",
            notification(BUCKET, &format!("{dir}/plain.json")),
            None,
        ),
        (
            "m-date",
            notification(BUCKET, &format!("{dir}/bad date.json.gz")),
            Some("1 of 3 records could not be read: [1].eventTime"),
        ),
        (
            "m-garbage",
            notification(BUCKET, &format!("{dir}/garbage.json.gz")),
            Some("garbage.json.gz: not a CloudTrail log file"),
        ),
        (
            "m-missing",
            notification(BUCKET, &format!("{dir}/gone.json.gz")),
            Some("gone.json.gz does not exist"),
        ),
        (
            "m-bucket",
            notification("someone-elses-bucket", &format!("{dir}/plain.json")),
            Some("not in the CloudTrail bucket"),
        ),
    ];
    for (id, body, dead) in &cases {
        let out = batch.handle(sqs_event(vec![record(id, body)])).await;
        let failed: Vec<&str> = out
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(failed.is_empty(), dead.is_none(), "{id}: {failed:?}");
    }
    let reasons = h.dead_letters().await;
    for (id, _, dead) in &cases {
        if let Some(says) = dead {
            assert!(
                reasons.iter().any(|r| r.contains(says)),
                "{id}: {says} not in {reasons:#?}"
            );
        }
    }
    assert_eq!(reasons.len(), 4, "{reasons:#?}");
    // A notification that is none of the shapes is dead-lettered with its reason.
    let out = batch
        .handle(sqs_event(vec![record("m-shape", &json!({"hello": 1}))]))
        .await;
    assert_eq!(out.batch_item_failures.len(), 1);

    // The plain file's record and the two readable records of the bad-date file.
    h.system.drain().await.unwrap();
    assert_eq!(h.stored_events().await, 3);
}

/// An object store that cannot be reached.
struct Down;

#[async_trait]
impl ObjectStore for Down {
    async fn open(&self, _: &ObjectRef) -> Result<ObjectBody, ObjectError> {
        Err(ObjectError::Unavailable("connection refused".into()))
    }
}

#[tokio::test]
async fn an_unreachable_store_is_retried_not_recorded() {
    let h = harness().await;
    let batch = h.batch(Arc::new(Down));
    let out = batch
        .handle(serde_json::from_value(vigil_testkit::sample("logfiles-sqs.json")).unwrap())
        .await;
    assert_eq!(out.batch_item_failures.len(), 1);
    assert!(h.dead_letters().await.is_empty());
}
