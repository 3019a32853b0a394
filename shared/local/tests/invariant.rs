//! The findings invariant: compared as (rule, subject, evidence, severity), the findings
//! are a pure function of the set of accepted events. Generated event sets go through the
//! real ingest, rules and enrich stages in generated orders, batch sizes, duplicate sends
//! and worker crashes part way, and must end exactly as `rules::reference` computes them
//! with every event in view. Runs over the embedded adapters and over moto.
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use serde_json::{Map, json};
use vigil_enrich::EnrichStage;
use vigil_ingest::IngestStage;
use vigil_rules::RulesStage;
use vigil_shared::adapters::embedded::{EmbeddedBus, EmbeddedDb, EmbeddedQueue, EmbeddedStore};
use vigil_shared::domain::{Event, EventType, TenantId};
use vigil_shared::enrich::Enricher;
use vigil_shared::messages::EventMessage;
use vigil_shared::ports::{Clock, EventBus, ItemStore, ManualClock, OutMessage, Queue, QueueName};
use vigil_shared::repo::findings::{self, FindingFilter};
use vigil_shared::rules::RulesConfig;
use vigil_shared::rules::reference::{Fingerprint, findings_of, fingerprints};
use vigil_shared::runtime::{DynStage, MessageMeta, Worker};

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
        .unwrap()
        .to_utc()
}

/// A low volume threshold, so the tenant-wide rule fires in small generated sets.
fn rules_config() -> RulesConfig {
    RulesConfig {
        tenant_hourly_volume: 12,
        ..RulesConfig::default()
    }
}

/// One generated event: user, kind, seconds into a five-hour span, variant.
type Spec = (usize, usize, i64, bool);

fn event_of(i: usize, &(user, kind, second, variant): &Spec) -> Event {
    let users = ["alice", "bob", "carol"];
    let (kind, raw) = match kind {
        0..=3 => ("login_failed", json!({"ip": "203.0.113.9"})),
        4 => (
            "login_success",
            json!({"country": if variant { "Russia" } else { "Germany" }}),
        ),
        5 | 6 => ("mfa_failed", json!({})),
        7 => ("mfa_success", json!({})),
        8 => (
            "permission_changed",
            json!({"old_role": "developer", "new_role": "admin"}),
        ),
        _ => ("custom.thing", json!({})),
    };
    Event {
        id: format!("ev_{i:03}"),
        client_id: None,
        event_type: EventType::parse(kind).unwrap(),
        timestamp: now() - Duration::hours(6) + Duration::seconds(second),
        user: users[user].to_string(),
        source: None,
        raw_data: raw.as_object().cloned().unwrap_or_else(Map::new),
        received_at: now(),
    }
}

/// How the events arrive.
#[derive(Debug, Clone)]
struct Delivery {
    /// The order events are posted in (a permutation of their indices).
    order: Vec<usize>,
    batch: usize,
    /// Every batch is sent twice.
    twice: bool,
    /// The pipeline runs after each batch rather than once at the end.
    drain_each: bool,
    /// After this many batches a rules worker takes its messages, handles some of them
    /// and dies without acknowledging any.
    crash_after: Option<usize>,
}

fn arrivals(max_events: usize) -> impl Strategy<Value = (Vec<Spec>, Delivery)> {
    // Seconds within five hours, coarse enough that equal timestamps happen.
    let spec = (
        0..3usize,
        0..10usize,
        (0..300i64).prop_map(|m| m * 60),
        any::<bool>(),
    );
    prop::collection::vec(spec, 1..max_events).prop_flat_map(|specs| {
        let n = specs.len();
        let order = Just((0..n).collect::<Vec<_>>()).prop_shuffle();
        let delivery = (
            order,
            prop::sample::select(vec![1usize, 7, 37, 500]),
            any::<bool>(),
            any::<bool>(),
            prop::option::of(0..8usize),
        )
            .prop_map(|(order, batch, twice, drain_each, crash_after)| Delivery {
                order,
                batch,
                twice,
                drain_each,
                crash_after,
            });
        (Just(specs), delivery)
    })
}

/// The stages over one family of adapters.
struct Pipeline {
    store: Arc<dyn ItemStore>,
    queue: Arc<dyn Queue>,
    clock: Arc<ManualClock>,
    workers: Vec<Worker>,
    rules: Arc<dyn DynStage>,
    /// How long a dead worker's lease lasts; the crash step waits it out.
    lease: StdDuration,
    /// Moto's queues keep wall-clock leases; the embedded queue reads the manual clock.
    wall_clock_leases: bool,
}

