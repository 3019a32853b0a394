//! Black-box tests of the HTTP API and the pipeline behind it.
mod common;

use std::time::Duration;

use common::{event, failed_logins, spawn_app, spawn_app_with};
use reqwest::Method;
use serde_json::{Value, json};
use vigil_shared::domain::Role;
use vigil_shared::ports::{Queue, QueueName};
use vigil_shared::runtime::MessageMeta;

#[tokio::test]
async fn health_needs_no_key() {
    let app = spawn_app().await;
    let r = app
        .http
        .get(format!("{}/health", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"status": "ok"}));
}

#[tokio::test]
async fn ingested_events_become_enriched_findings_with_the_right_severity() {
    let app = spawn_app().await;
    let r = app
        .post_events(&app.admin, &failed_logins("alice", 8))
        .await;
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["accepted"], 8);
    app.drain().await;

    let found = app.findings(&app.admin, "rule_id=login_failed_burst").await;
    assert_eq!(
        found.len(),
        1,
        "one finding per user and period: {found:#?}"
    );
    let f = &found[0];
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["event_ids"].as_array().unwrap().len(), 8);
    assert_eq!(f["enriched_by"], "heuristic");
    assert_eq!(f["risk_score"], 95.0);
    assert!(f["ai_explanation"].as_str().unwrap().contains("alice"));

    let summary = app.get_json(&app.admin, "/stats/summary").await;
    assert_eq!(summary["total_events"], 8);
    assert_eq!(summary["total_findings"], 1);
    assert_eq!(summary["findings_by_severity"]["critical"], 1);
    assert_eq!(
        summary["open_findings_by_rule"][0],
        json!({"key": "login_failed_burst", "count": 1})
    );
    assert_eq!(
        summary["events_over_time"][0],
        json!({"date": "2026-03-01", "count": 8})
    );

    // A domain event announced the finding on the bus.
    let bus = app.system.bus.read_after(0, 10).await.unwrap();
    assert_eq!(bus.len(), 1);
    assert_eq!(bus[0].1.detail_type, "finding.created");
}

#[tokio::test]
async fn the_seed_rules_fire_through_the_pipeline() {
    let app = spawn_app().await;
    let body = json!([
        event(
            "permission_changed",
            "bob",
            0,
            json!({"old_role": "developer", "new_role": "admin"})
        ),
        event(
            "api_token_created",
            "carol",
            1,
            json!({"scopes": ["admin:*"], "expires_at": null})
        ),
        event(
            "pull_request_merged",
            "dave",
            2,
            json!({"repo": "api", "lines_changed": 401})
        ),
        event(
            "deployment_failed",
            "erin",
            3,
            json!({"environment": "prod", "service": "billing"})
        ),
        event(
            "storage_bucket_created",
            "frank",
            4,
            json!({"bucket_name": "exports", "visibility": "public"})
        ),
        event("custom.audit", "gina", 5, json!({})),
    ]);
    assert_eq!(app.post_events(&app.admin, &body).await.status(), 202);
    app.drain().await;
    let mut got: Vec<(String, String, f64)> = app
        .findings(&app.admin, "page_size=100")
        .await
        .iter()
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
                f["risk_score"].as_f64().unwrap(),
            )
        })
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    let want = [
        ("api_token_admin_scope", "critical", 95.0),
        ("deployment_failed", "high", 85.0),
        ("large_pull_request_merge", "high", 80.0),
        ("privilege_escalation_admin", "critical", 95.0),
        ("public_bucket", "critical", 95.0),
    ];
    let want: Vec<(String, String, f64)> = want
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), *c))
        .collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn duplicates_and_redelivery_never_double_count() {
    let app = spawn_app().await;
    let batch = failed_logins("alice", 5);
    assert_eq!(app.post_events(&app.admin, &batch).await.status(), 202);
    // The same client ids again: one event each.
    assert_eq!(app.post_events(&app.admin, &batch).await.status(), 202);
    app.drain().await;

    // Redeliver every stage's messages by hand: replay the events into the rules stage.
    let events = app.get_json(&app.admin, "/events?limit=100").await;
    let tenant = vigil_shared::domain::TenantId::parse("acme").unwrap();
    let rules = app.system.stage(QueueName::Rules);
    let ingest = app.system.stage(QueueName::Ingest);
    for e in events["items"].as_array().unwrap() {
        let msg = json!({"tenant": tenant, "event": e}).to_string();
        let again = || MessageMeta::new("redelivered", 2);
        ingest.handle_body(&msg, again()).await.unwrap();
        rules.handle_body(&msg, again()).await.unwrap();
    }
    app.drain().await;

    let summary = app.get_json(&app.admin, "/stats/summary").await;
    assert_eq!(summary["total_events"], 5);
    assert_eq!(summary["total_findings"], 1);
    let f = &app.findings(&app.admin, "").await[0];
    assert_eq!(f["event_ids"].as_array().unwrap().len(), 5);
    assert_eq!(f["severity"], "high");
}

