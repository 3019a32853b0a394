//! Findings: rule matches fold into the finding of their session, enrichment scores and
//! explains it, and analysts triage it.
//!
//! A session is one rule on one subject: evidence events no further apart than the
//! dedup gap. Recording matches (1) stores their evidence, idempotently, then (2) under
//! the subject's lock, finds the stored sessions the new evidence comes within the gap
//! of, merges them (the earliest survives; the others close as `merged`), and rebuilds
//! the survivor from the evidence stored in its span. So a finding's evidence, count
//! and severity are a function of the stored events, not of arrival order.
use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};

use super::{Origin, ServiceError};
use crate::domain::finding::{MAX_EVIDENCE, finding_id};
use crate::domain::{Evidence, Finding, FindingStatus, Match, MergeOutcome, Session, TenantId};
use crate::enrich::{Busy, EnrichContext, Enricher};
use crate::ports::{ItemStore, StoreError, WriteOp};
use crate::repo::events;
use crate::repo::findings::{self, Counters};
use crate::repo::sessions::{self, Scope, SessionRef};
use crate::retry::on_conflict;
use crate::rules::volume;

/// What recording did to one finding.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub finding: Finding,
    pub outcome: MergeOutcome,
}

/// Groups spans (earliest first) whose neighbours lie within `gap`.
fn cluster<T>(
    mut items: Vec<(DateTime<Utc>, DateTime<Utc>, T)>,
    gap: Duration,
) -> Vec<(DateTime<Utc>, DateTime<Utc>, Vec<T>)> {
    items.sort_by_key(|(a, b, _)| (*a, *b));
    let mut out: Vec<(DateTime<Utc>, DateTime<Utc>, Vec<T>)> = Vec::new();
    for (a, b, t) in items {
        match out.last_mut() {
            Some((_, end, group)) if a - *end <= gap => {
                *end = (*end).max(b);
                group.push(t);
            }
            _ => out.push((a, b, vec![t])),
        }
    }
    out
}

/// Folds `matches` (all of one rule and subject) into their sessions.
pub async fn record_matches(
    store: &dyn ItemStore,
    tenant: &TenantId,
    matches: &[Match],
    gap: Duration,
    now: DateTime<Utc>,
) -> Result<Vec<Recorded>, StoreError> {
    let Some(first) = matches.first() else {
        return Ok(Vec::new());
    };
    let scope = Scope::new(first.rule_id, &first.subject);
    let mut evidence: Vec<Evidence> = matches
        .iter()
        .flat_map(|m| m.evidence.iter().cloned())
        .collect();
    evidence.sort();
    evidence.dedup();
    sessions::put_evidence(store, tenant, &scope, &evidence).await?;
    let spans = matches
        .iter()
        .filter_map(|m| m.span().map(|(a, b)| (a, b, m)))
        .collect();
    let mut out = Vec::new();
    for (from, to, group) in cluster(spans, gap) {
        let summarize = |first, last| sessions::evidence_in(store, tenant, &scope, first, last);
        let scope = &scope;
        let group = &group;
        let recorded = on_conflict(move || async move {
            settle(store, tenant, scope, (from, to), group, gap, summarize, now).await
        })
        .await?;
        out.extend(recorded);
    }
    Ok(out)
}