impl Pipeline {
    fn new(
        store: Arc<dyn ItemStore>,
        queue: Arc<dyn Queue>,
        bus: Arc<dyn EventBus>,
        clock: Arc<ManualClock>,
        config: RulesConfig,
        wall_clock_leases: bool,
    ) -> Self {
        let dyn_clock: Arc<dyn Clock> = clock.clone();
        let rules: Arc<dyn DynStage> = Arc::new(RulesStage {
            store: store.clone(),
            queue: queue.clone(),
            clock: dyn_clock.clone(),
            config,
            gap: Duration::minutes(60),
        });
        let ingest: Arc<dyn DynStage> = Arc::new(IngestStage {
            store: store.clone(),
            queue: queue.clone(),
        });
        let enrich: Arc<dyn DynStage> = Arc::new(EnrichStage {
            store: store.clone(),
            bus,
            enricher: Enricher::heuristic(),
            clock: dyn_clock.clone(),
        });
        let workers = [
            (QueueName::Ingest, ingest),
            (QueueName::Rules, rules.clone()),
            (QueueName::Enrich, enrich),
        ]
        .into_iter()
        .map(|(name, stage)| {
            let mut w = Worker::new(queue.clone(), name, stage).with_clock(dyn_clock.clone());
            // moto applies concurrent transactions without isolation (DynamoDB
            // serializes them), so its workers take one batch at a time.
            w.concurrency = 1;
            w
        })
        .collect();
        Self {
            store,
            queue,
            clock,
            workers,
            rules,
            lease: StdDuration::from_secs(1),
            wall_clock_leases,
        }
    }

    async fn drain(&self) {
        loop {
            let mut received = 0;
            for w in &self.workers {
                let s = w.poll_once().await.unwrap();
                assert_eq!(s.failed, 0, "{:?} failed", w.name);
                received += s.received;
            }
            if received == 0 {
                return;
            }
        }
    }

    /// A rules worker receives a delivery batch, handles the first half of it, and dies
    /// before acknowledging anything; its lease then runs out.
    async fn crash(&self) {
        let taken = self
            .queue
            .receive(QueueName::Rules, 10, self.lease)
            .await
            .unwrap();
        for d in &taken[..taken.len() / 2] {
            self.rules
                .handle_body(&d.body, MessageMeta::new(d.id.as_str(), d.receive_count))
                .await
                .unwrap();
        }
        if self.wall_clock_leases {
            tokio::time::sleep(self.lease + StdDuration::from_millis(200)).await;
        } else {
            self.clock
                .advance(Duration::from_std(self.lease).unwrap() + Duration::seconds(1));
        }
    }

    async fn deliver(&self, tenant: &TenantId, events: &[Event], how: &Delivery) {
        let ordered: Vec<Event> = how.order.iter().map(|&i| events[i].clone()).collect();
        for (i, batch) in ordered.chunks(how.batch).enumerate() {
            let request_id = format!("req-{i}");
            for _ in 0..if how.twice { 2 } else { 1 } {
                let bodies = EventMessage::bodies(tenant, batch, Some(&request_id)).unwrap();
                self.queue
                    .send(
                        QueueName::Ingest,
                        bodies.into_iter().map(OutMessage::new).collect(),
                    )
                    .await
                    .unwrap();
            }
            if how.drain_each {
                // Ingest only, so the rules stage sees several requests per delivery.
                let s = self.workers[0].poll_once().await.unwrap();
                assert_eq!(s.failed, 0);
            }
            if how.crash_after == Some(i) {
                self.workers[0].poll_once().await.unwrap();
                self.crash().await;
            }
        }
        self.drain().await;
    }

    async fn findings(&self, tenant: &TenantId) -> BTreeSet<Fingerprint> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = findings::list(
                self.store.as_ref(),
                tenant,
                &FindingFilter::default(),
                100,
                after,
            )
            .await
            .unwrap();
            for item in &page.items {
                all.push(findings::from_item(item).unwrap());
            }
            match page.next {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        fingerprints(&all)
    }
}

