//! Read isolation of the embedded mode, through the HTTP API: `GET /stats/summary`
//! latency alone and while 8 clients page filtered findings, and `POST /events` (500
//! events) latency with the workers idle and while they work a backlog. Printed side by
//! side as ratios; nothing is asserted. Each scenario runs with group commit (up to
//! `MAX_GROUP` writes per commit) and with one commit per write.
//! Run: `cargo bench -p vigil-local --bench reads` (`VIGIL_BENCH_EVENTS`, default
//! 20,000, sets the events loaded before the read phases).
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::watch;
use vigil_api::router;
use vigil_local::LocalSystem;
use vigil_local::generator::{GeneratorOptions, generate_events};
use vigil_shared::adapters::embedded::{EmbeddedDb, MAX_GROUP};
use vigil_shared::config::Config;
use vigil_shared::domain::{Role, TenantId};
use vigil_shared::ports::{Clock, SystemClock};
use vigil_shared::service::{Origin, api_keys};

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// p50 and p99 of `samples`, in milliseconds.
fn quantiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |p: f64| {
        let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
        samples.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    (at(0.5), at(0.99))
}

struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    async fn get(&self, path: &str) -> Result<Duration, Failure> {
        let started = Instant::now();
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .send()
            .await?;
        let status = r.status();
        r.bytes().await?;
        if !status.is_success() {
            return Err(format!("GET {path}: {status}").into());
        }
        Ok(started.elapsed())
    }

    async fn post(&self, body: &Value) -> Result<Duration, Failure> {
        let started = Instant::now();
        let r = self
            .http
            .post(format!("{}/events", self.base))
            .bearer_auth(&self.key)
            .json(body)
            .send()
            .await?;
        let status = r.status();
        r.bytes().await?;
        if status.as_u16() != 202 {
            return Err(format!("POST /events: {status}").into());
        }
        Ok(started.elapsed())
    }
}

/// `n` sequential summary reads.
async fn summaries(api: &Api, n: usize) -> Result<Vec<Duration>, Failure> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(api.get("/stats/summary").await?);
    }
    Ok(out)
}

/// Eight clients paging `status=open` findings (100 a page, cycling over every page)
/// until `stop`; answers how many pages they read.
async fn page_readers(
    api: Arc<Api>,
    pages: usize,
    stop: Arc<AtomicBool>,
) -> Result<usize, Failure> {
    let clients = (0..8).map(|c| {
        let (api, stop) = (Arc::clone(&api), Arc::clone(&stop));
        async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let page = (c + n) % pages + 1;
                api.get(&format!("/findings?status=open&page={page}&page_size=100"))
                    .await?;
                n += 1;
            }
            Ok::<usize, Failure>(n)
        }
    });
    let mut total = 0;
    for r in futures::future::join_all(clients).await {
        total += r?;
    }
    Ok(total)
}

fn batches(count: usize, seed: u64, end: chrono::DateTime<chrono::Utc>) -> Vec<Value> {
    generate_events(&GeneratorOptions {
        count,
        seed,
        days: 30,
        end,
    })
    .chunks(500)
    .map(|c| Value::Array(c.to_vec()))
    .collect()
}