#[tokio::test]
async fn a_worker_killed_mid_batch_loses_nothing() {
    let app = spawn_app().await;
    // Six requests of one event each: six messages on every queue.
    for e in failed_logins("alice", 6).as_array().unwrap() {
        assert_eq!(app.post_events(&app.admin, &json!([e])).await.status(), 202);
    }
    // Ingest runs; then a rules worker takes the whole batch, handles half and dies
    // before acknowledging anything.
    let ingest = vigil_shared::runtime::Worker::new(
        app.system.queue.clone(),
        QueueName::Ingest,
        app.system.stage(QueueName::Ingest),
    );
    while ingest.poll_once().await.unwrap().received > 0 {}
    let taken = app
        .system
        .queue
        .receive(QueueName::Rules, 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(taken.len(), 6);
    let rules = app.system.stage(QueueName::Rules);
    for d in &taken[..3] {
        rules
            .handle_body(&d.body, MessageMeta::new(d.id.as_str(), d.receive_count))
            .await
            .unwrap();
    }
    drop(taken);
    // Nothing is visible until the dead worker's lease runs out.
    assert!(
        app.system
            .queue
            .receive(QueueName::Rules, 10, Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty()
    );
    app.clock.advance(chrono::Duration::seconds(31));
    app.drain().await;

    let f = &app.findings(&app.admin, "rule_id=login_failed_burst").await;
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["event_ids"].as_array().unwrap().len(), 6);
    assert_eq!(f[0]["severity"], "high");
    assert!(
        f[0]["risk_score"].is_number(),
        "the retried work was enriched too"
    );
    let summary = app.get_json(&app.admin, "/stats/summary").await;
    assert_eq!(summary["total_events"], 6);
    assert_eq!(summary["total_findings"], 1);
}

#[tokio::test]
async fn late_events_count_in_the_window_they_belong_to() {
    let app = spawn_app().await;
    // Seven failures arrive, then an eighth that happened before them all.
    let mut batch = failed_logins("alice", 8);
    let late = batch.as_array_mut().unwrap().remove(0);
    app.post_events(&app.admin, &batch).await;
    app.drain().await;
    assert_eq!(app.findings(&app.admin, "").await[0]["severity"], "high");
    app.post_events(&app.admin, &json!([late])).await;
    app.drain().await;
    let f = app.findings(&app.admin, "").await;
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["severity"], "critical");
    let bus = app.system.bus.read_after(0, 10).await.unwrap();
    let kinds: Vec<&str> = bus.iter().map(|(_, e)| e.detail_type.as_str()).collect();
    assert_eq!(kinds, ["finding.created", "finding.escalated"]);
}

