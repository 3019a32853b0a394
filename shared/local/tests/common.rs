//! Test harness: the real router on a random port over a fresh embedded store, with a
//! manual clock so visibility timeouts and windows are deterministic.
#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use tempfile::TempDir;
use vigil_api::router;
use vigil_local::LocalSystem;
use vigil_shared::adapters::embedded::EmbeddedDb;
use vigil_shared::config::Config;
use vigil_shared::domain::{Role, TenantId};
use vigil_shared::ports::{Clock, ManualClock};
use vigil_shared::service::{Origin, api_keys};

pub struct TestApp {
    pub base: String,
    pub system: LocalSystem,
    pub clock: Arc<ManualClock>,
    pub http: reqwest::Client,
    pub admin: String,
    _dir: TempDir,
}

pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
        .unwrap()
        .to_utc()
}

/// RFC 3339 time `minutes` after 11:00, an hour before the test clock's now.
pub fn at(minutes: i64) -> String {
    (t0() - Duration::hours(1) + Duration::minutes(minutes)).to_rfc3339()
}

pub fn event(kind: &str, user: &str, minutes: i64, raw: Value) -> Value {
    json!({"event_type": kind, "user": user, "timestamp": at(minutes), "raw_data": raw})
}

pub async fn spawn_app_with(vars: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    let db = EmbeddedDb::open(
        &dir.path().join("vigil.db"),
        clock.clone() as Arc<dyn Clock>,
    )
    .unwrap();
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let config =
        Config::from_lookup(&|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
            .unwrap();
    let system = LocalSystem::over(db, clock.clone(), config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router(system.app_state());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let mut app = TestApp {
        base,
        system,
        clock,
        http: reqwest::Client::new(),
        admin: String::new(),
        _dir: dir,
    };
    app.admin = app.key("acme", Role::Admin).await;
    app
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

impl TestApp {
    pub async fn key(&self, tenant: &str, role: Role) -> String {
        let t = TenantId::parse(tenant).unwrap();
        api_keys::create(
            self.system.store.as_ref(),
            &Origin::system(t, "apikeys"),
            role,
            None,
            self.clock.now(),
        )
        .await
        .unwrap()
        .1
    }

    pub async fn post_events(&self, key: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}/events", self.base))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, key: &str, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_json(&self, key: &str, path: &str) -> Value {
        let r = self.get(key, path).await;
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.unwrap()
    }

    /// Runs every stage until the queues are empty.
    pub async fn drain(&self) {
        self.system.drain().await.unwrap();
    }

    pub async fn findings(&self, key: &str, query: &str) -> Vec<Value> {
        self.get_json(key, &format!("/findings?{query}")).await["items"]
            .as_array()
            .unwrap()
            .clone()
    }
}
