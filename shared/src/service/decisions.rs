//! Risk and compliance decisions: submit (idempotent on the `Idempotency-Key`), the
//! worker's steps, a human's review and the tenant's guardrails.
//!
//! Every change is one write of the request and its audit entry, conditioned on the
//! request's version, and every entry carries the request's correlation id (the
//! submitting call's request id), so `GET /audit/entries?request_id=` shows a request's
//! whole history. The worker writes once per step ([`step`]): killed between two, it
//! resumes at the first unfinished step and never redoes one.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Origin, ServiceError, commit};
use crate::audit::{Actor, Outcome as AuditOutcome};
use crate::decide::{
    AdvanceError, Advanced, Ask, Decision, DecisionKind, DriftLevel, Guardrails, Move,
    OpenFindings, Outcome, Refusal, Retrieved, ReviewError, Status, StepName, advance, review,
    workflow::failure_class,
};
use crate::domain::{FindingStatus, Severity, TenantId};
use crate::drift::check::ExecutionStatus;
use crate::drift::stats::AlertLevel;
use crate::governance::failures::{FailureClass, count_op};
use crate::governance::gate::VIOLATION_ACTION;
use crate::governance::registry::Kind;
use crate::ports::{DomainEvent, ItemStore, OutMessage, Queue, QueueName, WriteOp};
use crate::repo::decisions::{self as repo, Versioned};
use crate::repo::findings::FindingFilter;
use crate::repo::page::collect_all;
use crate::retry::on_conflict;

/// The webhook event type a decision (automatic or human) announces.
pub const DECIDED: &str = "risk.decided";
/// The audit resource type of a request.
pub const RESOURCE: &str = "decision";
/// The component the worker acts as.
pub const WORKER: &str = "decide";

/// A message of the decide queue: work on one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecideMessage {
    pub tenant: TenantId,
    pub decision_id: String,
    /// Publish `risk.decided` for the request's current status (after a human's review:
    /// the API has no bus, the worker does).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub announce: bool,
}

impl crate::runtime::StageMessage for DecideMessage {
    fn tenant(&self) -> Option<&str> {
        Some(self.tenant.as_str())
    }

    fn request_id(&self) -> Option<&str> {
        None
    }
}

/// The id of a request: derived from the Idempotency-Key when there is one, so a retry
/// of the POST names the request its first attempt stored (the create is conditional).
pub fn decision_id(tenant: &TenantId, kind: DecisionKind, key: Option<&str>) -> String {
    match key {
        None => Decision::new_id(),
        Some(k) => {
            let mut h = Sha256::new();
            for part in [tenant.as_str(), kind.as_str(), k] {
                h.update(part.as_bytes());
                h.update([0]);
            }
            format!("dec_{}", &hex::encode(h.finalize())[..32])
        }
    }
}

/// What a submit did.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub decision: Decision,
    /// True when the Idempotency-Key named a request stored before (its answer replayed).
    pub replayed: bool,
}

fn message(tenant: &TenantId, id: &str, announce: bool) -> Result<OutMessage, ServiceError> {
    let body = serde_json::to_string(&DecideMessage {
        tenant: tenant.clone(),
        decision_id: id.to_string(),
        announce,
    })
    .map_err(|e| ServiceError::Store(crate::ports::StoreError::Malformed(e.to_string())))?;
    Ok(OutMessage::new(body))
}

