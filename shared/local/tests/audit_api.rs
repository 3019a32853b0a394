//! The audit ledger through the HTTP API: mutations are recorded with their actor and
//! request id, read with filters and cursors, proven, verified and exported for offline
//! checking by `vigil audit verify`.
mod common;

use std::collections::HashSet;

use common::{actions, failed_logins, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};
use vigil_shared::audit::merkle::{verify_consistency, verify_inclusion};
use vigil_shared::audit::{AuditEntry, entry::decode_hash};
use vigil_shared::domain::{Role, TenantId};
use vigil_shared::ports::{Condition, WriteOp};
use vigil_shared::repo::storage_keys::audit as k;

fn key_id(plaintext: &str) -> String {
    plaintext.rsplit('_').nth(1).unwrap().to_string()
}

/// [`common::TestApp::send`] with the request id `req-test-1`, which the audit keeps.
async fn send(
    app: &common::TestApp,
    method: Method,
    key: &str,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut r = app
        .request(method, key, path)
        .header("x-request-id", "req-test-1");
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().await.unwrap()
}

/// [`send`]s each `(method, key, path, body, status)` in turn and checks it is answered
/// with `status`.
async fn send_expecting<const N: usize>(
    app: &common::TestApp,
    requests: [(Method, &str, &str, Option<Value>, u16); N],
) {
    for (method, key, path, body, status) in requests {
        let r = send(app, method.clone(), key, path, body).await;
        assert_eq!(r.status(), status, "{method} {path}");
    }
}

