//! Log sources end to end over HTTP: creation (secret shown once), rotation, GitHub
//! signatures (401 on a bad one), ping, dedup by delivery id, Okta's verification and
//! event hooks, CloudTrail gzip log files, 422 naming the bad record, tenant isolation,
//! per-source counts, and findings raised from normalized records.
mod common;

use std::io::Write;
use std::path::Path;

use chrono::Duration;
use common::{TestApp, spawn_app, t0};
use reqwest::Method;
use serde_json::{Value, json};
use vigil_shared::domain::Role;
use vigil_shared::sources::source::hub_signature;

fn fixture(kind: &str, name: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/sources")
        .join(kind)
        .join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Creates a source of `kind` as the admin: (id, secret).
async fn source(app: &TestApp, kind: &str) -> (String, String) {
    let (status, body) = app
        .as_admin(Method::POST, "/sources", Some(json!({"kind": kind})))
        .await;
    assert_eq!(status, 201, "{body}");
    (
        body["id"].as_str().unwrap().to_string(),
        body["secret"].as_str().unwrap().to_string(),
    )
}

async fn github(
    app: &TestApp,
    id: &str,
    event: &str,
    delivery: &str,
    body: &[u8],
    signature: &str,
) -> reqwest::Response {
    app.http
        .post(format!("{}/sources/{id}/github", app.base))
        .header("content-type", "application/json")
        .header("x-github-event", event)
        .header("x-github-delivery", delivery)
        .header("x-hub-signature-256", signature)
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
}

async fn push(
    app: &TestApp,
    path: &str,
    auth: &str,
    body: Vec<u8>,
    gzip: bool,
) -> reqwest::Response {
    let mut req = app
        .http
        .post(format!("{}{path}", app.base))
        .header("content-type", "application/json")
        .header("authorization", auth);
    if gzip {
        req = req.header("content-encoding", "gzip");
    }
    req.body(body).send().await.unwrap()
}

async fn counts(app: &TestApp, id: &str) -> Value {
    let list = app.get_json(&app.admin, "/sources").await;
    let s = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap()
        .clone();
    s["counts"].clone()
}

#[tokio::test]
async fn a_source_shows_its_secret_once_and_rotates_with_overlap() {
    let app = spawn_app().await;
    let analyst = app.key("acme", Role::Analyst).await;
    let (status, _) = app
        .call(
            Method::POST,
            &analyst,
            "/sources",
            Some(json!({"kind": "okta"})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, body) = app
        .as_admin(Method::POST, "/sources", Some(json!({"kind": "splunk"})))
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["field"], "kind");
    let (id, first) = source(&app, "okta").await;
    assert!(first.starts_with("whsec_"));
    assert!(id.starts_with("src_acme_"));
    let one = app.get_json(&app.admin, &format!("/sources/{id}")).await;
    assert_eq!(one["push_path"], format!("/sources/{id}/okta"));
    let listed = app.get_json(&app.admin, "/sources").await;
    assert!(!one.to_string().contains("whsec_") && !listed.to_string().contains("whsec_"));
    let audit = app
        .get_json(&app.admin, "/audit/entries?resource_type=source")
        .await;
    assert!(!audit.to_string().contains("whsec_"));
    assert_eq!(audit["items"][0]["action"], "source.create", "{audit}");

    let verify = |secret: String| {
        let app = &app;
        let id = id.clone();
        async move {
            app.http
                .get(format!("{}/sources/{id}/okta", app.base))
                .header("authorization", secret)
                .header("x-okta-verification-challenge", "abc")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let (status, rotated) = app
        .as_admin(Method::POST, &format!("/sources/{id}/rotate-secret"), None)
        .await;
    assert_eq!(status, 200);
    let second = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(second, first);
    assert_eq!(verify(first.clone()).await, 200, "the old secret overlaps");
    assert_eq!(verify(second.clone()).await, 200);
    app.clock.advance(Duration::hours(25));
    assert_eq!(verify(first).await, 401, "the overlap ended");
    assert_eq!(verify(second).await, 200);
}

#[tokio::test]
async fn github_signatures_ping_and_dedup_by_delivery() {
    let app = spawn_app().await;
    let (id, secret) = source(&app, "github").await;
    let ping = serde_json::to_vec(&fixture("github", "ping")["payload"]).unwrap();
    let r = github(
        &app,
        &id,
        "ping",
        "d-ping",
        &ping,
        &hub_signature(secret.as_bytes(), &ping),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["pong"], true);

    let body =
        serde_json::to_vec(&fixture("github", "pull_request_closed_merged")["payload"]).unwrap();
    let good = hub_signature(secret.as_bytes(), &body);
    // A signature over other bytes, or with another secret, is refused.
    for bad in [
        hub_signature(secret.as_bytes(), b"{}"),
        hub_signature(b"It's a Secret to Everybody", &body),
        "sha256=".to_string(),
    ] {
        let r = github(&app, &id, "pull_request", "d-1", &body, &bad).await;
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["type"], "https://vigil.dev/problems/bad-signature");
        assert_eq!(p["errors"][0]["field"], "X-Hub-Signature-256");
    }
    // One changed byte after signing fails too: the exact body is what is signed.
    let mut tampered = body.clone();
    tampered[10] ^= 1;
    assert_eq!(
        github(&app, &id, "pull_request", "d-1", &tampered, &good)
            .await
            .status(),
        401
    );

    let r = github(&app, &id, "pull_request", "d-1", &body, &good).await;
    assert_eq!(r.status(), 202);
    // GitHub's redelivery before ingest ran: accepted again, stored once.
    assert_eq!(
        github(&app, &id, "pull_request", "d-1", &body, &good)
            .await
            .status(),
        202
    );
    app.drain().await;
    let r = github(&app, &id, "pull_request", "d-1", &body, &good).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["duplicate"], true);
    app.drain().await;
    assert_eq!(counts(&app, &id).await, json!({"pull_request_merged": 1}));
    let events = app.get_json(&app.admin, "/events?source=github").await;
    assert_eq!(events["items"].as_array().unwrap().len(), 1);
    let e = &events["items"][0];
    assert_eq!(e["raw_data"]["mapping"], "github.pull_request_merged");
    assert_eq!(e["raw_data"]["source_event"], "pull_request.closed");
    assert_eq!(e["raw_data"]["original"]["number"], 1347);
    let f = app
        .findings(&app.admin, "rule_id=large_pull_request_merge")
        .await;
    assert_eq!(f.len(), 1, "{f:?}");
    let listed = app.get_json(&app.admin, "/sources").await;
    assert_eq!(listed["items"][0]["last_received_at"], json!(t0()));
}

#[tokio::test]
async fn github_audit_log_stream_takes_ndjson_with_the_bearer_secret() {
    let app = spawn_app().await;
    let (id, secret) = source(&app, "github").await;
    let ndjson = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/sources/github/audit_log_stream.ndjson"),
    )
    .unwrap();
    let path = format!("/sources/{id}/github");
    assert_eq!(
        push(&app, &path, "Bearer nope", ndjson.clone(), false)
            .await
            .status(),
        401
    );
    let r = push(&app, &path, &format!("Bearer {secret}"), ndjson, false).await;
    assert_eq!(r.status(), 202);
    assert_eq!(r.json::<Value>().await.unwrap()["accepted"], 4);
    app.drain().await;
    assert_eq!(
        counts(&app, &id).await,
        json!({"other": 1, "permission_changed": 2, "storage_bucket_permission_changed": 1})
    );
}

