//! OCSF out, black-box: `GET /findings/{id}?format=ocsf`, `GET /findings/export` and
//! `GET /events?format=ocsf` on the real app, every document checked against the
//! JSON Schemas generated from the ocsf-schema repository (tests/ocsf/schema/).
mod common;

use std::collections::{BTreeSet, HashMap};

use chrono::Duration;
use jsonschema::Validator;
use reqwest::Method;
use serde_json::{Value, json};
use vigil_local::generator::{GeneratorOptions, generate_events};
use vigil_shared::domain::Role;
use vigil_shared::rules::{RULES, volume};

use common::{TestApp, event, t0};

/// The generated schemas, by class_uid.
struct Schemas(HashMap<u64, Validator>);

impl Schemas {
    fn load() -> Self {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/ocsf/schema")
            .join(vigil_shared::ocsf::VERSION);
        let classes = [
            (2004, "detection_finding_2004.json"),
            (3002, "authentication_3002.json"),
            (3001, "account_change_3001.json"),
            (6003, "api_activity_6003.json"),
            (0, "base_event_0.json"),
        ];
        Self(
            classes
                .into_iter()
                .map(|(uid, file)| {
                    let text = std::fs::read_to_string(dir.join(file)).unwrap();
                    let schema = serde_json::from_str(&text).unwrap();
                    (uid, jsonschema::validator_for(&schema).unwrap())
                })
                .collect(),
        )
    }

    fn check(&self, doc: &Value) {
        let class = doc["class_uid"].as_u64().expect("class_uid");
        let errors: Vec<String> = self.0[&class]
            .iter_errors(doc)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}\n{doc:#}");
    }
}

/// A generated day of traffic, the app's volume threshold lowered so its busy hours
/// fire the volume rule too, plus the matches the generator has no scenario for.
async fn app_with_every_rule() -> TestApp {
    let app = common::spawn_app_with(&[("VIGIL_TENANT_HOURLY_VOLUME", "60")]).await;
    let events = generate_events(&GeneratorOptions {
        count: 1_500,
        seed: 16,
        days: 1,
        end: t0() - Duration::minutes(5),
    });
    for batch in events.chunks(500) {
        app.post_and_drain(&Value::Array(batch.to_vec())).await;
    }
    let extra = json!([
        event(
            "permission_changed",
            "carol",
            5,
            json!({"old_role": "viewer", "new_role": "developer"})
        ),
        event(
            "permission_changed",
            "carol",
            6,
            json!({"old_role": "developer", "new_role": "admin"})
        ),
        event(
            "pull_request_merged",
            "dave",
            7,
            json!({"lines_changed": 5000, "repository": "acme/api"})
        ),
        event(
            "api_token_created",
            "erin",
            8,
            json!({"token_name": "ci", "scopes": ["admin"]})
        ),
        event(
            "storage_bucket_permission_changed",
            "erin",
            9,
            json!({"bucket_name": "logs", "public": true})
        ),
        event(
            "deployment_failed",
            "frank",
            10,
            json!({"environment": "production"})
        ),
    ]);
    app.post_and_drain(&extra).await;
    app
}

/// Every finding through cursor pages of `query` (merged ones only with `status=merged`).
async fn all_findings(app: &TestApp, key: &str, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut path = format!("/findings?{query}limit=100");
    loop {
        let page = app.get_json(key, &path).await;
        out.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/findings?{query}limit=100&cursor={c}"),
            None => return out,
        }
    }
}

