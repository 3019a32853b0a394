//! Local audit tooling: the periodic checkpointer of `vigil serve`, `vigil audit verify`
//! (offline check of an export) and `vigil audit bench`.
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::watch;
use vigil_shared::adapters::embedded::{EmbeddedDb, EmbeddedStore};
use vigil_shared::audit::checkpoint::parse_public_key;
use vigil_shared::audit::export::{self, OfflineReport};
use vigil_shared::audit::ledger as audit_ledger;
use vigil_shared::audit::verify::{StoredEntry, VerifyInput, verify};
use vigil_shared::audit::{self, Actor, AuditDraft, CheckpointSigner, GENESIS_HASH};
use vigil_shared::domain::TenantId;
use vigil_shared::ports::{Clock, ItemStore, SystemClock};
use vigil_shared::repo::audit as ledger;

use super::LocalSystem;

#[derive(Debug, thiserror::Error)]
pub enum AuditCliError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the export is malformed: {0}")]
    Parse(#[from] export::ExportError),
    #[error(transparent)]
    Key(#[from] audit::CheckpointError),
    #[error("benchmark: {0}")]
    Bench(String),
}

/// Signs a checkpoint of every ledger that grew, every `config.audit_checkpoint_minutes`.
pub async fn checkpointer(system: LocalSystem, mut stop: watch::Receiver<bool>) {
    let Some(signer) = system.config.audit_signing_key.clone() else {
        return;
    };
    let every = Duration::from_secs(system.config.audit_checkpoint_minutes.max(1) * 60);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {
                let now = system.clock.now();
                match audit_ledger::checkpoint_all(system.store.as_ref(), &signer, now).await {
                    Ok(done) => {
                        for (tenant, r) in done {
                            match r {
                                Ok(cp) => tracing::debug!(%tenant, size = cp.tree_size, "audit checkpoint"),
                                Err(e) => tracing::error!(%tenant, error = %e, "audit checkpoint refused"),
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "audit checkpointing failed"),
                }
            }
            _ = stop.changed() => return,
        }
    }
}

/// `vigil audit verify FILE`: checks an export with no access to the server.
pub fn verify_file(path: &Path, public_key: Option<&str>) -> Result<OfflineReport, AuditCliError> {
    let text = std::fs::read_to_string(path).map_err(|source| AuditCliError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let records = export::parse(&text)?;
    let trusted = public_key.map(parse_public_key).transpose()?;
    Ok(export::verify_offline(&records, trusted.as_ref()))
}

fn bench_err(e: impl std::fmt::Display) -> AuditCliError {
    AuditCliError::Bench(e.to_string())
}

async fn appends(
    store: Arc<dyn ItemStore>,
    tenant: TenantId,
    writers: usize,
    per_writer: usize,
) -> Result<Duration, AuditCliError> {
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for w in 0..writers {
        let store = Arc::clone(&store);
        let tenant = tenant.clone();
        set.spawn(async move {
            for i in 0..per_writer {
                let draft = AuditDraft::new(
                    Actor::system(&format!("bench-{w}")),
                    "bench.append",
                    "bench",
                    format!("{w}-{i}"),
                )
                .after(&json!({"writer": w, "i": i}));
                audit::append(store.as_ref(), &tenant, &draft, SystemClock.now()).await?;
            }
            Ok::<_, vigil_shared::ports::StoreError>(())
        });
    }
    while let Some(r) = set.join_next().await {
        r.map_err(bench_err)?.map_err(bench_err)?;
    }
    Ok(started.elapsed())
}

/// `vigil audit bench`: appends per second per tenant (one writer and `writers`
/// concurrent writers) over the embedded store, and verification throughput.
pub async fn bench(
    count: usize,
    writers: usize,
    data: Option<PathBuf>,
) -> Result<String, AuditCliError> {
    let temporary = data.is_none();
    let tmp = tempdir_for(data)?;
    let out = run_bench(&tmp, count, writers).await;
    if temporary {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    out
}

async fn run_bench(tmp: &Path, count: usize, writers: usize) -> Result<String, AuditCliError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let db = EmbeddedDb::open(&tmp.join("audit-bench.db"), clock).map_err(bench_err)?;
    let store: Arc<dyn ItemStore> = Arc::new(EmbeddedStore::new(db));
    let writers = writers.max(1);
    let t1 = TenantId::parse("bench-seq").map_err(bench_err)?;
    let seq_time = appends(Arc::clone(&store), t1.clone(), 1, count).await?;
    let t2 = TenantId::parse("bench-par").map_err(bench_err)?;
    let per = count.div_ceil(writers);
    let par_time = appends(Arc::clone(&store), t2.clone(), writers, per).await?;
    let par_total = per * writers;
    let par_len = ledger::head(store.as_ref(), &t2)
        .await
        .map_err(bench_err)?
        .map_or(0, |h| h.seq);

    let signer = CheckpointSigner::generate();
    let started = Instant::now();
    let cp = audit_ledger::create_checkpoint(store.as_ref(), &t1, &signer, SystemClock.now())
        .await
        .map_err(bench_err)?;
    let checkpoint_time = started.elapsed();
    let started = Instant::now();
    let report = audit_ledger::verify_range(store.as_ref(), &t1, None, None, None)
        .await
        .map_err(bench_err)?;
    let verify_time = started.elapsed();
    // The same verification without store reads: hashing, links and tree only.
    let entries: Vec<StoredEntry> = ledger::read_range(store.as_ref(), &t1, 1, u64::MAX / 2)
        .await
        .map_err(bench_err)?;
    let started = Instant::now();
    let cps = [cp];
    let mem = verify(&VerifyInput {
        tenant: &t1,
        entries: &entries,
        from: 1,
        prev_hash: GENESIS_HASH.into(),
        head: None,
        checkpoints: &cps,
        trusted_key: None,
    });
    let mem_time = started.elapsed();
    let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64().max(1e-9);
    let par_label = format!("appends, {writers} writers:");
    Ok(format!(
        "audit ledger benchmark (embedded SQLite, {count} entries)\n\
         {:<28}{:>10.0} entries/s per tenant ({:.2?})\n\
         {par_label:<28}{:>10.0} entries/s per tenant ({:.2?}; {par_len} of {par_total} in one chain)\n\
         {:<28}{:>10.0} entries/s ({:.2?})\n\
         {:<28}{:>10.0} entries/s ({:.2?}, ok={})\n\
         {:<28}{:>10.0} entries/s ({:.2?}, ok={})",
        "appends, 1 writer:",
        rate(count, seq_time),
        seq_time,
        rate(par_total, par_time),
        par_time,
        "checkpoint (verify + sign):",
        rate(count, checkpoint_time),
        checkpoint_time,
        "verify from store:",
        rate(count, verify_time),
        verify_time,
        report.ok,
        "verify in memory:",
        rate(count, mem_time),
        mem_time,
        mem.ok,
    ))
}

fn tempdir_for(data: Option<PathBuf>) -> Result<PathBuf, AuditCliError> {
    let dir = match data {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("vigil-audit-bench-{}", uuid::Uuid::new_v4())),
    };
    std::fs::create_dir_all(&dir).map_err(bench_err)?;
    Ok(dir)
}
