//! The added latency of the governance gate on enrichment, in one run on the embedded
//! store: the gate's lookups (the approved model and prompt for `enrichment`, what an
//! LLM enrichment reads before calling the model) beside the heuristic enrichment of a
//! stored finding through the service (read, score, one conditional write) and the
//! heuristic's scoring alone. Interleaved, printed with ratios; nothing is asserted.
//! Run: `cargo bench -p vigil-local --bench governance` (`VIGIL_BENCH_ROUNDS`, default
//! 2,000).
use std::sync::Arc;
use std::time::{Duration, Instant};

use vigil_shared::adapters::embedded::{EmbeddedDb, EmbeddedStore};
use vigil_shared::domain::finding::Evidence;
use vigil_shared::domain::{Finding, Match, Session, Severity, TenantId};
use vigil_shared::enrich::{Enricher, LlmConfig, heuristic};
use vigil_shared::governance::registry::ENRICHMENT;
use vigil_shared::governance::{approved_model, approved_prompt, builtin};
use vigil_shared::ports::{Clock, ItemStore, SystemClock};
use vigil_shared::repo::findings as repo;
use vigil_shared::service::findings;

type Failure = Box<dyn std::error::Error + Send + Sync>;

struct Samples(Vec<Duration>);

impl Samples {
    fn summary(&mut self) -> (f64, f64, f64) {
        self.0.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let at = |p: f64| ms(self.0[((self.0.len() as f64 - 1.0) * p).round() as usize]);
        let mean = ms(self.0.iter().sum::<Duration>()) / self.0.len() as f64;
        (at(0.5), at(0.99), mean)
    }
}

fn finding(now: chrono::DateTime<chrono::Utc>) -> Finding {
    let m = Match {
        rule_id: "login_failed_burst",
        rule_name: "Failed login burst",
        severity: Severity::High,
        magnitude: 9,
        subject: "alice".into(),
        user: Some("alice".into()),
        title: "9 failed logins".into(),
        description: "9 failed logins within 30 minutes from one address.".into(),
        evidence: vec![Evidence {
            at: now,
            id: "ev_1".into(),
        }],
    };
    let session = Session {
        first_seen: now,
        last_seen: now,
        event_ids: vec!["ev_1".into()],
        evidence_count: 1,
    };
    Finding::open("fd_bench".into(), &m, &session, now)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Failure> {
    let rounds: usize = std::env::var("VIGIL_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let dir = tempfile::tempdir()?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let db = EmbeddedDb::open(&dir.path().join("vigil.db"), clock.clone())?;
    let store = EmbeddedStore::new(db);
    let store: &dyn ItemStore = &store;
    let tenant = TenantId::parse("bench")?;
    let llm = LlmConfig {
        url: "http://127.0.0.1:9/v1/chat/completions".into(),
        api_key: None,
        api_key_secret_arn: None,
        model: "gpt-4o-mini".into(),
        timeout: Duration::from_secs(1),
        retries: 0,
    };
    builtin::ensure(store, &tenant, Some(&builtin::model(&llm)), clock.now()).await?;
    let f = finding(clock.now());
    store.write(vec![repo::put_op(&tenant, &f, 0)?]).await?;
    let enricher = Enricher::heuristic();

    let (mut gate, mut enrich, mut score) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let started = Instant::now();
        let m = approved_model(store, &tenant, ENRICHMENT).await?;
        let p = approved_prompt(store, &tenant, ENRICHMENT).await?;
        gate.push(started.elapsed());
        std::hint::black_box((m, p));

        let started = Instant::now();
        findings::enrich(store, &enricher, &tenant, &f.id, true, clock.now(), None).await?;
        enrich.push(started.elapsed());

        let started = Instant::now();
        std::hint::black_box(heuristic::score(std::hint::black_box(&f)));
        score.push(started.elapsed());
    }
    let (g50, g99, gmean) = Samples(gate).summary();
    let (e50, e99, emean) = Samples(enrich).summary();
    let (s50, s99, smean) = Samples(score).summary();
    println!("governance gate on enrichment, embedded store, {rounds} rounds (ms):");
    println!("  gate lookup (model + prompt)        p50 {g50:.4}  p99 {g99:.4}  mean {gmean:.4}");
    println!("  heuristic enrichment (read+write)   p50 {e50:.4}  p99 {e99:.4}  mean {emean:.4}");
    println!("  heuristic scoring alone             p50 {s50:.4}  p99 {s99:.4}  mean {smean:.4}");
    println!(
        "  gate / heuristic enrichment: p50 {:.2}x, mean {:.2}x (the gate adds this share to an enrichment that is not waiting on a model)",
        g50 / e50,
        gmean / emean
    );
    Ok(())
}
