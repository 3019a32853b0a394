//! Model drift and bias monitoring, black box: models, baselines, observations, checks,
//! alerts, the schedule and the statistics, over the real router and stages.
mod common;

use chrono::Duration;
use common::{TestApp, spawn_app, t0};
use reqwest::Method;
use serde_json::{Value, json};
use vigil_shared::domain::Role;
use vigil_shared::messages::DriftMessage;
use vigil_shared::ports::Clock;
use vigil_shared::runtime::{MessageMeta, Stage};

/// Numbers 0..100 repeated: a uniform reference of `n` values.
fn uniform(n: usize, shift: f64) -> Vec<f64> {
    (0..n).map(|i| (i % 100) as f64 + shift).collect()
}

/// `n` categories with `share_a` of them "a", the rest "b".
fn categories(n: usize, share_a: f64) -> Vec<&'static str> {
    let a = (n as f64 * share_a).round() as usize;
    (0..n).map(|i| if i < a { "a" } else { "b" }).collect()
}

fn model_body(id: &str) -> Value {
    json!({
        "model_id": id,
        "model_version": "1.0.0",
        "features": [{"name": "age", "type": "numeric"}, {"name": "plan", "type": "categorical"}],
        "schedule_interval": "hourly",
    })
}

async fn register(app: &TestApp, id: &str) {
    let (s, b) = app
        .as_admin(Method::POST, "/models", Some(model_body(id)))
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = app
        .as_admin(
            Method::PUT,
            &format!("/models/{id}/baseline"),
            Some(json!({
                "baseline_data": {"age": uniform(1_000, 0.0), "plan": categories(1_000, 0.5)},
                "reference_predictions": uniform(1_000, 0.0).iter().map(|x| x / 100.0).collect::<Vec<_>>(),
            })),
        )
        .await;
    assert_eq!(s, 201, "{b}");
}

