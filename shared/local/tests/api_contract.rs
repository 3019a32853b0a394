//! The API as a contract: every case issue 11 found answering outside problem+json, or
//! accepting what it should refuse, over the server `vigil serve` runs.
mod common;

use std::time::Duration;

use common::{TestApp, at, spawn_app, spawn_app_with};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PROBLEM: &str = "application/problem+json";

/// Checks `r` is a problem document with `status`, and returns it.
async fn problem(r: reqwest::Response, status: u16) -> Value {
    assert_eq!(r.status().as_u16(), status, "{r:?}");
    let ct = r.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap();
    assert_eq!(ct, PROBLEM);
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["status"], status);
    assert!(
        doc["type"]
            .as_str()
            .unwrap()
            .starts_with("https://vigil.dev/problems/")
    );
    doc
}

fn named(doc: &Value, field: &str) -> bool {
    doc["errors"]
        .as_array()
        .is_some_and(|e| e.iter().any(|f| f["field"] == field))
}

/// Sends raw bytes on a fresh connection and reads what comes back until the server
/// closes it (or `wait` passes).
async fn raw(app: &TestApp, bytes: &[u8], wait: Duration) -> String {
    let addr = app.base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(wait, s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn protocol_errors_are_problem_documents() {
    let app = spawn_app().await;
    // A ~3 MB body.
    let big = "x".repeat(3 * 1024 * 1024);
    let r = app.post_raw("/events", Some("application/json"), big).await;
    assert!(named(&problem(r, 413).await, "body"));
    // A 100,000-character query string (more than a client library will build). Past
    // 64 KiB the `http` crate cannot hold the target, so hyper answers 414 itself,
    // before the app (and this layer) see the request: a bare 414, then the
    // connection closes. Up to there the limits layer answers problem+json.
    let req = format!(
        "GET /events?user={} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        "a".repeat(100_000)
    );
    let out = raw(&app, req.as_bytes(), Duration::from_secs(5)).await;
    assert!(out.starts_with("HTTP/1.1 414"), "{out}");
    let path = format!("/events?user={}", "a".repeat(9_000));
    problem(app.get(&app.admin, &path).await, 414).await;
    // A wrong method on known routes answers 405 with Allow.
    for (method, path) in [
        (Method::DELETE, "/events"),
        (Method::PUT, "/findings"),
        (Method::POST, "/stats/summary"),
    ] {
        let r = app.send(method, &app.admin, path, None).await;
        let allow = r.headers()["allow"].to_str().unwrap().to_string();
        assert!(!allow.is_empty(), "{path}");
        problem(r, 405).await;
    }
    let r = app.get(&app.admin, "/no/such/route").await;
    problem(r, 404).await;
    // A 100 KB header names itself.
    let r = app
        .request(Method::GET, &app.admin, "/stats/summary")
        .header("x-padding", "p".repeat(100_000))
        .send()
        .await
        .unwrap();
    assert!(named(&problem(r, 431).await, "x-padding"));
}

#[tokio::test]
async fn bodies_must_be_declared_json() {
    let app = spawn_app().await;
    let body = json!({"event_type": "x", "timestamp": at(0), "user": "u"}).to_string();
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let doc = problem(app.post_raw("/events", ct, body.clone()).await, 415).await;
        assert!(named(&doc, "Content-Type"), "{ct:?}");
    }
    let r = app
        .post_raw("/events", Some("application/json; charset=utf-8"), body)
        .await;
    assert_eq!(r.status(), 202);
}

#[tokio::test]
async fn control_characters_and_ancient_timestamps_are_refused() {
    let app = spawn_app().await;
    let r = app
        .post_events(
            &app.admin,
            &json!({"event_type": "login_failed", "timestamp": at(0), "user": "al\u{0}ice"}),
        )
        .await;
    assert!(named(&problem(r, 422).await, "user"));
    for old in [
        "0001-01-01T00:00:00Z",
        "1900-01-01T00:00:00Z",
        "1970-01-01T00:00:00Z",
    ] {
        let r = app
            .post_events(
                &app.admin,
                &json!({"event_type": "login_failed", "timestamp": old, "user": "alice"}),
            )
            .await;
        assert!(named(&problem(r, 422).await, "timestamp"), "{old}");
    }
    let (status, _) = app
        .as_admin(
            Method::POST,
            "/ai-systems",
            Some(json!({"name": "CV\u{7}screener"})),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = app
        .as_admin(
            Method::POST,
            "/keys",
            Some(json!({"role": "viewer", "name": "dash\u{1b}[31m"})),
        )
        .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn the_age_bound_is_configurable() {
    let app = spawn_app_with(&[("VIGIL_EVENT_MAX_AGE_DAYS", "1")]).await;
    let two_days = (common::t0() - chrono::Duration::days(2)).to_rfc3339();
    let r = app
        .post_events(
            &app.admin,
            &json!({"event_type": "x", "timestamp": two_days, "user": "u"}),
        )
        .await;
    let doc = problem(r, 422).await;
    assert!(
        doc["detail"]
            .as_str()
            .unwrap()
            .contains("1 days in the past")
    );
}

#[tokio::test]
async fn if_match_follows_rfc_9110() {
    let app = spawn_app().await;
    let (status, created) = app
        .as_admin(
            Method::POST,
            "/ai-systems",
            Some(json!({"name": "CV screener"})),
        )
        .await;
    assert_eq!(status, 201);
    let path = format!("/ai-systems/{}", created["id"].as_str().unwrap());
    let patch = |tag: &'static str| {
        app.request(Method::PATCH, &app.admin, &path)
            .header("if-match", tag)
            .header("content-type", "application/merge-patch+json")
            .body(r#"{"owner":"hr"}"#)
            .send()
    };
    for stale in [r#""not-the-etag""#, r#"W/"1""#, r#""7", "8""#] {
        let doc = problem(patch(stale).await.unwrap(), 412).await;
        assert!(named(&doc, "If-Match"), "{stale}");
    }
    let r = patch(r#""9", "1""#).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], r#""2""#);
    assert_eq!(patch("*").await.unwrap().status(), 200);
    problem(patch("unquoted").await.unwrap(), 422).await;
}

#[tokio::test]
async fn conflicts_with_current_state_are_409_naming_the_field() {
    let app = spawn_app_with(&[("VIGIL_WEBHOOK_ALLOW_LOOPBACK_HTTP", "true")]).await;
    let system = json!({"name": "CV screener"});
    let (first, _) = app
        .as_admin(Method::POST, "/ai-systems", Some(system.clone()))
        .await;
    assert_eq!(first, 201);
    let r = app
        .send(Method::POST, &app.admin, "/ai-systems", Some(system))
        .await;
    assert!(named(&problem(r, 409).await, "name"));

    let hook = json!({"url": "http://127.0.0.1:9/hook"});
    let (first, _) = app
        .as_admin(Method::POST, "/webhooks", Some(hook.clone()))
        .await;
    assert_eq!(first, 201);
    let r = app
        .send(Method::POST, &app.admin, "/webhooks", Some(hook))
        .await;
    assert!(named(&problem(r, 409).await, "url"));
}

#[tokio::test]
async fn deleting_twice_is_not_found() {
    let app = spawn_app().await;
    let (_, key) = app
        .as_admin(Method::POST, "/keys", Some(json!({"role": "viewer"})))
        .await;
    let path = format!("/keys/{}", key["id"].as_str().unwrap());
    let (first, _) = app.as_admin(Method::DELETE, &path, None).await;
    assert_eq!(first, 204);
    let r = app.send(Method::DELETE, &app.admin, &path, None).await;
    problem(r, 404).await;
}

#[tokio::test]
async fn events_keep_their_client_id() {
    let app = spawn_app().await;
    app.post_and_drain(&json!([
        {"id": "okta-1", "event_type": "login_failed", "timestamp": at(0), "user": "alice"},
        {"event_type": "login_failed", "timestamp": at(1), "user": "alice"}
    ]))
    .await;
    let e = app.get_json(&app.admin, "/events/okta-1").await;
    assert_eq!(e["client_id"], "okta-1");
    let stored = e["id"].as_str().unwrap();
    assert!(stored.starts_with("ev_"));
    let same = app.get_json(&app.admin, &format!("/events/{stored}")).await;
    assert_eq!(same, e);
    let page = app.get_json(&app.admin, "/events?client_id=okta-1").await;
    assert_eq!(page["items"], json!([e]));
    let none = app
        .get_json(&app.admin, "/events?client_id=okta-1&user=bob")
        .await;
    assert_eq!(none["items"], json!([]));
    let all = app.get_json(&app.admin, "/events?user=alice").await;
    let ids: Vec<&Value> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["client_id"])
        .collect();
    assert_eq!(ids, [&Value::Null, &json!("okta-1")]);
    problem(app.get(&app.admin, "/events/okta-2").await, 404).await;
}

#[tokio::test]
async fn slow_bodies_time_out_and_idle_connections_close() {
    let app = spawn_app_with(&[
        ("VIGIL_HTTP_BODY_TIMEOUT_MS", "300"),
        ("VIGIL_HTTP_IDLE_TIMEOUT_MS", "300"),
    ])
    .await;
    // Declares 100 bytes, sends 7.
    let req = format!(
        "POST /events HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"a\":1",
        app.admin
    );
    let out = raw(&app, req.as_bytes(), Duration::from_secs(5)).await;
    assert!(out.starts_with("HTTP/1.1 408"), "{out}");
    assert!(out.contains(PROBLEM));
    // A finished request on a kept-alive connection: the server closes it when idle.
    let started = std::time::Instant::now();
    let out = raw(
        &app,
        b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn past_the_concurrency_limit_requests_are_shed() {
    let app = spawn_app_with(&[
        ("VIGIL_HTTP_CONCURRENCY", "1"),
        ("VIGIL_HTTP_BODY_TIMEOUT_MS", "2000"),
    ])
    .await;
    // One request held in flight, waiting for the rest of its body.
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut held = TcpStream::connect(&addr).await.unwrap();
    let req = format!(
        "POST /events HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{",
        app.admin
    );
    held.write_all(req.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = app.get(&app.admin, "/stats/summary").await;
    assert!(r.headers().contains_key("retry-after"));
    problem(r, 503).await;
}

#[tokio::test]
async fn the_document_and_docs_are_served() {
    let app = spawn_app().await;
    let doc: Value = app
        .http
        .get(format!("{}/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc, vigil_api::openapi_document());
    let page = app
        .http
        .get(format!("{}/docs", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("/docs/rapidoc-min.js") && page.contains("/openapi.json"));
    let js = app
        .http
        .get(format!("{}/docs/rapidoc-min.js", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
    assert_eq!(js.headers()["content-encoding"], "gzip");
    assert!(js.bytes().await.unwrap().starts_with(&[0x1f, 0x8b]));
}

#[tokio::test]
async fn metrics_are_served_in_prometheus_text() {
    let app = spawn_app().await;
    // The same system behind a router with the renderer `vigil serve` installs.
    let mut state = app.system.app_state();
    state.metrics = vigil_local::serve::prometheus();
    assert!(
        state.metrics.is_some(),
        "the first recorder of this test binary"
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, vigil_api::router(state))
            .await
            .unwrap()
    });
    app.post_and_drain(&common::failed_logins("mallory", 8))
        .await;
    let r = app
        .http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = r.text().await.unwrap();
    let value = |name: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(name) && !l.starts_with('#'))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing in:\n{text}"))
    };
    assert!(value("vigil_events_accepted_total") >= 8.0);
    assert!(value("vigil_events_stored_total") >= 8.0);
    assert!(value("vigil_findings_created_total") >= 1.0);
    assert!(text.contains("vigil_rule_evaluation_seconds"));
    assert!(text.contains("vigil_enrichment_seconds"));
    // Without a renderer (Lambda) there is no such route.
    problem(app.get(&app.admin, "/metrics").await, 404).await;
}
