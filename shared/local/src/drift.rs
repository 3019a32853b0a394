//! Local model drift monitoring: the hourly sweep `vigil serve` runs on its clock (the
//! same one the template gives EventBridge), and `vigil bench-drift`.
use std::time::Duration;

use tokio::sync::watch;
use vigil_shared::domain::TenantId;
use vigil_shared::drift::check::{self, Trigger};
use vigil_shared::drift::model::ModelSpec;
use vigil_shared::drift::reservoir::DEFAULT_CAPACITY;
use vigil_shared::drift::window::{WINDOW, window_of};
use vigil_shared::ports::{ItemStore, Queue, QueueName};
use vigil_shared::repo::drift as repo;
use vigil_shared::service::Origin;
use vigil_shared::service::drift::{self as service, CheckInput, CheckRun};

use super::LocalSystem;

/// At the top of every hour, sends each due model's check to the drift queue (the
/// workers run them), until `stop` turns true.
pub async fn scheduler(system: LocalSystem, mut stop: watch::Receiver<bool>) {
    let drift = system.drift();
    loop {
        match drift.on_schedule().await {
            Ok(s) => {
                if !s.sent.is_empty() {
                    tracing::info!(sent = s.sent.len(), "scheduled drift checks");
                }
            }
            Err(e) => tracing::error!(error = %e, "drift schedule sweep failed"),
        }
        let now = system.clock.now();
        let next = window_of(now) + WINDOW;
        let wait = (next - now).to_std().unwrap_or(Duration::from_secs(1));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Registers the demo models with their baselines and observations, and runs one check
/// of each on what was observed (the hourly schedule takes over from there).
pub async fn load_demo(system: &LocalSystem, tenant: &TenantId) -> Result<usize, String> {
    let store = system.store.as_ref();
    let origin = Origin::system(tenant.clone(), "demo");
    let now = system.clock.now();
    let mut checks = 0;
    for m in crate::generator::drift_demo(11, now - chrono::Duration::minutes(1)) {
        let spec = ModelSpec::from_json(&m.spec).map_err(|e| format!("{e:?}"))?;
        let id = spec.model_id.clone();
        if repo::get_model(store, tenant, &id)
            .await
            .map_err(|e| e.to_string())?
            .is_some()
        {
            continue;
        }
        service::create_model(store, &origin, spec, now)
            .await
            .map_err(|e| e.to_string())?;
        service::put_baseline(store, &origin, &id, &m.baseline, now)
            .await
            .map_err(|e| e.to_string())?;
        for (i, body) in m.observations.iter().enumerate() {
            let batch = service::batch_name(tenant, Some(&format!("demo-{id}-{i}")));
            service::observe(store, tenant, &id, body, &batch, now, DEFAULT_CAPACITY)
                .await
                .map_err(|e| e.to_string())?;
        }
        let model = repo::get_model(store, tenant, &id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the demo model vanished")?;
        // A history: one check per hour of what was observed, as the hourly schedule
        // would have run them, then the check over all six hours.
        let first = window_of(now) - WINDOW * 6;
        for h in 0..6 {
            let from = first + WINDOW * h;
            let hourly = CheckRun {
                origin: &origin,
                check_id: check::manual_check_id(),
                trigger: Trigger::Manual,
                input: CheckInput::Observations {
                    from: Some(from),
                    to: Some(from + WINDOW),
                },
                final_attempt: true,
                reservoir_cap: DEFAULT_CAPACITY,
            };
            // An hour without observations fails its check; the history just has a gap.
            let _ = service::run_check(store, &model, &hourly, (from + WINDOW).min(now)).await;
        }
        let run = CheckRun {
            origin: &origin,
            check_id: check::manual_check_id(),
            trigger: Trigger::Manual,
            input: CheckInput::Observations {
                from: Some(first),
                to: None,
            },
            final_attempt: true,
            reservoir_cap: DEFAULT_CAPACITY,
        };
        let result = service::run_check(store, &model, &run, now)
            .await
            .map_err(|e| e.to_string())?;
        if result.alert_state == check::AlertState::Pending {
            let msg = service::alert_message(tenant, &result.check_id, None)
                .map_err(|e| e.to_string())?;
            system
                .queue
                .send(QueueName::Drift, vec![msg])
                .await
                .map_err(|e| e.to_string())?;
        }
        checks += 1;
    }
    Ok(checks)
}

// ------------------------------------------------------------------ bench-drift

/// `count` values of a normal distribution, deterministic in `rng`.
fn draws(rng: &mut rand::rngs::StdRng, count: usize, mean: f64) -> Vec<f64> {
    use rand::Rng;
    (0..count)
        .map(|_| {
            let u1: f64 = rng.r#gen::<f64>().max(f64::MIN_POSITIVE);
            let u2: f64 = rng.r#gen();
            mean + (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        })
        .collect()
}

fn feature_names(features: usize) -> Vec<String> {
    (0..features).map(|i| format!("f{i:02}")).collect()
}

/// One observations body of `n` rows (ids `{tag}-{start + i}`), every feature shifted by
/// `shift` standard deviations.
fn batch(
    rng: &mut rand::rngs::StdRng,
    names: &[String],
    tag: &str,
    start: usize,
    n: usize,
    shift: f64,
) -> serde_json::Value {
    let cols: Vec<Vec<f64>> = names.iter().map(|_| draws(rng, n, shift)).collect();
    let rows: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            let features: serde_json::Map<String, serde_json::Value> = names
                .iter()
                .zip(&cols)
                .map(|(name, col)| (name.clone(), serde_json::json!(col[i])))
                .collect();
            serde_json::json!({"observation_id": format!("{tag}-{}", start + i), "features": features})
        })
        .collect();
    serde_json::json!({ "rows": rows })
}

async fn register_bench_model(
    store: &dyn ItemStore,
    origin: &Origin,
    id: &str,
    names: &[String],
    rng: &mut rand::rngs::StdRng,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), String> {
    let features: Vec<serde_json::Value> = names
        .iter()
        .map(|n| serde_json::json!({"name": n, "type": "numeric"}))
        .collect();
    let spec = ModelSpec::from_json(&serde_json::json!({
        "model_id": id, "model_version": "1", "features": features, "schedule_interval": "daily",
    }))
    .map_err(|e| format!("{e:?}"))?;
    service::create_model(store, origin, spec, now)
        .await
        .map_err(|e| e.to_string())?;
    let data: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .map(|n| (n.clone(), serde_json::json!(draws(rng, 10_000, 0.0))))
        .collect();
    service::put_baseline(
        store,
        origin,
        id,
        &serde_json::json!({"baseline_data": data}),
        now,
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(())
}

/// Folds `rows` observations into model `id` in 10,000-row requests; the seconds spent
/// in the service (generating the rows excluded).
#[allow(clippy::too_many_arguments)]
async fn ingest(
    store: &dyn ItemStore,
    tenant: &TenantId,
    id: &str,
    names: &[String],
    rows: usize,
    shift: f64,
    rng: &mut rand::rngs::StdRng,
    clock: &dyn vigil_shared::ports::Clock,
) -> Result<f64, String> {
    let mut secs = 0.0;
    let mut start = 0;
    while start < rows {
        let n = (rows - start).min(10_000);
        let body = batch(rng, names, id, start, n, shift);
        let name = service::batch_name(tenant, Some(&format!("{id}-{start}")));
        let t = std::time::Instant::now();
        service::observe(
            store,
            tenant,
            id,
            &body,
            &name,
            clock.now(),
            DEFAULT_CAPACITY,
        )
        .await
        .map_err(|e| e.to_string())?;
        secs += t.elapsed().as_secs_f64();
        start += n;
    }
    Ok(secs)
}

/// Times `runs` checks of model `id` over every window; the fastest, and the result.
async fn time_check(
    system: &LocalSystem,
    origin: &Origin,
    id: &str,
    runs: usize,
) -> Result<(f64, vigil_shared::drift::check::DriftCheckResult), String> {
    let store = system.store.as_ref();
    let model = repo::get_model(store, &origin.tenant, id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no bench model")?;
    let now = system.clock.now();
    let mut best = f64::MAX;
    let mut last = None;
    for _ in 0..runs {
        let run = CheckRun {
            origin,
            check_id: check::manual_check_id(),
            trigger: Trigger::Manual,
            input: CheckInput::Observations {
                from: Some(chrono::DateTime::UNIX_EPOCH),
                to: Some(window_of(now) + WINDOW * 2),
            },
            final_attempt: true,
            reservoir_cap: DEFAULT_CAPACITY,
        };
        let t = std::time::Instant::now();
        let r = service::run_check(store, &model, &run, now)
            .await
            .map_err(|e| e.to_string())?;
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(r);
    }
    Ok((best, last.ok_or("no check ran")?))
}

/// `vigil bench-drift`: observations ingested per second beside a plain batched insert
/// of the same rows, a check over `features` features with `rows` observations in its
/// window beside one with 10,000, and the AWS requests (and price) per million
/// observations.
pub async fn bench(
    rows: usize,
    features: usize,
    data: Option<std::path::PathBuf>,
) -> Result<String, String> {
    use rand::SeedableRng;
    use std::fmt::Write as _;
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    let dir = match data {
        Some(d) => d,
        None => std::env::temp_dir().join(format!(
            "vigil-bench-drift-{}",
            uuid::Uuid::new_v4().simple()
        )),
    };
    let mut config =
        vigil_shared::config::Config::from_lookup(&|_| None).map_err(|e| e.to_string())?;
    config.reclassify.local_schedule = None;
    let system = LocalSystem::open(&dir, config).map_err(|e| e.to_string())?;
    let tenant = TenantId::parse("bench").map_err(|e| e.to_string())?;
    let origin = Origin::system(tenant.clone(), "bench");
    let store = system.store.as_ref();
    let names = feature_names(features);
    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    let now = system.clock.now();
    let mut out = format!(
        "model drift bench: {features} numeric features, 10 bins, reservoir {DEFAULT_CAPACITY} per feature and window, 10,000-row requests (data in {})\n",
        dir.display()
    );

    // Ingest, and the same rows as a plain batched insert (one item per row).
    register_bench_model(store, &origin, "big", &names, &mut rng, now).await?;
    let secs = ingest(
        store,
        &tenant,
        "big",
        &names,
        rows,
        0.3,
        &mut rng,
        system.clock.as_ref(),
    )
    .await?;
    let plain_rows = rows.min(100_000);
    let mut plain = 0.0;
    let mut start = 0;
    while start < plain_rows {
        let n = (plain_rows - start).min(10_000);
        let body = batch(&mut rng, &names, "plain", start, n, 0.0);
        let items: Vec<vigil_shared::ports::Item> = body["rows"]
            .as_array()
            .map(|rs| {
                rs.iter()
                    .enumerate()
                    .map(|(i, r)| {
                        vigil_shared::ports::Item::new(
                            "bench#PLAIN",
                            format!("{:09}", start + i),
                            r.clone(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let t = std::time::Instant::now();
        store.put_all(items).await.map_err(|e| e.to_string())?;
        plain += t.elapsed().as_secs_f64();
        start += n;
    }
    let fold_rate = rows as f64 / secs;
    let plain_rate = plain_rows as f64 / plain;
    let _ = writeln!(
        out,
        "ingest (fold on write):  {rows} observations in {secs:.2} s = {fold_rate:.0} observations/s ({:.0} values/s)",
        fold_rate * features as f64
    );
    let _ = writeln!(
        out,
        "plain batched insert:    {plain_rows} rows in {plain:.2} s = {plain_rate:.0} rows/s (one item per row, same store)"
    );
    let _ = writeln!(
        out,
        "fold rate / plain insert rate: {:.1} %",
        100.0 * fold_rate / plain_rate
    );

    // Checks: the big window against a 10,000-observation one.
    register_bench_model(store, &origin, "small", &names, &mut rng, now).await?;
    ingest(
        store,
        &tenant,
        "small",
        &names,
        10_000,
        0.3,
        &mut rng,
        system.clock.as_ref(),
    )
    .await?;
    let (big, big_result) = time_check(&system, &origin, "big", 3).await?;
    let (small, _) = time_check(&system, &origin, "small", 3).await?;
    let n_cur = big_result.metrics["features"]["f00"]["n_cur"]
        .as_u64()
        .unwrap_or(0);
    let _ = writeln!(
        out,
        "check, {features} features, {n_cur} observations in the window: {:.1} ms (fastest of 3); alert level {:?}",
        big * 1e3,
        big_result.alert_level
    );
    let _ = writeln!(
        out,
        "check, {features} features, 10000 observations in the window:  {:.1} ms (fastest of 3)",
        small * 1e3
    );
    let _ = writeln!(
        out,
        "check time ratio ({}x the observations): {:.2}x",
        n_cur / 10_000,
        big / small
    );

    // Requests per million observations, counted on 10 requests of 10,000 rows.
    register_bench_model(store, &origin, "metered", &names, &mut rng, now).await?;
    let meter = Arc::new(super::reclassify::Meter::default());
    let metered = super::reclassify::MeteredStore {
        inner: system.store.clone(),
        meter: meter.clone(),
    };
    let sample_rows = 100_000;
    ingest(
        &metered,
        &tenant,
        "metered",
        &names,
        sample_rows,
        0.3,
        &mut rng,
        system.clock.as_ref(),
    )
    .await?;
    let ld = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed) as f64;
    let per_m = 1_000_000.0 / sample_rows as f64;
    let rru = ld(&meter.rru_x2) / 2.0 * per_m;
    let wru = ld(&meter.wru) * per_m;
    let requests = (sample_rows as f64 / 10_000.0) * per_m;
    use super::pricing::*;
    // One API call per request; Lambda time modelled from the store requests (8 folds
    // overlapped) at 512 MB.
    let lambda_ms =
        (ld(&meter.gets) * MS_GET + ld(&meter.transactions) * MS_TRANSACT) / 8.0 * per_m;
    let gb_s = lambda_ms / 1000.0 * 0.5;
    let ddb = rru / 1e6 * DDB_PER_M_RRU + wru / 1e6 * DDB_PER_M_WRU;
    let api = requests / 1e6 * HTTP_API_PER_M_REQUESTS;
    let lambda = gb_s * LAMBDA_PER_GB_S + requests / 1e6 * LAMBDA_PER_M_INVOCATIONS;
    let _ = writeln!(
        out,
        "AWS per million observations ({features} features, 10,000-row requests, counted): {:.0} GetItem, {:.0} TransactWriteItems, {rru:.0} RRU, {wru:.0} WRU, {requests:.0} API requests, {gb_s:.0} GB-s",
        ld(&meter.gets) * per_m,
        ld(&meter.transactions) * per_m,
    );
    let _ = write!(
        out,
        "estimated cost per million observations: DynamoDB ${ddb:.3} + HTTP API ${api:.4} + Lambda ${lambda:.4} = ${:.3} (us-east-1 on-demand; each fold rewrites its window's reservoir item, so smaller requests cost more per observation)",
        ddb + api + lambda
    );
    Ok(out)
}