/// One attempt at folding `group` (matches spanning `span`) into the stored sessions of
/// `scope`; `summarize` reads what a span holds. Loses the race (`ConditionFailed`) when
/// another writer moved the lock meanwhile.
#[allow(clippy::too_many_arguments)]
async fn settle<S, F>(
    store: &dyn ItemStore,
    tenant: &TenantId,
    scope: &Scope,
    span: (DateTime<Utc>, DateTime<Utc>),
    group: &[&Match],
    gap: Duration,
    summarize: S,
    now: DateTime<Utc>,
) -> Result<Vec<Recorded>, StoreError>
where
    S: Fn(DateTime<Utc>, DateTime<Utc>) -> F,
    F: std::future::Future<Output = Result<Session, StoreError>>,
{
    let Some(strongest) = group
        .iter()
        .copied()
        .max_by(|a, b| a.strength().cmp(&b.strength()))
    else {
        return Ok(Vec::new());
    };
    let lock = sessions::lock_version(store, tenant, scope).await?;
    let near = sessions::sessions_near(store, tenant, scope, span.0, span.1, gap).await?;
    let mut stored = Vec::with_capacity(near.len());
    for s in &near {
        match findings::get(store, tenant, &s.finding_id).await? {
            Some(v) => stored.push((s.clone(), v)),
            // An index entry whose finding is gone cannot happen (one write holds both);
            // treat it as absent rather than fail the batch forever.
            None => tracing::warn!(finding = %s.finding_id, "session without its finding"),
        }
    }
    let first = near
        .iter()
        .map(|s| s.first_seen)
        .fold(span.0, DateTime::min);
    let last = near.iter().map(|s| s.last_seen).fold(span.1, DateTime::max);
    let session = summarize(first, last).await?;
    // The earliest session survives a merge; a new session is named by its first event.
    stored.sort_by(|(a, _), (b, _)| {
        (a.first_seen, &a.finding_id).cmp(&(b.first_seen, &b.finding_id))
    });
    let mut ops: Vec<WriteOp> = Vec::new();
    let mut counters = Counters::new(tenant);
    let mut out = Vec::new();
    let (survivor, before, version) = match stored.first() {
        Some((s, v)) => (
            v.finding.clone(),
            Some((s.clone(), v.finding.clone())),
            v.version,
        ),
        None => {
            let start = session
                .event_ids
                .first()
                .map(|id| Evidence {
                    at: first,
                    id: id.clone(),
                })
                .unwrap_or_else(|| Evidence {
                    at: first,
                    id: String::new(),
                });
            let id = finding_id(tenant, strongest.rule_id, &strongest.subject, &start);
            (Finding::open(id, strongest, &session, now), None, 0)
        }
    };
    let mut next = survivor;
    for (s, other) in stored.iter().skip(1) {
        next.absorb_finding(&other.finding);
        let closed = other.finding.merged_into(&next.id, now);
        counters.moved(Some(&other.finding), &closed);
        ops.push(findings::put_op(tenant, &closed, other.version)?);
        ops.push(sessions::session_delete(tenant, scope, s));
        out.push(Recorded {
            finding: closed,
            outcome: MergeOutcome::Updated,
        });
    }
    for m in group {
        next.absorb(m);
    }
    let outcome = match &before {
        None => MergeOutcome::Created,
        Some((_, b)) => next.refresh(&session, b, now),
    };
    if outcome == MergeOutcome::Unchanged && ops.is_empty() {
        return Ok(vec![Recorded {
            finding: next,
            outcome,
        }]);
    }
    counters.moved(before.as_ref().map(|(_, b)| b), &next);
    ops.push(findings::put_op(tenant, &next, version)?);
    let entry = SessionRef {
        finding_id: next.id.clone(),
        first_seen: next.first_seen,
        last_seen: next.last_seen,
    };
    if let Some((old, _)) = &before {
        if old.first_seen != entry.first_seen {
            ops.push(sessions::session_delete(tenant, scope, old));
        }
    }
    ops.push(sessions::session_put(tenant, scope, &entry)?);
    ops.push(sessions::lock_op(tenant, scope, lock));
    ops.extend(counters.into_ops());
    store.write(ops).await?;
    out.push(Recorded {
        finding: next,
        outcome,
    });
    Ok(out)
}

/// Re-judges the tenant-wide volume rule around `minutes` (unix minutes that gained
/// events), from the per-minute counters.
pub async fn record_volume(
    store: &dyn ItemStore,
    tenant: &TenantId,
    minutes: &BTreeSet<i64>,
    threshold: u64,
    gap: Duration,
    now: DateTime<Utc>,
) -> Result<Vec<Recorded>, StoreError> {
    let gap_minutes = gap.num_minutes().max(1);
    let reach = volume::SPAN_MINUTES - 1;
    // Touched minutes close enough to share spans are judged together.
    let mut regions: Vec<(i64, i64)> = Vec::new();
    for &m in minutes {
        match regions.last_mut() {
            Some((_, hi)) if m - *hi <= 2 * reach => *hi = m,
            _ => regions.push((m, m)),
        }
    }
    let scope = Scope::new(volume::RULE_ID, volume::SUBJECT);
    let mut out = Vec::new();
    for (lo, hi) in regions {
        let counts = events::minute_counts(store, tenant, lo - reach, hi + reach).await?;
        // Spans holding a touched minute start in [lo - reach, hi].
        let busy = volume::busy(&counts, threshold, lo - reach, hi);
        for (a, b) in volume::sessions(&busy.minutes, gap_minutes) {
            let m = volume_match(busy.densest, threshold);
            let summarize = |first: DateTime<Utc>, last: DateTime<Utc>| {
                volume_session(
                    store,
                    tenant,
                    threshold,
                    volume::minute_of(first),
                    volume::minute_of(last),
                )
            };
            let span = (volume::minute_start(a), volume::minute_start(b));
            let scope = &scope;
            let m = &m;
            let recorded = on_conflict(move || async move {
                settle(store, tenant, scope, span, &[m], gap, summarize, now).await
            })
            .await?;
            out.extend(recorded);
        }
    }
    Ok(out)
}

fn volume_match(densest: u64, threshold: u64) -> Match {
    Match {
        rule_id: volume::RULE_ID,
        rule_name: volume::RULE_NAME,
        severity: volume::SEVERITY,
        magnitude: densest,
        subject: volume::SUBJECT.to_string(),
        user: None,
        title: format!("{densest} events within 60 minutes"),
        description: format!(
            "The tenant recorded {densest} events within 60 minutes of event time, above the limit of {threshold}."
        ),
        evidence: Vec::new(),
    }
}

