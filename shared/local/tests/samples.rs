//! The ingest, rules, enrich and API sample payloads in `events/` are parsed as their
//! function receives them and run through its handler (the webhook and reclassify
//! samples are run in those crates' own tests).
mod common;

use aws_lambda_events::sqs::SqsEvent;
use axum::body::Body;
use serde_json::Value;
use tower::ServiceExt;
use vigil_shared::domain::Role;
use vigil_shared::ports::{Queue, QueueName};
use vigil_shared::runtime::SqsBatch;
use vigil_testkit::sample;

/// The Lambda adapter over the local system's stage for `queue`.
fn lambda(app: &common::TestApp, queue: QueueName) -> SqsBatch {
    SqsBatch::new(
        app.system.stage(queue),
        app.system.queue.clone(),
        queue,
        app.clock.clone(),
    )
}

fn sqs(name: &str) -> SqsEvent {
    serde_json::from_value(sample(name)).unwrap()
}

/// The app with its clock on 2026-11-25, the day the samples' events happened.
async fn app_on_the_samples_day() -> common::TestApp {
    let app = common::spawn_app().await;
    app.clock.set(
        chrono::DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z")
            .unwrap()
            .to_utc(),
    );
    app
}

/// What is waiting on `queue`.
async fn waiting(app: &common::TestApp, queue: QueueName) -> Vec<vigil_shared::ports::Delivery> {
    app.system
        .queue
        .receive(queue, 10, std::time::Duration::from_secs(30))
        .await
        .unwrap()
}

#[tokio::test]
async fn ingest_and_rules_samples_run_through_their_handlers() {
    let app = app_on_the_samples_day().await;
    let ingest = lambda(&app, QueueName::Ingest);
    let resp = ingest.handle(sqs("ingest-sqs.json")).await;
    assert!(resp.batch_item_failures.is_empty());
    // The delivery batch is one tenant's: its stored events go on as one message.
    let forwarded = waiting(&app, QueueName::Rules).await;
    let events: usize = forwarded
        .iter()
        .map(|d| {
            serde_json::from_str::<vigil_shared::messages::EventMessage>(&d.body)
                .unwrap()
                .events
                .len()
        })
        .sum();
    assert_eq!(events, 3);

    let rules = lambda(&app, QueueName::Rules);
    let resp = rules.handle(sqs("rules-sqs.json")).await;
    assert!(resp.batch_item_failures.is_empty());
    let queued = waiting(&app, QueueName::Enrich).await;
    assert!(
        !queued.is_empty(),
        "the admin grant raised a finding to enrich"
    );

    // The enrich sample names a finding this store does not have: dropped, not retried.
    let enrich = lambda(&app, QueueName::Enrich);
    let resp = enrich.handle(sqs("enrich-sqs.json")).await;
    assert!(resp.batch_item_failures.is_empty());

    // A malformed record is reported as that record's failure only.
    let mut bad = sqs("ingest-sqs.json");
    bad.records[1].body = Some("{not json".into());
    let resp = ingest.handle(bad).await;
    assert_eq!(resp.batch_item_failures.len(), 1);
    assert_eq!(resp.batch_item_failures[0].item_identifier, bad_id());
}

fn bad_id() -> String {
    sqs("ingest-sqs.json").records[1]
        .message_id
        .clone()
        .unwrap()
}

/// Runs an API Gateway sample through the router as lambda_http would deliver it, with
/// the sample's placeholder key swapped for a real one.
async fn api(app: &common::TestApp, name: &str, key: &str) -> (u16, Value) {
    let req = lambda_http::request::from_str(&sample(name).to_string()).unwrap();
    let (mut parts, body) = req.into_parts();
    if parts.headers.contains_key("authorization") {
        parts
            .headers
            .insert("authorization", format!("Bearer {key}").parse().unwrap());
    }
    let req = axum::http::Request::from_parts(parts, Body::from(body.as_ref().to_vec()));
    let resp = vigil_api::router(app.system.app_state())
        .oneshot(req)
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn api_gateway_samples_reach_their_routes() {
    let app = app_on_the_samples_day().await;
    let analyst = app.key("demo", Role::Analyst).await;
    let (status, body) = api(&app, "api-health.json", &analyst).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (status, body) = api(&app, "api-post-events.json", &analyst).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["accepted"], 2);
    let (status, body) = api(&app, "api-get-findings.json", &analyst).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["page_size"], 20);
    // The placeholder key in the samples is not a valid key.
    let (status, _) = api(&app, "api-get-findings.json", "vk_demo_k1_XXXXXXXX").await;
    assert_eq!(status, 401);
}