async fn check_inline(app: &TestApp, id: &str, age_shift: f64, share_a: f64, n: usize) -> Value {
    let (s, b) = app
        .as_admin(
            Method::POST,
            &format!("/models/{id}/checks"),
            Some(json!({"input_data": {"age": uniform(n, age_shift), "plan": categories(n, share_a)}})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    b
}

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|e| e["field"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Rows of `n` observations: age `i % 100 + shift`, plan by `share_a`, ids `{tag}-{i}`.
fn rows(tag: &str, n: usize, shift: f64, share_a: f64) -> Vec<Value> {
    let plans = categories(n, share_a);
    (0..n)
        .map(|i| {
            json!({
                "observation_id": format!("{tag}-{i}"),
                "features": {"age": (i % 100) as f64 + shift, "plan": plans[i]},
                "prediction": ((i % 100) as f64) / 100.0,
                "timestamp": (t0() - Duration::minutes(30)).to_rfc3339(),
            })
        })
        .collect()
}

async fn observe(app: &TestApp, id: &str, rows: Vec<Value>, key: Option<&str>) -> (u16, Value) {
    let mut req = app
        .request(
            Method::POST,
            &app.admin,
            &format!("/models/{id}/observations"),
        )
        .json(&json!({"rows": rows}));
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    let r = req.send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// A check's metrics without what differs between any two checks.
fn numbers(check: &Value) -> Value {
    check["metrics"].clone()
}

#[tokio::test]
async fn models_are_validated_tenant_scoped_and_paged() {
    let app = spawn_app().await;
    let (s, b) = app
        .as_admin(
            Method::POST,
            "/models",
            Some(json!({"model_id": "a b", "features": [{"name": "x", "type": "float"}], "thresholds": {"psi_warning": 0.5, "psi_critical": 0.2}, "schedule_interval": "custom"})),
        )
        .await;
    assert_eq!(s, 422);
    let f = fields(&b);
    for want in [
        "model_id",
        "model_version",
        "features[0].type",
        "thresholds.psi_critical",
        "schedule_cron",
    ] {
        assert!(f.iter().any(|x| x == want), "{want} not in {f:?}");
    }
    let (s, b) = app
        .as_admin(
            Method::POST,
            "/models",
            Some(json!({"model_id": "m", "model_version": "1", "features": [{"name": "x", "type": "numeric"}], "ai_system_id": "ais_nope"})),
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(fields(&b), ["ai_system_id"]);

    for id in ["m1", "m2", "m3"] {
        let (s, b) = app
            .as_admin(Method::POST, "/models", Some(model_body(id)))
            .await;
        assert_eq!(s, 201, "{b}");
        assert_eq!(b["thresholds"]["psi_warning"], 0.1);
        assert_eq!(b["thresholds"]["psi_critical"], 0.25);
        assert_eq!(b["thresholds"]["bias"], 0.1);
    }
    let (s, _) = app
        .as_admin(Method::POST, "/models", Some(model_body("m1")))
        .await;
    assert_eq!(s, 409);
    let page = app.get_json(&app.admin, "/models?limit=2").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let next = page["next_cursor"].as_str().unwrap();
    let rest = app
        .get_json(&app.admin, &format!("/models?limit=2&cursor={next}"))
        .await;
    assert_eq!(rest["items"][0]["model_id"], "m3");

    let (s, b) = app
        .as_admin(Method::PATCH, "/models/m1", Some(json!({"schedule_interval": "custom", "schedule_cron": "0 9 * * MON-FRI", "thresholds": {"features": {"age": {"psi_critical": 0.4}}}})))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["thresholds"]["features"]["age"]["psi_critical"], 0.4);
    assert_eq!(b["version"], 2);
    let (s, b) = app
        .as_admin(
            Method::PATCH,
            "/models/m1",
            Some(json!({"schedule_cron": "not cron"})),
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(fields(&b), ["schedule_cron"]);

    // Another tenant's ids answer 404 everywhere; its viewer cannot write.
    let other = app.key("globex", Role::Admin).await;
    for (m, path, body) in [
        (Method::GET, "/models/m1", None),
        (Method::PATCH, "/models/m1", Some(json!({"enabled": false}))),
        (Method::DELETE, "/models/m1", None),
        (
            Method::PUT,
            "/models/m1/baseline",
            Some(json!({"baseline_data": {}})),
        ),
        (
            Method::POST,
            "/models/m1/observations",
            Some(json!({"rows": [{}]})),
        ),
        (Method::POST, "/models/m1/checks", None),
        (Method::GET, "/models/m1/checks", None),
    ] {
        let (s, _) = app.call(m.clone(), &other, path, body).await;
        assert_eq!(s, 404, "{m} {path}");
    }
    assert!(
        app.get_json(&other, "/models").await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let viewer = app.key("acme", Role::Viewer).await;
    let (s, _) = app
        .call(Method::POST, &viewer, "/models", Some(model_body("v")))
        .await;
    assert_eq!(s, 403);
    assert_eq!(app.get_json(&viewer, "/models/m2").await["model_id"], "m2");

    let (s, _) = app.as_admin(Method::DELETE, "/models/m2", None).await;
    assert_eq!(s, 204);
    let (s, _) = app.as_admin(Method::GET, "/models/m2", None).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn baselines_are_frozen_and_versioned() {
    let app = spawn_app().await;
    register(&app, "fraud").await;
    let b1 = app.get_json(&app.admin, "/models/fraud/baseline").await;
    assert_eq!(b1["baseline_version"], 1);
    let age = &b1["features"][0];
    assert_eq!(age["name"], "age");
    // Deciles of 0..99 repeated ten times (NumPy's linear interpolation): 9.9, 19.8, ...
    let edges: Vec<f64> = age["bins"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(edges.len(), 9);
    assert!((edges[0] - 9.9).abs() < 1e-9, "{edges:?}");
    assert_eq!(age["counts"].as_array().unwrap().len(), 10);
    assert_eq!(b1["features"][1]["bins"]["categories"], json!(["a", "b"]));
    assert_eq!(b1["features"][1]["counts"], json!([500, 500, 0]));

    let first = check_inline(&app, "fraud", 0.0, 0.5, 500).await;
    assert_eq!(first["baseline_version"], 1);
    assert_eq!(first["status"], "COMPLETED");

    let (s, b) = app
        .as_admin(
            Method::PUT,
            "/models/fraud/baseline",
            Some(
                json!({"baseline_data": {"age": uniform(400, 50.0), "plan": categories(400, 0.9)}}),
            ),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["baseline_version"], 2);
    let second = check_inline(&app, "fraud", 0.0, 0.5, 500).await;
    assert_eq!(second["baseline_version"], 2);
    // The earlier check still reads as it was, and the old version is still there.
    let again = app
        .get_json(
            &app.admin,
            &format!(
                "/models/fraud/checks/{}",
                first["check_id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(again, first);
    assert_eq!(
        app.get_json(&app.admin, "/models/fraud/baseline?version=1")
            .await,
        b1
    );

    let (s, b) = app
        .as_admin(
            Method::PUT,
            "/models/fraud/baseline",
            Some(json!({"baseline_data": {"age": [1, "x"], "color": [1]}})),
        )
        .await;
    assert_eq!(s, 422);
    let f = fields(&b);
    for want in [
        "baseline_data.color",
        "baseline_data.age[1]",
        "baseline_data.plan",
    ] {
        assert!(f.iter().any(|x| x == want), "{want} not in {f:?}");
    }
}

#[tokio::test]
async fn checks_judge_drift_with_significance_and_thin_data() {
    let app = spawn_app().await;
    register(&app, "fraud").await;
    let same = check_inline(&app, "fraud", 0.0, 0.5, 1_000).await;
    assert_eq!(same["alert_level"], "NORMAL");
    assert_eq!(same["alert_generated"], false);
    let age = &same["metrics"]["features"]["age"];
    assert_eq!(age["psi"], 0.0);
    assert_eq!(age["n_ref"], 1000);
    assert_eq!(age["n_cur"], 1000);
    assert_eq!(age["sampled"], false);
    assert!(age["ks_p_value"].as_f64().unwrap() > 0.99);
    assert_eq!(age["wasserstein"], 0.0);
    assert!(
        same["metrics"]["features"]["plan"]["chi2_p_value"]
            .as_f64()
            .unwrap()
            > 0.99
    );

    let shifted = check_inline(&app, "fraud", 60.0, 0.85, 1_000).await;
    assert_eq!(shifted["alert_level"], "CRITICAL", "{shifted}");
    assert_eq!(shifted["alert_generated"], true);
    let plan = &shifted["metrics"]["features"]["plan"];
    assert_eq!(plan["status"], "critical");
    assert_eq!(plan["significant"], true);
    assert!(plan["psi"].as_f64().unwrap() > 0.25);
    assert!(
        shifted["metrics"]["features"]["age"]["ks_p_value"]
            .as_f64()
            .unwrap()
            < 1e-10
    );
    assert_eq!(shifted["metrics"]["input_drift_count"], 2);

    // 29 values: too few to judge, never NORMAL.
    let thin = check_inline(&app, "fraud", 60.0, 0.85, 29).await;
    assert_eq!(
        thin["metrics"]["features"]["age"]["status"],
        "insufficient_data"
    );
    assert_eq!(thin["alert_level"], "NORMAL");
    // 40 values shifted a little: the band may say WARNING, but not significantly.
    let (_, small) = app
        .as_admin(
            Method::POST,
            "/models/fraud/checks",
            Some(json!({"input_data": {"plan": categories(40, 0.6)}})),
        )
        .await;
    let plan = &small["metrics"]["features"]["plan"];
    assert_eq!(plan["significant"], false);
    assert_eq!(plan["status"], "normal");
    assert_eq!(plan["reason"], "not significant at this sample size");

    let (s, b) = app
        .as_admin(
            Method::POST,
            "/models/fraud/checks",
            Some(json!({"input_data": {"age": [1, null], "zip": [1]}})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["status"], "FAILED");
    assert!(
        b["error_message"]
            .as_str()
            .unwrap()
            .contains("input_data.zip")
    );

    // Disabled: SKIPPED. No baseline: FAILED with the reason.
    app.as_admin(
        Method::PATCH,
        "/models/fraud",
        Some(json!({"enabled": false})),
    )
    .await;
    let skipped = check_inline(&app, "fraud", 0.0, 0.5, 100).await;
    assert_eq!(skipped["status"], "SKIPPED");
    app.as_admin(Method::POST, "/models", Some(model_body("bare")))
        .await;
    let (_, failed) = app
        .as_admin(Method::POST, "/models/bare/checks", None)
        .await;
    assert_eq!(failed["status"], "FAILED");
    assert!(
        failed["error_message"]
            .as_str()
            .unwrap()
            .contains("baseline")
    );

    let hist = app
        .get_json(
            &app.admin,
            "/models/fraud/checks?status=COMPLETED&limit=100",
        )
        .await;
    assert_eq!(hist["items"].as_array().unwrap().len(), 4);
    let crit = app
        .get_json(&app.admin, "/models/fraud/checks?alert_level=CRITICAL")
        .await;
    assert_eq!(crit["items"].as_array().unwrap().len(), 1);
    let (s, b) = app
        .as_admin(Method::GET, "/models/fraud/checks?status=DONE", None)
        .await;
    assert_eq!(s, 422);
    assert_eq!(fields(&b), ["status"]);

    let stats = app.get_json(&app.admin, "/drift/stats").await;
    assert_eq!(stats["total_models_configured"], 2);
    assert_eq!(stats["total_models_enabled"], 1);
    assert_eq!(stats["total_executions"], 7);
    assert_eq!(stats["successful_executions"], 4);
    assert_eq!(stats["failed_executions"], 2);
    assert_eq!(stats["skipped_executions"], 1);
    assert_eq!(stats["alerts_generated"], 1);
    assert_eq!(stats["success_rate"], 66.7);
}

#[tokio::test]
async fn observations_fold_once_in_any_order() {
    let app = spawn_app().await;
    register(&app, "a").await;
    register(&app, "b").await;
    let all = rows("r", 3_000, 40.0, 0.7);
    // Model a: one request, sent twice with one key (a redelivery).
    let (s, first) = observe(&app, "a", all.clone(), Some("batch-1")).await;
    assert_eq!(s, 202, "{first}");
    assert_eq!(first["accepted"], 3000);
    let r = app
        .request(Method::POST, &app.admin, "/models/a/observations")
        .header("idempotency-key", "batch-1")
        .json(&json!({"rows": all}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(r.headers()["idempotent-replayed"], "true");
    // Model b: the same rows reversed, in three requests, one of them redelivered
    // after its record expired (the fold markers still stop it).
    let mut rev = all.clone();
    rev.reverse();
    for (i, chunk) in rev.chunks(1_000).enumerate() {
        let key = format!("part-{i}");
        let (s, b) = observe(&app, "b", chunk.to_vec(), Some(&key)).await;
        assert_eq!(s, 202, "{b}");
    }
    let (s, b) = observe(&app, "b", rev[..1_000].to_vec(), Some("part-0")).await;
    assert_eq!(s, 202);
    assert_eq!(b["accepted"], 1000);

    let (_, ca) = app.as_admin(Method::POST, "/models/a/checks", None).await;
    let (_, cb) = app.as_admin(Method::POST, "/models/b/checks", None).await;
    assert_eq!(ca["status"], "COMPLETED", "{ca}");
    assert_eq!(ca["source"], "observations");
    assert_eq!(ca["metrics"]["features"]["age"]["n_cur"], 3000);
    assert_eq!(ca["metrics"]["features"]["plan"]["n_cur"], 3000);
    assert_eq!(ca["metrics"]["output"]["n_cur"], 3000);
    assert_eq!(numbers(&ca), numbers(&cb));
    assert_eq!(ca["alert_level"], "CRITICAL");

    // A second check covers only what came since the first.
    let (_, again) = app.as_admin(Method::POST, "/models/a/checks", None).await;
    assert_eq!(again["metrics"]["features"]["age"]["n_cur"], 0);
    assert_eq!(
        again["metrics"]["features"]["age"]["status"],
        "insufficient_data"
    );

    // Bad rows are named; nothing of the request is folded.
    let (s, b) = observe(
        &app,
        "a",
        vec![
            json!({"features": {"age": "old"}}),
            json!({"features": {"zip": 1}, "timestamp": "yesterday"}),
            json!({"features": {"age": 1}, "groups": {"sex": "f"}, "prediction": 0.3}),
            json!({"observation_id": "x"}),
            json!({"observation_id": "x"}),
        ],
        None,
    )
    .await;
    assert_eq!(s, 422);
    let f = fields(&b);
    for want in [
        "rows[0].features.age",
        "rows[1].timestamp",
        "rows[2].prediction",
        "rows[4].observation_id",
    ] {
        assert!(f.iter().any(|x| x == want), "{want} not in {f:?}");
    }
    let (s, b) = observe(&app, "a", Vec::new(), None).await;
    assert_eq!(s, 422);
    assert_eq!(fields(&b), ["rows"]);
    app.as_admin(Method::POST, "/models", Some(model_body("fresh")))
        .await;
    let (s, _) = observe(&app, "fresh", rows("f", 5, 0.0, 0.5), None).await;
    assert_eq!(s, 409);
}

#[tokio::test]
async fn bias_is_computed_from_groups_and_taken_precomputed() {
    let app = spawn_app().await;
    register(&app, "loans").await;
    // Group f is selected 20% of the time, m 80%: a parity gap of 0.6.
    let rows: Vec<Value> = (0..200)
        .map(|i| {
            let (g, selected) = if i % 2 == 0 {
                ("f", i % 10 == 0)
            } else {
                ("m", i % 10 < 6 || i % 10 == 7)
            };
            json!({"features": {"age": (i % 100) as f64}, "prediction": selected, "label": i % 4 == 0, "groups": {"sex": g, "tiny": if i < 10 { "x" } else { "y" }}})
        })
        .collect();
    let (s, b) = observe(&app, "loans", rows, None).await;
    assert_eq!(s, 202, "{b}");
    let (_, c) = app
        .as_admin(Method::POST, "/models/loans/checks", None)
        .await;
    let bias = c["metrics"]["bias"].as_array().unwrap();
    let sex = bias.iter().find(|r| r["attribute"] == "sex").unwrap();
    assert_eq!(sex["status"], "alert", "{sex}");
    assert!((sex["demographic_parity_difference"].as_f64().unwrap() - 0.6).abs() < 1e-9);
    assert_eq!(sex["groups"][0]["n"], 100);
    // x has 10 rows: listed, but too few to judge, so the attribute is insufficient.
    let tiny = bias.iter().find(|r| r["attribute"] == "tiny").unwrap();
    assert_eq!(tiny["status"], "insufficient_data");
    assert!(c["alert_level"] != "NORMAL");

    let (_, pre) = app
        .as_admin(
            Method::POST,
            "/models/loans/checks",
            Some(json!({"input_data": {"age": uniform(100, 0.0)}, "bias_data": [
                {"metric_name": "demographic_parity_gap", "stratum_type": "RACE", "stratum_value": "Black", "baseline_value": 0.02, "current_value": 0.08},
                {"metric_name": "demographic_parity_gap", "stratum_type": "RACE", "stratum_value": "Asian", "baseline_value": 0.02, "current_value": 0.25}
            ]})),
        )
        .await;
    let judged = pre["metrics"]["bias_precomputed"].as_array().unwrap();
    assert_eq!(judged[0]["flagged"], false);
    assert_eq!(judged[1]["flagged"], true);
    assert_eq!(pre["alert_level"], "WARNING");
}

async fn drift_findings(app: &TestApp) -> Vec<Value> {
    app.findings(&app.admin, "rule_id=model_drift").await
}

#[tokio::test]
async fn drift_raises_then_escalates_a_finding_with_audit_and_events() {
    let app = spawn_app().await;
    register(&app, "fraud").await;
    // plan 70/30 against 50/50: PSI ≈ 0.17, a WARNING.
    let warn = check_inline(&app, "fraud", 0.0, 0.7, 1_000).await;
    assert_eq!(warn["alert_level"], "WARNING", "{warn}");
    app.drain().await;
    let f = drift_findings(&app).await;
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["severity"], "medium");
    assert_eq!(f[0]["subject"], "model:fraud");
    assert_eq!(f[0]["event_ids"], json!([warn["check_id"]]));
    assert!(f[0]["risk_score"].is_number(), "enriched: {}", f[0]);

    app.clock.advance(Duration::minutes(10));
    let crit = check_inline(&app, "fraud", 0.0, 0.9, 1_000).await;
    assert_eq!(crit["alert_level"], "CRITICAL");
    app.drain().await;
    let f = drift_findings(&app).await;
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["severity"], "critical");
    assert_eq!(f[0]["evidence_count"], 2);
    let stored = app
        .get_json(
            &app.admin,
            &format!(
                "/models/fraud/checks/{}",
                crit["check_id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(stored["alert_state"], "raised");

    let bus = app.system.bus.read_after(0, 100).await.unwrap();
    let text = format!("{bus:?}");
    assert_eq!(text.matches("model.drift_detected").count(), 2, "{text}");
    assert!(text.contains("finding.created") && text.contains("finding.escalated"));

    // A redelivered alert changes nothing.
    let stage = app.system.drift();
    let msg = DriftMessage::Alert {
        tenant: vigil_shared::domain::TenantId::parse("acme").unwrap(),
        check_id: crit["check_id"].as_str().unwrap().to_string(),
        request_id: None,
    };
    stage.handle(msg, &MessageMeta::new("m", 1)).await.unwrap();
    app.drain().await;
    assert_eq!(drift_findings(&app).await[0]["evidence_count"], 2);

    let trail = app
        .get_json(
            &app.admin,
            "/audit/entries?resource_type=model&resource_id=fraud&limit=100",
        )
        .await;
    let acts: Vec<(String, String)> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["actor"].to_string(),
            )
        })
        .collect();
    let count = |a: &str| acts.iter().filter(|(x, _)| x == a).count();
    assert_eq!(count("model.create"), 1, "{acts:?}");
    assert_eq!(count("model.baseline"), 1);
    assert_eq!(count("model.check"), 2);
    assert_eq!(count("model.drift_alert"), 2);
    assert!(
        acts.iter()
            .filter(|(a, _)| a == "model.drift_alert")
            .all(|(_, actor)| actor.contains("drift_scheduler")),
        "{acts:?}"
    );
}

#[tokio::test]
async fn the_schedule_runs_each_slot_once_on_the_windows_since_the_last() {
    let app = spawn_app().await;
    register(&app, "fraud").await;
    register(&app, "quiet").await;
    app.as_admin(
        Method::PATCH,
        "/models/quiet",
        Some(json!({"enabled": false})),
    )
    .await;
    let sched = app.get_json(&app.admin, "/drift/schedule").await;
    let fraud = sched["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["model_id"] == "fraud")
        .unwrap()
        .clone();
    assert_eq!(fraud["next_run_time"], "2026-03-01T13:00:00Z");
    assert_eq!(fraud["schedule_interval"], "hourly");
    // Observations in the 11:00 and 11:30 windows (t0 is 12:00).
    let (s, _) = observe(&app, "fraud", rows("r", 1_000, 40.0, 0.9), None).await;
    assert_eq!(s, 202);

    // Nothing is due before 13:00.
    let stage = app.system.drift();
    assert!(stage.on_schedule().await.unwrap().sent.is_empty());
    app.clock.set(t0() + Duration::minutes(61));
    let sweep = stage.on_schedule().await.unwrap();
    assert_eq!(sweep.sent.len(), 1, "{sweep:?}");
    // A second sweep in the same hour sends nothing more.
    assert!(stage.on_schedule().await.unwrap().sent.is_empty());
    app.drain().await;
    let hist = app.get_json(&app.admin, "/models/fraud/checks").await;
    let items = hist["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let c = &items[0];
    assert_eq!(c["trigger"], "schedule");
    assert_eq!(c["scheduled_for"], "2026-03-01T13:00:00Z");
    // The 13:00 slot covers the windows since the 12:00 slot: 12:00 to 13:00, where
    // none of the observations (11:30) fall.
    assert_eq!(c["window"]["from"], "2026-03-01T12:00:00Z");
    assert_eq!(c["metrics"]["features"]["age"]["n_cur"], 0);

    // The same slot delivered again runs nothing new.
    let msg = DriftMessage::Run {
        tenant: vigil_shared::domain::TenantId::parse("acme").unwrap(),
        model_id: "fraud".into(),
        model_uid: app.get_json(&app.admin, "/models/fraud").await["uid"]
            .as_str()
            .unwrap()
            .to_string(),
        slot: t0() + Duration::hours(1),
    };
    stage
        .handle(msg.clone(), &MessageMeta::new("m", 2))
        .await
        .unwrap();
    assert_eq!(
        app.get_json(&app.admin, "/models/fraud/checks").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // The 12:00 slot (late, say) covers 11:00 to 12:00 and finds the drift.
    if let DriftMessage::Run {
        tenant,
        model_id,
        model_uid,
        ..
    } = msg
    {
        let late = DriftMessage::Run {
            tenant,
            model_id,
            model_uid,
            slot: t0(),
        };
        stage
            .handle(late, &MessageMeta::new("m2", 1))
            .await
            .unwrap();
    }
    app.drain().await;
    let crit = app
        .get_json(&app.admin, "/models/fraud/checks?alert_level=CRITICAL")
        .await;
    assert_eq!(crit["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        crit["items"][0]["metrics"]["features"]["age"]["n_cur"],
        1000
    );
    assert_eq!(drift_findings(&app).await.len(), 1);

    let sched = app.get_json(&app.admin, "/drift/schedule").await;
    let fraud = sched["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["model_id"] == "fraud")
        .unwrap()
        .clone();
    assert_eq!(fraud["next_run_time"], "2026-03-01T14:00:00Z");
    assert_eq!(fraud["last_run_time"], "2026-03-01T13:00:00Z");
    let quiet = sched["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["model_id"] == "quiet")
        .unwrap()
        .clone();
    assert_eq!(quiet["next_run_time"], Value::Null);
    assert!(app.clock.now() > t0());
}
