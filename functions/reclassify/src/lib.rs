//! The reclassify stage: a scheduled (or admin-triggered) run takes its tenant's lease,
//! then fans out over SQS. `Scan` messages page through the monitored systems and emit
//! `Batch` messages; batches re-classify each system against its stored answers, record
//! drift once (deterministic ids, conditional puts), move the system to the new
//! baseline, notify, and publish `ai_system.drift_detected`.
use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::sqs::SqsEvent;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};
use vigil_shared::audit::{self, Actor, AuditDraft};
use vigil_shared::classifier::classify;
use vigil_shared::config::Config;
use vigil_shared::domain::TenantId;
use vigil_shared::domain::ai_system::{
    AiSystem, DriftEvent, RunTrigger, Snapshot, detect_drift, drift_event_id,
};
use vigil_shared::domain::notification::Notification;
use vigil_shared::ports::store::cursor_for;
use vigil_shared::ports::{
    BusError, Clock, DomainEvent, EventBus, ItemStore, OutMessage, Queue, QueueError, QueueName,
    StoreError,
};
use vigil_shared::reclassify::{ReclassifyMessage, ReclassifySettings};
use vigil_shared::repo::ai_systems::{self, Versioned};
use vigil_shared::repo::reclassify_runs::{self as runs, BatchTally};
use vigil_shared::repo::{drift_events, notifications};
use vigil_shared::retry::on_conflict;
use vigil_shared::runtime::{
    BuildError, Disposition, HandlerError, MessageMeta, SqsBatch, Stage, StagePorts, StageResult,
};
use vigil_shared::service::reclassify_runs::{self, Start};
use vigil_shared::service::{Origin, ServiceError};

pub const DRIFT_DETAIL_TYPE: &str = "ai_system.drift_detected";
/// Deliveries of a batch with failing systems before the failures are counted and the
/// batch is closed, so one bad system cannot hold a run open for ever.
pub const BATCH_ATTEMPTS: u32 = 3;
/// Systems of one batch re-classified at once.
const SYSTEM_CONCURRENCY: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Everything a run needs.
#[derive(Clone)]
pub struct Reclassifier {
    pub store: Arc<dyn ItemStore>,
    pub queue: Arc<dyn Queue>,
    pub bus: Arc<dyn EventBus>,
    pub clock: Arc<dyn Clock>,
    pub settings: ReclassifySettings,
}

/// The actor of everything the reclassify stage does on its own (schedule, drift).
pub const SYSTEM_ACTOR: &str = "reclassify";

/// Where re-classifying one system got to before anything is announced.
enum Step {
    Done(Outcome),
    /// Drift is recorded; the event still has to go out on the bus.
    Announce(DriftEvent),
}

/// What happened to one system in a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Unchanged,
    Drifted,
    /// Gone, archived, monitoring off or no answers.
    Skipped,
}

#[derive(Debug, Default, Serialize)]
pub struct ScheduleSummary {
    pub started: Vec<String>,
    /// Tenants whose previous run still holds the lease: (tenant, running run id).
    pub busy: Vec<(String, String)>,
}

impl Reclassifier {
    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    async fn send(&self, msgs: &[ReclassifyMessage]) -> Result<(), HandlerError> {
        let out = msgs
            .iter()
            .map(|m| serde_json::to_string(m).map(OutMessage::new))
            .collect::<Result<Vec<_>, _>>()?;
        self.queue.send(QueueName::Reclassify, out).await?;
        Ok(())
    }

    /// Starts a run for one tenant unless one is running.
    pub async fn start_run(
        &self,
        tenant: &TenantId,
        trigger: RunTrigger,
        requested_by: Option<String>,
    ) -> Result<Start, RunError> {
        // Audited as the requesting key, or as this stage when the schedule asked.
        let origin = match &requested_by {
            Some(key) => Origin::key(tenant.clone(), key, None),
            None => Origin::system(tenant.clone(), SYSTEM_ACTOR),
        };
        Ok(reclassify_runs::start(
            self.store.as_ref(),
            self.queue.as_ref(),
            &origin,
            trigger,
            requested_by,
            self.now(),
            self.settings.lease,
        )
        .await?)
    }

    /// The schedule: a run for every tenant with AI systems.
    pub async fn on_schedule(&self) -> Result<ScheduleSummary, RunError> {
        let mut summary = ScheduleSummary::default();
        let mut after = None;
        loop {
            let (tenants, next) = ai_systems::tenants_page(self.store.as_ref(), 100, after).await?;
            for t in tenants {
                match self.start_run(&t, RunTrigger::Schedule, None).await? {
                    Start::Started(run) => summary.started.push(run.id),
                    Start::Busy { run_id } => {
                        tracing::warn!(tenant = %t, run = %run_id, "previous run still holds the lease; skipped");
                        summary.busy.push((t.to_string(), run_id));
                    }
                }
            }
            match next {
                Some(c) => after = Some(c),
                None => return Ok(summary),
            }
        }
    }