/// Stores a request as RECEIVED (audited `decision.received`) and queues its workflow.
/// `request_hash` is the digest of the body: a key reused with another body is refused.
/// A retry whose first attempt stored the request but failed to queue it queues it
/// again (the worker is idempotent), so a 202 always means stored and queued.
pub async fn submit(
    store: &dyn ItemStore,
    queue: &dyn Queue,
    origin: &Origin,
    ask: Ask,
    key: Option<&str>,
    request_hash: String,
    now: DateTime<Utc>,
) -> Result<Submitted, ServiceError> {
    let tenant = &origin.tenant;
    if crate::repo::ai_systems::get(store, tenant, &ask.ai_system_id)
        .await?
        .is_none()
    {
        return Err(ServiceError::field(
            "ai_system_id",
            "names no AI system of this tenant",
        ));
    }
    let id = decision_id(tenant, ask.kind, key);
    let correlation = origin.request_id.clone().unwrap_or_else(|| id.clone());
    let mut fresh = Decision::new(id.clone(), ask, correlation, origin.actor.to_string(), now);
    fresh.request_hash = Some(request_hash);
    let fresh = &fresh;
    let submitted = on_conflict(move || async move {
        if let Some(prior) = repo::get(store, tenant, &fresh.id).await? {
            if prior.record.request_hash != fresh.request_hash {
                return Err(ServiceError::field(
                    "Idempotency-Key",
                    "was already used with a different request body",
                ));
            }
            return Ok(Submitted {
                decision: prior.record,
                replayed: true,
            });
        }
        let draft = origin
            .draft("decision.received", RESOURCE, &fresh.id)
            .after(fresh);
        commit(
            store,
            tenant,
            &draft,
            vec![repo::create_op(tenant, fresh)?],
            now,
        )
        .await?;
        Ok(Submitted {
            decision: fresh.clone(),
            replayed: false,
        })
    })
    .await?;
    let d = &submitted.decision;
    if !d.status.is_final() && d.status != Status::RequiresApproval {
        queue
            .send(QueueName::Decide, vec![message(tenant, &d.id, false)?])
            .await?;
    }
    Ok(submitted)
}

pub async fn get(
    store: &dyn ItemStore,
    tenant: &TenantId,
    id: &str,
) -> Result<Versioned, ServiceError> {
    repo::get(store, tenant, id)
        .await?
        .ok_or(ServiceError::NotFound("decision"))
}

/// The latest completed checks' worst alert level over the models linked to `system`.
async fn drift_level(
    store: &dyn ItemStore,
    tenant: &TenantId,
    system: &str,
) -> Result<(DriftLevel, Vec<String>), ServiceError> {
    let models = collect_all(
        store,
        crate::repo::drift::list_query(tenant),
        crate::repo::drift::model_from,
    )
    .await?;
    let mut level = DriftLevel::None;
    let mut linked = Vec::new();
    for m in models
        .iter()
        .filter(|m| m.spec.ai_system_id.as_deref() == Some(system))
    {
        linked.push(m.id().to_string());
        let q = crate::repo::drift::checks_query(tenant, &m.uid, None, None).limit(20);
        let page = store.query(&q).await?;
        let latest = page
            .items
            .iter()
            .filter_map(|i| crate::repo::drift::check_from(i).ok())
            .find(|c| c.status == ExecutionStatus::Completed);
        let this = match latest.and_then(|c| c.alert_level) {
            Some(AlertLevel::Critical) => DriftLevel::Critical,
            Some(AlertLevel::Warning) => DriftLevel::Warning,
            Some(AlertLevel::Normal) | None => DriftLevel::None,
        };
        level = level.max(this);
    }
    Ok((level, linked))
}

/// Open and acknowledged findings on the system: the drift findings of its linked
/// models (subject `model:<id>`), read from the exact (status, rule) index to its end,
/// so none is missed however many other findings the tenant has.
async fn open_findings(
    store: &dyn ItemStore,
    tenant: &TenantId,
    models: &[String],
) -> Result<OpenFindings, ServiceError> {
    let subjects: std::collections::HashSet<String> =
        models.iter().map(|m| format!("model:{m}")).collect();
    let mut out = OpenFindings::default();
    if subjects.is_empty() {
        return Ok(out);
    }
    for status in [FindingStatus::Open, FindingStatus::Acknowledged] {
        let filter = FindingFilter {
            status: Some(status),
            rule_id: Some(super::drift::RULE_ID.to_string()),
            ..FindingFilter::default()
        };
        let found = collect_all(
            store,
            crate::repo::findings::list_query(tenant, &filter),
            crate::repo::findings::from_item,
        )
        .await?;
        for f in found.iter().filter(|f| subjects.contains(&f.subject)) {
            match f.severity {
                Severity::Low => out.low += 1,
                Severity::Medium => out.medium += 1,
                Severity::High => out.high += 1,
                Severity::Critical => out.critical += 1,
            }
        }
    }
    Ok(out)
}