#[tokio::test]
async fn okta_verification_and_event_hook_deliveries() {
    let app = spawn_app().await;
    let (id, secret) = source(&app, "okta").await;
    let url = format!("{}/sources/{id}/okta", app.base);
    let r = app
        .http
        .get(&url)
        .header("authorization", &secret)
        .header(
            "x-okta-verification-challenge",
            "rHTu0HjQ5xPv1EeqPBwJfUqBrZaD3uRrgDg5sjf2",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"verification": "rHTu0HjQ5xPv1EeqPBwJfUqBrZaD3uRrgDg5sjf2"})
    );
    let r = app
        .http
        .get(&url)
        .header("authorization", "whsec_wrong")
        .header("x-okta-verification-challenge", "x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body = serde_json::to_vec(&fixture("okta", "event_hook_delivery")).unwrap();
    let r = push(&app, &format!("/sources/{id}/okta"), &secret, body, false).await;
    assert_eq!(r.status(), 202);
    assert_eq!(r.json::<Value>().await.unwrap()["accepted"], 2);
    app.drain().await;
    assert_eq!(
        counts(&app, &id).await,
        json!({"login_success": 1, "other": 1})
    );
    let user = app
        .get_json(&app.admin, "/events?event_type=login_success")
        .await;
    assert_eq!(user["items"][0]["user"], "john.doe@example.com");
    assert_eq!(user["items"][0]["raw_data"]["country"], "US");
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[tokio::test]
async fn cloudtrail_gzip_log_files_single_records_and_422_with_the_index() {
    let app = spawn_app().await;
    let (id, secret) = source(&app, "cloudtrail").await;
    let path = format!("/sources/{id}/cloudtrail");
    let bearer = format!("Bearer {secret}");
    let file = serde_json::to_vec(&fixture("cloudtrail", "log_file_s3_records")).unwrap();
    let r = push(&app, &path, &bearer, gzip(&file), true).await;
    assert_eq!(r.status(), 202);
    assert_eq!(r.json::<Value>().await.unwrap()["accepted"], 3);
    let one = serde_json::to_vec(&fixture("cloudtrail", "console_login_root_success_mfa")).unwrap();
    assert_eq!(push(&app, &path, &bearer, one, false).await.status(), 202);

    // The second record cannot be read: 422 names it, and neither record is taken.
    let bad = json!({"Records": [fixture("cloudtrail", "check_mfa"), {"eventName": "ConsoleLogin", "eventTime": "2023-02-30T10:00:00Z"}]});
    let r = push(
        &app,
        &path,
        &bearer,
        serde_json::to_vec(&bad).unwrap(),
        false,
    )
    .await;
    assert_eq!(r.status(), 422);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["errors"][0]["index"], 1);
    assert_eq!(p["errors"][0]["field"], "eventTime");
    let r = push(&app, &path, &bearer, b"not gzip".to_vec(), true).await;
    assert_eq!(r.status(), 422);
    assert_eq!(
        push(&app, &path, "Bearer whsec_x", b"{}".to_vec(), false)
            .await
            .status(),
        401
    );
    app.drain().await;
    assert_eq!(
        counts(&app, &id).await,
        json!({"login_success": 1, "other": 2, "storage_bucket_permission_changed": 1})
    );
}

