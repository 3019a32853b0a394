//! Webhook delivery against a local receiver whose answers each test scripts: signing,
//! retries on the schedule (a manual clock moves time), terminal answers, 410, 429,
//! outages, rotation, the address guard, dead letters, and verification by the Python
//! `standardwebhooks` package.
mod common;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use common::{TestApp, actions, failed_logins, spawn_app, spawn_app_with};
use reqwest::Method;
use serde_json::{Value, json};
use vigil_local::webhooks::LocalWebhooks;
use vigil_shared::domain::notification::Notification;
use vigil_shared::domain::{Role, TenantId};
use vigil_shared::ports::{Clock, DomainEvent, EventBus};
use vigil_shared::repo::notifications;
use vigil_shared::webhooks::signing::{SigningSecret, VerifyError, verify};
use vigil_shared::webhooks::{UrlPolicy, WebhookSettings};
use vigil_webhook::WebhookStage;

// ------------------------------------------------------------------ receiver

#[derive(Debug, Clone)]
struct Received {
    headers: HashMap<String, String>,
    body: String,
}

impl Received {
    fn id(&self) -> &str {
        &self.headers["webhook-id"]
    }
}

#[derive(Default)]
struct Script {
    answers: VecDeque<(u16, Vec<(&'static str, String)>)>,
    /// Answer once the script is used up.
    otherwise: Option<u16>,
    got: Vec<Received>,
}

/// A receiver that records every request and answers as the test scripts it.
#[derive(Clone, Default)]
struct TestReceiver {
    script: Arc<Mutex<Script>>,
    addr: Option<SocketAddr>,
}

async fn receive(State(r): State<TestReceiver>, headers: HeaderMap, body: Bytes) -> Response {
    let mut s = r.script.lock().unwrap();
    s.got.push(Received {
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let (status, extra) = s
        .answers
        .pop_front()
        .unwrap_or((s.otherwise.unwrap_or(204), vec![]));
    let mut resp = StatusCode::from_u16(status).unwrap().into_response();
    for (k, v) in extra {
        resp.headers_mut().insert(k, v.parse().unwrap());
    }
    resp
}

impl TestReceiver {
    async fn start() -> Self {
        Self::start_on("127.0.0.1:0".parse().unwrap()).await
    }

    async fn start_on(addr: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let r = TestReceiver {
            addr: Some(listener.local_addr().unwrap()),
            ..TestReceiver::default()
        };
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(r.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        r
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr.unwrap())
    }

    fn answer(&self, status: u16) -> &Self {
        self.script
            .lock()
            .unwrap()
            .answers
            .push_back((status, vec![]));
        self
    }

    fn answer_with(&self, status: u16, headers: Vec<(&'static str, String)>) -> &Self {
        self.script
            .lock()
            .unwrap()
            .answers
            .push_back((status, headers));
        self
    }

    fn otherwise(&self, status: u16) {
        self.script.lock().unwrap().otherwise = Some(status);
    }

    fn got(&self) -> Vec<Received> {
        self.script.lock().unwrap().got.clone()
    }
}

/// An address nothing listens on (until a test starts a receiver there).
async fn free_addr() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

// ------------------------------------------------------------------- helpers

/// An app that delivers to loopback over plain HTTP, retrying after 1 s, 2 s and 3 s.
async fn dev_app() -> TestApp {
    dev_app_retrying("1s,2s,3s").await
}

/// An app that delivers to loopback over plain HTTP, retrying on `schedule`.
async fn dev_app_retrying(schedule: &str) -> TestApp {
    spawn_app_with(&[
        ("VIGIL_WEBHOOK_ALLOW_LOOPBACK_HTTP", "true"),
        ("VIGIL_WEBHOOK_RETRY_SCHEDULE", schedule),
    ])
    .await
}

fn hooks(app: &TestApp) -> LocalWebhooks {
    app.system.webhooks()
}

/// Runs the fan-out and the delivery worker until nothing is due now.
async fn deliver(app: &TestApp) {
    hooks(app).drain().await.unwrap();
}

/// Moves the clock on by `by`, then [`deliver`]s what has come due.
async fn deliver_after(app: &TestApp, by: Duration) {
    app.clock.advance(by);
    deliver(app).await;
}

/// A new receiver and an endpoint (for every event type) delivering to it; returns
/// (receiver, endpoint id, secret).
async fn subscribed(app: &TestApp) -> (TestReceiver, String, String) {
    let rx = TestReceiver::start().await;
    let (id, secret) = create_endpoint(app, json!({"url": rx.url()})).await;
    (rx, id, secret)
}

/// Creates an endpoint; returns (id, secret).
async fn create_endpoint(app: &TestApp, spec: Value) -> (String, String) {
    let (status, body) = app.as_admin(Method::POST, "/webhooks", Some(spec)).await;
    assert_eq!(status, 201, "{body}");
    (
        body["id"].as_str().unwrap().to_string(),
        body["secret"].as_str().unwrap().to_string(),
    )
}

async fn publish(app: &TestApp, id: &str, kind: &str, severity: &str) {
    app.system
        .bus
        .publish(&[DomainEvent {
            id: id.to_string(),
            tenant: "acme".into(),
            detail_type: kind.to_string(),
            time: app.clock.now(),
            detail: json!({"finding_id": format!("fd_{id}"), "severity": severity, "title": "t"}),
            request_id: None,
        }])
        .await
        .unwrap();
}

/// Publishes one high-severity `finding.created` (id `e1`) and [`deliver`]s it.
async fn publish_one_and_deliver(app: &TestApp) {
    publish(app, "e1", "finding.created", "high").await;
    deliver(app).await;
}

/// The notifications of tenant `acme`.
async fn acme_notifications(app: &TestApp) -> Vec<Notification> {
    let tenant = TenantId::parse("acme").unwrap();
    notifications::list(app.system.store.as_ref(), &tenant, 10, None)
        .await
        .unwrap()
        .items
}

async fn deliveries(app: &TestApp, endpoint: &str) -> Vec<Value> {
    app.get_json(&app.admin, &format!("/webhooks/{endpoint}/deliveries"))
        .await["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// Whether `r` carries a valid signature by `secret` at `now` (300 s tolerance).
fn check_signature(r: &Received, secret: &str, now: i64) -> Result<(), VerifyError> {
    verify(
        &SigningSecret::parse(secret).unwrap(),
        r.id(),
        &r.headers["webhook-timestamp"],
        &r.headers["webhook-signature"],
        r.body.as_bytes(),
        now,
        300,
    )
}

fn assert_signed(r: &Received, secret: &str, now: i64) {
    check_signature(r, secret, now).unwrap();
}

// --------------------------------------------------------------------- tests

#[tokio::test]
async fn endpoints_are_managed_by_admins_and_never_show_their_secret_again() {
    let app = dev_app().await;
    let rx = TestReceiver::start().await;
    let (status, created) = app
        .as_admin(
            Method::POST,
            "/webhooks",
            Some(
                json!({"url": rx.url(), "event_types": ["finding.created"], "description": "soc"}),
            ),
        )
        .await;
    assert_eq!(status, 201);
    let id = created["id"].as_str().unwrap();
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(created["event_types"], json!(["finding.created"]));

    let one = app.get_json(&app.admin, &format!("/webhooks/{id}")).await;
    let all = app.get_json(&app.admin, "/webhooks").await;
    for shown in [&one, &all] {
        assert!(!shown.to_string().contains("whsec_"), "{shown}");
    }
    assert_eq!(all["items"].as_array().unwrap().len(), 1);

    // Analysts and viewers read; only admins manage. Another tenant's admin cannot see
    // or touch it.
    let analyst = app.key("acme", Role::Analyst).await;
    let viewer = app.key("acme", Role::Viewer).await;
    let other = app.key("globex", Role::Admin).await;
    let endpoint = format!("/webhooks/{id}");
    let rotate = format!("/webhooks/{id}/rotate-secret");
    let (endpoint, rotate) = (endpoint.as_str(), rotate.as_str());
    let create = Some(json!({"url": rx.url()}));
    for (who, key, method, path, body, want) in [
        ("viewer", &viewer, Method::GET, endpoint, None, 200),
        ("analyst", &analyst, Method::GET, "/webhooks", None, 200),
        ("analyst", &analyst, Method::POST, "/webhooks", create, 403),
        ("viewer", &viewer, Method::DELETE, endpoint, None, 403),
        ("other tenant", &other, Method::GET, endpoint, None, 404),
        ("other tenant", &other, Method::POST, rotate, None, 404),
        ("other tenant", &other, Method::DELETE, endpoint, None, 404),
    ] {
        let (s, answer) = app.call(method.clone(), key, path, body).await;
        assert_eq!(s, want, "{who}: {method} {path}: {answer}");
    }

    // PATCH is a merge patch; null removes a field.
    let (s, patched) = app
        .as_admin(
            Method::PATCH,
            &format!("/webhooks/{id}"),
            Some(json!({"description": null, "min_severity": "high"})),
        )
        .await;
    assert_eq!(s, 200, "{patched}");
    assert_eq!(patched["description"], Value::Null);
    assert_eq!(patched["min_severity"], "high");
    assert_eq!(patched["event_types"], json!(["finding.created"]));

    // PUT replaces the whole spec.
    let (s, put) = app
        .as_admin(
            Method::PUT,
            &format!("/webhooks/{id}"),
            Some(json!({"url": rx.url()})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(put["event_types"], json!(["*"]));
    assert_eq!(put["min_severity"], Value::Null);

    // Field errors come back together.
    let (s, bad) = app
        .as_admin(
            Method::POST,
            "/webhooks",
            Some(json!({"url": 5, "event_types": ["finding.deleted"], "min_severity": "x"})),
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(bad["errors"].as_array().unwrap().len(), 3, "{bad}");

    let (s, _) = app
        .as_admin(Method::DELETE, &format!("/webhooks/{id}"), None)
        .await;
    assert_eq!(s, 204);
    assert_eq!(
        app.get(&app.admin, &format!("/webhooks/{id}"))
            .await
            .status(),
        404
    );
}

/// Asserts that the problem `body` refuses a URL for its forbidden address.
fn assert_forbidden_address(body: &Value) {
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("forbidden address"), "{body}");
}

#[tokio::test]
async fn the_address_guard_refuses_internal_targets() {
    let app = dev_app().await;
    for url in [
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/",
        "http://[::ffff:10.0.0.1]/",
        "http://100.64.0.1/",
    ] {
        let (s, body) = app
            .as_admin(Method::POST, "/webhooks", Some(json!({"url": url})))
            .await;
        assert_eq!(s, 422, "{url}: {body}");
        assert_forbidden_address(&body);
    }
    // Without the development setting: https only, and a name resolving to loopback is refused.
    let strict = spawn_app().await;
    let rx = TestReceiver::start().await;
    let port = rx.addr.unwrap().port();
    let (s, body) = strict
        .as_admin(
            Method::POST,
            "/webhooks",
            Some(json!({"url": format!("https://localhost:{port}/hook")})),
        )
        .await;
    assert_eq!(s, 422);
    assert_forbidden_address(&body);
    let (s, _) = strict
        .as_admin(Method::POST, "/webhooks", Some(json!({"url": rx.url()})))
        .await;
    assert_eq!(s, 422);

    // The guard also holds at connection time: an endpoint saved while loopback was
    // allowed is not delivered to by a dispatcher that does not allow it.
    let (id, _) = create_endpoint(
        &app,
        json!({"url": format!("http://localhost:{port}/hook")}),
    )
    .await;
    publish(&app, "e-guard", "finding.created", "low").await;
    let mut settings: WebhookSettings = app.system.config.webhooks.clone();
    settings.policy = UrlPolicy::default();
    let strict = WebhookStage::new(
        app.system.store.clone(),
        app.system.queue.clone(),
        app.clock.clone(),
        settings,
    )
    .unwrap();
    LocalWebhooks::over(&app.system, Arc::new(strict))
        .drain()
        .await
        .unwrap();
    assert!(rx.got().is_empty());
    let d = deliveries(&app, &id).await;
    assert_eq!(d[0]["status"], "failed");
    let err = d[0]["attempts"][0]["error"].as_str().unwrap();
    assert!(
        err.contains("must use https") || err.contains("forbidden"),
        "{err}"
    );
}

#[tokio::test]
async fn findings_from_the_pipeline_arrive_signed_both_ways() {
    let app = dev_app().await;
    let (rx, id, secret) = subscribed(&app).await;
    // Eight failed logins raise a critical finding; enrichment announces it on the bus.
    app.post_and_drain(&failed_logins("alice", 8)).await;
    deliver(&app).await;

    let got = rx.got();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_signed(r, &secret, app.clock.now().timestamp());
    assert_eq!(
        r.headers["webhook-timestamp"],
        app.clock.now().timestamp().to_string()
    );
    assert!(r.id().starts_with("msg_"));
    assert_eq!(r.headers["content-type"], "application/json");
    // The seed's header: hex HMAC-SHA256 of the exact body, keyed by the secret string.
    let legacy = SigningSecret::parse(&secret).unwrap();
    assert_eq!(
        r.headers["x-vigil-signature"],
        vigil_shared::webhooks::signing::legacy_signature(&legacy, r.body.as_bytes())
    );
    // Canonical JSON: sorted keys, no whitespace.
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        r.body,
        vigil_shared::webhooks::signing::canonical_json(&body)
    );
    assert_eq!(body["type"], "finding.created");
    assert_eq!(body["data"]["severity"], "critical");
    assert!(body["data"].get("tenant").is_none());

    let d = deliveries(&app, &id).await;
    assert_eq!(d.len(), 1);
    assert_eq!(d[0]["id"], r.id());
    assert_eq!(d[0]["status"], "delivered");
    assert_eq!(d[0]["attempts"][0]["status_code"], 204);
    assert_eq!(d[0]["attempts"][0]["outcome"], "delivered");

    // The same event fanned out again (a bus redelivery) sends nothing new.
    let bus = app.system.bus.read_after(0, 10).await.unwrap();
    let event = vigil_shared::webhooks::fanout::BusEvent::from_domain(&bus[0].1).unwrap();
    hooks(&app).stage().fan_out(&event).await.unwrap();
    deliver(&app).await;
    assert_eq!(rx.got().len(), 1);
}

#[tokio::test]
async fn filters_pick_event_types_and_minimum_severity() {
    let app = dev_app().await;
    let rx = TestReceiver::start().await;
    create_endpoint(
        &app,
        json!({"url": rx.url(), "event_types": ["finding.escalated"], "min_severity": "high"}),
    )
    .await;
    publish(&app, "a", "finding.created", "critical").await;
    publish(&app, "b", "finding.escalated", "medium").await;
    publish(&app, "c", "finding.escalated", "critical").await;
    deliver(&app).await;
    let got = rx.got();
    assert_eq!(got.len(), 1);
    assert!(got[0].body.contains("fd_c"));
}

#[tokio::test]
async fn server_errors_are_retried_on_the_schedule_until_delivered() {
    let app = dev_app().await;
    let (rx, id, _) = subscribed(&app).await;
    rx.answer(500).answer(503).answer(200);
    publish_one_and_deliver(&app).await;
    assert_eq!(rx.got().len(), 1);
    // Not before the first retry is due (1 s).
    deliver_after(&app, Duration::milliseconds(900)).await;
    assert_eq!(rx.got().len(), 1);
    deliver_after(&app, Duration::milliseconds(100)).await;
    assert_eq!(rx.got().len(), 2);
    deliver_after(&app, Duration::seconds(2)).await;
    let got = rx.got();
    assert_eq!(got.len(), 3);
    // One webhook-id across every attempt, each signed at its own time.
    assert!(got.iter().all(|r| r.id() == got[0].id()));
    assert_ne!(
        got[0].headers["webhook-timestamp"],
        got[2].headers["webhook-timestamp"]
    );

    let d = deliveries(&app, &id).await;
    assert_eq!(d[0]["status"], "delivered");
    let attempts = d[0]["attempts"].as_array().unwrap();
    let codes: Vec<i64> = attempts
        .iter()
        .map(|a| a["status_code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [500, 503, 200]);
    assert_eq!(attempts[0]["outcome"], "retrying");
    assert!(attempts[0]["next_retry_at"].is_string());
    assert!(attempts[0]["latency_ms"].is_u64());
    // Nothing more is sent later.
    deliver_after(&app, Duration::hours(1)).await;
    assert_eq!(rx.got().len(), 3);
}

#[tokio::test]
async fn client_errors_are_terminal() {
    let app = dev_app().await;
    let (rx, id, _) = subscribed(&app).await;
    rx.answer(400);
    publish_one_and_deliver(&app).await;
    deliver_after(&app, Duration::hours(1)).await;
    assert_eq!(rx.got().len(), 1);
    let d = deliveries(&app, &id).await;
    assert_eq!(d[0]["status"], "failed");
    assert_eq!(d[0]["attempts"][0]["outcome"], "failed");
    // The endpoint stays enabled (one refusal is not a dead receiver).
    let ep = app.get_json(&app.admin, &format!("/webhooks/{id}")).await;
    assert_eq!(ep["enabled"], true);
}

#[tokio::test]
async fn gone_disables_the_endpoint_and_tells_the_tenant() {
    let app = dev_app().await;
    let (rx, id, _) = subscribed(&app).await;
    rx.answer(410);
    publish_one_and_deliver(&app).await;
    let ep = app.get_json(&app.admin, &format!("/webhooks/{id}")).await;
    assert_eq!(ep["enabled"], false);
    assert!(ep["disabled_reason"].as_str().unwrap().contains("410"));
    let notes = acme_notifications(&app).await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].kind, "webhook.endpoint_disabled");
    // Later events are not delivered; a test message is refused.
    publish(&app, "e2", "finding.created", "high").await;
    deliver(&app).await;
    assert_eq!(rx.got().len(), 1);
    let (s, _) = app
        .as_admin(Method::POST, &format!("/webhooks/{id}/test"), None)
        .await;
    assert_eq!(s, 409);
    // Enabling again clears the reason.
    let (s, ep) = app
        .as_admin(
            Method::PATCH,
            &format!("/webhooks/{id}"),
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(ep["disabled_reason"], Value::Null);
}

#[tokio::test]
async fn too_many_requests_waits_for_retry_after() {
    let app = dev_app().await;
    let (rx, id, _) = subscribed(&app).await;
    rx.answer_with(429, vec![("retry-after", "10".into())]);
    publish_one_and_deliver(&app).await;
    let d = deliveries(&app, &id).await;
    let next =
        chrono::DateTime::parse_from_rfc3339(d[0]["next_attempt_at"].as_str().unwrap()).unwrap();
    assert_eq!(next.to_utc() - app.clock.now(), Duration::seconds(10));
    // The schedule alone would retry after 1 s; Retry-After says 10.
    deliver_after(&app, Duration::seconds(9)).await;
    assert_eq!(rx.got().len(), 1);
    deliver_after(&app, Duration::seconds(1)).await;
    assert_eq!(rx.got().len(), 2);
    assert_eq!(deliveries(&app, &id).await[0]["status"], "delivered");
}

#[tokio::test]
async fn a_receiver_down_opens_its_breaker_and_then_gets_every_message_exactly_once() {
    let app = dev_app().await;
    let addr = free_addr().await;
    let (id, _) = create_endpoint(&app, json!({"url": format!("http://{addr}/hook")})).await;
    for i in 0..6 {
        publish(&app, &format!("e{i}"), "finding.created", "high").await;
    }
    deliver(&app).await;
    // Five refused connections open the endpoint's breaker (attempts already in flight
    // finish), so a second later, at the retry schedule's first step, nobody is tried.
    deliver_after(&app, Duration::seconds(1)).await;
    let d = deliveries(&app, &id).await;
    assert_eq!(d.len(), 6);
    let tried: Vec<i64> = d
        .iter()
        .map(|m| m["attempt_count"].as_i64().unwrap())
        .collect();
    assert!(tried.iter().all(|n| *n <= 1), "{tried:?}");
    assert!(tried.iter().filter(|n| **n == 1).count() >= 5, "{tried:?}");
    assert!(d.iter().all(|m| m["status"] == "pending"));
    let (_, breakers) = app
        .as_admin(Method::GET, "/governance/breakers", None)
        .await;
    let breaker = &breakers["items"][0];
    assert_eq!(breaker["name"], format!("webhook#{id}"));
    assert_eq!(breaker["state"], "OPEN");

    // The receiver comes back; after the cool-down one trial closes the breaker, and the
    // waiting messages get through, each once, with no retry used up by the wait.
    let rx = TestReceiver::start_on(addr).await;
    // It opened at the first round; 29 s after it, it is still open.
    deliver_after(&app, Duration::seconds(28)).await;
    assert!(rx.got().is_empty(), "the breaker is still open");
    for _ in 0..4 {
        deliver_after(&app, Duration::seconds(30)).await;
    }
    let got = rx.got();
    let mut ids: Vec<&str> = got.iter().map(Received::id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(got.len(), 6);
    assert_eq!(ids.len(), 6);
    let d = deliveries(&app, &id).await;
    assert!(d.iter().all(|m| m["status"] == "delivered"), "{d:#?}");
    assert!(d.iter().all(|m| m["attempt_count"].as_i64().unwrap() <= 2));
    let (_, breakers) = app
        .as_admin(Method::GET, "/governance/breakers", None)
        .await;
    assert_eq!(breakers["items"][0]["state"], "CLOSED");
}

#[tokio::test]
async fn exhausted_messages_are_dead_lettered_and_redelivered_on_request() {
    let app = dev_app().await;
    let (rx, id, _) = subscribed(&app).await;
    rx.otherwise(500);
    publish_one_and_deliver(&app).await;
    for secs in [1, 2, 3] {
        deliver_after(&app, Duration::seconds(secs)).await;
    }
    // First attempt plus the three retries of the schedule.
    assert_eq!(rx.got().len(), 4);
    let dead = app.get_json(&app.admin, "/webhooks/dead-letters").await;
    let items = dead["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["status"], "dead");
    assert_eq!(
        items[0]["attempts"].as_array().unwrap().last().unwrap()["outcome"],
        "exhausted"
    );
    let msg = items[0]["id"].as_str().unwrap().to_string();
    let redeliver = format!("/webhooks/{id}/deliveries/{msg}/redeliver");
    // Another tenant sees none of it.
    let other = app.key("globex", Role::Admin).await;
    assert_eq!(
        app.get_json(&other, "/webhooks/dead-letters").await["items"],
        json!([])
    );
    let (s, _) = app.call(Method::POST, &other, &redeliver, None).await;
    assert_eq!(s, 404);

    rx.otherwise(200);
    let (s, body) = app.as_admin(Method::POST, &redeliver, None).await;
    assert_eq!(s, 202, "{body}");
    deliver(&app).await;
    let got = rx.got();
    assert_eq!(got.len(), 5);
    assert_eq!(got[4].id(), msg);
    assert_eq!(
        app.get_json(&app.admin, "/webhooks/dead-letters").await["items"],
        json!([])
    );
    let d = deliveries(&app, &id).await;
    assert_eq!(d[0]["status"], "delivered");
    assert_eq!(d[0]["attempts"].as_array().unwrap().len(), 5);
    // A delivered message is not pending: redelivering it again is allowed, pending is not.
    let (s, _) = app.as_admin(Method::POST, &redeliver, None).await;
    assert_eq!(s, 202);
    let (s, _) = app.as_admin(Method::POST, &redeliver, None).await;
    assert_eq!(s, 409, "the redelivery just queued is pending");
}

#[tokio::test]
async fn rotation_signs_with_both_secrets_for_a_day() {
    let app = dev_app().await;
    let (rx, id, old) = subscribed(&app).await;
    let (s, rotated) = app
        .as_admin(Method::POST, &format!("/webhooks/{id}/rotate-secret"), None)
        .await;
    assert_eq!(s, 200);
    let new = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert!(
        !app.get_json(&app.admin, &format!("/webhooks/{id}"))
            .await
            .to_string()
            .contains("whsec_")
    );

    let (s, test) = app
        .as_admin(Method::POST, &format!("/webhooks/{id}/test"), None)
        .await;
    assert_eq!(s, 202);
    assert_eq!(test["event_type"], "webhook.test");
    deliver(&app).await;
    let r = &rx.got()[0];
    let sigs: Vec<&str> = r.headers["webhook-signature"].split(' ').collect();
    assert_eq!(sigs.len(), 2);
    assert!(sigs.iter().all(|s| s.starts_with("v1,")));
    let now = app.clock.now().timestamp();
    assert_signed(r, &old, now);
    assert_signed(r, &new, now);
    assert!(r.body.contains("webhook.test"));

    // A day later only the new secret signs.
    app.clock.advance(Duration::hours(24));
    app.as_admin(Method::POST, &format!("/webhooks/{id}/test"), None)
        .await;
    deliver(&app).await;
    let r = &rx.got()[1];
    assert_eq!(r.headers["webhook-signature"].split(' ').count(), 1);
    let now = app.clock.now().timestamp();
    assert_signed(r, &new, now);
    assert!(check_signature(r, &old, now).is_err());
}

#[tokio::test]
async fn five_days_of_failures_disable_the_endpoint_with_a_notification() {
    let app = dev_app_retrying("1d,1d,1d,1d,1d,1d").await;
    let (rx, id, _) = subscribed(&app).await;
    rx.otherwise(503);
    publish_one_and_deliver(&app).await;
    for day in 1..=5 {
        let ep = app.get_json(&app.admin, &format!("/webhooks/{id}")).await;
        assert_eq!(ep["enabled"], true, "day {day}");
        assert!(ep["failing_since"].is_string());
        deliver_after(&app, Duration::days(1)).await;
    }
    let ep = app.get_json(&app.admin, &format!("/webhooks/{id}")).await;
    assert_eq!(ep["enabled"], false);
    assert!(ep["disabled_reason"].as_str().unwrap().contains("5 days"));
    let notes = acme_notifications(&app).await;
    assert_eq!(notes.len(), 1);
    assert!(notes[0].body.contains(&rx.url()));
    // The pending retry finds the endpoint disabled and dead-letters the message.
    deliver_after(&app, Duration::days(1)).await;
    assert_eq!(rx.got().len(), 6);
    let dead = app.get_json(&app.admin, "/webhooks/dead-letters").await;
    assert_eq!(dead["items"][0]["last_error"], "endpoint disabled");
}

#[tokio::test]
async fn delivery_pages_follow_cursors() {
    let app = dev_app().await;
    let (rx, id, _) = subscribed(&app).await;
    for i in 0..5 {
        publish(&app, &format!("e{i}"), "finding.created", "high").await;
        deliver_after(&app, Duration::seconds(1)).await;
    }
    let mut seen = Vec::new();
    let mut path = format!("/webhooks/{id}/deliveries?limit=2");
    loop {
        let page = app.get_json(&app.admin, &path).await;
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/webhooks/{id}/deliveries?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    let mut dedup = seen.clone();
    dedup.dedup();
    assert_eq!(dedup.len(), 5);
    // A cursor from another endpoint's listing is refused (one URL, one endpoint).
    let (other, _) = create_endpoint(&app, json!({"url": format!("{}?second", rx.url())})).await;
    let page = app
        .get_json(&app.admin, &format!("/webhooks/{id}/deliveries?limit=2"))
        .await;
    let c = page["next_cursor"].as_str().unwrap();
    let r = app
        .get(
            &app.admin,
            &format!("/webhooks/{other}/deliveries?cursor={c}"),
        )
        .await;
    assert_eq!(r.status(), 422);
}

/// The receiver's view checked by the reference implementation: the Python
/// `standardwebhooks` package that the test command installs.
#[tokio::test]
async fn the_standardwebhooks_library_verifies_real_deliveries() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // VIGIL_VENV may be relative to the repository root, where the test command runs.
    let python = std::env::var("VIGIL_VENV")
        .map(|v| root.join(v).join("bin/python"))
        .unwrap_or_else(|_| root.join(".venv/bin/python"));
    let has_lib = std::process::Command::new(&python)
        .args(["-c", "import standardwebhooks"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !has_lib {
        assert!(
            std::env::var("VIGIL_REQUIRE_MOTO").as_deref() != Ok("1"),
            "the test command must install standardwebhooks into {}",
            python.display()
        );
        eprintln!("SKIP: {} has no standardwebhooks", python.display());
        return;
    }
    let app = dev_app().await;
    // The library checks timestamps against the real clock.
    app.clock.set(Utc::now());
    let (rx, id, old) = subscribed(&app).await;
    publish(&app, "e1", "finding.created", "critical").await;
    deliver(&app).await;
    let (_, rotated) = app
        .as_admin(Method::POST, &format!("/webhooks/{id}/rotate-secret"), None)
        .await;
    let new = rotated["secret"].as_str().unwrap().to_string();
    app.as_admin(Method::POST, &format!("/webhooks/{id}/test"), None)
        .await;
    deliver(&app).await;
    let got = rx.got();
    assert_eq!(got.len(), 2);
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<Value> = vec![
        json!({"secret": old, "headers": got[0].headers, "body": got[0].body, "valid": true}),
        json!({"secret": old, "headers": got[1].headers, "body": got[1].body, "valid": true}),
        json!({"secret": new, "headers": got[1].headers, "body": got[1].body, "valid": true}),
        json!({"secret": new, "headers": got[0].headers, "body": got[0].body, "valid": false}),
        json!({"secret": old, "headers": got[0].headers, "body": got[0].body.replace("critical", "low"), "valid": false}),
    ];
    let file = dir.path().join("received.json");
    std::fs::write(&file, serde_json::to_string(&cases).unwrap()).unwrap();
    let script = r#"
import json, sys
from standardwebhooks import Webhook
cases = json.load(open(sys.argv[1]))
for i, c in enumerate(cases):
    try:
        Webhook(c["secret"]).verify(c["body"], c["headers"])
        ok = True
    except Exception as e:
        ok = False
    if ok != c["valid"]:
        print(f"case {i}: verified={ok}, expected {c['valid']}")
        sys.exit(1)
print(f"{len(cases)} cases as expected")
"#;
    let out = std::process::Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "standardwebhooks: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Jobs the queue itself dead-lettered (the worker kept failing on them) show too.
#[tokio::test]
async fn jobs_the_queue_dead_lettered_are_listed_for_their_tenant() {
    use vigil_shared::ports::{OutMessage, Queue, QueueName};
    let app = dev_app().await;
    let job = json!({"tenant": "acme", "endpoint_id": "ep_x", "message_id": "msg_x"});
    let other = json!({"tenant": "globex", "endpoint_id": "ep_y", "message_id": "msg_y"});
    app.system
        .queue
        .send(
            QueueName::Webhook,
            vec![
                OutMessage::new(job.to_string()),
                OutMessage::new(other.to_string()),
            ],
        )
        .await
        .unwrap();
    // Receive each past the limit without acknowledging, as a failing worker would.
    for _ in 0..=vigil_local::MAX_RECEIVES {
        app.system
            .queue
            .receive(QueueName::Webhook, 10, std::time::Duration::ZERO)
            .await
            .unwrap();
    }
    let dead = app.get_json(&app.admin, "/webhooks/dead-letters").await;
    assert_eq!(
        dead["queue_dead_letters"],
        json!([{"message_id": "msg_x", "endpoint_id": "ep_x", "receive_count": 5}])
    );
}

/// A retry due beyond SQS's limits (15 min send delay, 12 h visibility) still happens on
/// time: the job comes back early, is hidden again for the rest of the wait, and fires.
#[tokio::test]
async fn long_waits_outlast_the_queue_limits() {
    let app = dev_app_retrying("13h").await;
    let (rx, id, _) = subscribed(&app).await;
    rx.answer(502);
    publish(&app, "e1", "ai_system.drift_detected", "high").await;
    publish(&app, "internal", "audit.checkpoint", "high").await;
    deliver(&app).await;
    assert_eq!(rx.got().len(), 1);
    for hours in [6, 6] {
        deliver_after(&app, Duration::hours(hours)).await;
        assert_eq!(rx.got().len(), 1);
    }
    deliver_after(&app, Duration::minutes(59)).await;
    assert_eq!(rx.got().len(), 1);
    deliver_after(&app, Duration::minutes(1)).await;
    let got = rx.got();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].id(), got[1].id());
    assert!(got[1].body.contains("ai_system.drift_detected"));
    let d = deliveries(&app, &id).await;
    assert_eq!(
        d.len(),
        1,
        "bus events outside the public types are not delivered"
    );
    assert_eq!(d[0]["status"], "delivered");
}

/// Every audit entry of one endpoint, newest first.
async fn endpoint_trail(app: &TestApp, id: &str) -> Vec<Value> {
    app.get_json(
        &app.admin,
        &format!("/audit/entries?resource_type=webhook&resource_id={id}&limit=100"),
    )
    .await["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn endpoint_changes_are_audited_without_secrets() {
    let app = dev_app().await;
    let rx = TestReceiver::start().await;
    let actor = json!(format!("key:{}", app.admin.rsplit('_').nth(1).unwrap()));
    let (id, secret) = create_endpoint(&app, json!({"url": rx.url()})).await;
    let path = format!("/webhooks/{id}");
    let (s, _) = app
        .as_admin(
            Method::PUT,
            &path,
            Some(json!({"url": rx.url(), "description": "siem"})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = app
        .as_admin(Method::PATCH, &path, Some(json!({"min_severity": "high"})))
        .await;
    assert_eq!(s, 200);
    let (s, rotated) = app
        .as_admin(Method::POST, &format!("{path}/rotate-secret"), None)
        .await;
    assert_eq!(s, 200);
    let new_secret = rotated["secret"].as_str().unwrap().to_string();

    // The receiver answers 410: the delivery worker disables the endpoint.
    rx.answer(410);
    publish_one_and_deliver(&app).await;
    let (s, _) = app.as_admin(Method::DELETE, &path, None).await;
    assert_eq!(s, 204);

    let trail = endpoint_trail(&app, &id).await;
    let actions = actions(&trail);
    assert_eq!(
        actions,
        [
            "webhook.delete",
            "webhook.disable",
            "webhook.rotate_secret",
            "webhook.update",
            "webhook.replace",
            "webhook.create"
        ]
    );
    for (i, e) in trail.iter().enumerate() {
        let want = if i == 1 {
            json!("system:webhook-dispatcher")
        } else {
            actor.clone()
        };
        assert_eq!(e["actor"], want, "{e}");
        assert_eq!(e["resource_type"], "webhook");
    }
    assert_eq!(trail[0]["after"], Value::Null);
    assert_eq!(trail[0]["before"]["enabled"], false);
    assert_eq!(trail[1]["before"]["enabled"], true);
    assert_eq!(trail[1]["after"]["enabled"], false);
    assert!(
        trail[1]["after"]["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("410")
    );
    assert_eq!(trail[2]["before"]["secret_rotation_ends_at"], Value::Null);
    assert!(trail[2]["after"]["secret_rotation_ends_at"].is_string());
    assert_eq!(trail[3]["after"]["min_severity"], "high");
    assert_eq!(trail[4]["after"]["description"], "siem");
    assert_eq!(trail[5]["before"], Value::Null);
    // No secret, plain or sealed, in any entry or export.
    let export = app.get(&app.admin, "/audit/export").await;
    assert_eq!(export.status(), 200);
    let everything = export.text().await.unwrap();
    for e in &trail {
        let text = e.to_string();
        for bad in ["secrets", "sealed", &secret, &new_secret] {
            assert!(!text.contains(bad), "{bad} in {text}");
        }
    }
    for bad in [&secret, &new_secret] {
        assert!(!everything.contains(bad.as_str()));
    }
    assert!(!everything.contains("\"sealed\""));
    let (s, v) = app.as_admin(Method::POST, "/audit/verify", None).await;
    assert_eq!(s, 200);
    assert_eq!(v["ok"], true, "{v}");
}