/// The retrieval step's reads; None when the AI system no longer exists.
pub async fn retrieve(
    store: &dyn ItemStore,
    tenant: &TenantId,
    ask: &Ask,
) -> Result<Option<Retrieved>, ServiceError> {
    let Some(system) = crate::repo::ai_systems::get(store, tenant, &ask.ai_system_id).await? else {
        return Ok(None);
    };
    let system = system.system;
    let state = |kind| async move {
        let id = match kind {
            Kind::Model => &ask.model_id,
            Kind::Prompt => &ask.prompt_id,
        };
        Ok::<_, ServiceError>(
            crate::repo::governance::get(store, tenant, kind, id)
                .await?
                .filter(|v| v.record.kind() == kind)
                .map(|v| v.record.state),
        )
    };
    let (drift, models) = drift_level(store, tenant, &system.id).await?;
    Ok(Some(Retrieved {
        level: system.level(),
        obligations: system
            .classification
            .as_ref()
            .map(|c| c.obligations.iter().map(|o| o.id.clone()).collect())
            .unwrap_or_default(),
        human_oversight: system.human_oversight,
        findings: open_findings(store, tenant, &models).await?,
        drift,
        model_state: state(Kind::Model).await?,
        prompt_state: state(Kind::Prompt).await?,
    }))
}

fn workflow_error(e: AdvanceError) -> ServiceError {
    ServiceError::Conflict(e.to_string())
}

fn refusals(d: &Decision) -> Vec<Refusal> {
    d.step(StepName::Policy)
        .and_then(|s| s.outputs.get("refusals").cloned())
        .and_then(|r| serde_json::from_value(r).ok())
        .unwrap_or_default()
}

/// The audit action of what one call did.
fn action(done: &Advanced, refused_governance: bool) -> String {
    match done {
        Advanced::Validated => "decision.validated".into(),
        Advanced::Started => "decision.started".into(),
        Advanced::Step(StepName::Policy) if refused_governance => VIOLATION_ACTION.into(),
        Advanced::Step(s) => format!("decision.step.{}", s.as_str()),
        Advanced::Concluded(o) => format!(
            "decision.{}",
            match o {
                Outcome::Approve => "approved",
                Outcome::Reject => "rejected",
                Outcome::NeedsHuman => "requires_approval",
            }
        ),
    }
}

/// What one [`step`] call did.
#[derive(Debug, Clone, PartialEq)]
pub enum Stepped {
    /// Moved the request on; the decision after the write.
    Moved(Advanced, Decision),
    /// The request is final or waits for a human: nothing to do.
    Idle(Decision),
}

/// The worker as an origin: the system component, under the request's correlation id.
fn worker_origin(tenant: &TenantId, d: &Decision) -> Origin {
    Origin {
        tenant: tenant.clone(),
        actor: Actor::system(WORKER),
        request_id: Some(d.correlation_id.clone()),
    }
}

