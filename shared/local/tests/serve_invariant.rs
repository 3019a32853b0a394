//! Black box: the `vigil` binary itself. The same generated events posted through
//! `vigil serve` sorted in batches of 500, and reversed and shuffled in batches of 37,
//! every batch twice, with the server killed (`kill -9`) part way and restarted, end
//! with identical findings, and those are the findings `rules::reference` computes from
//! the stored events.
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde_json::Value;
use vigil_local::generator::{GeneratorOptions, generate_events};
use vigil_shared::domain::{Event, Finding};
use vigil_shared::rules::RulesConfig;
use vigil_shared::rules::reference::{Fingerprint, findings_of, fingerprints};

const VIGIL: &str = env!("CARGO_BIN_EXE_vigil");

struct Server {
    child: Child,
    base: String,
}

impl Server {
    async fn start(data: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(VIGIL)
            .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--data"])
            .arg(data)
            .env("VIGIL_LOG", "warn")
            // The killed server's leases run out quickly.
            .env("VIGIL_WORKER_LEASE_SECONDS", "2")
            // Every batch of both runs is sent at once; no budget is under test here.
            .env("VIGIL_RATE_LIMIT_KEY_REQUESTS", "1000000")
            .env("VIGIL_RATE_LIMIT_TENANT_REQUESTS", "1000000")
            .env_remove("VIGIL_LLM_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Owned at once, so a failed start still kills and reaps the child.
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..200 {
            if reqwest::get(format!("{}/health", server.base))
                .await
                .is_ok()
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("vigil serve did not come up");
    }

    /// SIGKILL: no shutdown hook runs.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn admin_key(data: &Path) -> String {
    let out = Command::new(VIGIL)
        .args([
            "keys", "create", "--tenant", "acme", "--role", "admin", "--data",
        ])
        .arg(data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Messages still to be handled on the stages that make findings.
fn pending(data: &Path) -> (i64, i64) {
    let db = rusqlite::Connection::open(data.join("vigil.db")).unwrap();
    db.busy_timeout(Duration::from_secs(5)).unwrap();
    let count = |dead: i64| -> i64 {
        db.query_row(
            "SELECT COUNT(*) FROM queue_messages WHERE queue IN ('ingest','rules','enrich') AND dead = ?1",
            [dead],
            |r| r.get(0),
        )
        .unwrap()
    };
    (count(0), count(1))
}

async fn wait_drained(data: &Path) {
    for _ in 0..1200 {
        let (live, dead) = pending(data);
        assert_eq!(dead, 0, "messages were dead-lettered");
        if live == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the pipeline did not drain");
}

async fn post(http: &reqwest::Client, base: &str, key: &str, batch: &[Value]) {
    let r = http
        .post(format!("{base}/events"))
        .bearer_auth(key)
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
}

/// Every item of a cursor-paged list.
async fn all(http: &reqwest::Client, base: &str, key: &str, path: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut req = http
            .get(format!("{base}{path}"))
            .bearer_auth(key)
            .query(&[("limit", "100")]);
        if let Some(c) = &cursor {
            req = req.query(&[("cursor", c.as_str())]);
        }
        let page: Value = req.send().await.unwrap().json().await.unwrap();
        out.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

struct Outcome {
    findings: BTreeSet<Fingerprint>,
    events: Vec<Event>,
}

async fn outcome(base: &str, key: &str) -> Outcome {
    let http = reqwest::Client::new();
    let findings: Vec<Finding> = all(&http, base, key, "/findings")
        .await
        .into_iter()
        .map(|f| serde_json::from_value(f).unwrap())
        .collect();
    let events: Vec<Event> = all(&http, base, key, "/events")
        .await
        .into_iter()
        .map(|e| serde_json::from_value(e).unwrap())
        .collect();
    Outcome {
        findings: fingerprints(&findings),
        events,
    }
}

#[tokio::test]
async fn findings_do_not_depend_on_order_batching_duplicates_or_kill_9() {
    let events = generate_events(&GeneratorOptions {
        count: 3_000,
        seed: 7,
        days: 2,
        end: chrono::Utc::now() - chrono::Duration::minutes(5),
    });
    let http = reqwest::Client::new();

    // Sorted, batches of 500, once.
    let first = tempfile::tempdir().unwrap();
    let key = admin_key(first.path());
    let server = Server::start(first.path()).await;
    for batch in events.chunks(500) {
        post(&http, &server.base, &key, batch).await;
    }
    wait_drained(first.path()).await;
    let sorted = outcome(&server.base, &key).await;
    drop(server);

    // Reversed, then shuffled in batches of 37, each sent twice, killed half way.
    let second = tempfile::tempdir().unwrap();
    let key = admin_key(second.path());
    let mut batches: Vec<Vec<Value>> = events
        .iter()
        .rev()
        .cloned()
        .collect::<Vec<_>>()
        .chunks(37)
        .map(<[Value]>::to_vec)
        .collect();
    batches.shuffle(&mut rand::rngs::StdRng::seed_from_u64(7));
    let half = batches.len() / 2;
    let server = Server::start(second.path()).await;
    for batch in &batches[..half] {
        post(&http, &server.base, &key, batch).await;
        post(&http, &server.base, &key, batch).await;
    }
    // Usually work is still in flight here; when the workers have caught up, the kill
    // only tests a restart.
    let (in_flight, _) = pending(second.path());
    eprintln!("killing vigil serve with {in_flight} message(s) in flight");
    server.kill();
    let server = Server::start(second.path()).await;
    for batch in &batches[half..] {
        post(&http, &server.base, &key, batch).await;
        post(&http, &server.base, &key, batch).await;
    }
    wait_drained(second.path()).await;
    let shuffled = outcome(&server.base, &key).await;

    assert_eq!(sorted.events.len(), events.len());
    assert_eq!(shuffled.events.len(), events.len());
    assert!(sorted.findings.len() > 20, "{}", sorted.findings.len());
    assert_eq!(
        sorted
            .findings
            .symmetric_difference(&shuffled.findings)
            .count(),
        0,
        "sorted and shuffled-with-kill runs disagree"
    );
    let want = findings_of(
        &sorted.events,
        &RulesConfig::default(),
        chrono::Duration::minutes(60),
    );
    assert_eq!(sorted.findings, want);
}