/// Runs `cases` generated cases of up to `max_events` events, each as a fresh tenant of
/// the pipeline `make` builds.
fn check(
    cases: u32,
    max_events: usize,
    make: impl FnOnce() -> (tokio::runtime::Runtime, Pipeline),
) {
    let (rt, pipeline) = make();
    let mut runner = TestRunner::new(ProptestConfig {
        cases,
        // Shrinking re-runs the pipeline many times; the first failure is reported as is.
        max_shrink_iters: 32,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let case = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(&arrivals(max_events), |(specs, how)| {
            let n = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let tenant = TenantId::parse(&format!("t{n}")).unwrap();
            let events: Vec<Event> = specs
                .iter()
                .enumerate()
                .map(|(i, s)| event_of(i, s))
                .collect();
            let want = findings_of(&events, &rules_config(), Duration::minutes(60));
            let got = rt.block_on(async {
                pipeline.deliver(&tenant, &events, &how).await;
                pipeline.findings(&tenant).await
            });
            let counted = rt
                .block_on(vigil_shared::repo::stats::total_findings(
                    pipeline.store.as_ref(),
                    &tenant,
                ))
                .unwrap();
            if counted != got.len() as i64 {
                return Err(TestCaseError::fail(format!(
                    "the findings counter says {counted}, {} are stored",
                    got.len()
                )));
            }
            if got != want {
                return Err(TestCaseError::fail(format!(
                    "delivered as {how:?}\nstored:   {got:#?}\nexpected: {want:#?}"
                )));
            }
            Ok(())
        })
        .unwrap();
}

fn embedded(dir: &std::path::Path, config: RulesConfig) -> (tokio::runtime::Runtime, Pipeline) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let clock = Arc::new(ManualClock::new(now()));
    let db = EmbeddedDb::open(&dir.join("vigil.db"), clock.clone()).unwrap();
    let pipeline = Pipeline::new(
        Arc::new(EmbeddedStore::new(db.clone())),
        Arc::new(EmbeddedQueue::new(db.clone(), 5)),
        Arc::new(EmbeddedBus::new(db)),
        clock,
        config,
        false,
    );
    (rt, pipeline)
}

#[test]
fn findings_are_a_function_of_the_events_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    check(256, 70, || embedded(dir.path(), rules_config()));
}

#[test]
fn findings_are_a_function_of_the_events_on_moto() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let Some(stack) = rt.block_on(vigil_testkit::MotoStack::for_test("invariant", "inv")) else {
        return;
    };
    // moto answers each call in milliseconds, not microseconds: fewer, smaller cases.
    check(8, 40, move || {
        let clock = Arc::new(ManualClock::new(now()));
        let pipeline = Pipeline::new(
            Arc::new(stack.store()),
            Arc::new(stack.queue()),
            Arc::new(stack.event_bus()),
            clock,
            rules_config(),
            true,
        );
        (rt, pipeline)
    });
}

/// `n` events of `kind` by alice, `step` apart from `first`.
fn series(kind: usize, first: &str, n: usize, step: Duration) -> Vec<Event> {
    let first = DateTime::parse_from_rfc3339(first).unwrap().to_utc();
    (0..n)
        .map(|i| {
            let mut e = event_of(i, &(0, kind, 0, false));
            e.timestamp = first + step * i as i32;
            e
        })
        .collect()
}

/// Findings of rule `rule` after `events` are delivered in order, one batch.
fn stored(events: &[Event], rule: &str) -> Vec<Fingerprint> {
    let dir = tempfile::tempdir().unwrap();
    let (rt, pipeline) = embedded(dir.path(), RulesConfig::default());
    let tenant = TenantId::parse("acme").unwrap();
    let how = Delivery {
        order: (0..events.len()).collect(),
        batch: 500,
        twice: false,
        drain_each: false,
        crash_after: None,
    };
    let got = rt.block_on(async {
        pipeline.deliver(&tenant, events, &how).await;
        pipeline.findings(&tenant).await
    });
    got.into_iter().filter(|f| f.rule_id == rule).collect()
}

#[test]
fn bursts_across_an_hour_boundary_make_one_finding() {
    use vigil_shared::domain::Severity;
    // Eight login failures from 09:42 to 10:10.
    let got = stored(
        &series(0, "2026-03-01T09:42:00Z", 8, Duration::minutes(4)),
        "login_failed_burst",
    );
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(
        (got[0].evidence_count, got[0].severity),
        (8, Severity::Critical)
    );
    // Five MFA failures from 09:58 to 10:03.
    let got = stored(
        &series(5, "2026-03-01T09:58:00Z", 5, Duration::seconds(75)),
        "mfa_failed_burst",
    );
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(
        (got[0].evidence_count, got[0].severity),
        (5, Severity::High)
    );
}

#[test]
fn tenant_volume_counts_any_sixty_minutes_not_clock_hours() {
    // 330 events from 09:35 to 10:25 (fewer than 300 in either clock hour); they are
    // spread over three users so no user rule interferes.
    let mut events = series(9, "2026-03-01T09:35:00Z", 330, Duration::seconds(9));
    for (i, e) in events.iter_mut().enumerate() {
        e.user = ["alice", "bob", "carol"][i % 3].to_string();
    }
    let in_hour = |h: u32| {
        events
            .iter()
            .filter(|e| chrono::Timelike::hour(&e.timestamp) == h)
            .count()
    };
    assert!(in_hour(9) < 300 && in_hour(10) < 300);
    let got = stored(&events, "high_activity_volume");
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0].evidence_count, 330);
}
