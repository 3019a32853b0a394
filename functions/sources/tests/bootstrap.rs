//! The `vigil-sources` bootstrap under the Lambda Runtime API emulator, over moto: the
//! sample batches in `events/` (a signed native envelope and a CloudTrail rule event;
//! an unsigned record from a source's own queue) succeed and lands on the ingest queue under the sources' tenant; a payload that is
//! no SQS event is answered with an invocation error. Needs `VIGIL_MOTO_URL`; skipped
//! without it unless `VIGIL_REQUIRE_MOTO=1`.
use serde_json::json;
use vigil_shared::domain::TenantId;
use vigil_shared::messages::EventMessage;
use vigil_shared::ports::{Clock, ItemStore, QueueName, SystemClock};
use vigil_shared::repo::sources as repo;
use vigil_shared::sources::source::SourceQueue;
use vigil_shared::sources::{Source, SourceKind, SourceSpec};
use vigil_shared::webhooks::SecretKey;
use vigil_shared::webhooks::signing::SigningSecret;
use vigil_testkit::{Function, MotoStack, samples_for};

/// 32 bytes, base64.
const SEALING_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const SAMPLE_SECRET: &str = "whsec_c291cmNlcy1zYW1wbGUtc2VjcmV0LTMyLWJ5dGVzISE=";
const NATIVE: &str = "src_demo_0190f0c5a1b27c3d8e9f00112233aa01";
const CLOUDTRAIL: &str = "src_demo_0190f0c5a1b27c3d8e9f00112233aa02";
/// The source whose own queue the second sample's record came from.
const QUEUED: &str = "src_demo_0190f0c5a1b27c3d8e9f00112233aa03";
const QUEUED_ARN: &str =
    "arn:aws:sqs:us-east-1:123456789012:vigil-src-demo_0190f0c5a1b27c3d8e9f00112233aa03";

#[tokio::test]
async fn bootstrap_answers_its_samples_and_survives_a_bad_payload() {
    let Some(stack) = MotoStack::for_test("sources bootstrap", "sources").await else {
        return;
    };
    let store = stack.store();
    let key = SecretKey::parse_base64(SEALING_KEY).unwrap();
    let secret = SigningSecret::parse(SAMPLE_SECRET).unwrap();
    let tenant = TenantId::parse("demo").unwrap();
    for (id, kind) in [
        (NATIVE, SourceKind::Native),
        (CLOUDTRAIL, SourceKind::Cloudtrail),
        (QUEUED, SourceKind::Native),
    ] {
        let spec = SourceSpec {
            kind,
            name: None,
            drop_unmapped: false,
            principals: vec![],
        };
        let mut s = Source::with_id_and_secret(id, &tenant, spec, &key, &secret, SystemClock.now())
            .unwrap();
        if id == QUEUED {
            s.queue = Some(SourceQueue {
                url: "https://sqs.us-east-1.amazonaws.com/123456789012/q".into(),
                arn: QUEUED_ARN.into(),
                dlq_url: "https://sqs.us-east-1.amazonaws.com/123456789012/q-dlq".into(),
                dlq_arn: format!("{QUEUED_ARN}-dlq"),
            });
        }
        store
            .write(vec![repo::create_op(&s).unwrap()])
            .await
            .unwrap();
    }
    let mut f = Function::start_on(
        env!("CARGO_BIN_EXE_vigil-sources"),
        &stack,
        &[
            ("VIGIL_SECRET_KEY", SEALING_KEY),
            ("VIGIL_CLOUDTRAIL_SOURCE_ID", CLOUDTRAIL),
        ],
    )
    .await;
    assert_eq!(
        samples_for("sources"),
        ["sources-sqs-source-queue.json", "sources-sqs.json"]
    );
    for sample in samples_for("sources") {
        f.assert_batch_succeeds(&sample).await;
    }
    let waiting = stack.waiting_on(QueueName::Ingest).await;
    let mut types = Vec::new();
    for d in &waiting {
        let m: EventMessage = serde_json::from_str(&d.body).unwrap();
        assert_eq!(m.tenant.as_str(), "demo");
        types.extend(m.events.iter().map(|e| e.event_type.as_str().to_string()));
    }
    types.sort();
    // The source queue's unsigned record lands for the queue's tenant.
    assert_eq!(
        types,
        ["deployment_failed", "login_failed", "login_success"]
    );
    f.assert_rejected_and_alive(json!({"Records": "not a list"}))
        .await;
}