/// Creates a key with `role` through the API, as the admin; returns what the API answered.
async fn create_key(app: &common::TestApp, role: &str) -> Value {
    let body = json!({"role": role});
    let r = send(app, Method::POST, &app.admin, "/keys", Some(body)).await;
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

/// Creates the AI system "CV screener" with `key`; returns its id.
async fn create_cv_screener(app: &common::TestApp, key: &str) -> String {
    let body = json!({"name": "CV screener", "answers": {"employment_recruitment": true}});
    let r = send(app, Method::POST, key, "/ai-systems", Some(body)).await;
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn all_entries(app: &common::TestApp, key: &str, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/audit/entries?limit=2&{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = app.get_json(key, &path).await;
        out.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

#[tokio::test]
async fn mutations_are_recorded_with_actor_and_request_id_and_can_be_queried() {
    let app = spawn_app().await;
    let admin_id = key_id(&app.admin);
    let actor = format!("key:{admin_id}");

    // API key create and revoke, through the API.
    let analyst = create_key(&app, "analyst").await["key"]
        .as_str()
        .unwrap()
        .to_string();
    let viewer_body = create_key(&app, "viewer").await;
    let viewer = viewer_body["key"].as_str().unwrap().to_string();
    let viewer_id = viewer_body["id"].as_str().unwrap().to_string();

    // A finding triaged and enriched on demand.
    app.post_and_drain(&failed_logins("alice", 8)).await;
    let finding = app.findings(&app.admin, "rule_id=login_failed_burst").await[0].clone();
    let fid = finding["id"].as_str().unwrap().to_string();
    let triage = json!({"status": "resolved", "note": "known tester"});
    let finding_path = format!("/findings/{fid}");
    let enrich = format!("{finding_path}/enrich_with_ai");
    let viewer_key = format!("/keys/{viewer_id}");
    send_expecting(
        &app,
        [
            (Method::PATCH, &analyst, &finding_path, Some(triage), 200),
            (Method::POST, &analyst, &enrich, None, 200),
            (Method::DELETE, &app.admin, &viewer_key, None, 204),
        ],
    )
    .await;

    // Viewers cannot read the log; analysts can.
    assert_eq!(app.get(&viewer, "/audit/entries").await.status(), 401);
    let fresh_viewer = app.key("acme", Role::Viewer).await;
    assert_eq!(app.get(&fresh_viewer, "/audit/entries").await.status(), 403);

    let all = all_entries(&app, &analyst, "").await;
    let actions = actions(&all);
    // Newest first: the harness's fresh viewer key (minted directly, so recorded as the
    // `apikeys` component), revoke, enrich, update, and the admin's two creates.
    assert_eq!(
        &actions[..6],
        [
            "api_key.create",
            "api_key.revoke",
            "finding.enrich",
            "finding.update",
            "api_key.create",
            "api_key.create"
        ]
    );
    assert_eq!(all[0]["actor"], "system:apikeys");
    let seqs: HashSet<u64> = all.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs.len(), all.len(), "pages do not repeat entries");

    let update = &all[3];
    assert_eq!(update["actor"], json!(format!("key:{}", key_id(&analyst))));
    assert_eq!(update["request_id"], "req-test-1");
    assert_eq!(update["resource_type"], "finding");
    assert_eq!(update["resource_id"], json!(fid));
    assert_eq!(update["before"]["status"], "open");
    assert_eq!(update["after"]["status"], "resolved");
    assert_eq!(update["outcome"], "success");
    let revoke = &all[1];
    assert_eq!(revoke["actor"], json!(actor));
    assert_eq!(revoke["before"]["revoked"], false);
    assert_eq!(revoke["after"]["revoked"], true);
    assert!(
        revoke["after"].get("hash").is_none(),
        "key hashes never enter the log"
    );

    // Filters: actor, action, resource, time.
    let by_admin = all_entries(&app, &analyst, &format!("actor={actor}")).await;
    assert_eq!(by_admin.len(), 3);
    assert!(by_admin.iter().all(|e| e["actor"] == json!(actor)));
    let updates = all_entries(&app, &analyst, "action=finding.update").await;
    assert_eq!(updates.len(), 1);
    let trail = all_entries(
        &app,
        &analyst,
        &format!("resource_type=finding&resource_id={fid}"),
    )
    .await;
    assert_eq!(trail.len(), 2);
    let later = all_entries(&app, &analyst, "from=2030-01-01").await;
    assert!(later.is_empty());
    let r = app.get(&analyst, "/audit/entries?from=yesterday").await;
    assert_eq!(r.status(), 422);
    // A cursor from one filter cannot be replayed on another partition.
    let page = app
        .get_json(&analyst, &format!("/audit/entries?limit=1&actor={actor}"))
        .await;
    let c = page["next_cursor"].as_str().unwrap();
    let r = app
        .get(
            &analyst,
            &format!("/audit/entries?cursor={c}&action=finding.update"),
        )
        .await;
    assert_eq!(r.status(), 422);

    // Stats.
    let stats = app.get_json(&analyst, "/audit/stats").await;
    assert_eq!(stats["chain_length"], json!(all.len()));
    assert_eq!(stats["by_action"]["finding.update"], 1);
    assert_eq!(stats["by_actor"][&actor], 3);
    assert_eq!(
        stats["by_day"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_i64().unwrap())
            .sum::<i64>(),
        all.len() as i64
    );

    // Reconstruction instead of rollback.
    let update_seq = update["seq"].as_u64().unwrap();
    let s = app
        .get_json(
            &analyst,
            &format!(
                "/audit/state?resource=finding/{fid}&at_seq={}",
                update_seq - 1
            ),
        )
        .await;
    assert_eq!(s["exists"], true);
    assert_eq!(s["state"]["status"], "open");
    let s = app
        .get_json(
            &analyst,
            &format!("/audit/state?resource=finding/{fid}&at_seq={update_seq}"),
        )
        .await;
    assert_eq!(s["state"]["status"], "resolved");
    assert_eq!(s["state"]["note"], "known tester");
    assert_eq!(s["entry_intact"], true);
    let s = app
        .get_json(
            &analyst,
            &format!("/audit/state?resource=api_key/{viewer_id}"),
        )
        .await;
    assert_eq!(s["state"]["revoked"], true);
    assert_eq!(
        app.get(&analyst, "/audit/state?resource=nope")
            .await
            .status(),
        422
    );

    // Another tenant sees none of it.
    let other = app.key("globex", Role::Admin).await;
    let theirs = all_entries(&app, &other, &format!("actor={actor}")).await;
    assert!(theirs.is_empty());
    let s = app
        .get_json(&other, &format!("/audit/state?resource=finding/{fid}"))
        .await;
    assert_eq!(s["exists"], false);
}

#[tokio::test]
async fn checkpoints_and_proofs_let_an_outsider_check_the_log() {
    let app = spawn_app().await;
    let viewer = app.key("acme", Role::Viewer).await;
    let analyst = app.key("acme", Role::Analyst).await;
    for _ in 0..4 {
        app.key("acme", Role::Viewer).await;
    }
    assert_eq!(
        app.get(&viewer, "/audit/checkpoints/latest").await.status(),
        404
    );
    let r = send(&app, Method::POST, &analyst, "/audit/checkpoints", None).await;
    assert_eq!(r.status(), 403);
    let r = send(&app, Method::POST, &app.admin, "/audit/checkpoints", None).await;
    assert_eq!(r.status(), 201);
    let cp1: Value = r.json().await.unwrap();
    assert_eq!(cp1["tree_size"], 7);
    for _ in 0..6 {
        app.key("acme", Role::Viewer).await;
    }
    let cp2: Value = send(&app, Method::POST, &app.admin, "/audit/checkpoints", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cp2["tree_size"], 13);
    assert_eq!(
        app.get_json(&viewer, "/audit/checkpoints/latest").await,
        cp2
    );

    let root = |cp: &Value| decode_hash(cp["root_hash"].as_str().unwrap()).unwrap();
    let hashes = |v: &Value| -> Vec<[u8; 32]> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|h| decode_hash(h.as_str().unwrap()).unwrap())
            .collect()
    };
    for seq in 1..=13 {
        let p = app
            .get_json(
                &viewer,
                &format!("/audit/proofs/inclusion?seq={seq}&tree_size=13"),
            )
            .await;
        let leaf = decode_hash(p["leaf_hash"].as_str().unwrap()).unwrap();
        assert!(verify_inclusion(
            seq - 1,
            13,
            &leaf,
            &hashes(&p["proof"]),
            &root(&cp2)
        ));
    }
    let p = app
        .get_json(&viewer, "/audit/proofs/consistency?from=7&to=13")
        .await;
    assert!(verify_consistency(
        7,
        13,
        &root(&cp1),
        &root(&cp2),
        &hashes(&p["proof"])
    ));
    for bad in [
        "/audit/proofs/inclusion?seq=0",
        "/audit/proofs/inclusion?seq=5&tree_size=99",
        "/audit/proofs/inclusion",
        "/audit/proofs/consistency?from=9&to=3",
    ] {
        assert_eq!(app.get(&viewer, bad).await.status(), 422, "{bad}");
    }
}

#[tokio::test]
async fn exports_verify_offline_and_tampered_exports_do_not() {
    let app = spawn_app().await;
    let analyst = app.key("acme", Role::Analyst).await;
    for _ in 0..9 {
        app.key("acme", Role::Viewer).await;
    }
    send(&app, Method::POST, &app.admin, "/audit/checkpoints", None).await;
    app.key("acme", Role::Viewer).await;
    assert_eq!(app.get(&analyst, "/audit/export").await.status(), 403);

    let dir = tempfile::tempdir().unwrap();
    let r = app.get(&app.admin, "/audit/export?format=ndjson").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/x-ndjson"
    );
    let ndjson = r.text().await.unwrap();
    let lines: Vec<Value> = ndjson
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["type"], "checkpoint");
    assert_eq!(lines[0]["checkpoint"]["tree_size"], 12);
    assert_eq!(lines[1]["type"], "consistency");
    assert_eq!(lines.iter().filter(|l| l["type"] == "entry").count(), 12);
    let public_key = lines[0]["checkpoint"]["public_key"].as_str().unwrap();
    let file = dir.path().join("audit.ndjson");
    std::fs::write(&file, &ndjson).unwrap();

    let vigil = env!("CARGO_BIN_EXE_vigil");
    let run = |path: &std::path::Path, key: &str| {
        std::process::Command::new(vigil)
            .args(["audit", "verify"])
            .arg(path)
            .args(["--public-key", key])
            .output()
            .unwrap()
    };
    let out = run(&file, public_key);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (report["ok"].clone(), report["entries_checked"].clone()),
        (json!(true), json!(12))
    );

    // Change one entry's resource id in the file: caught and located.
    let tampered: String = ndjson
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            if v["type"] == "entry" && v["entry"]["seq"] == 6 {
                v["entry"]["resource_id"] = json!("someone-else");
            }
            format!("{v}\n")
        })
        .collect();
    let bad = dir.path().join("tampered.ndjson");
    std::fs::write(&bad, tampered).unwrap();
    let out = run(&bad, public_key);
    assert!(!out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["first_break"]["seq"], 6);
    assert_eq!(report["first_break"]["kind"], "modified");
    // Drop an entry line: caught as a deletion.
    let dropped: String = ndjson
        .lines()
        .filter(|l| !l.contains("\"seq\":4,"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&bad, dropped).unwrap();
    let report: Value = serde_json::from_slice(&run(&bad, public_key).stdout).unwrap();
    assert_eq!(report["first_break"]["kind"], "deleted");
    assert_eq!(report["first_break"]["seq"], 4);
    // Signed by someone else's key: refused.
    let other = vigil_shared::audit::CheckpointSigner::generate().public_key();
    assert!(!run(&file, &other).status.success());

    // CSV, and a range.
    let csv = app
        .get(&app.admin, "/audit/export?format=csv&from_seq=3&to_seq=8")
        .await
        .text()
        .await
        .unwrap();
    assert!(csv.starts_with("type,seq,at,actor,action,resource_type,resource_id"));
    let csv_file = dir.path().join("audit.csv");
    std::fs::write(&csv_file, &csv).unwrap();
    let out = run(&csv_file, public_key);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (report["first_seq"].clone(), report["last_seq"].clone()),
        (json!(3), json!(8))
    );
    // The readable columns must agree with the signed JSON.
    let edited = csv.replacen(",api_key,", ",finding,", 1);
    std::fs::write(&csv_file, edited).unwrap();
    assert!(!run(&csv_file, public_key).status.success());
}

