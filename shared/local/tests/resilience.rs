//! Rate limits, circuit breakers, the model bulkhead and usage, through the HTTP API and
//! the stages behind it, on the manual clock.
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};

use chrono::Duration;
use common::{event, failed_logins, spawn_app_with};
use reqwest::Method;
use serde_json::{Value, json};
use vigil_shared::domain::Role;
use vigil_shared::ports::Clock;

fn header(r: &reqwest::Response, name: &str) -> Option<u64> {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn a_key_gets_its_budget_then_a_429_with_the_headers_until_the_window_slides() {
    let app = spawn_app_with(&[
        ("VIGIL_RATE_LIMIT_KEY_REQUESTS", "5"),
        ("VIGIL_RATE_LIMIT_TENANT_REQUESTS", "7"),
    ])
    .await;
    let key = app.key("acme", Role::Viewer).await;
    for left in (0..5).rev() {
        let r = app.get(&key, "/stats/summary").await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "ratelimit-limit"), Some(5));
        assert_eq!(header(&r, "ratelimit-remaining"), Some(left));
        assert!(header(&r, "ratelimit-reset").is_some());
    }
    let r = app.get(&key, "/stats/summary").await;
    assert_eq!(r.status(), 429);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    // The previous window's 5 must weigh at most 4: 12 s into the next window.
    let retry = header(&r, "retry-after").unwrap();
    assert!((12..=72).contains(&retry), "Retry-After {retry}");
    assert_eq!(header(&r, "ratelimit-remaining"), Some(0));
    let problem: Value = r.json().await.unwrap();
    assert_eq!(problem["type"], "https://vigil.dev/problems/rate-limited");
    assert_eq!(problem["status"], 429);

    // Another key of the tenant has its own budget, up to the tenant's 7 (refused
    // requests are not counted, so the tenant has spent 5).
    let other = app.key("acme", Role::Viewer).await;
    assert_eq!(app.get(&other, "/stats/summary").await.status(), 200);
    assert_eq!(app.get(&other, "/stats/summary").await.status(), 200);
    let r = app.get(&other, "/stats/summary").await;
    assert_eq!(r.status(), 429, "the tenant's 7 requests are spent");
    // Another tenant is untouched.
    let beta = app.key("beta", Role::Viewer).await;
    assert_eq!(app.get(&beta, "/stats/summary").await.status(), 200);

    // Just before Retry-After the key is still refused; then it gets a request through.
    app.clock.advance(Duration::seconds(retry as i64 - 1));
    assert_eq!(app.get(&key, "/stats/summary").await.status(), 429);
    app.clock.advance(Duration::seconds(1));
    assert_eq!(app.get(&key, "/stats/summary").await.status(), 200);
    // Unauthenticated endpoints spend nothing.
    assert_eq!(
        app.http
            .get(format!("{}/health", app.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn ingestion_is_charged_in_events_and_a_replay_is_not_charged_again() {
    let app = spawn_app_with(&[("VIGIL_RATE_LIMIT_INGEST_EVENTS", "10")]).await;
    let eight = failed_logins("alice", 8);
    let r = app
        .request(Method::POST, &app.admin, "/events")
        .header("idempotency-key", "batch-1")
        .json(&eight)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    // The same request again is answered from its record, not charged.
    let r = app
        .request(Method::POST, &app.admin, "/events")
        .header("idempotency-key", "batch-1")
        .json(&eight)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let three = failed_logins("bob", 3);
    let r = app.post_events(&app.admin, &three).await;
    assert_eq!(r.status(), 429, "8 + 3 events exceed 10");
    assert_eq!(header(&r, "ratelimit-limit"), Some(10));
    assert_eq!(header(&r, "ratelimit-remaining"), Some(2));
    // Nothing of the refused request was queued.
    app.drain().await;
    let events = app.get_json(&app.admin, "/events?user=bob").await;
    assert_eq!(events["items"], json!([]), "{events}");
    let two = failed_logins("carol", 2);
    assert_eq!(app.post_events(&app.admin, &two).await.status(), 202);
}

#[tokio::test]
async fn a_tenant_sets_its_own_limits_audited_and_validated() {
    let app = spawn_app_with(&[]).await;
    let viewer = app.key("acme", Role::Viewer).await;
    let got = app.get_json(&viewer, "/governance/limits").await;
    assert_eq!(got["source"], "default");
    let body = json!({"key_requests": 3, "tenant_requests": 50, "ingest_events": 1000, "window_seconds": 60});
    let (status, _) = app
        .call(
            Method::PUT,
            &viewer,
            "/governance/limits",
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, 403);
    let (status, problem) = app
        .as_admin(
            Method::PUT,
            "/governance/limits",
            Some(json!({"key_requests": 0, "tenant_requests": 5, "window_seconds": 90000, "burst": 1})),
        )
        .await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["key_requests", "ingest_events", "window_seconds", "burst"]
    );
    let (status, set) = app
        .as_admin(Method::PUT, "/governance/limits", Some(body))
        .await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["source"], "tenant");
    assert_eq!(set["limits"]["key_requests"], 3);
    let trail = app
        .get_json(&app.admin, "/audit/entries?action=governance.limits.update")
        .await;
    assert_eq!(trail["items"].as_array().unwrap().len(), 1, "{trail}");
    // In force at once on this instance: the viewer made 2 requests (the GET and the
    // refused PUT), so 1 more, then 429.
    assert_eq!(app.get(&viewer, "/governance/limits").await.status(), 200);
    assert_eq!(app.get(&viewer, "/governance/limits").await.status(), 429);
    // Another tenant keeps the defaults.
    let beta = app.key("beta", Role::Viewer).await;
    assert_eq!(
        app.get_json(&beta, "/governance/limits").await["source"],
        "default"
    );
}

/// An OpenAI-compatible stand-in whose status the test switches; it reports tokens.
async fn model(status: Arc<AtomicU16>) -> (String, Arc<AtomicUsize>) {
    use axum::routing::post;
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move || {
            let (c, status) = (c.clone(), status.clone());
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                let code = status.load(Ordering::SeqCst);
                let answer = json!({
                    "choices": [{"message": {"role": "assistant", "content": "{\"risk_score\": 81, \"explanation\": \"Repeated failures.\"}"}}],
                    "usage": {"prompt_tokens": 1200, "completion_tokens": 80, "total_tokens": 1280},
                });
                (axum::http::StatusCode::from_u16(code).unwrap(), axum::Json(answer))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/v1/chat/completions",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, calls)
}

/// Three failed logins of `user`, minutes apart: one finding to enrich.
fn burst(user: &str, at: i64) -> Value {
    Value::Array(
        (0..3)
            .map(|i| {
                let mut e = event("login_failed", user, at + i, json!({"ip": "203.0.113.9"}));
                e["id"] = json!(format!("{user}-{at}-{i}"));
                e
            })
            .collect(),
    )
}

#[tokio::test]
async fn the_model_breaker_opens_after_five_failures_falls_back_at_once_and_a_trial_closes_it() {
    let status = Arc::new(AtomicU16::new(503));
    let (url, calls) = model(status.clone()).await;
    let app = spawn_app_with(&[("VIGIL_LLM_URL", url.as_str()), ("VIGIL_LLM_RETRIES", "0")]).await;
    for (i, user) in ["u1", "u2", "u3", "u4", "u5", "u6", "u7"]
        .iter()
        .enumerate()
    {
        app.post_and_drain(&burst(user, i as i64 * 5)).await;
    }
    // Five calls failed and opened the breaker; the sixth and seventh findings fell
    // back to the heuristic without a call.
    assert_eq!(calls.load(Ordering::SeqCst), 5);
    let findings = app.findings(&app.admin, "").await;
    assert_eq!(findings.len(), 7);
    assert!(findings.iter().all(|f| f["enriched_by"] == "heuristic"));
    let breakers = app.get_json(&app.admin, "/governance/breakers").await;
    let llm = &breakers["items"][0];
    assert_eq!(llm["state"], "OPEN", "{breakers}");
    assert_eq!(llm["consecutive_failures"], 5);
    assert!(llm["name"].as_str().unwrap().starts_with("llm#127.0.0.1:"));

    // 30 s later the endpoint is back: one trial call closes the breaker.
    status.store(200, Ordering::SeqCst);
    app.clock.advance(Duration::seconds(30));
    app.post_and_drain(&burst("u8", 60)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 6);
    let breakers = app.get_json(&app.admin, "/governance/breakers").await;
    assert_eq!(breakers["items"][0]["state"], "CLOSED");
    let f = &app.findings(&app.admin, "user=u8").await[0];
    assert_eq!(f["enriched_by"], "llm");
    assert_eq!(f["risk_score"], 81.0);

    // The call's tokens are the tenant's usage, priced at the defaults.
    let usage = app.get_json(&app.admin, "/governance/usage").await;
    let total = &usage["totals"][0];
    assert_eq!(total["model"], "gpt-4o-mini");
    assert_eq!(total["purpose"], "enrichment");
    assert_eq!(total["calls"], 1);
    assert_eq!(total["prompt_tokens"], 1200);
    assert_eq!(total["completion_tokens"], 80);
    // 1200 × 0.15 + 80 × 0.60 = 228 µ$.
    assert_eq!(total["estimated_cost_usd"], 0.000228);
    // Another tenant used nothing and sees no webhook breakers of acme's.
    let beta = app.key("beta", Role::Viewer).await;
    assert_eq!(
        app.get_json(&beta, "/governance/usage").await["totals"],
        json!([])
    );
}

#[tokio::test]
async fn a_tenant_with_every_model_slot_busy_is_told_to_come_back_while_others_go_ahead() {
    use vigil_shared::config::ResilienceSettings;
    use vigil_shared::domain::{Finding, TenantId};
    use vigil_shared::enrich::{Busy, EnrichContext, Enricher, LlmClient, LlmConfig};

    // A model that holds every call until the test lets it answer.
    let (entered_tx, mut entered) = tokio::sync::mpsc::unbounded_channel::<()>();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let g = gate.clone();
    let app_stub = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move || {
            let (tx, g) = (entered_tx.clone(), g.clone());
            async move {
                tx.send(()).unwrap();
                g.acquire().await.unwrap().forget();
                axum::Json(json!({"choices": [{"message": {"content": "{\"risk_score\": 60, \"explanation\": \"x\"}"}}]}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/v1/chat/completions",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app_stub).await.unwrap() });

    let app = spawn_app_with(&[]).await;
    app.post_and_drain(&burst("alice", 0)).await;
    let finding: Finding =
        serde_json::from_value(app.findings(&app.admin, "").await[0].clone()).unwrap();
    let settings = ResilienceSettings {
        llm_concurrency_per_tenant: 1,
        ..ResilienceSettings::default()
    };
    let config = LlmConfig {
        url,
        api_key: None,
        api_key_secret_arn: None,
        model: "m".into(),
        timeout: std::time::Duration::from_secs(30),
        retries: 0,
    };
    let enricher = Enricher::with_llm(LlmClient::new(config).unwrap(), &settings);
    let store = app.system.store.clone();
    let (acme, beta) = (
        TenantId::parse("acme").unwrap(),
        TenantId::parse("beta").unwrap(),
    );
    let now = app.clock.now();
    let ctx = |tenant| EnrichContext {
        store: store.as_ref(),
        tenant,
        now,
        wait_for_slot: false,
    };

    let mut first = finding.clone();
    let mut second = finding.clone();
    let mut other = finding.clone();
    let ctx_acme = ctx(&acme);
    let ctx_beta = ctx(&beta);
    {
        let held = enricher.enrich(&ctx_acme, &mut first);
        tokio::pin!(held);
        // Run the first call until the model has it.
        tokio::select! {
            _ = &mut held => panic!("the model answered before it was let"),
            _ = entered.recv() => {}
        }
        // acme's one slot is taken: its next finding is sent back, not queued behind it.
        assert_eq!(enricher.enrich(&ctx(&acme), &mut second).await, Err(Busy));
        // beta has slots of its own.
        let beta_call = enricher.enrich(&ctx_beta, &mut other);
        tokio::pin!(beta_call);
        tokio::select! {
            _ = &mut beta_call => panic!("the model answered before it was let"),
            _ = entered.recv() => {}
        }
        gate.add_permits(2);
        held.await.unwrap();
        beta_call.await.unwrap();
    }
    assert_eq!(first.risk_score, Some(60.0));
    assert_eq!(other.risk_score, Some(60.0));
    // With the slot free again, acme goes ahead.
    gate.add_permits(1);
    enricher.enrich(&ctx(&acme), &mut second).await.unwrap();
    assert_eq!(second.risk_score, Some(60.0));
}

#[tokio::test]
async fn a_concurrent_burst_gets_exactly_the_budget_through() {
    let app = spawn_app_with(&[("VIGIL_RATE_LIMIT_KEY_REQUESTS", "10")]).await;
    let key = app.key("acme", Role::Viewer).await;
    let calls = (0..25).map(|_| app.get(&key, "/stats/summary"));
    let statuses: Vec<u16> = futures::future::join_all(calls)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 10);
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 15);
}
