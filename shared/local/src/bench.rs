//! `vigil bench`: generated events through the real HTTP API and every stage, timed from
//! the first `POST /events` to the last event's findings being stored, beside a plain
//! batched SQLite insert of the same rows measured in the same run.
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::generator::{GeneratorOptions, generate_events};
use async_trait::async_trait;
use chrono::Duration as ChronoDuration;
use futures::StreamExt;
use serde_json::Value;
use tokio::sync::watch;
use vigil_shared::config::Config;
use vigil_shared::domain::{Role, TenantId};
use vigil_shared::messages::EventMessage;
use vigil_shared::ports::QueueName;
use vigil_shared::runtime::{Disposition, DynStage, MessageMeta, StageResult, Worker};
use vigil_shared::service::{Origin, api_keys};

use super::LocalSystem;
use vigil_api::router;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Setup(String),
    #[error("HTTP: {0}")]
    Http(String),
}

fn setup<E: std::fmt::Display>(e: E) -> BenchError {
    BenchError::Setup(e.to_string())
}

/// Wraps a stage to add up the time spent in it and, for the rules stage, to note when
/// each event's findings are stored.
struct Timed {
    inner: Arc<dyn DynStage>,
    busy: Arc<Mutex<Duration>>,
    done: Option<Arc<Mutex<HashMap<String, Instant>>>>,
}

#[async_trait]
impl DynStage for Timed {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn handle_body(&self, body: &str, meta: MessageMeta) -> StageResult {
        let started = Instant::now();
        let disposition = self.inner.handle_body(body, meta).await;
        self.spent(started);
        if matches!(disposition, Ok(Disposition::Done)) {
            self.finished(&[body]);
        }
        disposition
    }

    async fn handle_bodies(&self, bodies: &[(&str, MessageMeta)]) -> bool {
        let started = Instant::now();
        let done = self.inner.handle_bodies(bodies).await;
        self.spent(started);
        if done {
            let bodies: Vec<&str> = bodies.iter().map(|(b, _)| *b).collect();
            self.finished(&bodies);
        }
        done
    }
}

impl Timed {
    fn spent(&self, since: Instant) {
        *self.busy.lock().unwrap_or_else(|e| e.into_inner()) += since.elapsed();
    }

    fn finished(&self, bodies: &[&str]) {
        let Some(done) = &self.done else {
            return;
        };
        let now = Instant::now();
        let mut done = done.lock().unwrap_or_else(|e| e.into_inner());
        for body in bodies {
            if let Ok(m) = serde_json::from_str::<EventMessage>(body) {
                for e in m.events {
                    done.entry(e.id).or_insert(now);
                }
            }
        }
    }
}

