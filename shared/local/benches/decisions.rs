//! Risk decisions per second on the embedded store, in one run: each request submitted
//! through the service and run by the worker's step function to its decision (8 audited
//! conditional writes: received, validated, started, 4 steps, concluded), beside the
//! floor measured in the same run, single audited writes (`service::commit` of one put).
//! Interleaved in blocks; printed with the ratio to the floor; nothing is asserted.
//! Run: `cargo bench -p vigil-local --bench decisions` (`VIGIL_BENCH_ROUNDS`, default 500).
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use vigil_shared::adapters::embedded::{EmbeddedDb, EmbeddedQueue, EmbeddedStore};
use vigil_shared::decide::{Ask, DecisionKind, Status};
use vigil_shared::domain::{AiSystemSpec, TenantId};
use vigil_shared::governance::registry::{Action, ModelSpec, PromptSpec, Spec};
use vigil_shared::ports::{Clock, Condition, Item, ItemStore, SystemClock, WriteOp};
use vigil_shared::service::{Origin, ai_systems, commit, decisions, governance};

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Writes per decision: the submit and seven moves.
const WRITES_PER_DECISION: f64 = 8.0;
const BLOCK: usize = 50;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Failure> {
    let rounds: usize = std::env::var("VIGIL_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let dir = tempfile::tempdir()?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let db = EmbeddedDb::open(&dir.path().join("vigil.db"), clock.clone())?;
    let store = EmbeddedStore::new(db.clone());
    let queue = EmbeddedQueue::new(db, 5);
    let store: &dyn ItemStore = &store;
    let tenant = TenantId::parse("bench")?;
    let analyst = Origin::key(tenant.clone(), "analyst", None);
    let approver = Origin::key(tenant.clone(), "approver", None);
    let now = clock.now();

    let spec = AiSystemSpec::from_json(&json!({"name": "cv screener", "human_oversight": true,
        "answers": {"employment_recruitment": true}}))
    .map_err(|e| format!("{e:?}"))?;
    let system = ai_systems::create(store, &analyst, spec, now).await?;
    let mut ids = Vec::new();
    for spec in [
        Spec::Model(
            ModelSpec::from_json(&json!({"provider": "openai", "name": "m", "version": "1",
            "endpoint": "https://api.openai.com/v1/chat/completions", "purpose": "screening"}))
            .map_err(|e| format!("{e:?}"))?,
        ),
        Spec::Prompt(
            PromptSpec::from_json(&json!({"name": "p", "version": "1",
            "template": "{{finding}}", "purpose": "screening"}))
            .map_err(|e| format!("{e:?}"))?,
        ),
    ] {
        let kind = spec.kind();
        let v = governance::register(store, &analyst, spec, true, now).await?;
        governance::act(
            store,
            &approver,
            kind,
            &v.record.id,
            Action::Approve,
            None,
            now,
        )
        .await?;
        ids.push(v.record.id);
    }
    let body = json!({"ai_system_id": system.system.id, "model_id": ids[0], "prompt_id": ids[1],
        "purpose": "rank", "decision": "shortlist", "data_categories": ["cv"]});

    let (mut decide_time, mut floor_time) = (Duration::ZERO, Duration::ZERO);
    let (mut decided, mut written) = (0usize, 0usize);
    let mut n = 0usize;
    while decided < rounds {
        let started = Instant::now();
        for _ in 0..BLOCK.min(rounds - decided) {
            let ask = Ask::parse(DecisionKind::Risk, &body).map_err(|e| format!("{e:?}"))?;
            let s = decisions::submit(store, &queue, &analyst, ask, None, "h".into(), clock.now())
                .await?;
            let (d, _) = decisions::run(store, &tenant, &s.decision.id, clock.now()).await?;
            if d.status != Status::Approved {
                return Err(format!("decision ended {}", d.status.as_str()).into());
            }
            decided += 1;
        }
        decide_time += started.elapsed();

        let started = Instant::now();
        for _ in 0..(BLOCK as f64 * WRITES_PER_DECISION) as usize {
            n += 1;
            let item = Item::new(format!("T#bench#FLOOR#{n}"), "A", json!({"n": n}));
            let draft = analyst.draft("bench.write", "bench", &n.to_string());
            commit(
                store,
                &tenant,
                &draft,
                vec![WriteOp::put(item, Condition::NotExists)],
                clock.now(),
            )
            .await?;
            written += 1;
        }
        floor_time += started.elapsed();
    }
    let per_s = decided as f64 / decide_time.as_secs_f64();
    let floor_per_s = written as f64 / floor_time.as_secs_f64();
    println!("risk decisions, embedded store, {decided} requests (each 8 audited writes):");
    println!("  decisions/s (submit + workflow)        {per_s:>10.1}");
    println!("  audited single writes/s (floor)        {floor_per_s:>10.1}");
    println!(
        "  decision writes / floor: {:.2} (1.00 would mean the workflow's reads cost nothing)",
        per_s * WRITES_PER_DECISION / floor_per_s
    );
    Ok(())
}