    async fn scan(
        &self,
        tenant: &TenantId,
        run_id: &str,
        page: u64,
        cursor: Option<vigil_shared::ports::Cursor>,
    ) -> Result<(), HandlerError> {
        let store = self.store.as_ref();
        let now = self.now();
        if !self.running(tenant, run_id, now).await? {
            return Ok(());
        }
        let got =
            ai_systems::monitored_page(store, tenant, self.settings.page_size, cursor).await?;
        let ids: Vec<String> = got
            .items
            .iter()
            .filter_map(|i| i.gsi3.as_ref().map(|g| g.sk.clone()))
            .collect();
        let next = match (&got.next, got.items.last()) {
            (Some(_), Some(last)) => Some(cursor_for(last, vigil_shared::ports::Index::Gsi3)),
            _ => None,
        };
        let mut msgs: Vec<ReclassifyMessage> = ids
            .chunks(self.settings.batch_size.max(1))
            .enumerate()
            .map(|(i, chunk)| ReclassifyMessage::Batch {
                tenant: tenant.clone(),
                run_id: run_id.to_string(),
                batch: format!("{page}-{i}"),
                system_ids: chunk.to_vec(),
            })
            .collect();
        let batches = i64::try_from(msgs.len()).unwrap_or(i64::MAX);
        // Count first: a batch finishing before its page is counted must not close the
        // run early. A redelivered page is already counted; its messages are re-sent
        // and their batch markers make them harmless.
        runs::record_page(store, tenant, run_id, page, batches, next.is_none(), now).await?;
        if let Some(cursor) = next {
            msgs.push(ReclassifyMessage::Scan {
                tenant: tenant.clone(),
                run_id: run_id.to_string(),
                page: page + 1,
                cursor: Some(cursor),
            });
        }
        if !msgs.is_empty() {
            self.send(&msgs).await?;
        }
        self.finish(tenant, run_id).await
    }

