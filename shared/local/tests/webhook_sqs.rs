//! The webhook function over the AWS adapters on moto: an EventBridge envelope fans out
//! onto the SQS webhook queue, a 503 puts the job back with ChangeMessageVisibility, and
//! the retry delivers it. Needs `VIGIL_MOTO_URL`; skipped without it unless
//! `VIGIL_REQUIRE_MOTO=1`.
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use serde_json::json;
use vigil_shared::domain::TenantId;
use vigil_shared::ports::{Clock, Queue, QueueName, SystemClock};
use vigil_shared::repo::webhooks as repo;
use vigil_shared::runtime::{Disposition, DynStage, MessageMeta, Worker};
use vigil_shared::webhooks::delivery::MessageStatus;
use vigil_shared::webhooks::endpoint::{Endpoint, EndpointSpec};
use vigil_shared::webhooks::{RetrySchedule, SecretKey, UrlPolicy, WebhookSettings};
use vigil_webhook::WebhookStage;

type Log = Arc<Mutex<(VecDeque<u16>, Vec<HeaderMap>)>>;

async fn receive(State(log): State<Log>, headers: HeaderMap) -> StatusCode {
    let mut l = log.lock().unwrap();
    l.1.push(headers);
    StatusCode::from_u16(l.0.pop_front().unwrap_or(200)).unwrap()
}

#[tokio::test]
async fn envelopes_fan_out_and_retries_use_sqs_visibility() {
    let Some(stack) = vigil_testkit::MotoStack::for_test("webhook delivery on SQS", "wh").await
    else {
        return;
    };
    let store = Arc::new(stack.store());
    let queue = Arc::new(stack.queue());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);

    let log: Log = Arc::new(Mutex::new((VecDeque::from([503]), Vec::new())));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(log.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let key = SecretKey::generate().unwrap();
    let settings = WebhookSettings {
        secret_key: Some(key.clone()),
        policy: UrlPolicy {
            allow_loopback_http: true,
        },
        schedule: RetrySchedule::parse("1s").unwrap(),
        ..WebhookSettings::default()
    };
    let tenant = TenantId::parse("demo").unwrap();
    let spec = EndpointSpec::from_json(&json!({"url": hook})).unwrap();
    let (endpoint, _) = Endpoint::create(&tenant, spec, &key, clock.now()).unwrap();
    repo::create_endpoint(store.as_ref(), &endpoint)
        .await
        .unwrap();

    let stage =
        Arc::new(WebhookStage::new(store.clone(), queue.clone(), clock.clone(), settings).unwrap());
    // The fan-out queue's body: the sample EventBridge envelope.
    let sample: serde_json::Value =
        serde_json::from_str(include_str!("../../../events/webhook-sqs.json")).unwrap();
    let envelope = sample["Records"][0]["body"].as_str().unwrap().to_string();
    let fanned = stage
        .handle_body(&envelope, MessageMeta::new("m1", 1))
        .await
        .unwrap();
    assert_eq!(
        fanned,
        Disposition::Done,
        "an envelope is done once fanned out"
    );

    // The job is on the SQS webhook queue; the local worker loop runs it there.
    let worker = Worker::new(queue.clone(), QueueName::Webhook, stage).with_clock(clock.clone());
    assert_eq!(worker.poll_once().await.unwrap().received, 1);
    assert_eq!(log.lock().unwrap().1.len(), 1);
    // Hidden until its retry is due (SQS counts visibility in whole seconds).
    assert_eq!(worker.poll_once().await.unwrap().received, 0);
    let mut polled = 0;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        polled = worker.poll_once().await.unwrap().received;
        if polled > 0 {
            break;
        }
    }
    assert_eq!(polled, 1, "the retried job came back");
    let got = log.lock().unwrap().1.clone();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0]["webhook-id"], got[1]["webhook-id"]);
    let msg_id = got[0]["webhook-id"].to_str().unwrap().to_string();
    let m = repo::get_message(store.as_ref(), &tenant, &msg_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.value.status, MessageStatus::Delivered);
    assert_eq!(m.value.attempts, 2);
    assert!(m.value.updated_at <= Utc::now());
    // Acknowledged: nothing is left on the queue.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        queue
            .receive(QueueName::Webhook, 10, Duration::from_secs(1))
            .await
            .unwrap()
            .is_empty()
    );
}