async fn scenario(max_group: usize, events: usize) -> Result<(), Failure> {
    let dir = tempfile::tempdir()?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let db = EmbeddedDb::open_with(&dir.path().join("vigil.db"), Arc::clone(&clock), max_group)?;
    let config = Config::from_lookup(&|k| match k {
        "VIGIL_LLM_URL" => None,
        // Benchmarks measure throughput, not the budgets that would cap it.
        "VIGIL_RATE_LIMIT_KEY_REQUESTS"
        | "VIGIL_RATE_LIMIT_TENANT_REQUESTS"
        | "VIGIL_RATE_LIMIT_INGEST_EVENTS" => Some("1000000000000".into()),
        other => std::env::var(other).ok(),
    })?;
    let system = LocalSystem::over(db, Arc::clone(&clock), config)?;
    let tenant = TenantId::parse("bench")?;
    let (_, key) = api_keys::create(
        system.store.as_ref(),
        &Origin::system(tenant, "apikeys"),
        Role::Admin,
        None,
        clock.now(),
    )
    .await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = router(system.app_state());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let api = Arc::new(Api {
        http: reqwest::Client::new(),
        base,
        key,
    });
    let end = clock.now() - chrono::Duration::minutes(1);

    // Load: post everything, then let the pipeline store every finding.
    let loading = Instant::now();
    for body in batches(events, 7, end) {
        api.post(&body).await?;
    }
    system.drain().await?;
    let findings = vigil_shared::repo::stats::total_findings(
        system.store.as_ref(),
        &TenantId::parse("bench")?,
    )
    .await?;
    let listed: Value = api
        .http
        .get(format!("{}/findings?status=open&page_size=1", api.base))
        .bearer_auth(&api.key)
        .send()
        .await?
        .json()
        .await?;
    let open_total = listed["total"].as_u64().unwrap_or(0) as usize;
    let pages = open_total.div_ceil(100).clamp(1, 100);
    println!(
        "group commit {max_group:>2}: loaded {events} events in {:.1}s, {findings} findings, {open_total} open ({pages} pages of 100)",
        loading.elapsed().as_secs_f64()
    );

    // Reads: the summary alone, then beside 8 clients paging filtered findings.
    summaries(&api, 50).await?;
    let (alone50, alone99) = quantiles(summaries(&api, 400).await?);
    let stop = Arc::new(AtomicBool::new(false));
    let readers = tokio::spawn(page_readers(Arc::clone(&api), pages, Arc::clone(&stop)));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let busy = summaries(&api, 400).await?;
    stop.store(true, Ordering::Relaxed);
    let paged = readers.await??;
    let pages_per_s = paged as f64 / started.elapsed().as_secs_f64();
    let (busy50, busy99) = quantiles(busy);
    println!(
        "  GET /stats/summary  alone p50 {alone50:.2} ms p99 {alone99:.2} ms | with 8 clients paging status=open ({pages_per_s:.0} pages/s) p50 {busy50:.2} ms p99 {busy99:.2} ms | ratio p50 {:.1}x p99 {:.1}x",
        busy50 / alone50.max(1e-9),
        busy99 / alone99.max(1e-9)
    );
    for page in [1, pages] {
        let mut lat = Vec::new();
        for _ in 0..50 {
            lat.push(
                api.get(&format!("/findings?status=open&page={page}&page_size=100"))
                    .await?,
            );
        }
        let (p50, p99) = quantiles(lat);
        println!(
            "  GET /findings?status=open&page={page}&page_size=100 alone p50 {p50:.2} ms p99 {p99:.2} ms"
        );
    }

    // Writes: POST /events of 500 with the workers stopped, then while they work a
    // backlog of fresh events (posted first, so every stage has work throughout).
    let fresh = batches(60 * 500, 8, end);
    let (idle, rest) = fresh.split_at(20);
    let mut lat = Vec::new();
    for body in idle {
        lat.push(api.post(body).await?);
    }
    let (idle50, idle99) = quantiles(lat);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut running = system.spawn_workers(system.workers(), &stop_rx);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut lat = Vec::new();
    for body in rest {
        lat.push(api.post(body).await?);
    }
    let (busy50, busy99) = quantiles(lat);
    let _ = stop_tx.send(true);
    while running.join_next().await.is_some() {}
    println!(
        "  POST /events (500)  workers idle p50 {idle50:.2} ms p99 {idle99:.2} ms | workers saturated p50 {busy50:.2} ms p99 {busy99:.2} ms | ratio p50 {:.1}x p99 {:.1}x",
        busy50 / idle50.max(1e-9),
        busy99 / idle99.max(1e-9)
    );
    server.abort();
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let events = std::env::var("VIGIL_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    println!(
        "machine: {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for group in [MAX_GROUP, 1] {
        scenario(group, events).await?;
    }
    Ok(())
}