#[tokio::test]
async fn verification_over_http_finds_tampering_and_blocks_signing() {
    let app = spawn_app().await;
    let analyst = app.key("acme", Role::Analyst).await;
    for _ in 0..6 {
        app.key("acme", Role::Viewer).await;
    }
    assert_eq!(
        send(&app, Method::POST, &analyst, "/audit/verify", None)
            .await
            .status(),
        403
    );
    let r: Value = send(&app, Method::POST, &app.admin, "/audit/verify", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["ok"], true);
    assert_eq!(r["entries_checked"], 8);
    let r: Value = send(
        &app,
        Method::POST,
        &app.admin,
        "/audit/verify",
        Some(json!({"from_seq": 3, "to_seq": 5})),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        (r["ok"].clone(), r["entries_checked"].clone()),
        (json!(true), json!(3))
    );

    // Change the resource id of entry 4 in the store itself.
    let store = app.system.store.as_ref();
    let t = TenantId::parse("acme").unwrap();
    let mut item = vigil_shared::ports::ItemStore::get(store, &k::ledger_pk(&t), &k::entry_sk(4))
        .await
        .unwrap()
        .unwrap();
    let mut e: AuditEntry = serde_json::from_value(item.data.clone()).unwrap();
    e.resource_id = "forged".into();
    item.data = serde_json::to_value(&e).unwrap();
    vigil_shared::ports::ItemStore::write(store, vec![WriteOp::put(item, Condition::None)])
        .await
        .unwrap();

    let r: Value = send(&app, Method::POST, &app.admin, "/audit/verify", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["ok"], false);
    assert_eq!(r["first_break"]["kind"], "modified");
    assert_eq!(r["first_break"]["seq"], 4);
    let stats = app.get_json(&analyst, "/audit/stats").await;
    assert_eq!(stats["last_verification"]["ok"], false);
    let r = send(&app, Method::POST, &app.admin, "/audit/checkpoints", None).await;
    assert_eq!(r.status(), 409, "a broken log is never signed");
    assert_eq!(app.get(&app.admin, "/audit/export").await.status(), 409);
}

