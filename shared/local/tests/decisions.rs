//! Risk and compliance decisions, black-box over the embedded store: every outcome of
//! the workflow, policy refusals audited and classified, four eyes on review, guardrails,
//! idempotent submits, tenant isolation, `risk.decided`, and a worker killed between
//! steps resuming without redoing one.
mod common;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};
use vigil_shared::domain::{Role, TenantId};
use vigil_shared::ports::Clock;
use vigil_shared::service::decisions::{self, Stepped};

/// Everything a minimal-risk system answers no to (the classifier's defaults assume yes
/// to interacting with humans).
fn minimal_answers() -> Value {
    json!({"interacts_with_humans": false, "generates_synthetic_content": false,
           "emotion_recognition": false, "biometric_categorisation": false,
           "generates_deepfakes": false, "public_interest_text": false,
           "makes_automated_decisions": false})
}

async fn system(
    app: &TestApp,
    name: &str,
    answers: Value,
    oversight: Option<bool>,
) -> (String, String) {
    let (s, b) = app
        .as_admin(
            Method::POST,
            "/ai-systems",
            Some(json!({"name": name, "answers": answers, "human_oversight": oversight})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    (
        b["id"].as_str().unwrap().to_string(),
        b["classification"]["level"]
            .as_str()
            .unwrap_or("none")
            .to_string(),
    )
}

/// A model and a prompt version, approved unless `approve` is false (left a draft).
async fn registry(
    app: &TestApp,
    analyst: &str,
    approver: &str,
    tag: &str,
    approve: bool,
) -> (String, String) {
    let mut ids = Vec::new();
    for (path, body) in [
        (
            "/governance/models",
            json!({"provider": "openai", "name": "gpt-4o-mini", "version": tag,
            "endpoint": "https://api.openai.com/v1/chat/completions", "purpose": "screening", "submit": approve}),
        ),
        (
            "/governance/prompts",
            json!({"name": "screen", "version": tag, "template": "Rank {{finding}}",
            "purpose": "screening", "submit": approve}),
        ),
    ] {
        let (s, v) = app.call(Method::POST, analyst, path, Some(body)).await;
        assert_eq!(s, 201, "{v}");
        let id = v["id"].as_str().unwrap().to_string();
        if approve {
            let (s, v) = app
                .call(
                    Method::POST,
                    approver,
                    &format!("{path}/{id}/approve"),
                    None,
                )
                .await;
            assert_eq!(s, 200, "{v}");
        }
        ids.push(id);
    }
    (ids[0].clone(), ids[1].clone())
}

fn ask(system: &str, model: &str, prompt: &str) -> Value {
    json!({"ai_system_id": system, "model_id": model, "prompt_id": prompt,
           "purpose": "rank applications", "decision": "shortlist",
           "data_categories": ["cv", "cv", "employment_history"]})
}

async fn submit(
    app: &TestApp,
    key: &str,
    path: &str,
    body: &Value,
    idem: Option<&str>,
) -> (u16, Value, bool) {
    let mut req = app.request(Method::POST, key, path).json(body);
    if let Some(k) = idem {
        req = req.header("idempotency-key", k);
    }
    let r = req.send().await.unwrap();
    let replayed = r.headers().get("idempotent-replayed").is_some();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null), replayed)
}

/// Submits, runs the workflow and answers the stored request.
async fn decide(app: &TestApp, key: &str, body: &Value) -> Value {
    let (s, b, _) = submit(app, key, "/risk", body, None).await;
    assert_eq!(s, 202, "{b}");
    assert_eq!(b["status"], "RECEIVED");
    app.drain().await;
    app.get_json(key, &format!("/risk/{}", b["id"].as_str().unwrap()))
        .await
}

