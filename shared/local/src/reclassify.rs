//! Local re-classification: the nightly schedule `vigil serve` runs (the same one the
//! template gives EventBridge), and `vigil bench-reclassify`, which times a run over
//! generated systems and prices its AWS requests.
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::watch;
use vigil_reclassify::Reclassifier;
use vigil_shared::classifier::{Answer, Answers, Q, classify};
use vigil_shared::domain::TenantId;
use vigil_shared::domain::ai_system::{AiSystem, Monitoring, RunTrigger};
use vigil_shared::ports::{
    BusError, DomainEvent, EventBus, Item, ItemStore, Page, Query, StoreError, WriteOp,
};
use vigil_shared::repo::ai_systems;
use vigil_shared::repo::reclassify_runs as runs;
use vigil_shared::service::reclassify_runs::Start;

use super::LocalSystem;

/// Waits for each scheduled time (02:00 UTC unless `VIGIL_RECLASSIFY_AT` says otherwise)
/// and starts a run for every tenant, until `stop` turns true.
pub async fn scheduler(system: LocalSystem, mut stop: watch::Receiver<bool>) {
    let r = system.reclassifier();
    loop {
        let now = system.clock.now();
        let Some(next) = r.settings.next_run_after(now) else {
            return;
        };
        let wait = (next - now).to_std().unwrap_or(Duration::from_secs(1));
        tracing::info!(next = %next, "next scheduled re-classification");
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        match r.on_schedule().await {
            Ok(s) => tracing::info!(
                started = s.started.len(),
                busy = s.busy.len(),
                "scheduled re-classification"
            ),
            Err(e) => tracing::error!(error = %e, "scheduled re-classification could not start"),
        }
    }
}

// ------------------------------------------------------------------ request metering

/// Counts what the AWS adapters would be billed for: DynamoDB read and write request
/// units by item size, transactional writes at twice the rate, published events.
#[derive(Default)]
pub(crate) struct Meter {
    pub(crate) gets: AtomicU64,
    pub(crate) queries: AtomicU64,
    pub(crate) writes: AtomicU64,
    pub(crate) transactions: AtomicU64,
    pub(crate) rru_x2: AtomicU64,
    pub(crate) wru: AtomicU64,
    pub(crate) events: AtomicU64,
}

fn size_of(item: &Item) -> u64 {
    // Attribute names and keys plus the JSON payload, as DynamoDB sizes an item.
    let keys = item.pk.len() + item.sk.len() + 64;
    let gsi = vigil_shared::ports::Index::SECONDARY
        .into_iter()
        .filter_map(|i| item.index_key(i).map(|g| g.pk.len() + g.sk.len() + 8))
        .sum::<usize>();
    (keys + gsi + item.data.to_string().len()) as u64
}

pub(crate) struct MeteredStore {
    pub(crate) inner: Arc<dyn ItemStore>,
    pub(crate) meter: Arc<Meter>,
}

#[async_trait]
impl ItemStore for MeteredStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let got = self.inner.get(pk, sk).await?;
        self.meter.gets.fetch_add(1, Ordering::Relaxed);
        let kb4 = got
            .as_ref()
            .map(|i| size_of(i).div_ceil(4096))
            .unwrap_or(1)
            .max(1);
        // Strongly consistent: one unit per 4 KB.
        self.meter.rru_x2.fetch_add(2 * kb4, Ordering::Relaxed);
        Ok(got)
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        let page = self.inner.query(query).await?;
        self.meter.queries.fetch_add(1, Ordering::Relaxed);
        let bytes: u64 = page.items.iter().map(size_of).sum();
        let kb4 = bytes.div_ceil(4096).max(1);
        // GSIs are read eventually consistently (half a unit per 4 KB).
        let factor = if query.index == vigil_shared::ports::Index::Primary {
            2
        } else {
            1
        };
        self.meter.rru_x2.fetch_add(factor * kb4, Ordering::Relaxed);
        Ok(page)
    }

    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        let units: u64 = ops
            .iter()
            .map(|op| match op {
                WriteOp::Put { item, .. } => size_of(item).div_ceil(1024).max(1),
                _ => 1,
            })
            .sum();
        let n = ops.len();
        self.inner.write(ops).await?;
        if n == 1 {
            self.meter.writes.fetch_add(1, Ordering::Relaxed);
            self.meter.wru.fetch_add(units, Ordering::Relaxed);
        } else {
            self.meter.transactions.fetch_add(1, Ordering::Relaxed);
            self.meter.wru.fetch_add(2 * units, Ordering::Relaxed);
        }
        Ok(())
    }
}

struct MeteredBus {
    inner: Arc<dyn EventBus>,
    meter: Arc<Meter>,
}

