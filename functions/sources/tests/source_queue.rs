//! Per-source queues on moto: `AwsSourceQueues` makes a source's queue with its
//! dead-letter queue, the redrive policy, a queue policy naming the tenant's principals
//! and one event source mapping onto the sources function (reporting batch item
//! failures), idempotently; a message sent to that queue and delivered with its
//! `eventSourceARN` lands on the ingest queue for the source's tenant. Needs
//! `VIGIL_MOTO_URL`; skipped without it unless `VIGIL_REQUIRE_MOTO=1`.
use std::sync::Arc;

use aws_lambda_events::sqs::SqsEvent;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, FunctionResponseType, Runtime};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{Value, json};
use vigil_shared::adapters::aws::AwsSourceQueues;
use vigil_shared::domain::TenantId;
use vigil_shared::messages::EventMessage;
use vigil_shared::ports::{Clock, ItemStore, QueueName, SourceQueues, SystemClock};
use vigil_shared::repo::sources as repo;
use vigil_shared::runtime::SqsBatch;
use vigil_shared::sources::intake::SourceIntake;
use vigil_shared::sources::{Source, SourceSpec};
use vigil_shared::webhooks::SecretKey;
use vigil_sources::SourcesStage;
use vigil_testkit::MotoStack;

/// An empty zip archive: moto stores the code, never runs it here.
const EMPTY_ZIP: [u8; 22] = [
    b'P', b'K', 5, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// A role Lambda may assume, through moto's IAM query API (moto checks the role exists).
async fn role(endpoint: &str, name: &str) -> String {
    let form = [
        ("Action", "CreateRole"),
        ("Version", "2010-05-08"),
        ("RoleName", name),
        (
            "AssumeRolePolicyDocument",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        ),
    ];
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let text = reqwest::Client::new()
        .post(endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body(body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let arn = text
        .split("<Arn>")
        .nth(1)
        .and_then(|s| s.split("</Arn>").next())
        .unwrap_or_else(|| panic!("CreateRole answered {text}"));
    arn.to_string()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a_source_queue_is_provisioned_and_its_messages_land_for_its_tenant() {
    let Some(stack) = MotoStack::for_test("source queues", "srcq").await else {
        return;
    };
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let prefix = format!("t{}-", &suffix[..8]);
    let function = format!("vigil-sources-{suffix}");
    let lambda = aws_sdk_lambda::Client::new(&stack.sdk);
    let role_arn = role(&stack.endpoint, &function).await;
    lambda
        .create_function()
        .function_name(&function)
        .runtime(Runtime::Providedal2023)
        .role(role_arn)
        .handler("bootstrap")
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(EMPTY_ZIP.to_vec()))
                .build(),
        )
        .send()
        .await
        .unwrap();

    let key = SecretKey::generate().unwrap();
    let tenant = TenantId::parse("acme").unwrap();
    let spec = SourceSpec::from_json(&json!({
        "kind": "native",
        "principals": ["210987654321", "arn:aws:iam::123456789012:role/producer"],
    }))
    .unwrap();
    let (mut source, _) = Source::create(&tenant, spec, &key, SystemClock.now()).unwrap();
    let queues = AwsSourceQueues::new(stack.sqs(), lambda.clone(), &prefix, &function);
    let q = queues.provision(&source).await.unwrap().unwrap();
    let tail = source.id.strip_prefix("src_").unwrap();
    assert!(q.arn.ends_with(&format!(":{prefix}{tail}")), "{q:?}");
    assert!(
        q.dlq_arn.ends_with(&format!(":{prefix}{tail}-dlq")),
        "{q:?}"
    );

    let attrs = stack
        .sqs()
        .get_queue_attributes()
        .queue_url(&q.url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    let redrive: Value = serde_json::from_str(&attrs[&QueueAttributeName::RedrivePolicy]).unwrap();
    assert_eq!(redrive["deadLetterTargetArn"], q.dlq_arn.as_str());
    assert_eq!(
        redrive["maxReceiveCount"].to_string().trim_matches('"'),
        "5"
    );
    let policy: Value = serde_json::from_str(&attrs[&QueueAttributeName::Policy]).unwrap();
    let statement = &policy["Statement"][0];
    assert_eq!(statement["Action"], "sqs:SendMessage");
    assert_eq!(statement["Resource"], q.arn.as_str());
    let principals = statement["Principal"]["AWS"].to_string();
    assert!(principals.contains("210987654321"), "{principals}");
    assert!(principals.contains("role/producer"), "{principals}");

    // Provisioning again (a retried create) makes no second mapping.
    assert_eq!(queues.provision(&source).await.unwrap().unwrap(), q);
    let mappings = lambda
        .list_event_source_mappings()
        .event_source_arn(&q.arn)
        .send()
        .await
        .unwrap();
    let mappings = mappings.event_source_mappings();
    assert_eq!(mappings.len(), 1);
    assert_eq!(
        mappings[0].function_response_types(),
        [FunctionResponseType::ReportBatchItemFailures]
    );
    assert!(
        mappings[0]
            .function_arn()
            .is_some_and(|a| a.ends_with(&function))
    );

    source.queue = Some(q.clone());
    let store = Arc::new(stack.store());
    store
        .write(vec![repo::create_op(&source).unwrap()])
        .await
        .unwrap();

    // A producer's unsigned record, through the queue.
    let at = (SystemClock.now() - chrono::Duration::minutes(1)).to_rfc3339();
    let body =
        json!([{"id": "q-1", "event_type": "login_failed", "timestamp": at, "user": "mallory"}])
            .to_string();
    stack
        .sqs()
        .send_message()
        .queue_url(&q.url)
        .message_body(&body)
        .send()
        .await
        .unwrap();
    let got = stack
        .sqs()
        .receive_message()
        .queue_url(&q.url)
        .max_number_of_messages(1)
        .send()
        .await
        .unwrap();
    let m = &got.messages()[0];
    let event: SqsEvent = serde_json::from_value(json!({"Records": [{
        "messageId": m.message_id(),
        "receiptHandle": m.receipt_handle(),
        "body": m.body(),
        "attributes": {"ApproximateReceiveCount": "1"},
        "eventSource": "aws:sqs",
        "eventSourceARN": q.arn,
        "awsRegion": "us-east-1",
    }]}))
    .unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let stage = SourcesStage {
        intake: SourceIntake {
            store: store.clone(),
            queue: Arc::new(stack.queue()),
            clock: clock.clone(),
            max_age: chrono::Duration::days(30),
        },
        secret_key: Some(key),
        cloudtrail_source_id: None,
        source_queue_prefix: prefix.clone(),
    };
    let batch = SqsBatch::new(
        Arc::new(stage),
        Arc::new(stack.queue()),
        QueueName::Sources,
        clock,
    );
    let resp = batch.handle(event).await;
    assert!(resp.batch_item_failures.is_empty());
    let waiting = stack.waiting_on(QueueName::Ingest).await;
    assert_eq!(waiting.len(), 1);
    let msg: EventMessage = serde_json::from_str(&waiting[0].body).unwrap();
    assert_eq!(msg.tenant, tenant);
    assert_eq!(msg.events[0].user, "mallory");
}