    async fn running(
        &self,
        tenant: &TenantId,
        run_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, HandlerError> {
        let view = runs::get(self.store.as_ref(), tenant, run_id, now).await?;
        let running = view
            .is_some_and(|v| v.run.status == vigil_shared::domain::ai_system::RunStatus::Running);
        if !running {
            tracing::info!(tenant = %tenant, run = %run_id, "run is no longer running; message dropped");
        }
        Ok(running)
    }

    async fn finish(&self, tenant: &TenantId, run_id: &str) -> Result<(), HandlerError> {
        if let Some(done) =
            runs::finish_if_done(self.store.as_ref(), tenant, run_id, self.now()).await?
        {
            tracing::info!(
                tenant = %tenant, run = %run_id,
                scanned = done.systems_scanned, drift_events = done.drift_events,
                failures = done.failures, duration_ms = done.duration_ms,
                "re-classification run completed"
            );
        }
        Ok(())
    }

    async fn batch(
        &self,
        tenant: &TenantId,
        run_id: &str,
        batch: &str,
        ids: &[String],
        receive_count: u32,
    ) -> Result<(), HandlerError> {
        let now = self.now();
        if !self.running(tenant, run_id, now).await? {
            return Ok(());
        }
        let mut tally = BatchTally::default();
        let mut last_error = None;
        // Systems are independent: overlap their store round trips.
        let outcomes: Vec<(String, Result<Outcome, HandlerError>)> =
            futures::stream::iter(ids.iter().cloned())
                .map(|id| async move {
                    let outcome = self.reclassify_system(tenant, run_id, &id).await;
                    (id, outcome)
                })
                .buffer_unordered(SYSTEM_CONCURRENCY)
                .collect()
                .await;
        for (id, outcome) in outcomes {
            match outcome {
                Ok(Outcome::Skipped) => tally.skipped += 1,
                Ok(_) => tally.scanned += 1,
                Err(e) => {
                    tracing::warn!(tenant = %tenant, run = %run_id, system = %id, error = %e, "re-classification failed");
                    tally.failures += 1;
                    last_error = Some(e);
                }
            }
        }
        if let Some(e) = last_error {
            if receive_count < BATCH_ATTEMPTS {
                // Every step is idempotent, so the whole batch can simply run again.
                return Err(e);
            }
        }
        runs::record_batch(self.store.as_ref(), tenant, run_id, batch, tally, now).await?;
        self.finish(tenant, run_id).await
    }

    /// Re-classifies one system; records and announces drift at most once per run.
    pub async fn reclassify_system(
        &self,
        tenant: &TenantId,
        run_id: &str,
        id: &str,
    ) -> Result<Outcome, HandlerError> {
        let store = self.store.as_ref();
        // Drifting systems of one batch race on the tenant's audit head: the retry
        // helper backs off and classifies the fresh copy.
        let outcome = on_conflict::<_, StoreError, _, _>(move || async move {
            let now = self.now();
            let Some(current) = ai_systems::get(store, tenant, id).await? else {
                return Ok(Step::Done(Outcome::Skipped));
            };
            let s = &current.system;
            let (Some(answers), true) = (&s.answers, s.is_monitored()) else {
                return Ok(Step::Done(Outcome::Skipped));
            };
            let after = classify(answers, now.date_naive());
            let Some(before) = &s.classification else {
                // Never classified: this run sets the baseline without reporting drift.
                let mut next = s.clone();
                next.classification = Some(after);
                let draft = AuditDraft::new(
                    Actor::system(SYSTEM_ACTOR),
                    "ai_system.classify",
                    "ai_system",
                    id,
                )
                .request_id(Some(format!("reclassify_run:{run_id}")))
                .before(&ai_systems::snapshot(s, current.version))
                .after(&ai_systems::snapshot(&next, current.version + 1));
                let prepared = audit::prepare(store, tenant, &draft, now).await?;
                return match ai_systems::replace_with(store, &current, &next, prepared.ops).await {
                    Ok(_) => Ok(Step::Done(Outcome::Unchanged)),
                    Err(ai_systems::RegistryError::Store(e)) => Err(e),
                    // A name clash cannot happen without a rename; a version clash is a race.
                    Err(_) => Err(StoreError::Conflict),
                };
            };
            let Some(drift_type) = detect_drift(before, &after) else {
                return Ok(Step::Done(Outcome::Unchanged));
            };
            let event = DriftEvent {
                id: drift_event_id(run_id, id),
                tenant: tenant.clone(),
                system_id: id.to_string(),
                system_name: s.name.clone(),
                run_id: run_id.to_string(),
                drift_type,
                before: Snapshot::from(before),
                after: Snapshot::from(&after),
                detected_at: now,
            };
            match self.record(&current, &event, after).await {
                Ok(()) => Ok(Step::Announce(event)),
                Err(StoreError::ConditionFailed { op: 0 }) => {
                    // Recorded by an earlier delivery; make sure it was announced.
                    match drift_events::get(store, tenant, id, run_id, &event.id).await? {
                        Some(stored) => Ok(Step::Announce(stored)),
                        None => Ok(Step::Done(Outcome::Drifted)),
                    }
                }
                Err(e) => Err(e),
            }
        })
        .await?;
        match outcome {
            Step::Done(o) => Ok(o),
            Step::Announce(event) => {
                self.publish(&event).await?;
                Ok(Outcome::Drifted)
            }
        }
    }

    /// One atomic write: the drift event (op 0, only if new), the system at its new
    /// baseline, the run's drift counter, if the type is wanted a notification, and the
    /// `ai_system.drift_detected` audit entry (actor `system:reclassify`).
    async fn record(
        &self,
        current: &Versioned,
        event: &DriftEvent,
        after: vigil_shared::classifier::Classification,
    ) -> Result<(), StoreError> {
        let mut next: AiSystem = current.system.clone();
        next.classification = Some(after);
        let mut ops = vec![
            drift_events::put_op(event)?,
            vigil_shared::ports::WriteOp::put(
                ai_systems::to_item(&next, current.version + 1)?,
                vigil_shared::ports::Condition::Version(current.version),
            ),
            runs::drift_counter_op(&event.tenant, &event.run_id),
        ];
        if next.monitoring.notify_on.contains(&event.drift_type) {
            ops.push(notifications::put_op(&notification(event))?);
        }
        let draft = AuditDraft::new(
            Actor::system(SYSTEM_ACTOR),
            "ai_system.drift_detected",
            "ai_system",
            &event.system_id,
        )
        .request_id(Some(format!("reclassify_run:{}", event.run_id)))
        .before(&ai_systems::snapshot(&current.system, current.version))
        .after(&ai_systems::snapshot(&next, current.version + 1));
        let store = self.store.as_ref();
        ops.extend(
            audit::prepare(store, &event.tenant, &draft, event.detected_at)
                .await?
                .ops,
        );
        store.write(ops).await
    }

    async fn publish(&self, e: &DriftEvent) -> Result<(), BusError> {
        self.bus.publish(&[drift_domain_event(e)]).await
    }

    /// Runs the Lambda payload: an SQS batch (partial failures reported per record) or
    /// the schedule event.
    pub async fn dispatch(&self, payload: Value) -> Result<Value, lambda_runtime::Error> {
        if payload.get("Records").is_some() {
            let event: SqsEvent = serde_json::from_value(payload)?;
            let batch = SqsBatch::new(
                Arc::new(ReclassifyStage(self.clone())),
                Arc::clone(&self.queue),
                QueueName::Reclassify,
                Arc::clone(&self.clock),
            )
            .with_failures(vigil_shared::runtime::FailureLog::new(
                Arc::clone(&self.store),
                Arc::clone(&self.clock),
            ));
            return Ok(serde_json::to_value(batch.handle(event).await)?);
        }
        let summary = self.on_schedule().await?;
        Ok(serde_json::to_value(summary)?)
    }
}

fn notification(e: &DriftEvent) -> Notification {
    let mut n = Notification::new(
        &e.tenant,
        DRIFT_DETAIL_TYPE,
        format!("Compliance drift on {}", e.system_name),
        format!(
            "{}: risk {} -> {}, status {} -> {}, classifier {} -> {}",
            e.drift_type.as_str(),
            e.before.risk_level.as_str(),
            e.after.risk_level.as_str(),
            e.before.status.as_str(),
            e.after.status.as_str(),
            e.before.classifier_version,
            e.after.classifier_version,
        ),
        e.detected_at,
    );
    // One notification per drift event, whatever the number of deliveries.
    n.id = format!("nt_{}", e.id);
    n.data = drift_detail(e);
    n
}

fn drift_detail(e: &DriftEvent) -> Value {
    json!({
        "drift_event_id": e.id,
        "system_id": e.system_id,
        "system_name": e.system_name,
        "run_id": e.run_id,
        "drift_type": e.drift_type,
        "before": e.before,
        "after": e.after,
        "detected_at": e.detected_at,
    })
}

pub fn drift_domain_event(e: &DriftEvent) -> DomainEvent {
    DomainEvent {
        id: e.id.clone(),
        tenant: e.tenant.to_string(),
        detail_type: DRIFT_DETAIL_TYPE.into(),
        time: e.detected_at,
        detail: drift_detail(e),
        request_id: None,
    }
}

/// The reclassify queue's stage: scan and batch messages of a [`Reclassifier`] run.
#[derive(Clone)]
pub struct ReclassifyStage(pub Reclassifier);

/// The re-classification service over `ports` (which must have a bus).
pub fn reclassifier(ports: &StagePorts, config: &Config) -> Result<Reclassifier, BuildError> {
    Ok(Reclassifier {
        store: ports.store.clone(),
        queue: ports.queue.clone(),
        bus: ports.require_bus()?,
        clock: ports.clock.clone(),
        settings: config.reclassify.clone(),
    })
}

/// The reclassify stage over `ports`.
pub fn stage(ports: &StagePorts, config: &Config) -> Result<ReclassifyStage, BuildError> {
    reclassifier(ports, config).map(ReclassifyStage)
}

#[async_trait]
impl Stage for ReclassifyStage {
    const NAME: &'static str = "reclassify";
    type Message = ReclassifyMessage;

    async fn handle(&self, msg: ReclassifyMessage, meta: &MessageMeta) -> StageResult {
        match msg {
            ReclassifyMessage::Scan {
                tenant,
                run_id,
                page,
                cursor,
            } => self.0.scan(&tenant, &run_id, page, cursor).await?,
            ReclassifyMessage::Batch {
                tenant,
                run_id,
                batch,
                system_ids,
            } => {
                self.0
                    .batch(&tenant, &run_id, &batch, &system_ids, meta.receive_count)
                    .await?
            }
        }
        Ok(Disposition::Done)
    }
}

impl From<RunError> for HandlerError {
    fn from(e: RunError) -> Self {
        match e {
            RunError::Store(s) | RunError::Service(ServiceError::Store(s)) => {
                HandlerError::Store(s)
            }
            RunError::Service(ServiceError::Queue(q)) => HandlerError::Queue(q),
            // Starting a run fails only on storage or the queue; anything else is a bug
            // that no retry mends.
            RunError::Service(other) => {
                HandlerError::other("starting a re-classification run", other)
            }
            RunError::Queue(q) => HandlerError::Queue(q),
        }
    }
}