fn steps(d: &Value) -> Vec<&str> {
    d["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect()
}

async fn trail(app: &TestApp, id: &str) -> Vec<Value> {
    let page = app
        .get_json(
            &app.admin,
            &format!("/audit/entries?resource_id={id}&limit=100"),
        )
        .await;
    let mut items = page["items"].as_array().unwrap().clone();
    items.sort_by_key(|e| e["seq"].as_u64());
    items
}

#[tokio::test]
async fn requests_reach_each_outcome_with_every_step_audited() {
    let app = spawn_app().await;
    let analyst = app.key("acme", Role::Analyst).await;
    let approver = app.key("acme", Role::Approver).await;
    let (model, prompt) = registry(&app, &analyst, &approver, "1", true).await;

    // Minimal risk, approved model and prompt: approved at score 0.
    let (minimal, level) = system(&app, "spam filter", minimal_answers(), None).await;
    assert_eq!(level, "minimal");
    let d = decide(&app, &analyst, &ask(&minimal, &model, &prompt)).await;
    assert_eq!(d["status"], "APPROVED", "{d}");
    assert_eq!(d["score"], 0);
    assert_eq!(
        steps(&d),
        ["retrieval", "policy", "scoring", "guardrails", "decision"]
    );
    assert_eq!(
        d["ask"]["data_categories"],
        json!(["cv", "employment_history"])
    );
    assert_eq!(d["steps"][0]["outputs"]["model_state"], "approved");
    assert!(d.get("request_hash").is_none());
    // Every move is one audit entry under the request's correlation id.
    let entries = trail(&app, d["id"].as_str().unwrap()).await;
    assert_eq!(
        actions(&entries),
        [
            "decision.received",
            "decision.validated",
            "decision.started",
            "decision.step.retrieval",
            "decision.step.policy",
            "decision.step.scoring",
            "decision.step.guardrails",
            "decision.approved"
        ]
    );
    assert!(
        entries
            .iter()
            .all(|e| e["request_id"] == d["correlation_id"]),
        "{entries:?}"
    );

    // High risk with declared oversight: 50 points, approved under the default 60.
    let (hr, level) = system(
        &app,
        "cv screener",
        json!({"employment_recruitment": true}),
        Some(true),
    )
    .await;
    assert_eq!(level, "high");
    let d = decide(&app, &analyst, &ask(&hr, &model, &prompt)).await;
    assert_eq!(
        (d["status"].as_str(), d["score"].as_u64()),
        (Some("APPROVED"), Some(50))
    );

    // High risk without oversight: refused by policy, a POLICY_VIOLATION.
    let (bare, _) = system(
        &app,
        "cv ranker",
        json!({"employment_recruitment": true}),
        None,
    )
    .await;
    let before =
        app.get_json(&app.admin, "/governance/failures").await["counts"]["POLICY_VIOLATION"]
            .as_i64()
            .unwrap();
    let d = decide(&app, &analyst, &ask(&bare, &model, &prompt)).await;
    assert_eq!(d["status"], "REJECTED");
    assert_eq!(
        d["steps"][1]["outputs"]["refusals"],
        json!(["no_human_oversight"])
    );
    let after =
        app.get_json(&app.admin, "/governance/failures").await["counts"]["POLICY_VIOLATION"]
            .as_i64()
            .unwrap();
    assert_eq!(after, before + 1);

    // A prohibited system is refused whatever else holds.
    let (banned, level) = system(
        &app,
        "social scorer",
        json!({"untargeted_facial_scraping": true}),
        Some(true),
    )
    .await;
    assert_eq!(level, "unacceptable");
    let d = decide(&app, &analyst, &ask(&banned, &model, &prompt)).await;
    assert_eq!(d["status"], "REJECTED");
    assert_eq!(d["steps"][1]["outputs"]["refusals"][0], "prohibited_system");

    // A draft model and prompt are blocked: a GOVERNANCE_VIOLATION entry names them.
    let (draft_m, draft_p) = registry(&app, &analyst, &approver, "2-draft", false).await;
    let d = decide(&app, &analyst, &ask(&minimal, &draft_m, &draft_p)).await;
    assert_eq!(d["status"], "REJECTED");
    assert_eq!(
        d["steps"][1]["outputs"]["refusals"],
        json!(["model_not_approved", "prompt_not_approved"])
    );
    let entries = trail(&app, d["id"].as_str().unwrap()).await;
    let violation = entries
        .iter()
        .find(|e| e["action"] == "GOVERNANCE_VIOLATION")
        .expect("audited");
    assert_eq!(violation["outcome"], "denied");
    assert_eq!(violation["actor"], "system:decide");

    // Compliance requests run the same workflow and are read at /risk/{id}.
    let mut c = ask(&minimal, &model, &prompt);
    c["regulation"] = json!("EU AI Act Art. 26");
    c["compliance_type"] = json!("deployer_obligations");
    let (s, b, _) = submit(&app, &analyst, "/compliance", &c, None).await;
    assert_eq!(s, 202, "{b}");
    app.drain().await;
    let d = app
        .get_json(&analyst, &format!("/risk/{}", b["id"].as_str().unwrap()))
        .await;
    assert_eq!(
        (d["status"].as_str(), d["ask"]["kind"].as_str()),
        (Some("APPROVED"), Some("compliance"))
    );
    let listed = app.get_json(&analyst, "/risk?kind=compliance").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let rejected = app.get_json(&analyst, "/risk?status=REJECTED").await;
    assert_eq!(rejected["items"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn a_high_score_waits_for_a_second_pair_of_eyes() {
    let app = spawn_app().await;
    let analyst = app.key("acme", Role::Analyst).await;
    let approver = app.key("acme", Role::Approver).await;
    let viewer = app.key("acme", Role::Viewer).await;
    let (model, prompt) = registry(&app, &analyst, &approver, "1", true).await;
    let (hr, _) = system(
        &app,
        "cv screener",
        json!({"employment_recruitment": true}),
        Some(true),
    )
    .await;

    // Guardrails: admin only, validated, audited.
    let (s, _) = app
        .call(
            Method::PUT,
            &analyst,
            "/risk/policy",
            Some(json!({"review_above": 40, "reject_above": 90})),
        )
        .await;
    assert_eq!(s, 403);
    let (s, p) = app
        .as_admin(
            Method::PUT,
            "/risk/policy",
            Some(json!({"review_above": 70, "reject_above": 50})),
        )
        .await;
    assert_eq!(
        (s, p["errors"][0]["field"].as_str()),
        (422, Some("reject_above"))
    );
    let (s, p) = app
        .as_admin(
            Method::PUT,
            "/risk/policy",
            Some(json!({"review_above": 101, "reject_above": 50})),
        )
        .await;
    assert_eq!(
        (s, p["errors"][0]["field"].as_str()),
        (422, Some("review_above"))
    );
    let (s, p) = app
        .as_admin(
            Method::PUT,
            "/risk/policy",
            Some(json!({"review_above": 40, "reject_above": 90, "x": 1})),
        )
        .await;
    assert_eq!((s, p["errors"][0]["field"].as_str()), (422, Some("x")));
    let (s, g) = app
        .as_admin(
            Method::PUT,
            "/risk/policy",
            Some(json!({"review_above": 40, "reject_above": 90})),
        )
        .await;
    assert_eq!(s, 200, "{g}");
    assert_eq!(
        app.get_json(&viewer, "/risk/policy").await,
        json!({"review_above": 40, "reject_above": 90})
    );

    let d = decide(&app, &analyst, &ask(&hr, &model, &prompt)).await;
    assert_eq!(
        (d["status"].as_str(), d["score"].as_u64()),
        (Some("REQUIRES_APPROVAL"), Some(50))
    );
    let id = d["id"].as_str().unwrap();
    let waiting = app
        .get_json(&viewer, "/risk?status=REQUIRES_APPROVAL")
        .await;
    assert_eq!(waiting["items"][0]["id"], id);

    // Roles, then four eyes: an admin who submitted cannot approve its own request.
    let (s, _) = app
        .call(Method::POST, &analyst, &format!("/risk/{id}/approve"), None)
        .await;
    assert_eq!(s, 403);
    let (s, own, _) = submit(&app, &app.admin, "/risk", &ask(&hr, &model, &prompt), None).await;
    assert_eq!(s, 202);
    app.drain().await;
    let own_id = own["id"].as_str().unwrap();
    let (s, p) = app
        .as_admin(Method::POST, &format!("/risk/{own_id}/approve"), None)
        .await;
    assert_eq!(
        (s, p["type"].as_str()),
        (403, Some("https://vigil.dev/problems/four-eyes"))
    );
    let entries = trail(&app, own_id).await;
    assert_eq!(entries.last().unwrap()["outcome"], "denied");

    // A rejection needs a reason; an approval does not; a decided request is 409.
    let (s, p) = app
        .call(Method::POST, &approver, &format!("/risk/{id}/reject"), None)
        .await;
    assert_eq!((s, p["errors"][0]["field"].as_str()), (422, Some("reason")));
    let (s, d) = app
        .call(
            Method::POST,
            &approver,
            &format!("/risk/{id}/approve"),
            Some(json!({"reason": "oversight checked"})),
        )
        .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["status"], "APPROVED");
    assert!(d["review"]["actor"].as_str().unwrap().starts_with("key:"));
    let (s, _) = app
        .call(
            Method::POST,
            &approver,
            &format!("/risk/{id}/reject"),
            Some(json!({"reason": "late"})),
        )
        .await;
    assert_eq!(s, 409);
    // The same approval again (a retry whose first answer was lost) answers the
    // decision as it stands, writes nothing, and announces it again.
    let (s, again) = app
        .call(
            Method::POST,
            &approver,
            &format!("/risk/{id}/approve"),
            None,
        )
        .await;
    assert_eq!((s, &again["review"]), (200, &d["review"]), "{again}");
    let (s, _) = app
        .call(Method::POST, &approver, &format!("/risk/{id}/ship"), None)
        .await;
    assert_eq!(s, 404);
    let entries = trail(&app, id).await;
    let review = entries
        .iter()
        .find(|e| e["action"] == "decision.review.approve")
        .unwrap();
    assert_eq!(review["request_id"], d["correlation_id"]);
    let reviews = entries
        .iter()
        .filter(|e| e["action"] == "decision.review.approve")
        .count();
    assert_eq!(reviews, 1, "the retried approval wrote no second entry");

    // risk.decided: once for REQUIRES_APPROVAL, once for the approval.
    app.drain().await;
    let events = app.system.bus.read_after(0, 1000).await.unwrap();
    let decided: Vec<&str> = events
        .iter()
        .filter(|(_, e)| e.detail_type == "risk.decided" && e.detail["decision_id"] == id)
        .map(|(_, e)| e.detail["status"].as_str().unwrap())
        .collect();
    assert_eq!(decided, ["REQUIRES_APPROVAL", "APPROVED"]);
}

#[tokio::test]
async fn submits_are_validated_idempotent_and_tenant_scoped() {
    let app = spawn_app().await;
    let analyst = app.key("acme", Role::Analyst).await;
    let viewer = app.key("acme", Role::Viewer).await;
    let other = app.key("globex", Role::Admin).await;
    let (sys, _) = system(&app, "bot", minimal_answers(), None).await;
    let body = ask(&sys, "gm_x", "gp_x");

    let (s, _, _) = submit(&app, &viewer, "/risk", &body, None).await;
    assert_eq!(s, 403);
    let (s, p, _) = submit(
        &app,
        &analyst,
        "/risk",
        &json!({"ai_system_id": "", "model_id": 3, "extra": 1}),
        None,
    )
    .await;
    assert_eq!(s, 422);
    let mut named: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    named.sort();
    assert_eq!(
        named,
        [
            "ai_system_id",
            "data_categories",
            "decision",
            "extra",
            "model_id",
            "prompt_id",
            "purpose"
        ]
    );
    let (s, p, _) = submit(
        &app,
        &analyst,
        "/risk",
        &ask("ais_nope", "gm_x", "gp_x"),
        None,
    )
    .await;
    assert_eq!(
        (s, p["errors"][0]["field"].as_str()),
        (422, Some("ai_system_id"))
    );
    // Compliance needs its two fields; risk refuses them.
    let (s, p, _) = submit(&app, &analyst, "/compliance", &body, None).await;
    assert_eq!(s, 422, "{p}");
    let mut with = body.clone();
    with["regulation"] = json!("x");
    let (s, p, _) = submit(&app, &analyst, "/risk", &with, None).await;
    assert_eq!(
        (s, p["errors"][0]["field"].as_str()),
        (422, Some("regulation"))
    );

    // The same key and body: the same request, replayed; another body: refused.
    let (s, first, replayed) = submit(&app, &analyst, "/risk", &body, Some("k-1")).await;
    assert_eq!((s, replayed), (202, false));
    let (s, again, replayed) = submit(&app, &analyst, "/risk", &body, Some("k-1")).await;
    assert_eq!((s, replayed), (202, true));
    assert_eq!(first["id"], again["id"]);
    let (s, p, _) = submit(
        &app,
        &analyst,
        "/risk",
        &ask(&sys, "gm_y", "gp_x"),
        Some("k-1"),
    )
    .await;
    assert_eq!(
        (s, p["errors"][0]["field"].as_str()),
        (422, Some("Idempotency-Key"))
    );
    app.drain().await;
    let listed = app.get_json(&analyst, "/risk").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    // Unknown model and prompt ids: refused by policy, not an error.
    let id = first["id"].as_str().unwrap();
    let d = app.get_json(&analyst, &format!("/risk/{id}")).await;
    assert_eq!(d["status"], "REJECTED");
    assert_eq!(d["steps"][0]["outputs"]["model_state"], Value::Null);

    // Another tenant sees nothing.
    let (s, _) = app
        .call(Method::GET, &other, &format!("/risk/{id}"), None)
        .await;
    assert_eq!(s, 404);
    let (s, _) = app
        .call(Method::POST, &other, &format!("/risk/{id}/approve"), None)
        .await;
    assert_eq!(s, 404);
    assert_eq!(app.get_json(&other, "/risk").await["items"], json!([]));
    let (s, _, _) = submit(&app, &other, "/risk", &body, None).await;
    assert_eq!(s, 422, "another tenant's AI system is no system");
}

#[tokio::test]
async fn a_worker_killed_between_steps_resumes_without_redoing_one() {
    let app = spawn_app().await;
    let analyst = app.key("acme", Role::Analyst).await;
    let approver = app.key("acme", Role::Approver).await;
    let (model, prompt) = registry(&app, &analyst, &approver, "1", true).await;
    let (sys, _) = system(&app, "bot", minimal_answers(), None).await;
    let (s, b, _) = submit(&app, &analyst, "/risk", &ask(&sys, &model, &prompt), None).await;
    assert_eq!(s, 202);
    let id = b["id"].as_str().unwrap();
    let tenant = TenantId::parse("acme").unwrap();
    let store = app.system.store.as_ref();

    // A first worker gets through validate, start and retrieval, then dies.
    let t1 = app.clock.now();
    for _ in 0..3 {
        assert!(matches!(
            decisions::step(store, &tenant, id, t1).await.unwrap(),
            Stepped::Moved(..)
        ));
    }
    let half = app.get_json(&analyst, &format!("/risk/{id}")).await;
    assert_eq!(
        (half["status"].as_str(), steps(&half)),
        (Some("PROCESSING"), vec!["retrieval"])
    );

    // The message is delivered again: the queue's worker finishes from policy on.
    app.clock.advance(chrono::Duration::minutes(5));
    app.drain().await;
    let d = app.get_json(&analyst, &format!("/risk/{id}")).await;
    assert_eq!(d["status"], "APPROVED");
    assert_eq!(
        steps(&d),
        ["retrieval", "policy", "scoring", "guardrails", "decision"]
    );
    // The retrieval step kept its first run's time: it was not redone.
    assert_eq!(d["steps"][0]["at"], half["steps"][0]["at"]);
    assert_ne!(d["steps"][1]["at"], half["steps"][0]["at"]);
    let entries = trail(&app, id).await;
    for action in [
        "decision.validated",
        "decision.started",
        "decision.step.retrieval",
        "decision.step.policy",
        "decision.approved",
    ] {
        assert_eq!(
            actions(&entries).iter().filter(|a| **a == action).count(),
            1,
            "{action}"
        );
    }
    // Another delivery of the finished request changes nothing.
    let (again, concluded) = decisions::run(store, &tenant, id, app.clock.now())
        .await
        .unwrap();
    assert!(!concluded);
    assert_eq!(again.steps.len(), 5);
    assert_eq!(trail(&app, id).await.len(), entries.len());
}

/// A model linked to the system, with a baseline, checked with its ages shifted far
/// enough for a critical alert (a `model_drift` finding on `model:<id>`).
async fn drifted_model(app: &TestApp, id: &str, system: &str) {
    let (s, b) = app
        .as_admin(
            Method::POST,
            "/models",
            Some(
                json!({"model_id": id, "model_version": "1.0.0", "ai_system_id": system,
                        "features": [{"name": "age", "type": "numeric"}],
                        "schedule_interval": "hourly"}),
            ),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let ages = |shift: f64| {
        (0..1000)
            .map(|i| (i % 100) as f64 + shift)
            .collect::<Vec<_>>()
    };
    let (s, b) = app
        .as_admin(
            Method::PUT,
            &format!("/models/{id}/baseline"),
            Some(json!({"baseline_data": {"age": ages(0.0)}})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = app
        .as_admin(
            Method::POST,
            &format!("/models/{id}/checks"),
            Some(json!({"input_data": {"age": ages(60.0)}})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["alert_level"], "CRITICAL", "{b}");
    app.drain().await;
}

#[tokio::test]
async fn a_linked_models_drift_finding_counts_however_many_others_are_open() {
    let app = spawn_app().await;
    let analyst = app.key("acme", Role::Analyst).await;
    let approver = app.key("acme", Role::Approver).await;
    let (model, prompt) = registry(&app, &analyst, &approver, "1", true).await;
    let (system_id, _) = system(&app, "scorer", minimal_answers(), Some(true)).await;
    drifted_model(&app, "linked", &system_id).await;
    // 600 newer open findings of another rule on other subjects.
    app.clock.advance(chrono::Duration::minutes(10));
    let at = (app.clock.now() - chrono::Duration::minutes(1)).to_rfc3339();
    let events: Vec<Value> = (0..600)
        .map(|i| json!({"event_type": "storage_bucket_permission_changed", "timestamp": at,
                        "user": "ops", "raw_data": {"bucket_name": format!("b{i}"), "public": true}}))
        .collect();
    for chunk in events.chunks(100) {
        let r = app.post_events(&app.admin, &json!(chunk)).await;
        assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    }
    app.drain().await;
    let summary = app.get_json(&app.admin, "/stats/summary").await;
    assert!(
        summary["open_findings_by_severity"]["critical"].as_u64() > Some(600),
        "{summary}"
    );

    let d = decide(&app, &analyst, &ask(&system_id, &model, &prompt)).await;
    let retrieval = &d["steps"][0]["outputs"];
    assert_eq!(retrieval["drift"], "critical", "{d}");
    let findings = &retrieval["findings"];
    let total: u64 = ["low", "medium", "high", "critical"]
        .iter()
        .map(|s| findings[*s].as_u64().unwrap())
        .sum();
    assert_eq!(total, 1, "the linked model's one drift finding: {findings}");
}