/// Does exactly the next thing to request `id` and writes it with its audit entry (and,
/// on a conclusion, its failure class count) in one version-conditioned write.
pub async fn step(
    store: &dyn ItemStore,
    tenant: &TenantId,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Stepped, ServiceError> {
    Ok(step_from(store, tenant, id, None, now).await?.0)
}

/// [`step`], starting from `known` (the request as this worker's previous step wrote
/// it, so its read is saved) when given; a conflict re-reads. Answers the request as
/// written when this call moved it.
async fn step_from(
    store: &dyn ItemStore,
    tenant: &TenantId,
    id: &str,
    known: Option<Versioned>,
    now: DateTime<Utc>,
) -> Result<(Stepped, Option<Versioned>), ServiceError> {
    let known = std::sync::Mutex::new(known);
    let known = &known;
    on_conflict(move || async move {
        let first = known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let current = match first {
            Some(v) => v,
            None => get(store, tenant, id).await?,
        };
        let d = &current.record;
        if d.status.is_final() || d.status == Status::RequiresApproval {
            return Ok((Stepped::Idle(d.clone()), None));
        }
        let origin = worker_origin(tenant, d);
        let next_step = (d.status == Status::Processing)
            .then(|| d.next_step())
            .flatten();
        let retrieved = match next_step {
            Some(StepName::Retrieval) => match retrieve(store, tenant, &d.ask).await? {
                Some(r) => Some(r),
                None => {
                    let failed = fail(
                        store,
                        &origin,
                        &current,
                        "the AI system no longer exists",
                        now,
                    )
                    .await?;
                    return Ok((failed, None));
                }
            },
            _ => None,
        };
        let guardrails = match next_step {
            Some(StepName::Guardrails) => repo::guardrails(store, tenant).await?,
            _ => Guardrails::default(),
        };
        let (next, done) =
            advance(d, retrieved.as_ref(), &guardrails, now).map_err(workflow_error)?;
        let refused = refusals(&next);
        let governance = matches!(done, Advanced::Step(StepName::Policy))
            && refused.iter().any(|r| r.is_governance());
        let mut draft = origin
            .draft(&action(&done, governance), RESOURCE, id)
            .after(&next);
        if governance {
            draft = draft.outcome(AuditOutcome::Denied);
        }
        let mut ops = vec![repo::replace_op(tenant, &current, &next)?];
        if let Advanced::Concluded(_) = done {
            if let Some(class) = failure_class(&next) {
                ops.push(count_op(tenant, class));
            }
        }
        commit(store, tenant, &draft, ops, now).await?;
        let written = Versioned {
            record: next.clone(),
            version: current.version + 1,
        };
        Ok((Stepped::Moved(done, next), Some(written)))
    })
    .await
}

/// Moves a request that can never succeed to FAILED (a `WORKFLOW_ERROR`).
async fn fail(
    store: &dyn ItemStore,
    origin: &Origin,
    current: &Versioned,
    why: &str,
    now: DateTime<Utc>,
) -> Result<Stepped, ServiceError> {
    let mut next = current.record.clone();
    next.apply(Move::Fail, now)
        .map_err(|e| ServiceError::Conflict(e.to_string()))?;
    next.failure = Some(why.to_string());
    let tenant = &origin.tenant;
    let draft = origin
        .draft("decision.failed", RESOURCE, &next.id)
        .outcome(AuditOutcome::Failed)
        .after(&next);
    let ops = vec![
        repo::replace_op(tenant, current, &next)?,
        count_op(tenant, FailureClass::WorkflowError),
    ];
    commit(store, tenant, &draft, ops, now).await?;
    Ok(Stepped::Idle(next))
}

/// Runs request `id` to its end (final, or waiting for a human); true when this call
/// moved it there (so its `risk.decided` is this call's to publish).
pub async fn run(
    store: &dyn ItemStore,
    tenant: &TenantId,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(Decision, bool), ServiceError> {
    let mut known = None;
    loop {
        match step_from(store, tenant, id, known.take(), now).await? {
            (Stepped::Moved(Advanced::Concluded(_), d), _) => return Ok((d, true)),
            (Stepped::Moved(..), written) => known = written,
            (Stepped::Idle(d), _) => return Ok((d, false)),
        }
    }
}

/// The score a request's scoring step recorded.
pub fn score_of(d: &Decision) -> Option<u8> {
    d.step(StepName::Scoring)
        .and_then(|s| s.outputs.get("score"))
        .and_then(|v| v.as_u64())
        .and_then(|v| u8::try_from(v).ok())
}

/// The `risk.decided` event of a request in its current status (stable id per status,
/// so a re-publish is de-duplicated downstream).
pub fn decided_event(tenant: &TenantId, d: &Decision, now: DateTime<Utc>) -> DomainEvent {
    DomainEvent {
        id: format!("{}:{}", d.id, d.status.as_str()),
        tenant: tenant.to_string(),
        detail_type: DECIDED.to_string(),
        time: now,
        detail: json!({
            "decision_id": d.id,
            "kind": d.ask.kind,
            "status": d.status,
            "ai_system_id": d.ask.ai_system_id,
            "model_id": d.ask.model_id,
            "prompt_id": d.ask.prompt_id,
            "score": score_of(d),
            "refusals": refusals(d),
            "reviewed_by": d.review.as_ref().map(|r| r.actor.clone()),
        }),
        request_id: Some(d.correlation_id.clone()),
    }
}

/// A human's approval or rejection of a request that requires one (the caller checked
/// the approver or admin role). Four eyes: the requester is refused, audited as denied.
/// `risk.decided` is announced through the decide queue.
pub async fn decide(
    store: &dyn ItemStore,
    queue: &dyn Queue,
    origin: &Origin,
    id: &str,
    approve: bool,
    reason: Option<String>,
    now: DateTime<Utc>,
) -> Result<Decision, ServiceError> {
    let tenant = &origin.tenant;
    let reason = &reason;
    let decided = on_conflict(move || async move {
        let current = get(store, tenant, id).await?;
        // The same reviewer's same verdict again: a retry of a review that was written
        // but whose announcement may not have been queued. It changes nothing and is
        // announced again below (`risk.decided` has a stable id per status).
        if current
            .record
            .review
            .as_ref()
            .is_some_and(|r| r.actor == origin.actor.as_str() && r.approved == approve)
        {
            return Ok(current.record);
        }
        let verb = if approve { "approve" } else { "reject" };
        let draft = origin
            .draft(&format!("decision.review.{verb}"), RESOURCE, id)
            .request_id(Some(current.record.correlation_id.clone()))
            .before(&current.record);
        let next = match review(
            &current.record,
            origin.actor.as_str(),
            approve,
            reason.clone(),
            now,
        ) {
            Ok(n) => n,
            Err(ReviewError::FourEyes) => {
                let denied = draft.outcome(AuditOutcome::Denied);
                crate::repo::audit::append(store, tenant, &denied, now).await?;
                return Err(ServiceError::Denied(format!(
                    "four eyes: {} requested this decision and cannot {verb} it",
                    origin.actor
                )));
            }
            Err(ReviewError::ReasonRequired) => {
                return Err(ServiceError::field("reason", "is required to reject"));
            }
            Err(ReviewError::Transition(e)) => return Err(ServiceError::Conflict(e.to_string())),
        };
        let draft = draft.after(&next);
        commit(
            store,
            tenant,
            &draft,
            vec![repo::replace_op(tenant, &current, &next)?],
            now,
        )
        .await?;
        Ok(next)
    })
    .await?;
    queue
        .send(QueueName::Decide, vec![message(tenant, &decided.id, true)?])
        .await?;
    Ok(decided)
}

/// Replaces the tenant's guardrails, audited as `decision.guardrails.update`.
pub async fn set_guardrails(
    store: &dyn ItemStore,
    origin: &Origin,
    g: Guardrails,
    now: DateTime<Utc>,
) -> Result<Guardrails, ServiceError> {
    let tenant = &origin.tenant;
    let before = repo::guardrails(store, tenant).await?;
    let draft = origin
        .draft("decision.guardrails.update", "guardrails", tenant.as_str())
        .before(&before)
        .after(&g);
    let ops: Vec<WriteOp> = vec![repo::guardrails_op(tenant, &g)?];
    on_conflict(|| async { commit(store, tenant, &draft, ops.clone(), now).await }).await?;
    Ok(g)
}