#[tokio::test]
async fn bad_inputs_get_problem_details_naming_the_field() {
    let app = spawn_app().await;
    let r = app
        .post_raw("/events", Some("application/json"), "{not json")
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "application/problem+json");

    let body = json!([
        {"event_type": "login_failed", "user": "a", "timestamp": common::at(0)},
        {"event_type": "Bad Type!", "timestamp": "not a time"},
        {"event_type": "x", "user": "a", "timestamp": "2030-01-01T00:00:00Z", "raw_data": "text"}
    ]);
    let r = app.post_events(&app.admin, &body).await;
    assert_eq!(r.status(), 422);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["status"], 422);
    let errors: Vec<(u64, String)> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["index"].as_u64().unwrap(),
                e["field"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            (1, "event_type"),
            (1, "timestamp"),
            (1, "user"),
            (2, "timestamp"),
            (2, "raw_data")
        ]
        .map(|(i, f)| (i, f.to_string()))
    );
    // Nothing of the rejected request was stored.
    app.drain().await;
    assert_eq!(
        app.get_json(&app.admin, "/stats/summary").await["total_events"],
        0
    );

    let too_many = Value::Array(vec![event("x", "u", 0, json!({})); 501]);
    assert_eq!(app.post_events(&app.admin, &too_many).await.status(), 422);
    let big = "x".repeat(1024 * 1024 + 1);
    let r = app.post_raw("/events", Some("application/json"), big).await;
    assert_eq!(r.status(), 413);

    let r = app
        .get(&app.admin, "/findings?severity=urgent&page_size=1000")
        .await;
    assert_eq!(r.status(), 422);
    let p: Value = r.json().await.unwrap();
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["severity", "page_size"]);

    let r = app.get(&app.admin, "/events?cursor=garbage").await;
    assert_eq!(r.status(), 422);
    let r = app.get(&app.admin, "/nowhere").await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let r = app
        .http
        .get(format!("{}/findings", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app.get("vk_acme_abc_wrongsecret", "/findings").await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn tenants_never_see_each_other() {
    let app = spawn_app().await;
    let other = app.key("globex", Role::Admin).await;
    app.post_events(&app.admin, &failed_logins("alice", 3))
        .await;
    app.drain().await;
    let id = app.findings(&app.admin, "").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    assert_eq!(
        app.get(&other, &format!("/findings/{id}")).await.status(),
        404
    );
    let r = app
        .send(
            Method::PATCH,
            &other,
            &format!("/findings/{id}"),
            Some(json!({"status": "resolved"})),
        )
        .await;
    assert_eq!(r.status(), 404);
    assert!(app.findings(&other, "").await.is_empty());
    assert_eq!(app.get_json(&other, "/events").await["items"], json!([]));
    assert_eq!(
        app.get_json(&other, "/stats/summary").await["total_events"],
        0
    );
    // A cursor from one tenant's listing cannot walk into another's.
    let page = app.get_json(&app.admin, "/events?limit=1").await;
    let cursor = page["next_cursor"].as_str().unwrap();
    assert_eq!(
        app.get(&other, &format!("/events?limit=1&cursor={cursor}"))
            .await
            .status(),
        422
    );
}

#[tokio::test]
async fn roles_limit_what_a_key_can_do() {
    let app = spawn_app().await;
    let viewer = app.key("acme", Role::Viewer).await;
    let analyst = app.key("acme", Role::Analyst).await;
    assert_eq!(
        app.post_events(&viewer, &failed_logins("a", 1))
            .await
            .status(),
        403
    );
    assert_eq!(
        app.post_events(&analyst, &failed_logins("a", 3))
            .await
            .status(),
        202
    );
    app.drain().await;
    let id = app.findings(&viewer, "").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let finding = format!("/findings/{id}");
    let patch =
        async |key: &str, body: Value| app.call(Method::PATCH, key, &finding, Some(body)).await;
    assert_eq!(patch(&viewer, json!({"status": "resolved"})).await.0, 403);
    let (s, f) = patch(
        &analyst,
        json!({"status": "acknowledged", "note": "looking"}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        (f["status"].as_str(), f["note"].as_str()),
        (Some("acknowledged"), Some("looking"))
    );
    assert_eq!(patch(&analyst, json!({"status": "done"})).await.0, 422);
    assert_eq!(patch(&analyst, json!({"status": "resolved"})).await.0, 200);
    let summary = app.get_json(&viewer, "/stats/summary").await;
    assert_eq!(summary["open_findings_by_rule"], json!([]));

    // Keys: admin only; the secret is shown once.
    let r = app
        .send(
            Method::POST,
            &analyst,
            "/keys",
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(r.status(), 403);
    let r = app
        .send(
            Method::POST,
            &app.admin,
            "/keys",
            Some(json!({"role": "viewer", "name": "ci"})),
        )
        .await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let new_key = created["key"].as_str().unwrap().to_string();
    assert_eq!(app.get(&new_key, "/findings").await.status(), 200);
    let listed = app.get_json(&app.admin, "/keys").await;
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k.get("hash").is_none() && k.get("key").is_none())
    );
    let kid = created["id"].as_str().unwrap();
    let r = app
        .send(Method::DELETE, &app.admin, &format!("/keys/{kid}"), None)
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(app.get(&new_key, "/findings").await.status(), 401);
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_answer() {
    let app = spawn_app().await;
    let body = json!([
        event("login_failed", "a", 0, json!({})),
        event("login_failed", "a", 1, json!({}))
    ]);
    let send = |b: &Value| {
        app.request(Method::POST, &app.admin, "/events")
            .header("Idempotency-Key", "req-1")
            .json(b)
            .send()
    };
    let first: Value = send(&body).await.unwrap().json().await.unwrap();
    let again = send(&body).await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    let other = json!([event("login_failed", "b", 0, json!({}))]);
    assert_eq!(send(&other).await.unwrap().status(), 422);
    app.drain().await;
    assert_eq!(
        app.get_json(&app.admin, "/stats/summary").await["total_events"],
        2
    );
}

#[tokio::test]
async fn events_filter_and_paginate_newest_first() {
    let app = spawn_app().await;
    let mut batch = Vec::new();
    for i in 0..25 {
        let user = if i % 2 == 0 { "even" } else { "odd" };
        let mut e = event("pull_request_opened", user, i, json!({}));
        e["source"] = json!(if i % 5 == 0 { "github" } else { "gitlab" });
        batch.push(e);
    }
    app.post_events(&app.admin, &Value::Array(batch)).await;
    app.drain().await;
    let mut seen = Vec::new();
    let mut path = "/events?user=even&limit=4".to_string();
    loop {
        let page = app.get_json(&app.admin, &path).await;
        for e in page["items"].as_array().unwrap() {
            assert_eq!(e["user"], "even");
            seen.push(e["timestamp"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/events?user=even&limit=4&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 13);
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first");
    let github = app.get_json(&app.admin, "/events?source=github").await;
    assert_eq!(github["items"].as_array().unwrap().len(), 5);
    let ranged = app
        .get_json(
            &app.admin,
            &format!(
                "/events?from={}&to={}",
                common::at(10).replace('+', "%2B"),
                common::at(14).replace('+', "%2B")
            ),
        )
        .await;
    assert_eq!(ranged["items"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn seed_page_parameters_keep_working() {
    let app = spawn_app().await;
    let batch: Vec<Value> = (0..7)
        .map(|i| {
            event(
                "pull_request_merged",
                &format!("u{i}"),
                i,
                json!({"lines_changed": 10}),
            )
        })
        .collect();
    app.post_events(&app.admin, &Value::Array(batch)).await;
    app.drain().await;
    let p1 = app
        .get_json(&app.admin, "/findings?page=1&page_size=3")
        .await;
    let p3 = app
        .get_json(&app.admin, "/findings?page=3&page_size=3")
        .await;
    assert_eq!(p1["total"], 7);
    assert_eq!(p1["items"].as_array().unwrap().len(), 3);
    assert_eq!(p3["items"].as_array().unwrap().len(), 1);
    assert_eq!(p3["page"], 3);
    let by_user = app
        .get_json(
            &app.admin,
            "/findings?user=u2&severity=low&from_date=2026-03-01&to_date=2026-03-01",
        )
        .await;
    assert_eq!(by_user["total"], 1);
    let none = app
        .get_json(&app.admin, "/findings?to_date=2026-02-28")
        .await;
    assert_eq!(none["total"], 0);
}

/// A stand-in for an OpenAI-compatible server that answers as the test says.
async fn model_stub(
    status: u16,
    content: &'static str,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use axum::routing::post;
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = calls.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |body: axum::Json<Value>| {
            let c = c.clone();
            async move {
                c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                assert!(
                    body.0["messages"][1]["content"]
                        .as_str()
                        .unwrap()
                        .contains("rule_id")
                );
                let answer =
                    json!({"choices": [{"message": {"role": "assistant", "content": content}}]});
                (
                    axum::http::StatusCode::from_u16(status).unwrap(),
                    axum::Json(answer),
                )
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

#[tokio::test]
async fn a_configured_model_enriches_findings() {
    let (url, calls) = model_stub(
        200,
        "```json\n{\"risk_score\": 77, \"explanation\": \"Three failures from one IP.\"}\n```",
    )
    .await;
    let app = spawn_app_with(&[
        ("VIGIL_LLM_URL", url.as_str()),
        ("VIGIL_LLM_API_KEY", "sk-test"),
    ])
    .await;
    app.post_events(&app.admin, &failed_logins("alice", 3))
        .await;
    app.drain().await;
    let f = &app.findings(&app.admin, "").await[0];
    assert_eq!(f["enriched_by"], "llm");
    assert_eq!(f["risk_score"], 77.0);
    assert_eq!(f["ai_explanation"], "Three failures from one IP.");
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_failing_model_falls_back_to_the_heuristic_after_bounded_retries() {
    let (url, calls) = model_stub(503, "").await;
    let app = spawn_app_with(&[("VIGIL_LLM_URL", url.as_str()), ("VIGIL_LLM_RETRIES", "2")]).await;
    app.post_events(&app.admin, &failed_logins("alice", 3))
        .await;
    app.drain().await;
    let f = &app.findings(&app.admin, "").await[0];
    assert_eq!(f["enriched_by"], "heuristic");
    assert_eq!(f["risk_score"], 50.0);
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3);

    // On demand: the seed's endpoints.
    let id = f["id"].as_str().unwrap();
    let r = app
        .send(
            Method::POST,
            &app.admin,
            &format!("/findings/{id}/enrich_with_ai"),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .send(
            Method::POST,
            &app.admin,
            "/findings/enrich_all_missing?limit=10",
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!([]),
        "nothing is missing any more"
    );
}

#[tokio::test]
async fn the_ingest_request_id_travels_to_the_domain_events() {
    let app = spawn_app().await;
    let r = app
        .request(Method::POST, &app.admin, "/events")
        .header("x-request-id", "req-trace-1")
        .json(&failed_logins("alice", 5))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    // Every stage's message carries it: ingest -> rules -> enrich -> bus.
    let queued = app
        .system
        .queue
        .receive(QueueName::Ingest, 10, Duration::from_secs(1))
        .await
        .unwrap();
    assert!(
        queued
            .iter()
            .all(|d| d.body.contains("\"request_id\":\"req-trace-1\""))
    );
    app.clock.advance(chrono::Duration::seconds(2));
    app.drain().await;
    let published = app.system.bus.read_after(0, 10).await.unwrap();
    assert!(!published.is_empty(), "the burst raised a finding");
    for (_, e) in &published {
        assert_eq!(e.request_id.as_deref(), Some("req-trace-1"), "{}", e.id);
    }
}

#[tokio::test]
async fn a_late_event_bridging_two_findings_merges_them_into_the_older() {
    let app = spawn_app().await;
    let fail = |id: &str, minute: i64| {
        let mut e = event("login_failed", "alice", minute, json!({"location": "USA"}));
        e["id"] = json!(id);
        e
    };
    // Two bursts 97 minutes apart: two findings.
    for batch in [
        json!([fail("a1", -150), fail("a2", -147)]),
        json!([fail("b1", -50), fail("b2", -47)]),
    ] {
        assert_eq!(app.post_events(&app.admin, &batch).await.status(), 202);
    }
    app.drain().await;
    let two = app.findings(&app.admin, "rule_id=login_failed_burst").await;
    assert_eq!(two.len(), 2, "{two:#?}");
    let by_start = |t: &str| {
        two.iter()
            .find(|f| f["first_seen"].as_str().unwrap() == t)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (older, newer) = (
        by_start(&common::at(-150).replace("+00:00", "Z")),
        by_start(&common::at(-50).replace("+00:00", "Z")),
    );
    // The newer one is acknowledged before the bridge arrives.
    let (status, _) = app
        .call(
            Method::PATCH,
            &app.admin,
            &format!("/findings/{newer}"),
            Some(json!({"status": "acknowledged", "note": "on it"})),
        )
        .await;
    assert_eq!(status, 200);

    // A failure between them is within the gap of both.
    let late = json!([fail("late", -100)]);
    assert_eq!(app.post_events(&app.admin, &late).await.status(), 202);
    app.drain().await;
    let active = app.findings(&app.admin, "rule_id=login_failed_burst").await;
    let active: Vec<&Value> = active.iter().filter(|f| f["status"] != "merged").collect();
    assert_eq!(active.len(), 1);
    let survivor = active[0];
    assert_eq!(survivor["id"], older.as_str());
    assert_eq!(survivor["evidence_count"], 5);
    assert_eq!(
        survivor["status"], "acknowledged",
        "the furthest triage wins"
    );
    assert!(
        survivor["note"]
            .as_str()
            .unwrap()
            .contains(&format!("merged {newer} (acknowledged): on it"))
    );
    // Three failures in the densest hour: medium, judged on all five.
    assert_eq!(survivor["severity"], "medium");

    let merged = app
        .get_json(&app.admin, &format!("/findings/{newer}"))
        .await;
    assert_eq!(merged["status"], "merged");
    assert_eq!(merged["merged_into"], older.as_str());
    // A merged finding is closed: triage goes to the survivor, and no one sets `merged`.
    let (status, body) = app
        .call(
            Method::PATCH,
            &app.admin,
            &format!("/findings/{newer}"),
            Some(json!({"status": "resolved"})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = app
        .call(
            Method::PATCH,
            &app.admin,
            &format!("/findings/{older}"),
            Some(json!({"status": "merged"})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "status", "{body}");
    let summary = app.get_json(&app.admin, "/stats/summary").await;
    assert_eq!(summary["total_findings"], 1, "{summary}");
}

/// Every finding read through cursor pages of `query` (`status=merged`: the merged
/// ones, which the unfiltered list leaves out), newest first.
async fn all_findings(app: &common::TestApp, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut path = format!("/findings?{query}limit=100");
    loop {
        let page = app.get_json(&app.admin, &path).await;
        out.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/findings?{query}limit=100&cursor={c}"),
            None => return out,
        }
    }
}

/// For each filter: the seed-style total, every offset page and a cursor page agree with
/// the unfiltered list filtered here (same order).
async fn check_totals(app: &common::TestApp) {
    let mut all = all_findings(app, "").await;
    assert!(all.iter().all(|f| f["status"] != "merged"));
    let merged = all_findings(app, "status=merged&").await;
    assert!(merged.iter().all(|f| f["status"] == "merged"));
    all.extend(merged);
    let key = |f: &Value| {
        let text = |k: &str| f[k].as_str().unwrap().to_string();
        std::cmp::Reverse((text("first_seen"), text("id")))
    };
    all.sort_by_key(key);
    let rules = ["large_pull_request_merge", "login_failed_burst"];
    let statuses = ["open", "acknowledged", "resolved", "merged"];
    let mut filters: Vec<Vec<(&str, &str)>> = vec![vec![]];
    for s in statuses {
        filters.push(vec![("status", s)]);
        filters.push(vec![("status", s), ("severity", "low")]);
        for r in rules {
            filters.push(vec![("status", s), ("rule_id", r)]);
        }
    }
    for r in rules {
        filters.push(vec![("rule_id", r)]);
    }
    filters.push(vec![("user", "alice"), ("status", "open")]);
    filters.push(vec![("user", "alice"), ("status", "merged")]);
    for filter in filters {
        let wanted: Vec<&Value> = all
            .iter()
            .filter(|f| filter.iter().all(|(k, v)| f[*k] == *v))
            .filter(|f| f["status"] != "merged" || filter.contains(&("status", "merged")))
            .collect();
        let ids = |items: &[&Value]| -> Vec<String> {
            items
                .iter()
                .map(|f| f["id"].as_str().unwrap().to_string())
                .collect()
        };
        let query: String = filter.iter().map(|(k, v)| format!("{k}={v}&")).collect();
        let mut paged = Vec::new();
        for page in 1..=wanted.len().max(1) + 1 {
            let got = app
                .get_json(
                    &app.admin,
                    &format!("/findings?{query}page={page}&page_size=1"),
                )
                .await;
            assert_eq!(got["total"], wanted.len(), "total of {query}");
            paged.extend(got["items"].as_array().unwrap().iter().cloned());
        }
        let paged: Vec<&Value> = paged.iter().collect();
        assert_eq!(ids(&paged), ids(&wanted), "offset pages of {query}");
        let cursor = app.findings(&app.admin, &format!("{query}limit=100")).await;
        assert_eq!(
            ids(&cursor.iter().collect::<Vec<_>>()),
            ids(&wanted),
            "cursor page of {query}"
        );
    }
}

#[tokio::test]
async fn filtered_totals_and_pages_stay_exact_through_triage_and_merges() {
    let app = spawn_app().await;
    let pr = |user: &str, minutes: i64| {
        let mut e = event(
            "pull_request_merged",
            user,
            minutes,
            json!({"lines_changed": 900}),
        );
        e["id"] = json!(format!("{user}-pr-{minutes}"));
        e
    };
    // Two sessions of alice's (70 minutes apart), one of bob's, a login burst of carol's.
    app.post_and_drain(&json!([pr("alice", -60), pr("alice", 10), pr("bob", 0)]))
        .await;
    app.post_and_drain(&failed_logins("carol", 8)).await;
    check_totals(&app).await;
    let alice = app.findings(&app.admin, "user=alice").await;
    assert_eq!(alice.len(), 2, "{alice:#?}");

    // Triage moves a finding between statuses.
    let set_status = async |finding: &Value, status: &str| {
        let path = format!("/findings/{}", finding["id"].as_str().unwrap());
        let (s, _) = app
            .as_admin(Method::PATCH, &path, Some(json!({ "status": status })))
            .await;
        assert_eq!(s, 200);
    };
    set_status(&alice[0], "acknowledged").await;
    check_totals(&app).await;

    // A late event bridging alice's two sessions merges them.
    app.post_and_drain(&json!([pr("alice", -25)])).await;
    let alice = app.findings(&app.admin, "user=alice").await;
    assert_eq!(alice.len(), 1, "{alice:#?}");
    let merged = app.findings(&app.admin, "user=alice&status=merged").await;
    assert_eq!(merged.len(), 1, "{merged:#?}");
    assert_eq!(merged[0]["merged_into"], alice[0]["id"]);
    check_totals(&app).await;

    let bob = app.findings(&app.admin, "user=bob").await;
    set_status(&bob[0], "resolved").await;
    check_totals(&app).await;
}
