//! The Lambda adapter over the webhook stage and the sample SQS event (`events/webhook-sqs.json`) with embedded
//! adapters: the envelope fans out to a job on the webhook queue; a malformed record is
//! reported on its own as a batch item failure.
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::SqsEvent;
use serde_json::json;
use vigil_shared::adapters::embedded::{EmbeddedDb, EmbeddedQueue, EmbeddedStore};
use vigil_shared::domain::TenantId;
use vigil_shared::ports::{Clock, Queue, QueueName, SystemClock};
use vigil_shared::repo::webhooks as repo;
use vigil_shared::runtime::SqsBatch;
use vigil_shared::webhooks::endpoint::{Endpoint, EndpointSpec};
use vigil_shared::webhooks::{SecretKey, WebhookSettings};
use vigil_webhook::WebhookStage;

#[tokio::test]
async fn the_sample_event_fans_out_and_bad_records_fail_alone() {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let db = EmbeddedDb::in_memory(clock.clone()).unwrap();
    let store = Arc::new(EmbeddedStore::new(db.clone()));
    let queue = Arc::new(EmbeddedQueue::new(db, 5));
    let key = SecretKey::generate().unwrap();
    let tenant = TenantId::parse("demo").unwrap();
    let spec = EndpointSpec::from_json(&json!({
        "url": "https://hooks.example.com/vigil",
        "event_types": ["finding.created"],
        "min_severity": "high",
    }))
    .unwrap();
    let (ep, _) = Endpoint::create(&tenant, spec, &key, clock.now()).unwrap();
    repo::create_endpoint(store.as_ref(), &ep).await.unwrap();
    let settings = WebhookSettings {
        secret_key: Some(key),
        ..WebhookSettings::default()
    };
    let stage = WebhookStage::new(store.clone(), queue.clone(), clock.clone(), settings).unwrap();
    let lambda = SqsBatch::new(Arc::new(stage), queue.clone(), QueueName::Webhook, clock);

    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("../../../events/webhook-sqs.json")).unwrap();
    let mut bad = event["Records"][0].clone();
    bad["messageId"] = json!("bad-1");
    bad["body"] = json!("{\"neither\": true}");
    event["Records"].as_array_mut().unwrap().push(bad);
    let event: SqsEvent = serde_json::from_value(event).unwrap();

    let resp = lambda.handle(event).await;
    let failed: Vec<&str> = resp
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["bad-1"]);
    let jobs = queue
        .receive(QueueName::Webhook, 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    assert!(jobs[0].body.contains(&ep.id));
}