/// What the volume session over minutes `[a, b]` holds: the events of its busy minutes.
async fn volume_session(
    store: &dyn ItemStore,
    tenant: &TenantId,
    threshold: u64,
    a: i64,
    b: i64,
) -> Result<Session, StoreError> {
    let reach = volume::SPAN_MINUTES - 1;
    let counts = events::minute_counts(store, tenant, a - reach, b + reach).await?;
    let mut busy = volume::busy(&counts, threshold, a - reach, b);
    busy.minutes = busy.minutes.range(a..=b).copied().collect();
    let event_ids = events::earliest_in_minutes(store, tenant, &busy.minutes, MAX_EVIDENCE).await?;
    Ok(Session {
        first_seen: volume::minute_start(a),
        last_seen: volume::minute_start(b),
        event_ids,
        evidence_count: busy.events_in(&counts, a, b),
    })
}

/// Scores and explains a finding unless it is already enriched for its current
/// severity (or `force`). With an `origin`, someone asked: the change is recorded in the
/// audit ledger (`finding.enrich`) in the same write. None if the tenant has no such
/// finding.
pub async fn enrich(
    store: &dyn ItemStore,
    enricher: &Enricher,
    tenant: &TenantId,
    id: &str,
    force: bool,
    now: DateTime<Utc>,
    origin: Option<&Origin>,
) -> Result<Option<Finding>, EnrichError> {
    on_conflict(move || async move {
        let Some(current) = findings::get(store, tenant, id).await? else {
            return Ok(None);
        };
        if !force && !current.finding.needs_enrichment() {
            return Ok(Some(current.finding));
        }
        // A lost race means the rules stage merged new evidence meanwhile: the next
        // attempt scores the fresh copy.
        let mut next = current.finding.clone();
        let ctx = EnrichContext {
            store,
            tenant,
            now,
            // Someone asked and waits for the answer; a stage can put its message back.
            wait_for_slot: origin.is_some(),
        };
        enricher.enrich(&ctx, &mut next).await?;
        let ledger = match origin {
            None => Vec::new(),
            Some(o) => {
                let draft = o
                    .draft("finding.enrich", "finding", id)
                    .before(&current.finding)
                    .after(&next);
                crate::audit::prepare(store, tenant, &draft, now).await?.ops
            }
        };
        findings::replace_with(store, tenant, &current, &next, ledger).await?;
        Ok(Some(next))
    })
    .await
}

/// Why a finding was not enriched.
#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The tenant's model calls are all in flight (its bulkhead is full).
    #[error(transparent)]
    Busy(#[from] Busy),
}

impl crate::retry::Contention for EnrichError {
    fn is_contention(&self) -> bool {
        matches!(self, EnrichError::Store(e) if e.is_contention())
    }

    fn exhausted() -> Self {
        EnrichError::Store(StoreError::exhausted())
    }
}

/// An analyst's change to a finding: its status, its note (`Some(None)` clears it), or
/// both.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Triage {
    pub status: Option<FindingStatus>,
    pub note: Option<Option<String>>,
}

/// `f` as an OCSF Detection Finding, its evidence events read from the store (those
/// expired since are named by id only).
pub async fn as_ocsf(
    store: &dyn ItemStore,
    tenant: &TenantId,
    f: &Finding,
) -> Result<serde_json::Value, StoreError> {
    let evidence = events::get_many(store, tenant, &f.event_ids).await?;
    Ok(crate::ocsf::finding(f, &evidence))
}

/// Applies a triage, audited as `finding.update`.
pub async fn triage(
    store: &dyn ItemStore,
    origin: &Origin,
    id: &str,
    change: &Triage,
    now: DateTime<Utc>,
) -> Result<Finding, ServiceError> {
    let tenant = &origin.tenant;
    on_conflict(move || async move {
        let current = findings::get(store, tenant, id)
            .await?
            .ok_or(ServiceError::NotFound("finding"))?;
        let mut next = current.finding.clone();
        if let (Some(_), Some(survivor)) = (change.status, &current.finding.merged_into) {
            return Err(ServiceError::Conflict(format!(
                "the finding was merged into {survivor}; triage that one"
            )));
        }
        if let Some(s) = change.status {
            next.status = s;
        }
        if let Some(n) = &change.note {
            next.note = n.clone();
        }
        next.updated_at = now;
        let draft = origin
            .draft("finding.update", "finding", id)
            .before(&current.finding)
            .after(&next);
        let ledger = crate::audit::prepare(store, tenant, &draft, now).await?.ops;
        findings::replace_with(store, tenant, &current, &next, ledger).await?;
        Ok(next)
    })
    .await
}