#[async_trait]
impl EventBus for MeteredBus {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), BusError> {
        self.inner.publish(events).await?;
        self.meter
            .events
            .fetch_add(events.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

// ------------------------------------------------------------------------- prices

use super::pricing::*;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Local(#[from] super::LocalError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Registry(#[from] vigil_shared::repo::ai_systems::RegistryError),
    #[error(transparent)]
    Run(#[from] vigil_reclassify::RunError),
    #[error(transparent)]
    Queue(#[from] vigil_shared::ports::QueueError),
    #[error("{0}")]
    Other(String),
}

/// A deterministic spread of questionnaires over the levels.
fn answers_for(i: usize) -> Answers {
    let mut a = Answers::default();
    let pick = [
        Q::EmploymentRecruitment,
        Q::Creditworthiness,
        Q::GeneratesSyntheticContent,
        Q::EducationMonitorsTests,
        Q::InteractionObvious,
        Q::EmotionRecognition,
    ];
    for (j, q) in pick.iter().enumerate() {
        a.set(*q, Answer::from_bool((i >> j) & 1 == 1));
    }
    a
}

struct Pass {
    secs: f64,
    scanned: i64,
    drift: i64,
    meter: Arc<Meter>,
    sqs_messages: u64,
    sqs_send_calls: u64,
}

async fn one_run(
    system: &LocalSystem,
    tenant: &TenantId,
    total: usize,
) -> Result<Pass, BenchError> {
    let meter = Arc::new(Meter::default());
    let store: Arc<dyn ItemStore> = Arc::new(MeteredStore {
        inner: system.store.clone(),
        meter: meter.clone(),
    });
    let r = Arc::new(Reclassifier {
        store: store.clone(),
        queue: system.queue.clone(),
        bus: Arc::new(MeteredBus {
            inner: system.bus.clone(),
            meter: meter.clone(),
        }),
        clock: Arc::clone(&system.clock),
        settings: system.config.reclassify.clone(),
    });
    let started = Instant::now();
    let run_id = match r.start_run(tenant, RunTrigger::Api, None).await? {
        Start::Started(run) => run.id,
        Start::Busy { run_id } => return Err(BenchError::Other(format!("run {run_id} is busy"))),
    };
    let mut worker = vigil_shared::runtime::Worker::new(
        system.queue.clone(),
        vigil_shared::ports::QueueName::Reclassify,
        Arc::new(vigil_reclassify::ReclassifyStage(r.as_ref().clone())),
    )
    .with_clock(Arc::clone(&system.clock));
    worker.batch = 10;
    worker.concurrency = 8;
    let mut messages = 0u64;
    loop {
        let s = worker.poll_once().await?;
        messages += s.received as u64;
        if s.received == 0
            && system
                .queue
                .depth(vigil_shared::ports::QueueName::Reclassify)
                .await?
                == 0
        {
            break;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let view = runs::get(system.store.as_ref(), tenant, &run_id, system.clock.now())
        .await?
        .ok_or_else(|| BenchError::Other("run vanished".into()))?;
    if view.systems_scanned as usize != total {
        return Err(BenchError::Other(format!(
            "run scanned {} of {total} systems",
            view.systems_scanned
        )));
    }
    let pages = (total as u64).div_ceil(system.config.reclassify.page_size as u64);
    Ok(Pass {
        secs,
        scanned: view.systems_scanned,
        drift: view.drift_events,
        meter,
        sqs_messages: messages,
        // One send per scan page (its batches and the next page) and the first scan.
        sqs_send_calls: pages + 1,
    })
}

fn report(out: &mut String, label: &str, p: &Pass, systems: usize) {
    let m = &p.meter;
    let per_m = 1_000_000.0 / systems as f64;
    let ld = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
    let rru = ld(&m.rru_x2) / 2.0;
    let wru = ld(&m.wru);
    // SendMessageBatch carries up to 10 messages; Lambda's poller receives and deletes
    // in batches of 10 too.
    let sqs_requests = p.sqs_messages as f64 / 10.0 * 3.0 + p.sqs_send_calls as f64;
    let events = ld(&m.events);
    let invocations = (p.sqs_messages as f64 / 10.0).ceil() + 1.0;
    let lambda_ms = (ld(&m.gets) * MS_GET
        + ld(&m.writes) * MS_WRITE
        + ld(&m.transactions) * MS_TRANSACT
        + ld(&m.queries) * MS_QUERY
        + events * MS_PUT_EVENTS)
        / 8.0
        + p.sqs_send_calls as f64 * MS_SEND;
    let gb_s = lambda_ms / 1000.0 * LAMBDA_GB;
    let cost = |units: f64, per_m_price: f64| units * per_m / 1e6 * per_m_price;
    let ddb = cost(rru, DDB_PER_M_RRU) + cost(wru, DDB_PER_M_WRU);
    let sqs = cost(sqs_requests, SQS_PER_M_REQUESTS);
    let eb = cost(events, EVENTBRIDGE_PER_M_EVENTS);
    let lambda = gb_s * per_m * LAMBDA_PER_GB_S + cost(invocations, LAMBDA_PER_M_INVOCATIONS);
    let _ = writeln!(
        out,
        "\n{label}: {} systems in {:.2}s = {:.0} systems/s locally; {} drift events",
        p.scanned,
        p.secs,
        p.scanned as f64 / p.secs,
        p.drift
    );
    let _ = writeln!(
        out,
        "  requests: {} GetItem, {} Query, {} PutItem/UpdateItem, {} TransactWriteItems, {} SQS messages, {} PutEvents entries",
        ld(&m.gets),
        ld(&m.queries),
        ld(&m.writes),
        ld(&m.transactions),
        p.sqs_messages,
        events
    );
    let _ = writeln!(
        out,
        "  per million systems: {:.0} RRU, {:.0} WRU, {:.0} SQS requests, {:.0} events, {:.0} invocations, {:.0} GB-s",
        rru * per_m,
        wru * per_m,
        sqs_requests * per_m,
        events * per_m,
        invocations * per_m,
        gb_s * per_m
    );
    let _ = writeln!(
        out,
        "  estimated cost per million systems: DynamoDB ${ddb:.3} + SQS ${sqs:.3} + EventBridge ${eb:.3} + Lambda ${lambda:.3} = ${:.3}",
        ddb + sqs + eb + lambda
    );
}

/// Registers `systems` systems classified by an older classifier version, then runs
/// twice: every system drifts (classifier_version_change or mixed), then none does.
pub async fn bench(systems: usize, data: Option<PathBuf>) -> Result<String, BenchError> {
    let temp;
    let dir = match data {
        Some(d) => d,
        None => {
            temp = tempfile_dir()?;
            temp.clone()
        }
    };
    let mut config = vigil_shared::config::Config::from_lookup(&|_| None)
        .map_err(|e| BenchError::Other(e.to_string()))?;
    config.reclassify.local_schedule = None;
    let system = LocalSystem::open(&dir, config)?;
    let tenant = TenantId::parse("bench").map_err(|e| BenchError::Other(e.to_string()))?;
    let now = system.clock.now();
    let loaded = Instant::now();
    for i in 0..systems {
        let answers = answers_for(i);
        let mut c = classify(&answers, now.date_naive());
        c.classifier_version = "bench-old".into();
        let s = AiSystem {
            id: AiSystem::new_id(),
            tenant: tenant.clone(),
            name: format!("system {i:07}"),
            description: String::new(),
            purpose: "benchmark".into(),
            owner: "bench".into(),
            human_oversight: None,
            answers: Some(answers),
            classification: Some(c),
            monitoring: Monitoring::default(),
            archived: false,
            created_at: now,
            updated_at: now,
        };
        ai_systems::create(system.store.as_ref(), &s).await?;
    }
    let mut out = format!(
        "registered {systems} systems in {:.1}s (data in {})\nassumed prices (us-east-1, USD): DynamoDB on-demand ${DDB_PER_M_WRU}/M write request units and ${DDB_PER_M_RRU}/M read request units (transactions 2x), SQS ${SQS_PER_M_REQUESTS}/M requests, EventBridge PutEvents ${EVENTBRIDGE_PER_M_EVENTS}/M events, Lambda ${LAMBDA_PER_GB_S}/GB-s at {LAMBDA_GB} GB + ${LAMBDA_PER_M_INVOCATIONS}/M invocations; Lambda time modelled from request counts (get {MS_GET} ms, put {MS_WRITE} ms, transaction {MS_TRANSACT} ms, query {MS_QUERY} ms, PutEvents {MS_PUT_EVENTS} ms, 8 systems overlapped)",
        loaded.elapsed().as_secs_f64(),
        dir.display()
    );
    let drift = one_run(&system, &tenant, systems).await?;
    report(
        &mut out,
        "run 1 (classifier version bump: every system drifts)",
        &drift,
        systems,
    );
    let steady = one_run(&system, &tenant, systems).await?;
    report(&mut out, "run 2 (steady state: no drift)", &steady, systems);
    Ok(out)
}

fn tempfile_dir() -> Result<PathBuf, BenchError> {
    let dir = std::env::temp_dir().join(format!(
        "vigil-bench-reclassify-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| BenchError::Other(e.to_string()))?;
    Ok(dir)
}
