//! Runtime AI governance, black-box: the model and prompt registries (every transition,
//! valid and invalid; four eyes; roles; tenant isolation; paging), the gate in the
//! enrichment stage (approved vs retired prompt, with a stub model) and the failure
//! counts.
mod common;

use std::sync::{Arc, Mutex};

use common::*;
use reqwest::Method;
use serde_json::{Value, json};
use vigil_shared::domain::Role;
use vigil_shared::governance::builtin;

fn model(version: &str) -> Value {
    json!({
        "provider": "openai", "name": "gpt-4o-mini", "version": version,
        "endpoint": "https://api.openai.com/v1/chat/completions",
        "parameters": {"temperature": 0.1}, "purpose": "enrichment"
    })
}

fn prompt(version: &str, template: &str) -> Value {
    json!({"name": "risk", "version": version, "system": "Be careful.", "template": template, "purpose": "enrichment"})
}

async fn failure_counts(app: &TestApp, key: &str) -> Value {
    app.get_json(key, "/governance/failures").await["counts"].clone()
}

#[tokio::test]
async fn versions_move_only_through_valid_transitions_and_four_eyes() {
    let app = spawn_app().await;
    let analyst = app.key("acme", Role::Analyst).await;
    let approver = app.key("acme", Role::Approver).await;
    let viewer = app.key("acme", Role::Viewer).await;

    // Roles: a viewer cannot register; an analyst can.
    let (s, _) = app
        .call(
            Method::POST,
            &viewer,
            "/governance/models",
            Some(model("1")),
        )
        .await;
    assert_eq!(s, 403);
    let (s, m) = app
        .call(
            Method::POST,
            &analyst,
            "/governance/models",
            Some(model("1")),
        )
        .await;
    assert_eq!(s, 201, "{m}");
    assert_eq!(m["state"], "draft");
    let id = m["id"].as_str().unwrap().to_string();
    let path = |action: &str| format!("/governance/models/{id}/{action}");

    // (name, version) is unique.
    let (s, p) = app
        .call(
            Method::POST,
            &analyst,
            "/governance/models",
            Some(model("1")),
        )
        .await;
    assert_eq!(
        (s, p["errors"][0]["field"].as_str()),
        (409, Some("version"))
    );

    // A draft cannot be decided: 409 names the state.
    let (s, p) = app
        .call(Method::POST, &approver, &path("approve"), None)
        .await;
    assert_eq!(s, 409, "{p}");
    assert_eq!(p["type"], "https://vigil.dev/problems/conflict");
    assert!(p["detail"].as_str().unwrap().contains("draft"));

    // Submitting needs the analyst role; a viewer cannot.
    let (s, _) = app.call(Method::POST, &viewer, &path("submit"), None).await;
    assert_eq!(s, 403);
    let (s, m) = app
        .call(Method::POST, &analyst, &path("submit"), None)
        .await;
    assert_eq!((s, m["state"].as_str()), (200, Some("pending_approval")));
    let (s, _) = app
        .call(Method::POST, &analyst, &path("submit"), None)
        .await;
    assert_eq!(s, 409, "submitted twice");

    // Only an approver or admin decides, and nobody decides what they submitted.
    let (s, _) = app
        .call(Method::POST, &analyst, &path("approve"), None)
        .await;
    assert_eq!(s, 403, "analysts do not decide");
    let (s, p) = app
        .call(
            Method::POST,
            &approver,
            &path("reject"),
            Some(json!({"reason": " "})),
        )
        .await;
    assert_eq!((s, p["errors"][0]["field"].as_str()), (422, Some("reason")));
    let (s, m) = app
        .call(Method::POST, &approver, &path("approve"), None)
        .await;
    assert_eq!((s, m["state"].as_str()), (200, Some("approved")), "{m}");
    let (s, _) = app
        .call(
            Method::POST,
            &approver,
            &path("reject"),
            Some(json!({"reason": "late"})),
        )
        .await;
    assert_eq!(s, 409, "an approved version cannot be rejected");
    let (s, _) = app
        .call(Method::POST, &approver, &path("submit"), None)
        .await;
    assert_eq!(s, 409);
    let (s, m) = app
        .call(
            Method::POST,
            &approver,
            &path("retire"),
            Some(json!({"reason": "superseded"})),
        )
        .await;
    assert_eq!((s, m["state"].as_str()), (200, Some("retired")));
    for action in ["submit", "approve", "retire"] {
        let (s, _) = app
            .call(Method::POST, &app.admin, &path(action), None)
            .await;
        assert_eq!(s, 409, "retired is final ({action})");
    }
    let (s, _) = app
        .call(Method::POST, &app.admin, &path("publish"), None)
        .await;
    assert_eq!(s, 404, "no such action");

    // The history names every step, actor and reason.
    let got = app
        .get_json(&viewer, &format!("/governance/models/{id}"))
        .await;
    let steps: Vec<(&str, &str)> = got["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["action"].as_str().unwrap(), h["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [
            ("register", "draft"),
            ("submit", "pending_approval"),
            ("approve", "approved"),
            ("retire", "retired"),
        ]
    );
    assert_eq!(got["history"][3]["reason"], "superseded");
    assert_ne!(got["history"][1]["actor"], got["history"][2]["actor"]);

    // Four eyes: an approver who submitted (here registered and submitted at once), and
    // an admin likewise, cannot approve their own; the refusal is audited as denied.
    let mut body = model("2");
    body["submit"] = json!(true);
    let (s, own) = app
        .call(Method::POST, &approver, "/governance/models", Some(body))
        .await;
    assert_eq!((s, own["state"].as_str()), (201, Some("pending_approval")));
    let own_id = own["id"].as_str().unwrap();
    let (s, p) = app
        .call(
            Method::POST,
            &approver,
            &format!("/governance/models/{own_id}/approve"),
            None,
        )
        .await;
    assert_eq!(
        (s, p["type"].as_str()),
        (403, Some("https://vigil.dev/problems/four-eyes"))
    );
    let (s, _) = app
        .call(
            Method::POST,
            &approver,
            &format!("/governance/models/{own_id}/reject"),
            Some(json!({"reason": "mine"})),
        )
        .await;
    assert_eq!(s, 403, "nor reject");
    // Someone else may: the admin rejects it with a reason.
    let (s, m) = app
        .call(
            Method::POST,
            &app.admin,
            &format!("/governance/models/{own_id}/reject"),
            Some(json!({"reason": "too costly"})),
        )
        .await;
    assert_eq!((s, m["state"].as_str()), (200, Some("rejected")));

    let trail = app
        .get_json(
            &app.admin,
            &format!("/audit/entries?resource_id={own_id}&limit=50"),
        )
        .await;
    let entries = trail["items"].as_array().unwrap();
    let mut seen: Vec<(String, String)> = entries
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["outcome"].as_str().unwrap_or("success").to_string(),
            )
        })
        .collect();
    seen.sort();
    let expected = [
        ("governance.model.approve", "denied"),
        ("governance.model.register", "success"),
        ("governance.model.reject", "denied"),
        ("governance.model.reject", "success"),
        ("governance.model.submit", "success"),
    ];
    assert_eq!(
        seen,
        expected
            .iter()
            .map(|(a, o)| (a.to_string(), o.to_string()))
            .collect::<Vec<_>>()
    );

    // An approver is no admin.
    let (s, _) = app
        .call(
            Method::POST,
            &approver,
            "/keys",
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(s, 403);
    // And an admin can mint approver keys.
    let (s, k) = app
        .call(
            Method::POST,
            &app.admin,
            "/keys",
            Some(json!({"role": "approver"})),
        )
        .await;
    assert_eq!((s, k["role"].as_str()), (201, Some("approver")));
}

