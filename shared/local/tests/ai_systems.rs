//! Black-box tests of the AI-system registry, the classifier endpoint, scheduled
//! re-classification with drift events, and notifications.
mod common;

use chrono::Duration;
use common::{TestApp, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};
use vigil_shared::classifier::RiskLevel;
use vigil_shared::domain::{Role, TenantId};
use vigil_shared::ports::Clock;
use vigil_shared::repo::ai_systems;
use vigil_shared::runtime::{DynStage, MessageMeta};

fn recruiter() -> Value {
    json!({
        "name": "CV screener",
        "purpose": "rank job applications",
        "owner": "hr@acme.test",
        "answers": {"employment_recruitment": true, "profiles_natural_persons": true}
    })
}

async fn create(app: &TestApp, body: Value) -> Value {
    let r = app
        .send(Method::POST, &app.admin, "/ai-systems", Some(body))
        .await;
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

async fn run(app: &TestApp) -> Value {
    let r = app
        .send(Method::POST, &app.admin, "/admin/reclassify", None)
        .await;
    assert_eq!(r.status(), 202, "{:?}", r.text().await);
    let id = r.json::<Value>().await.unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    app.drain().await;
    app.get_json(&app.admin, &format!("/reclassify-runs/{id}"))
        .await
}

/// Rewrites a stored system's result, as an older classifier would have left it.
async fn tamper(app: &TestApp, id: &str, level: Option<RiskLevel>, version: Option<&str>) {
    let store = app.system.store.as_ref();
    let t = TenantId::parse("acme").unwrap();
    let current = ai_systems::get(store, &t, id).await.unwrap().unwrap();
    let mut next = current.system.clone();
    let c = next.classification.as_mut().unwrap();
    if let Some(l) = level {
        c.level = l;
    }
    if let Some(v) = version {
        c.classifier_version = v.into();
    }
    ai_systems::replace(store, &current, &next).await.unwrap();
}

async fn drift_events(app: &TestApp, id: &str) -> Vec<Value> {
    app.get_json(&app.admin, &format!("/ai-systems/{id}/drift-events"))
        .await["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn registry_crud_with_etags_merge_patch_and_typed_answers() {
    let app = spawn_app().await;
    let r = app
        .send(Method::POST, &app.admin, "/ai-systems", Some(recruiter()))
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["etag"], "\"1\"");
    let s: Value = r.json().await.unwrap();
    let id = s["id"].as_str().unwrap().to_string();
    assert_eq!(s["classification"]["level"], "high");
    // A default is the classifier's assumption, not the client's answer.
    assert_eq!(s["answers"]["interacts_with_humans"], Value::Null);
    assert_eq!(
        s["classification"]["assumed"],
        json!(["interacts_with_humans"])
    );
    assert_eq!(s["classification"]["status"], "incomplete");
    assert_eq!(
        s["classification"]["highest_possible_level"],
        "unacceptable"
    );

    // A string where a boolean belongs is a 422 naming the field.
    let mut bad = recruiter();
    bad["name"] = json!("other");
    bad["answers"]["social_scoring"] = json!("false");
    let r = app
        .send(Method::POST, &app.admin, "/ai-systems", Some(bad))
        .await;
    assert_eq!(r.status(), 422);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["errors"][0]["field"], "answers.social_scoring");

    // Names are unique per tenant: a taken one conflicts with the registry's state.
    let r = app
        .send(Method::POST, &app.admin, "/ai-systems", Some(recruiter()))
        .await;
    assert_eq!(r.status(), 409);

    // PATCH (merge patch) with a stale If-Match is refused; with the current one it applies.
    let path = format!("/ai-systems/{id}");
    let stale = app
        .request(Method::PATCH, &app.admin, &path)
        .header("If-Match", "\"7\"")
        .json(&json!({"owner": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 412);
    let ok = app.request(Method::PATCH, &app.admin, &path)
        .header("If-Match", "\"1\"")
        .header("Content-Type", "application/merge-patch+json")
        .body(json!({"answers": {"profiles_natural_persons": false, "narrow_procedural_task": true}, "description": "v2"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["etag"], "\"2\"");
    let s: Value = ok.json().await.unwrap();
    assert_eq!(s["description"], "v2");
    assert_eq!(
        s["purpose"], "rank job applications",
        "merge keeps other fields"
    );
    assert_eq!(s["answers"]["employment_recruitment"], true);
    assert_ne!(
        s["classification"]["level"], "high",
        "Article 6(3) derogation now applies"
    );

    // PUT replaces everything.
    let r = app
        .send(
            Method::PUT,
            &app.admin,
            &path,
            Some(json!({"name": "CV screener", "answers": {}})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let s: Value = r.json().await.unwrap();
    assert_eq!(s["purpose"], "");
    assert_eq!(s["answers"]["employment_recruitment"], Value::Null);

    // Viewers read but do not write; other tenants see nothing.
    let viewer = app.key("acme", Role::Viewer).await;
    assert_eq!(
        app.send(Method::GET, &viewer, &path, None).await.status(),
        200
    );
    assert_eq!(
        app.send(Method::PATCH, &viewer, &path, Some(json!({})))
            .await
            .status(),
        403
    );
    let other = app.key("globex", Role::Admin).await;
    assert_eq!(
        app.send(Method::GET, &other, &path, None).await.status(),
        404
    );
    assert_eq!(
        app.send(Method::GET, &other, &format!("{path}/drift-events"), None)
            .await
            .status(),
        404
    );

    // Listing and its filters.
    create(&app, json!({"name": "chatbot", "answers": {}})).await;
    let all = app.get_json(&app.admin, "/ai-systems?limit=1").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 1);
    assert!(all["next_cursor"].is_string());
    let limited = app
        .get_json(&app.admin, "/ai-systems?risk_level=limited")
        .await;
    assert_eq!(limited["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        app.send(
            Method::GET,
            &app.admin,
            "/ai-systems?risk_level=severe",
            None
        )
        .await
        .status(),
        422
    );

    // DELETE archives: gone from listings, name free again.
    assert_eq!(
        app.send(Method::DELETE, &app.admin, &path, None)
            .await
            .status(),
        204
    );
    let s = app.get_json(&app.admin, &path).await;
    assert_eq!(s["archived"], true);
    let limited = app
        .get_json(&app.admin, "/ai-systems?risk_level=limited")
        .await;
    assert_eq!(limited["items"].as_array().unwrap().len(), 1);
    create(&app, recruiter()).await;
}

#[tokio::test]
async fn classify_endpoint_stores_nothing() {
    let app = spawn_app().await;
    let r = app
        .send(
            Method::POST,
            &app.admin,
            "/classify",
            Some(json!({"answers": {"untargeted_facial_scraping": true}})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let c: Value = r.json().await.unwrap();
    assert_eq!(c["classification"]["level"], "unacceptable");
    assert_eq!(
        c["classification"]["reasons"][0]["citation"]["reference"],
        "Article 5(1)(e)"
    );
    let r = app
        .send(
            Method::POST,
            &app.admin,
            "/classify",
            Some(json!({"answers": {"real_time": "true"}})),
        )
        .await;
    assert_eq!(r.status(), 422);
    let list = app.get_json(&app.admin, "/ai-systems").await;
    assert!(list["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn no_drift_then_risk_change_with_notification_and_bus_event() {
    let app = spawn_app().await;
    let s = create(&app, recruiter()).await;
    let id = s["id"].as_str().unwrap();

    let r = run(&app).await;
    assert_eq!(r["status"], "completed");
    assert_eq!(r["systems_scanned"], 1);
    assert_eq!(r["drift_events"], 0);
    assert_eq!(r["failures"], 0);
    assert!(drift_events(&app, id).await.is_empty());

    tamper(&app, id, Some(RiskLevel::Minimal), None).await;
    let r = run(&app).await;
    assert_eq!(r["drift_events"], 1);
    let events = drift_events(&app, id).await;
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e["drift_type"], "risk_change");
    assert_eq!(e["before"]["risk_level"], "minimal");
    assert_eq!(e["after"]["risk_level"], "high");
    assert_eq!(e["run_id"], r["id"]);
    // The system moved to the new baseline: the next run finds nothing.
    assert_eq!(
        app.get_json(&app.admin, &format!("/ai-systems/{id}")).await["classification"]["level"],
        "high"
    );
    assert_eq!(run(&app).await["drift_events"], 0);

    let n = app.get_json(&app.admin, "/notifications").await["items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(n.len(), 1);
    assert_eq!(n[0]["kind"], "ai_system.drift_detected");
    assert_eq!(n[0]["read"], false);
    assert_eq!(n[0]["data"]["system_id"], id);
    assert_eq!(n[0]["data"]["drift_type"], "risk_change");
    assert_eq!(n[0]["data"]["drift_event_id"], e["id"]);
    assert_eq!(n[0]["data"]["before"]["risk_level"], "minimal");
    assert_eq!(n[0]["data"]["after"]["risk_level"], "high");

    let bus = app.system.bus.read_after(0, 100).await.unwrap();
    let drift: Vec<_> = bus
        .iter()
        .filter(|b| format!("{b:?}").contains("ai_system.drift_detected"))
        .collect();
    assert_eq!(drift.len(), 1, "{bus:?}");
}

#[tokio::test]
async fn disabled_and_unanswered_systems_are_skipped() {
    let app = spawn_app().await;
    let off = create(&app, recruiter()).await;
    let id = off["id"].as_str().unwrap();
    let r = app
        .send(
            Method::PATCH,
            &app.admin,
            &format!("/ai-systems/{id}/monitoring"),
            Some(json!({"monitoring_enabled": false})),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.get_json(&app.admin, &format!("/ai-systems/{id}/monitoring"))
            .await["monitoring_enabled"],
        false
    );
    let bare = create(&app, json!({"name": "no questionnaire"})).await;
    assert!(bare["classification"].is_null());
    tamper(&app, id, None, Some("0-old")).await;
    let r = run(&app).await;
    assert_eq!(r["status"], "completed");
    assert_eq!(r["systems_scanned"], 0);
    assert_eq!(r["drift_events"], 0);
    assert!(drift_events(&app, id).await.is_empty());
}

#[tokio::test]
async fn classifier_version_bump_flags_every_system_and_mixed_with_risk() {
    let app = spawn_app().await;
    let a = create(&app, recruiter()).await;
    let b = create(&app, json!({"name": "chatbot", "answers": {}})).await;
    let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    // Neither system ever drifted before.
    tamper(&app, a, None, Some("2021-draft")).await;
    tamper(&app, b, Some(RiskLevel::Minimal), Some("2021-draft")).await;
    let r = run(&app).await;
    assert_eq!(r["systems_scanned"], 2);
    assert_eq!(r["drift_events"], 2);
    let ea = &drift_events(&app, a).await[0];
    assert_eq!(ea["drift_type"], "classifier_version_change");
    assert_eq!(ea["before"]["classifier_version"], "2021-draft");
    assert_eq!(
        ea["after"]["classifier_version"],
        vigil_shared::classifier::CLASSIFIER_VERSION
    );
    assert_eq!(drift_events(&app, b).await[0]["drift_type"], "mixed");
}

#[tokio::test]
async fn status_changes_when_obligations_start_to_apply() {
    let app = spawn_app().await;
    let s = create(&app, json!({"name": "exam proctor", "answers": {
        "education_monitors_tests": true, "profiles_natural_persons": true, "interaction_obvious": true
    }})).await;
    let id = s["id"].as_str().unwrap();
    // Fill every other question so nothing is left open.
    let mut all_no = serde_json::Map::new();
    for q in vigil_shared::classifier::Q::ALL {
        all_no.insert(q.id().into(), json!(false));
    }
    all_no.insert("education_monitors_tests".into(), json!(true));
    all_no.insert("profiles_natural_persons".into(), json!(true));
    let r = app
        .send(
            Method::PATCH,
            &app.admin,
            &format!("/ai-systems/{id}"),
            Some(json!({"answers": all_no})),
        )
        .await;
    let s: Value = r.json().await.unwrap();
    assert_eq!(s["classification"]["status"], "obligations_pending");
    app.clock.advance(Duration::days(160)); // past 2 August 2026
    let r = run(&app).await;
    assert_eq!(r["drift_events"], 1);
    let e = &drift_events(&app, id).await[0];
    assert_eq!(e["drift_type"], "status_change");
    assert_eq!(e["after"]["status"], "obligations_apply");
}

#[tokio::test]
async fn one_run_at_a_time_lease_expiry_and_roles() {
    let app = spawn_app().await;
    create(&app, recruiter()).await;
    for role in [Role::Viewer, Role::Analyst] {
        let k = app.key("acme", role).await;
        assert_eq!(
            app.send(Method::POST, &k, "/admin/reclassify", None)
                .await
                .status(),
            403
        );
    }
    let first = app
        .send(Method::POST, &app.admin, "/admin/reclassify", None)
        .await;
    assert_eq!(first.status(), 202);
    let first = first.json::<Value>().await.unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let second = app
        .send(Method::POST, &app.admin, "/admin/reclassify", None)
        .await;
    assert_eq!(second.status(), 409);
    let p: Value = second.json().await.unwrap();
    assert_eq!(p["run_id"], first.as_str());

    // The first run "crashes" (its messages are never processed) and its lease expires.
    app.clock.advance(Duration::minutes(61));
    let third = app
        .send(Method::POST, &app.admin, "/admin/reclassify", None)
        .await;
    assert_eq!(third.status(), 202);
    let third = third.json::<Value>().await.unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    app.drain().await;
    let old = app
        .get_json(&app.admin, &format!("/reclassify-runs/{first}"))
        .await;
    assert_eq!(old["status"], "expired");
    let new = app
        .get_json(&app.admin, &format!("/reclassify-runs/{third}"))
        .await;
    assert_eq!(new["status"], "completed");
    assert_eq!(new["systems_scanned"], 1);
    let runs = app.get_json(&app.admin, "/reclassify-runs").await;
    assert_eq!(runs["items"].as_array().unwrap().len(), 2);
    assert_eq!(runs["items"][0]["id"], third.as_str(), "newest first");
    // The lease is free again once the run completed.
    assert_eq!(
        app.send(Method::POST, &app.admin, "/admin/reclassify", None)
            .await
            .status(),
        202
    );
}

#[tokio::test]
async fn redelivered_batch_records_drift_once() {
    let app = spawn_app().await;
    let s = create(&app, recruiter()).await;
    let id = s["id"].as_str().unwrap().to_string();
    tamper(&app, &id, None, Some("old")).await;
    let t = TenantId::parse("acme").unwrap();
    let r = app.system.reclassifier();
    let vigil_shared::service::reclassify_runs::Start::Started(run) = r
        .start_run(&t, vigil_shared::domain::ai_system::RunTrigger::Api, None)
        .await
        .unwrap()
    else {
        panic!("busy")
    };
    let batch = json!({"kind": "batch", "tenant": "acme", "run_id": run.id, "batch": "0-0", "system_ids": [id]}).to_string();
    let stage = vigil_reclassify::ReclassifyStage(r.clone());
    stage
        .handle_body(&batch, MessageMeta::new("m1", 1))
        .await
        .unwrap();
    stage
        .handle_body(&batch, MessageMeta::new("m1", 2))
        .await
        .unwrap();
    assert_eq!(drift_events(&app, &id).await.len(), 1);
    assert_eq!(
        app.get_json(&app.admin, "/notifications").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let view = app
        .get_json(&app.admin, &format!("/reclassify-runs/{}", run.id))
        .await;
    assert_eq!(view["drift_events"], 1);
    assert_eq!(view["systems_scanned"], 1, "the batch is counted once");
    let _ = app.clock.now();
}

#[tokio::test]
async fn notifications_unread_first_read_and_read_all() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for name in ["a", "b", "c"] {
        let s = create(&app, json!({"name": name, "answers": {}})).await;
        ids.push(s["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        tamper(&app, id, None, Some("old")).await;
    }
    run(&app).await;
    let list = app.get_json(&app.admin, "/notifications").await["items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(list.len(), 3);
    let oldest = list[2]["id"].as_str().unwrap().to_string();
    let r = app
        .send(
            Method::POST,
            &app.admin,
            &format!("/notifications/{oldest}/read"),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    let list = app.get_json(&app.admin, "/notifications?limit=2").await;
    let items = list["items"].as_array().unwrap();
    assert!(items.iter().all(|n| n["read"] == false), "unread first");
    let next = list["next_cursor"].as_str().unwrap();
    let rest = app
        .get_json(&app.admin, &format!("/notifications?limit=2&cursor={next}"))
        .await;
    assert_eq!(rest["items"][0]["id"], oldest.as_str());
    assert_eq!(rest["items"][0]["read"], true);
    assert_eq!(
        app.send(
            Method::POST,
            &app.admin,
            "/notifications/nt_nope/read",
            None
        )
        .await
        .status(),
        404
    );
    let r = app
        .send(Method::POST, &app.admin, "/notifications/read-all", None)
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["marked_read"], 2);
    let list = app.get_json(&app.admin, "/notifications").await["items"]
        .as_array()
        .unwrap()
        .clone();
    assert!(list.iter().all(|n| n["read"] == true));
}

/// Bumping `CLASSIFIER_VERSION` (2024-1689.1 to .2) is recorded on every monitored system
/// by the next scheduled run, whatever its level, and each moves to the new baseline.
#[tokio::test]
async fn the_scheduled_run_records_the_version_bump_on_every_system() {
    let app = spawn_app().await;
    let bodies = [
        recruiter(),
        json!({"name": "chatbot", "answers": {"interaction_obvious": false}}),
        json!({"name": "scraper", "answers": {"untargeted_facial_scraping": true}}),
        json!({"name": "car insurer", "answers": {"insurance_risk_pricing": true}}),
    ];
    let mut ids = Vec::new();
    for b in bodies {
        let s = create(&app, b).await;
        let id = s["id"].as_str().unwrap().to_string();
        tamper(&app, &id, None, Some("2024-1689.1")).await;
        ids.push(id);
    }
    assert_ne!(vigil_shared::classifier::CLASSIFIER_VERSION, "2024-1689.1");
    let summary = app.system.reclassifier().on_schedule().await.unwrap();
    assert_eq!(summary.started.len(), 1);
    app.drain().await;
    for id in &ids {
        let events = drift_events(&app, id).await;
        assert_eq!(events.len(), 1, "{id}");
        assert_eq!(events[0]["drift_type"], "classifier_version_change", "{id}");
        assert_eq!(events[0]["before"]["classifier_version"], "2024-1689.1");
        let s = app.get_json(&app.admin, &format!("/ai-systems/{id}")).await;
        assert_eq!(
            s["classification"]["classifier_version"],
            vigil_shared::classifier::CLASSIFIER_VERSION
        );
    }
    // The next run finds nothing new.
    app.system.reclassifier().on_schedule().await.unwrap();
    app.drain().await;
    for id in &ids {
        assert_eq!(drift_events(&app, id).await.len(), 1, "{id}");
    }
}
