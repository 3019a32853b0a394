//! The log-files path on moto: a bucket notifies the stack's log-files queue of each
//! object created (as the template configures it), a gzip CloudTrail log file is
//! written, and the notification moto sends, handed to the stage as Lambda would,
//! has the file streamed from S3 through `S3Objects` (GetObject) and its records put
//! on the ingest queue for the CloudTrail source's tenant, in batches; delivered again,
//! it yields the very same event ids (so ingest stores each once). Needs
//! `VIGIL_MOTO_URL`; skipped without it unless `VIGIL_REQUIRE_MOTO=1`.
mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};
use aws_sdk_sqs::types::QueueAttributeName;
use common::*;
use serde_json::json;
use vigil_shared::adapters::aws::S3Objects;
use vigil_shared::domain::TenantId;
use vigil_shared::messages::EventMessage;
use vigil_shared::ports::{Clock, ItemStore, ManualClock, Queue, QueueName, WriteOp};
use vigil_shared::repo::sources as repo;
use vigil_shared::runtime::SqsBatch;
use vigil_shared::sources::SourceKind;
use vigil_shared::sources::intake::SourceIntake;
use vigil_testkit::MotoStack;

#[tokio::test]
async fn a_notified_log_file_is_read_from_s3_and_its_records_ingested_once() {
    let Some(stack) = MotoStack::for_test("log files on S3", "logs").await else {
        return;
    };
    let objects = S3Objects::new(&stack.sdk);
    let s3 = objects.client().clone();
    let bucket = format!("trail-{}", uuid::Uuid::new_v4().simple());
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let (queue_url, _) = &stack.queue_urls[&QueueName::LogFiles];
    let queue_arn = stack
        .sqs()
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()
        .remove(&QueueAttributeName::QueueArn)
        .unwrap();
    s3.put_bucket_notification_configuration()
        .bucket(&bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(
                    QueueConfiguration::builder()
                        .queue_arn(&queue_arn)
                        .events(Event::from("s3:ObjectCreated:*"))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();

    let tenant = TenantId::parse("demo").unwrap();
    let store = Arc::new(stack.store());
    let source = vigil_testkit::fixtures::source(SOURCE, &tenant, SourceKind::Cloudtrail, now());
    let op: WriteOp = repo::create_op(&source).unwrap();
    store.write(vec![op]).await.unwrap();

    // Two batches: the golden corpus and 600 failed logins.
    let mut records = corpus();
    records.extend(failed_logins(600));
    let key = "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/26/123456789012_CloudTrail_us-east-1_20261126T1155Z_a b+c.json.gz";
    s3.put_object()
        .bucket(&bucket)
        .key(key)
        .body(ByteStream::from(gz_file(&records)))
        .send()
        .await
        .unwrap();

    // What S3 (moto) sent: possibly a test event, then the object's notification.
    let mut delivered = Vec::new();
    for _ in 0..20 {
        let got = stack
            .sqs()
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        delivered.extend(got.messages().iter().cloned());
        if delivered
            .iter()
            .any(|m| m.body().is_some_and(|b| b.contains("ObjectCreated")))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sqs_records: Vec<serde_json::Value> = delivered
        .iter()
        .map(|m| {
            json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "attributes": {"ApproximateReceiveCount": "1"},
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    assert!(
        delivered
            .iter()
            .any(|m| m.body().is_some_and(|b| b.contains("ObjectCreated"))),
        "moto sent no ObjectCreated notification: {delivered:?}"
    );

    let clock: Arc<ManualClock> = Arc::new(ManualClock::new(now()));
    let stage = vigil_logfiles::LogFilesStage {
        intake: SourceIntake {
            store: store.clone(),
            queue: Arc::new(stack.queue()),
            clock: clock.clone() as Arc<dyn Clock>,
            max_age: chrono::Duration::days(3650),
        },
        cloudtrail_source_id: Some(SOURCE.into()),
        objects: Arc::new(objects),
        bucket: Some(bucket.clone()),
    };
    let batch = SqsBatch::new(
        Arc::new(stage),
        Arc::new(stack.queue()),
        QueueName::LogFiles,
        clock,
    );
    let mut ids: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..2 {
        let out = batch.handle(sqs_event(sqs_records.clone())).await;
        assert!(out.batch_item_failures.is_empty(), "{out:?}");
    }
    // Everything on the ingest queue, however many messages the batches took.
    let queue = stack.queue();
    loop {
        let got = queue
            .receive(QueueName::Ingest, 10, Duration::from_secs(60))
            .await
            .unwrap();
        if got.is_empty() {
            break;
        }
        for d in got {
            let m: EventMessage = serde_json::from_str(&d.body).unwrap();
            assert_eq!(m.tenant, tenant);
            for e in m.events {
                *ids.entry(e.id).or_default() += 1;
            }
        }
    }
    assert_eq!(ids.len(), records.len(), "one event per record");
    assert!(
        ids.values().all(|n| *n == 2),
        "each delivery forwarded the same ids"
    );
    assert!(
        repo::dead_letters(store.as_ref(), &tenant, SOURCE, 10)
            .await
            .unwrap()
            .is_empty()
    );
}