#[tokio::test]
async fn lists_filter_by_state_page_and_stay_in_the_tenant() {
    let app = spawn_app().await;
    let analyst = app.key("acme", Role::Analyst).await;
    let other = app.key("globex", Role::Admin).await;
    let mut ids = Vec::new();
    for v in ["1", "2", "3"] {
        let (s, p) = app
            .call(
                Method::POST,
                &analyst,
                "/governance/prompts",
                Some(prompt(v, "Score {{finding}}")),
            )
            .await;
        assert_eq!(s, 201, "{p}");
        assert_eq!(
            p["sha256"].as_str().unwrap(),
            vigil_shared::governance::registry::prompt_sha256("Be careful.", "Score {{finding}}")
        );
        ids.push(p["id"].as_str().unwrap().to_string());
    }
    app.call(
        Method::POST,
        &analyst,
        &format!("/governance/prompts/{}/submit", ids[1]),
        None,
    )
    .await;

    let first = app.get_json(&analyst, "/governance/prompts?limit=2").await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    assert_eq!(first["items"][0]["id"], ids[2], "newest first");
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = app
        .get_json(
            &analyst,
            &format!("/governance/prompts?limit=2&cursor={cursor}"),
        )
        .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert_eq!(rest["items"][0]["id"], ids[0]);

    let pending = app
        .get_json(&analyst, "/governance/prompts?state=pending_approval")
        .await;
    let pending: Vec<&str> = pending["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(pending, [ids[1].as_str()]);
    let r = app.get(&analyst, "/governance/prompts?state=live").await;
    assert_eq!(r.status(), 422);
    // An enrichment prompt must say where the finding goes.
    let (s, p) = app
        .call(
            Method::POST,
            &analyst,
            "/governance/prompts",
            Some(prompt("9", "no slot")),
        )
        .await;
    assert_eq!(
        (s, p["errors"][0]["field"].as_str()),
        (422, Some("template"))
    );

    // Another tenant sees none of it: its list is empty, the ids are not found.
    let theirs = app.get_json(&other, "/governance/prompts").await;
    assert!(theirs["items"].as_array().unwrap().is_empty());
    let r = app
        .get(&other, &format!("/governance/prompts/{}", ids[0]))
        .await;
    assert_eq!(r.status(), 404);
    let (s, _) = app
        .call(
            Method::POST,
            &other,
            &format!("/governance/prompts/{}/approve", ids[1]),
            None,
        )
        .await;
    assert_eq!(s, 404);
    // A prompt id is no model id.
    let r = app
        .get(&analyst, &format!("/governance/models/{}", ids[0]))
        .await;
    assert_eq!(r.status(), 404);
    let cursor_elsewhere = app
        .get(&other, &format!("/governance/prompts?cursor={cursor}"))
        .await;
    assert_eq!(cursor_elsewhere.status(), 422);
}

#[tokio::test]
async fn failed_requests_are_counted_by_class_for_their_tenant() {
    let app = spawn_app().await;
    let viewer = app.key("acme", Role::Viewer).await;
    let other = app.key("globex", Role::Viewer).await;
    let before = failure_counts(&app, &viewer).await;
    assert_eq!(before["VALIDATION_ERROR"], 0);
    assert_eq!(
        before.as_object().unwrap().len(),
        6,
        "every class is listed"
    );

    // Two validation errors, one policy violation (role), one workflow error (409).
    app.call(
        Method::POST,
        &app.admin,
        "/governance/models",
        Some(json!({"name": "x"})),
    )
    .await;
    app.get(&viewer, "/governance/models/mdl_nope").await;
    app.call(
        Method::POST,
        &viewer,
        "/governance/models",
        Some(model("1")),
    )
    .await;
    let (_, m) = app
        .call(
            Method::POST,
            &app.admin,
            "/governance/models",
            Some(model("1")),
        )
        .await;
    let id = m["id"].as_str().unwrap();
    // Another key deciding a draft: a workflow error (the author would be refused first,
    // by four eyes).
    let approver = app.key("acme", Role::Approver).await;
    app.call(
        Method::POST,
        &approver,
        &format!("/governance/models/{id}/approve"),
        None,
    )
    .await;
    // Unauthenticated failures have no tenant: metrics only.
    app.get("vk_acme_nope_nope", "/governance/failures").await;

    let after = failure_counts(&app, &viewer).await;
    assert_eq!(after["VALIDATION_ERROR"], 2, "{after}");
    assert_eq!(after["POLICY_VIOLATION"], 1);
    assert_eq!(after["WORKFLOW_ERROR"], 1);
    assert_eq!(after["INFRA_ERROR"], 0);
    let theirs = failure_counts(&app, &other).await;
    assert_eq!(theirs["VALIDATION_ERROR"], 0, "per tenant");
}

/// A stand-in OpenAI-compatible server: answers a fixed assessment and keeps each
/// request body.
async fn model_stub() -> (String, Arc<Mutex<Vec<Value>>>) {
    use axum::routing::post;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |body: axum::Json<Value>| {
            let s = s.clone();
            async move {
                s.lock().unwrap().push(body.0);
                axum::Json(json!({"choices": [{"message": {"role": "assistant",
                    "content": "{\"risk_score\": 81, \"explanation\": \"Many failures.\"}"}}]}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/v1/chat/completions",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

#[tokio::test]
async fn enrichment_uses_only_approved_versions_and_audits_every_block() {
    let (url, seen) = model_stub().await;
    let app = spawn_app_with(&[
        ("VIGIL_LLM_URL", url.as_str()),
        ("VIGIL_LLM_MODEL", "stub-1"),
    ])
    .await;
    let analyst = app.key("acme", Role::Analyst).await;
    let approver = app.key("acme", Role::Approver).await;

    // The built-ins are approved for the tenant: behaviour as before, with provenance.
    app.post_and_drain(&failed_logins("alice", 3)).await;
    let f = &app.findings(&app.admin, "user=alice").await[0];
    assert_eq!(f["enriched_by"], "llm", "{f}");
    assert_eq!(f["risk_score"], 81.0);
    assert_eq!(f["model"], "stub-1");
    assert_eq!(f["model_version"], builtin::MODEL_VERSION);
    assert_eq!(f["prompt_version"], builtin::PROMPT_VERSION);
    assert_eq!(f["prompt_sha256"], builtin::prompt().sha256);
    {
        let bodies = seen.lock().unwrap();
        assert_eq!(bodies.len(), 1);
        assert_eq!(bodies[0]["model"], "stub-1");
        assert_eq!(bodies[0]["temperature"], 0.2);
        assert!(
            bodies[0]["messages"][1]["content"]
                .as_str()
                .unwrap()
                .contains("\"rule_id\"")
        );
    }
    let prompts = app
        .get_json(&app.admin, "/governance/prompts?state=approved")
        .await;
    let builtin_id = prompts["items"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(prompts["items"][0]["created_by"], "system:governance");

    // Retired: the model is not called, the heuristic answers, the block is audited
    // and counted as a policy violation, once.
    let (s, _) = app
        .call(
            Method::POST,
            &approver,
            &format!("/governance/prompts/{builtin_id}/retire"),
            Some(json!({"reason": "review"})),
        )
        .await;
    assert_eq!(s, 200);
    app.post_and_drain(&failed_logins("bob", 3)).await;
    let f = &app.findings(&app.admin, "user=bob").await[0];
    assert_eq!(f["enriched_by"], "heuristic");
    assert_eq!(f["model"], Value::Null);
    assert_eq!(f["prompt_sha256"], Value::Null);
    assert_eq!(seen.lock().unwrap().len(), 1, "the model was not called");
    let fid = f["id"].as_str().unwrap();
    let trail = app
        .get_json(
            &app.admin,
            &format!("/audit/entries?action=GOVERNANCE_VIOLATION&resource_id={fid}"),
        )
        .await;
    let v = &trail["items"][0];
    assert_eq!(v["actor"], "system:enrich", "{trail}");
    assert_eq!(v["after"]["blocked"]["reason"], "retired");
    assert_eq!(v["after"]["blocked"]["kind"], "prompt");
    assert_eq!(v["after"]["blocked"]["id"], builtin_id.as_str());
    assert_eq!(
        failure_counts(&app, &app.admin).await["POLICY_VIOLATION"],
        1
    );

    // Pending: still blocked, now as not approved. On demand, by an analyst: audited with
    // the caller as actor.
    let (_, p) = app
        .call(
            Method::POST,
            &analyst,
            "/governance/prompts",
            Some(json!({"name": "risk", "version": "2", "template": "Rate: {{finding}}", "purpose": "enrichment", "submit": true})),
        )
        .await;
    let v2 = p["id"].as_str().unwrap().to_string();
    let (s, again) = app
        .call(
            Method::POST,
            &analyst,
            &format!("/findings/{fid}/enrich_with_ai"),
            None,
        )
        .await;
    assert_eq!((s, again["enriched_by"].as_str()), (200, Some("heuristic")));
    let trail = app
        .get_json(
            &app.admin,
            &format!("/audit/entries?action=GOVERNANCE_VIOLATION&resource_id={fid}"),
        )
        .await;
    let newest = &trail["items"][0];
    assert_eq!(
        newest["after"]["blocked"]["reason"], "not_approved",
        "{trail}"
    );
    assert!(newest["actor"].as_str().unwrap().starts_with("key:"));
    assert_eq!(
        failure_counts(&app, &app.admin).await["POLICY_VIOLATION"],
        2
    );

    // Approved by someone else: the new prompt is what the model gets.
    let (s, _) = app
        .call(
            Method::POST,
            &approver,
            &format!("/governance/prompts/{v2}/approve"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (s, f) = app
        .call(
            Method::POST,
            &analyst,
            &format!("/findings/{fid}/enrich_with_ai"),
            None,
        )
        .await;
    assert_eq!((s, f["enriched_by"].as_str()), (200, Some("llm")), "{f}");
    assert_eq!(f["prompt_version"], "2");
    assert_eq!(
        f["prompt_sha256"],
        vigil_shared::governance::registry::prompt_sha256("", "Rate: {{finding}}")
    );
    let last = seen.lock().unwrap().last().cloned().unwrap();
    assert!(
        last["messages"][1]["content"]
            .as_str()
            .unwrap()
            .starts_with("Rate: {")
    );

    // A retired model blocks too, and the built-ins are never registered again.
    let models = app
        .get_json(&app.admin, "/governance/models?state=approved")
        .await;
    let mid = models["items"][0]["id"].as_str().unwrap();
    app.call(
        Method::POST,
        &approver,
        &format!("/governance/models/{mid}/retire"),
        None,
    )
    .await;
    let (_, f) = app
        .call(
            Method::POST,
            &analyst,
            &format!("/findings/{fid}/enrich_with_ai"),
            None,
        )
        .await;
    assert_eq!(f["enriched_by"], "heuristic");
    let trail = app
        .get_json(
            &app.admin,
            &format!("/audit/entries?action=GOVERNANCE_VIOLATION&resource_id={fid}"),
        )
        .await;
    assert_eq!(trail["items"][0]["after"]["blocked"]["kind"], "model");
    assert_eq!(
        failure_counts(&app, &app.admin).await["POLICY_VIOLATION"],
        3
    );
    let all = app.get_json(&app.admin, "/governance/models").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_model_for_another_endpoint_is_blocked() {
    let (url, seen) = model_stub().await;
    let app = spawn_app_with(&[("VIGIL_LLM_URL", url.as_str())]).await;
    let analyst = app.key("acme", Role::Analyst).await;
    let approver = app.key("acme", Role::Approver).await;
    // Seed the built-ins, then approve a newer model that points elsewhere.
    app.post_and_drain(&failed_logins("alice", 3)).await;
    let mut body = model("elsewhere");
    body["submit"] = json!(true);
    let (_, m) = app
        .call(Method::POST, &analyst, "/governance/models", Some(body))
        .await;
    let id = m["id"].as_str().unwrap();
    app.clock.advance(chrono::Duration::seconds(1));
    let (s, _) = app
        .call(
            Method::POST,
            &approver,
            &format!("/governance/models/{id}/approve"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    app.post_and_drain(&failed_logins("carol", 3)).await;
    let f = &app.findings(&app.admin, "user=carol").await[0];
    assert_eq!(f["enriched_by"], "heuristic");
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "only alice's finding reached the model"
    );
    let fid = f["id"].as_str().unwrap();
    let trail = app
        .get_json(
            &app.admin,
            &format!("/audit/entries?action=GOVERNANCE_VIOLATION&resource_id={fid}"),
        )
        .await;
    assert_eq!(
        trail["items"][0]["after"]["blocked"]["reason"],
        "endpoint_mismatch"
    );
}