/// Two bursts of failed logins, the newer acknowledged, then a failure bridging them:
/// the newer is merged into the older (as in the API tests).
async fn make_a_merge(app: &TestApp) {
    let fail = |id: &str, minute: i64| {
        let mut e = event(
            "login_failed",
            "mallory",
            minute,
            json!({"ip": "198.51.100.4"}),
        );
        e["id"] = json!(id);
        e
    };
    app.post_and_drain(&json!([fail("m1", -150), fail("m2", -147)]))
        .await;
    app.post_and_drain(&json!([fail("m3", -50), fail("m4", -47)]))
        .await;
    let two = all_findings(app, &app.admin, "user=mallory&").await;
    assert_eq!(two.len(), 2, "{two:#?}");
    for f in &two {
        let (status, body) = app
            .call(
                Method::PATCH,
                &app.admin,
                &format!("/findings/{}", f["id"].as_str().unwrap()),
                Some(json!({"status": "acknowledged"})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    app.post_and_drain(&json!([fail("m5", -100)])).await;
}

#[tokio::test]
async fn every_rules_findings_in_every_triage_state_are_valid_ocsf() {
    let schemas = Schemas::load();
    let app = app_with_every_rule().await;
    make_a_merge(&app).await;
    // Resolve and acknowledge some of what the mix raised.
    let live = all_findings(&app, &app.admin, "").await;
    for (i, f) in live.iter().enumerate().filter(|(i, _)| i % 3 != 0) {
        let status = if i % 3 == 1 {
            "resolved"
        } else {
            "acknowledged"
        };
        let (code, body) = app
            .call(
                Method::PATCH,
                &app.admin,
                &format!("/findings/{}", f["id"].as_str().unwrap()),
                Some(json!({"status": status})),
            )
            .await;
        assert_eq!(code, 200, "{body}");
    }
    let mut all = all_findings(&app, &app.admin, "").await;
    all.extend(all_findings(&app, &app.admin, "status=merged&").await);
    let mut rules = BTreeSet::new();
    let mut statuses = BTreeSet::new();
    for f in &all {
        let id = f["id"].as_str().unwrap();
        let r = app
            .get(&app.admin, &format!("/findings/{id}?format=ocsf"))
            .await;
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        let doc: Value = r.json().await.unwrap();
        schemas.check(&doc);
        assert_eq!(doc["finding_info"]["uid"], id);
        assert_eq!(doc["finding_info"]["analytic"]["uid"], f["rule_id"]);
        let evidences = doc["evidences"].as_array().unwrap();
        assert_eq!(evidences.len(), f["event_ids"].as_array().unwrap().len());
        for ev in evidences {
            // Every evidence event is still stored: each carries its OCSF event.
            schemas.check(&ev["data"]);
        }
        let want = match f["status"].as_str().unwrap() {
            "open" => 1,
            "acknowledged" => 2,
            "resolved" => 4,
            _ => 99,
        };
        assert_eq!(doc["status_id"], want);
        rules.insert(f["rule_id"].as_str().unwrap().to_string());
        statuses.insert(f["status"].as_str().unwrap().to_string());
    }
    let catalog: BTreeSet<String> = RULES
        .iter()
        .map(|r| r.id.to_string())
        .chain([volume::RULE_ID.to_string()])
        .collect();
    assert_eq!(rules, catalog, "every rule raised a finding");
    assert_eq!(
        statuses,
        ["acknowledged", "merged", "open", "resolved"]
            .map(String::from)
            .into(),
    );
}

/// The lines of an export answer, checked to be NDJSON.
async fn export_lines(app: &TestApp, key: &str, query: &str) -> Vec<Value> {
    let r = app.get(key, &format!("/findings/export?{query}")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-ndjson");
    let text = r.text().await.unwrap();
    assert!(text.is_empty() || text.ends_with('\n'));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn the_export_streams_every_finding_in_range_once() {
    let schemas = Schemas::load();
    let app = app_with_every_rule().await;
    let everything = all_findings(&app, &app.admin, "").await;
    assert!(
        everything.len() > 100,
        "more than one export page: {}",
        everything.len()
    );
    let ocsf = export_lines(&app, &app.admin, "format=ocsf").await;
    assert_eq!(ocsf.len(), everything.len());
    for doc in &ocsf {
        schemas.check(doc);
    }
    let ids = |docs: &[Value], at: &dyn Fn(&Value) -> Value| -> Vec<Value> {
        docs.iter().map(at).collect()
    };
    assert_eq!(
        ids(&ocsf, &|d| d["finding_info"]["uid"].clone()),
        ids(&everything, &|f| f["id"].clone()),
        "the list's findings, in its order"
    );
    let native = export_lines(&app, &app.admin, "format=json").await;
    assert_eq!(native, everything);
    // A range: the findings whose first evidence lies in it, as the list has them.
    let (from, to) = (
        (t0() - Duration::hours(12)).to_rfc3339(),
        (t0() - Duration::hours(3)).to_rfc3339(),
    );
    let q = format!("from={}&to={}&", urlencode(&from), urlencode(&to));
    let listed = all_findings(&app, &app.admin, &q).await;
    assert!(!listed.is_empty() && listed.len() < everything.len());
    let ranged = export_lines(&app, &app.admin, &format!("{q}format=ocsf")).await;
    assert_eq!(ranged.len(), listed.len());
    let (lo, hi) = (
        chrono::DateTime::parse_from_rfc3339(&from)
            .unwrap()
            .timestamp_millis(),
        chrono::DateTime::parse_from_rfc3339(&to)
            .unwrap()
            .timestamp_millis(),
    );
    for doc in &ranged {
        let first = doc["finding_info"]["first_seen_time"].as_i64().unwrap();
        assert!((lo..=hi).contains(&first));
    }
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn events_as_ocsf_page_like_the_native_list() {
    let schemas = Schemas::load();
    let app = app_with_every_rule().await;
    let mut native_path = "/events?limit=200".to_string();
    let mut ocsf_path = "/events?limit=200&format=ocsf".to_string();
    let mut classes = BTreeSet::new();
    let mut seen = 0;
    loop {
        let native = app.get_json(&app.admin, &native_path).await;
        let ocsf = app.get_json(&app.admin, &ocsf_path).await;
        assert_eq!(native["next_cursor"], ocsf["next_cursor"]);
        let (a, b) = (
            native["items"].as_array().unwrap(),
            ocsf["items"].as_array().unwrap(),
        );
        assert_eq!(a.len(), b.len());
        for (e, doc) in a.iter().zip(b) {
            schemas.check(doc);
            assert_eq!(doc["metadata"]["uid"], e["id"]);
            assert_eq!(doc["metadata"]["event_code"], e["event_type"]);
            classes.insert(doc["class_uid"].as_u64().unwrap());
        }
        seen += a.len();
        match ocsf["next_cursor"].as_str() {
            Some(c) => {
                native_path = format!("/events?limit=200&cursor={c}");
                ocsf_path = format!("/events?limit=200&format=ocsf&cursor={c}");
            }
            None => break,
        }
    }
    assert_eq!(seen, 1_506);
    assert_eq!(classes, BTreeSet::from([3001, 3002, 6003]));
    // An unknown type is a Base Event; a client id finds its event in OCSF too.
    let mut other = event("custom.thing", "gina", 1, json!({"k": "v"}));
    other["id"] = json!("client-7");
    app.post_and_drain(&json!([other])).await;
    let page = app
        .get_json(&app.admin, "/events?client_id=client-7&format=ocsf")
        .await;
    let doc = &page["items"][0];
    schemas.check(doc);
    assert_eq!(
        (doc["class_uid"].clone(), doc["type_uid"].clone()),
        (json!(0), json!(99))
    );
    assert_eq!(doc["metadata"]["original_event_uid"], "client-7");
}

#[tokio::test]
async fn other_tenants_findings_are_not_found_and_a_bad_format_is_named() {
    let app = common::spawn_app().await;
    app.post_and_drain(&common::failed_logins("alice", 8)).await;
    let mine = app.findings(&app.admin, "").await;
    let id = mine[0]["id"].as_str().unwrap();
    let other = app.key("globex", Role::Viewer).await;
    let (status, body) = app
        .call(
            Method::GET,
            &other,
            &format!("/findings/{id}?format=ocsf"),
            None,
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert!(export_lines(&app, &other, "format=ocsf").await.is_empty());
    assert_eq!(
        export_lines(&app, &app.admin, "format=ocsf").await.len(),
        mine.len()
    );
    let page = app.get_json(&other, "/events?format=ocsf").await;
    assert_eq!(page["items"], json!([]));
    for path in [
        format!("/findings/{id}?format=xml"),
        "/findings/export?format=xml".to_string(),
        "/events?format=xml".to_string(),
    ] {
        let r = app.get(&app.admin, &path).await;
        assert_eq!(r.status(), 422, "{path}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["errors"][0]["field"], "format", "{body}");
    }
    // `export` is its own route, not a finding id.
    let (status, _) = app
        .call(Method::GET, &app.admin, "/findings/export", None)
        .await;
    assert_eq!(status, 200);
}