#[tokio::test]
async fn concurrent_requests_keep_one_chain() {
    let app = spawn_app().await;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..16 {
        let http = app.http.clone();
        let url = format!("{}/keys", app.base);
        let admin = app.admin.clone();
        set.spawn(async move {
            http.post(url)
                .bearer_auth(admin)
                .json(&json!({"role": "viewer", "name": format!("k{i}")}))
                .send()
                .await
                .unwrap()
                .status()
        });
    }
    while let Some(s) = set.join_next().await {
        assert_eq!(s.unwrap(), 201);
    }
    let r: Value = send(&app, Method::POST, &app.admin, "/audit/verify", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["entries_checked"], 17);
    let creates = app
        .get_json(&app.admin, "/audit/entries?limit=100&action=api_key.create")
        .await;
    let names: HashSet<String> = creates["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["after"]["name"].as_str().map(String::from))
        .collect();
    assert_eq!(names.len(), 16);
}

/// Entries of one resource, newest first.
async fn trail_of(app: &common::TestApp, key: &str, rtype: &str, id: &str) -> Vec<Value> {
    all_entries(app, key, &format!("resource_type={rtype}&resource_id={id}")).await
}

async fn verify_intact(app: &common::TestApp) -> Value {
    let r: Value = send(app, Method::POST, &app.admin, "/audit/verify", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["ok"], true, "{r}");
    r
}

#[tokio::test]
async fn ai_system_changes_are_audited_with_snapshots() {
    let app = spawn_app().await;
    let analyst = app.key("acme", Role::Analyst).await;
    let actor = json!(format!("key:{}", key_id(&analyst)));
    let id = create_cv_screener(&app, &analyst).await;
    let path = format!("/ai-systems/{id}");
    let replace = json!({"name": "CV ranker", "answers": {"employment_recruitment": true}});
    let update = json!({"description": "ranks CVs"});
    let monitoring = json!({"monitoring_enabled": false});
    let monitoring_path = format!("{path}/monitoring");
    send_expecting(
        &app,
        [
            (Method::PUT, &analyst, &path, Some(replace), 200),
            (Method::PATCH, &analyst, &path, Some(update), 200),
            (
                Method::PATCH,
                &analyst,
                &monitoring_path,
                Some(monitoring),
                200,
            ),
        ],
    )
    .await;
    // A stale If-Match changes nothing and records nothing.
    let r = app
        .request(Method::PUT, &analyst, &path)
        .header("if-match", "\"1\"")
        .json(&json!({"name": "stale"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412);
    let r = send(&app, Method::DELETE, &analyst, &path, None).await;
    assert_eq!(r.status(), 204);

    let trail = trail_of(&app, &analyst, "ai_system", &id).await;
    let actions = actions(&trail);
    assert_eq!(
        actions,
        [
            "ai_system.archive",
            "ai_system.update_monitoring",
            "ai_system.update",
            "ai_system.replace",
            "ai_system.create"
        ]
    );
    for e in &trail {
        assert_eq!(e["actor"], actor);
        assert_eq!(e["request_id"], "req-test-1");
        assert_eq!(e["resource_type"], "ai_system");
    }
    let create = &trail[4];
    assert_eq!(create["before"], Value::Null);
    assert_eq!(create["after"]["name"], "CV screener");
    assert_eq!(create["after"]["version"], 1);
    assert_eq!(trail[3]["before"]["name"], "CV screener");
    assert_eq!(trail[3]["after"]["name"], "CV ranker");
    assert_eq!(trail[2]["after"]["description"], "ranks CVs");
    assert_eq!(trail[1]["before"]["monitoring"]["monitoring_enabled"], true);
    assert_eq!(trail[1]["after"]["monitoring"]["monitoring_enabled"], false);
    assert_eq!(trail[0]["before"]["archived"], false);
    assert_eq!(trail[0]["after"]["archived"], true);
    // The state at the replace is rebuilt from its snapshot.
    let s = app
        .get_json(
            &analyst,
            &format!(
                "/audit/state?resource=ai_system/{id}&at_seq={}",
                trail[3]["seq"]
            ),
        )
        .await;
    assert_eq!(s["state"]["name"], "CV ranker");
    assert_eq!(s["state"]["description"], "");
    let r = verify_intact(&app).await;
    assert_eq!(r["entries_checked"], json!(trail.len() + 2), "{r}");
}

#[tokio::test]
async fn reclassification_runs_and_drift_are_audited() {
    let app = spawn_app().await;
    let tenant = TenantId::parse("acme").unwrap();
    let admin_actor = json!(format!("key:{}", key_id(&app.admin)));
    let id = create_cv_screener(&app, &app.admin).await;

    // Started through the API: the caller's key.
    let r = send(&app, Method::POST, &app.admin, "/admin/reclassify", None).await;
    assert_eq!(r.status(), 202);
    let run_id = r.json::<Value>().await.unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    app.drain().await;
    let starts = trail_of(&app, &app.admin, "reclassify_run", &run_id).await;
    assert_eq!(starts.len(), 1);
    assert_eq!(starts[0]["action"], "reclassify_run.start");
    assert_eq!(starts[0]["actor"], admin_actor);
    assert_eq!(starts[0]["request_id"], "req-test-1");
    assert_eq!(starts[0]["after"]["trigger"], "api");

    // An older classifier's result: the next (scheduled) run reports drift.
    let store = app.system.store.as_ref();
    let current = vigil_shared::repo::ai_systems::get(store, &tenant, &id)
        .await
        .unwrap()
        .unwrap();
    let mut next = current.system.clone();
    next.classification.as_mut().unwrap().classifier_version = "old".into();
    vigil_shared::repo::ai_systems::replace(store, &current, &next)
        .await
        .unwrap();
    let summary = app.system.reclassifier().on_schedule().await.unwrap();
    assert_eq!(summary.started.len(), 1);
    let scheduled = &summary.started[0];
    app.drain().await;
    let starts = trail_of(&app, &app.admin, "reclassify_run", scheduled).await;
    assert_eq!(starts.len(), 1);
    assert_eq!(starts[0]["actor"], "system:reclassify");
    assert_eq!(starts[0]["after"]["trigger"], "schedule");

    let drift = all_entries(&app, &app.admin, "action=ai_system.drift_detected").await;
    assert_eq!(drift.len(), 1);
    let d = &drift[0];
    assert_eq!(d["actor"], "system:reclassify");
    assert_eq!(d["resource_type"], "ai_system");
    assert_eq!(d["resource_id"], json!(id));
    assert_eq!(d["before"]["classification"]["classifier_version"], "old");
    assert_ne!(d["after"]["classification"]["classifier_version"], "old");

    // Never classified: the run sets the baseline, recorded as the system's change.
    let current = vigil_shared::repo::ai_systems::get(store, &tenant, &id)
        .await
        .unwrap()
        .unwrap();
    let mut next = current.system.clone();
    next.classification = None;
    vigil_shared::repo::ai_systems::replace(store, &current, &next)
        .await
        .unwrap();
    app.system.reclassifier().on_schedule().await.unwrap();
    app.drain().await;
    let baseline = all_entries(&app, &app.admin, "action=ai_system.classify").await;
    assert_eq!(baseline.len(), 1);
    assert_eq!(baseline[0]["actor"], "system:reclassify");
    assert_eq!(baseline[0]["resource_id"], json!(id));
    assert_eq!(baseline[0]["before"]["classification"], Value::Null);
    assert!(baseline[0]["after"]["classification"].is_object());
    verify_intact(&app).await;
}
