//! Test harness: the real router on a random port over a fresh embedded store, with a
//! manual clock so visibility timeouts and windows are deterministic.
#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use reqwest::Method;
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

/// `n` failed logins of `user`, three minutes apart, from one address: eight or more
/// within the window raise a critical `login_failed_burst` finding.
pub fn failed_logins(user: &str, n: i64) -> Value {
    Value::Array(
        (0..n)
            .map(|i| {
                let mut e = event(
                    "login_failed",
                    user,
                    i * 3,
                    json!({"ip": "203.0.113.9", "location": "USA"}),
                );
                e["id"] = json!(format!("{user}-fail-{i}"));
                e
            })
            .collect(),
    )
}

/// The `action` of each audit entry in `trail`.
pub fn actions(trail: &[Value]) -> Vec<&str> {
    trail
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}

pub async fn spawn_app_with(vars: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    let db = EmbeddedDb::open(
        &dir.path().join("vigil.db"),
        clock.clone() as Arc<dyn Clock>,
    )
    .unwrap();
    let mut vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    // The manual clock stands still, so a test's requests all land in one window: the
    // budgets are out of the way unless a test sets its own.
    for name in [
        "VIGIL_RATE_LIMIT_KEY_REQUESTS",
        "VIGIL_RATE_LIMIT_TENANT_REQUESTS",
        "VIGIL_RATE_LIMIT_INGEST_EVENTS",
    ] {
        if !vars.iter().any(|(k, _)| k == name) {
            vars.push((name.to_string(), "1000000000".to_string()));
        }
    }
    let config =
        Config::from_lookup(&|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
            .unwrap();
    let system = LocalSystem::over(db, clock.clone(), config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router(system.app_state());
    // The server `vigil serve` runs, so its limits and timeouts are under test too.
    let settings = system.config.http.clone();
    tokio::spawn(async move {
        vigil_local::http_server::serve(listener, app, &settings, std::future::pending())
            .await
            .unwrap()
    });
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

    /// A `method` request to `path` with `key` as its bearer token, to add to.
    pub fn request(&self, method: Method, key: &str, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(key)
    }

    /// Sends a `method` request to `path` with `key` and the JSON `body`, if any.
    pub async fn send(
        &self,
        method: Method,
        key: &str,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = self.request(method, key, path);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }

    /// [`TestApp::send`], answered with its status and its JSON body (`Null` when the
    /// body is no JSON).
    pub async fn call(
        &self,
        method: Method,
        key: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let r = self.send(method, key, path, body).await;
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// [`TestApp::call`] with the tenant admin's key.
    pub async fn as_admin(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(method, &self.admin, path, body).await
    }

    /// Posts the raw `body` to `path` as the admin, with `content_type` if any.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let mut req = self.request(Method::POST, &self.admin, path).body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        req.send().await.unwrap()
    }

    pub async fn post_events(&self, key: &str, body: &Value) -> reqwest::Response {
        self.send(Method::POST, key, "/events", Some(body.clone()))
            .await
    }

    /// Posts `events` as the admin, checks they are accepted (202) and [`TestApp::drain`]s.
    pub async fn post_and_drain(&self, events: &Value) {
        let r = self.post_events(&self.admin, events).await;
        assert_eq!(r.status(), 202);
        self.drain().await;
    }

    pub async fn get(&self, key: &str, path: &str) -> reqwest::Response {
        self.send(Method::GET, key, path, None).await
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