#[tokio::test]
async fn dropped_unmapped_records_are_counted_once_per_record_and_shown() {
    let app = spawn_app().await;
    let (status, body) = app
        .as_admin(
            Method::POST,
            "/sources",
            Some(json!({"kind": "cloudtrail", "drop_unmapped": true})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let bearer = format!("Bearer {}", body["secret"].as_str().unwrap());
    let path = format!("/sources/{id}/cloudtrail");
    let file = serde_json::to_vec(&fixture("cloudtrail", "log_file_s3_records")).unwrap();
    // The same file twice (a retried push): the two unmapped records count once.
    for _ in 0..2 {
        let r = push(&app, &path, &bearer, file.clone(), false).await;
        assert_eq!(r.status(), 202);
        let a: Value = r.json().await.unwrap();
        assert_eq!(
            (a["accepted"].as_u64(), a["dropped"].as_u64()),
            (Some(1), Some(2))
        );
    }
    app.drain().await;
    let list = app.get_json(&app.admin, "/sources").await;
    let s = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(s["dropped_unmapped"], 2);
    assert_eq!(s["counts"], json!({"storage_bucket_permission_changed": 1}));
    let one = app.get_json(&app.admin, &format!("/sources/{id}")).await;
    assert_eq!(one["dropped_unmapped"], 2);
    // A source that drops nothing shows zero.
    let (other, _) = source(&app, "okta").await;
    let one = app.get_json(&app.admin, &format!("/sources/{other}")).await;
    assert_eq!(one["dropped_unmapped"], 0);
}

#[tokio::test]
async fn another_tenants_source_is_not_found() {
    let app = spawn_app().await;
    let (id, secret) = source(&app, "cloudtrail").await;
    let other = app.key("globex", Role::Admin).await;
    assert_eq!(
        app.get(&other, &format!("/sources/{id}")).await.status(),
        404
    );
    let (status, _) = app
        .call(
            Method::POST,
            &other,
            &format!("/sources/{id}/rotate-secret"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let listed = app.get_json(&other, "/sources").await;
    assert_eq!(listed["items"], json!([]));
    // A push to the path of another kind, or to a made-up id, is not found either.
    let body = b"{}".to_vec();
    let bearer = format!("Bearer {secret}");
    assert_eq!(
        push(
            &app,
            &format!("/sources/{id}/okta"),
            &bearer,
            body.clone(),
            false
        )
        .await
        .status(),
        404
    );
    let forged = id.replace("src_acme_", "src_globex_");
    assert_eq!(
        push(
            &app,
            &format!("/sources/{forged}/cloudtrail"),
            &bearer,
            body,
            false
        )
        .await
        .status(),
        404
    );
}

fn okta_login(n: usize, result: &str, minute: i64) -> Value {
    json!({"uuid": format!("okta-bf-{n}"), "published": (t0() - Duration::minutes(30) + Duration::minutes(minute)).to_rfc3339(),
        "eventType": "user.session.start", "legacyEventType": "core.user_auth.login_failed",
        "actor": {"id": "00u1", "type": "User", "alternateId": "ceo@example.com"},
        "client": {"ipAddress": "203.0.113.66", "geographicalContext": {"country": "Russia", "city": "Moscow"}},
        "outcome": {"result": result}})
}

#[tokio::test]
async fn findings_rise_from_normalized_brute_force_and_admin_grants() {
    let app = spawn_app().await;
    let (okta, okta_secret) = source(&app, "okta").await;
    let mut records: Vec<Value> = (0..8).map(|i| okta_login(i, "FAILURE", i as i64)).collect();
    records.push(okta_login(8, "SUCCESS", 9));
    let r = push(
        &app,
        &format!("/sources/{okta}/okta"),
        &okta_secret,
        serde_json::to_vec(&records).unwrap(),
        false,
    )
    .await;
    assert_eq!(r.status(), 202);
    let (ct, ct_secret) = source(&app, "cloudtrail").await;
    let grant = serde_json::to_vec(&fixture(
        "cloudtrail",
        "attach_user_policy_administrator_access",
    ))
    .unwrap();
    let r = push(
        &app,
        &format!("/sources/{ct}/cloudtrail"),
        &format!("Bearer {ct_secret}"),
        grant,
        false,
    )
    .await;
    assert_eq!(r.status(), 202);
    app.drain().await;
    let burst = app.findings(&app.admin, "rule_id=login_failed_burst").await;
    assert_eq!(burst[0]["severity"], "critical", "{burst:?}");
    let suspicious = app
        .findings(&app.admin, "rule_id=suspicious_login_after_failures")
        .await;
    assert_eq!(
        suspicious.len(),
        1,
        "the default list names Russia; the event says RU"
    );
    let admin = app
        .findings(&app.admin, "rule_id=privilege_escalation_admin")
        .await;
    assert_eq!(admin.len(), 1);
    assert_eq!(admin[0]["severity"], "critical");
    assert_eq!(
        counts(&app, &okta).await,
        json!({"login_failed": 8, "login_success": 1})
    );
}