pub struct Report {
    pub events: usize,
    pub days: u32,
    pub pipeline: Duration,
    /// Each event's `202` to its findings being stored.
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// `POST /events` of one batch, answered while the workers run.
    pub post_p50_ms: f64,
    pub post_p99_ms: f64,
    pub baseline: Duration,
    pub findings: i64,
    /// Time spent inside each stage's handler, until the last finding was stored.
    pub busy: Vec<(QueueName, Duration)>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rate = |d: Duration| self.events as f64 / d.as_secs_f64().max(1e-9);
        writeln!(
            f,
            "events:                  {} over {} days",
            self.events, self.days
        )?;
        writeln!(
            f,
            "pipeline wall time:      {:.2} s (first POST to last finding stored)",
            self.pipeline.as_secs_f64()
        )?;
        writeln!(
            f,
            "pipeline throughput:     {:.0} events/s",
            rate(self.pipeline)
        )?;
        writeln!(
            f,
            "POST /events (500):      p50 {:.1} ms, p99 {:.1} ms",
            self.post_p50_ms, self.post_p99_ms
        )?;
        writeln!(
            f,
            "202 -> findings stored:  p50 {:.1} ms, p99 {:.1} ms",
            self.p50_ms, self.p99_ms
        )?;
        writeln!(f, "findings stored:         {}", self.findings)?;
        let busy: Vec<String> = self
            .busy
            .iter()
            .map(|(q, d)| format!("{q} {:.2} s", d.as_secs_f64()))
            .collect();
        writeln!(f, "time in stage handlers:  {}", busy.join(", "))?;
        writeln!(
            f,
            "plain SQLite insert:     {:.2} s ({:.0} events/s)",
            self.baseline.as_secs_f64(),
            rate(self.baseline)
        )?;
        write!(
            f,
            "pipeline rate / plain insert rate: {:.1} %",
            100.0 * self.baseline.as_secs_f64() / self.pipeline.as_secs_f64().max(1e-9)
        )
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// The same rows, inserted plainly in batches of 500 into a fresh SQLite file.
fn baseline(dir: &std::path::Path, events: &[Value]) -> Result<Duration, BenchError> {
    let path = dir.join("baseline.db");
    let _ = std::fs::remove_file(&path);
    let mut conn = rusqlite::Connection::open(&path).map_err(setup)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(setup)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(setup)?;
    conn.execute_batch(
        "CREATE TABLE events (id TEXT PRIMARY KEY, ts TEXT NOT NULL, user TEXT NOT NULL, event_type TEXT NOT NULL, raw_data TEXT NOT NULL)",
    )
    .map_err(setup)?;
    let started = Instant::now();
    for chunk in events.chunks(500) {
        let tx = conn.transaction().map_err(setup)?;
        {
            let mut stmt = tx
                .prepare_cached("INSERT INTO events VALUES (?1, ?2, ?3, ?4, ?5)")
                .map_err(setup)?;
            for e in chunk {
                let s = |k: &str| {
                    e.get(k)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string()
                };
                let raw = e.get("raw_data").map(Value::to_string).unwrap_or_default();
                stmt.execute(rusqlite::params![
                    s("id"),
                    s("timestamp"),
                    s("user"),
                    s("event_type"),
                    raw
                ])
                .map_err(setup)?;
            }
        }
        tx.commit().map_err(setup)?;
    }
    Ok(started.elapsed())
}

pub async fn run(n: usize, days: u32, data: Option<PathBuf>) -> Result<Report, BenchError> {
    let dir = data.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("vigil-bench-{}", uuid::Uuid::new_v4().simple()))
    });
    let config = Config::from_lookup(&|k| match k {
        // Benchmarks measure Vigil, never a remote model.
        "VIGIL_LLM_URL" => None,
        // Benchmarks measure throughput, not the budgets that would cap it.
        "VIGIL_RATE_LIMIT_KEY_REQUESTS"
        | "VIGIL_RATE_LIMIT_TENANT_REQUESTS"
        | "VIGIL_RATE_LIMIT_INGEST_EVENTS" => Some("1000000000000".into()),
        other => std::env::var(other).ok(),
    })
    .map_err(setup)?;
    let system = LocalSystem::open(&dir, config).map_err(setup)?;
    let tenant = TenantId::parse("bench").map_err(setup)?;
    let (_, key) = api_keys::create(
        system.store.as_ref(),
        &Origin::system(tenant.clone(), "apikeys"),
        Role::Admin,
        None,
        system.clock.now(),
    )
    .await
    .map_err(setup)?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(setup)?;
    let addr = listener.local_addr().map_err(setup)?;
    let app = router(system.app_state());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let done: Arc<Mutex<HashMap<String, Instant>>> =
        Arc::new(Mutex::new(HashMap::with_capacity(n)));
    let mut busy: Vec<(QueueName, Arc<Mutex<Duration>>)> = Vec::new();
    let workers: Vec<Worker> = system
        .workers()
        .into_iter()
        .map(|mut w| {
            let spent = Arc::new(Mutex::new(Duration::ZERO));
            busy.push((w.name, Arc::clone(&spent)));
            w.stage = Arc::new(Timed {
                inner: w.stage.clone(),
                busy: spent,
                done: (w.name == QueueName::Rules).then(|| Arc::clone(&done)),
            });
            w
        })
        .collect();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut running = system.spawn_workers(workers, &stop_rx);

    eprintln!("generating {n} events...");
    let end = system.clock.now() - ChronoDuration::minutes(1);
    let events = generate_events(&GeneratorOptions {
        count: n,
        seed: 42,
        days,
        end,
    });
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/events");
    let accepted: Arc<Mutex<HashMap<String, Instant>>> =
        Arc::new(Mutex::new(HashMap::with_capacity(n)));
    let post_times: Arc<Mutex<Vec<f64>>> = Arc::new(Mutex::new(Vec::new()));
    eprintln!("posting {n} events in batches of 500 to {url}...");
    let started = Instant::now();
    let batches: Vec<Value> = events
        .chunks(500)
        .map(|c| Value::Array(c.to_vec()))
        .collect();
    let total_batches = batches.len();
    let results: Vec<Result<(), BenchError>> =
        futures::stream::iter(batches.into_iter().enumerate())
            .map(|(i, body)| {
                let (client, url, key, accepted, post_times) = (
                    client.clone(),
                    url.clone(),
                    key.clone(),
                    Arc::clone(&accepted),
                    Arc::clone(&post_times),
                );
                async move {
                    let sent = Instant::now();
                    let resp = client
                        .post(&url)
                        .bearer_auth(&key)
                        .json(&body)
                        .send()
                        .await
                        .map_err(|e| BenchError::Http(e.to_string()))?;
                    let at = Instant::now();
                    post_times
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(at.duration_since(sent).as_secs_f64() * 1000.0);
                    if resp.status().as_u16() != 202 {
                        return Err(BenchError::Http(format!(
                            "POST /events answered {}",
                            resp.status()
                        )));
                    }
                    let answer: Value = resp
                        .json()
                        .await
                        .map_err(|e| BenchError::Http(e.to_string()))?;
                    let ids = answer
                        .get("ids")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    let mut acc = accepted.lock().unwrap_or_else(|e| e.into_inner());
                    for id in ids.iter().filter_map(Value::as_str) {
                        acc.insert(id.to_string(), at);
                    }
                    if (i + 1) % (total_batches / 10).max(1) == 0 {
                        eprintln!("  posted {}/{total_batches} batches", i + 1);
                    }
                    Ok(())
                }
            })
            .buffer_unordered(4)
            .collect()
            .await;
    for r in results {
        r?;
    }
    eprintln!("waiting for the pipeline to finish...");
    let mut last_report = Instant::now();
    loop {
        let finished = done.lock().unwrap_or_else(|e| e.into_inner()).len();
        if finished >= n {
            break;
        }
        if last_report.elapsed() > Duration::from_secs(5) {
            eprintln!("  {finished}/{n} events through the rules stage");
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pipeline = started.elapsed();
    let busy: Vec<(QueueName, Duration)> = busy
        .iter()
        .filter(|(q, _)| matches!(q, QueueName::Ingest | QueueName::Rules | QueueName::Enrich))
        .map(|(q, d)| (*q, *d.lock().unwrap_or_else(|e| e.into_inner())))
        .collect();
    let _ = stop_tx.send(true);
    while running.join_next().await.is_some() {}
    server.abort();

    let mut lat: Vec<f64> = {
        let acc = accepted.lock().unwrap_or_else(|e| e.into_inner());
        let fin = done.lock().unwrap_or_else(|e| e.into_inner());
        fin.iter()
            .filter_map(|(id, t)| {
                acc.get(id)
                    .map(|a| t.saturating_duration_since(*a).as_secs_f64() * 1000.0)
            })
            .collect()
    };
    lat.sort_by(f64::total_cmp);
    let mut posts = std::mem::take(&mut *post_times.lock().unwrap_or_else(|e| e.into_inner()));
    posts.sort_by(f64::total_cmp);
    let findings = vigil_shared::repo::stats::total_findings(system.store.as_ref(), &tenant)
        .await
        .map_err(setup)?;
    eprintln!("timing a plain batched SQLite insert of the same rows...");
    let base = baseline(&dir, &events)?;
    Ok(Report {
        events: n,
        days,
        pipeline,
        post_p50_ms: percentile(&posts, 0.5),
        post_p99_ms: percentile(&posts, 0.99),
        p50_ms: percentile(&lat, 0.5),
        p99_ms: percentile(&lat, 0.99),
        baseline: base,
        findings,
        busy,
    })
}
