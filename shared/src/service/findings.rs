//! Findings: a rule match creates or merges into its finding, enrichment scores and
//! explains it, and analysts triage it.
use chrono::{DateTime, Utc};

use super::{Origin, ServiceError};
use crate::domain::finding::{finding_id, period_of};
use crate::domain::{Finding, FindingStatus, Match, MergeOutcome, TenantId};
use crate::enrich::Enricher;
use crate::ports::{ItemStore, StoreError};
use crate::repo::findings;
use crate::retry::on_conflict;

/// Merges a rule match into its finding (one per tenant, rule, subject and period),
/// creating it if needed. Later matches add evidence and may raise the severity, never
/// lower it; a redelivered match changes nothing.
pub async fn record_match(
    store: &dyn ItemStore,
    tenant: &TenantId,
    m: &Match,
    dedup_minutes: i64,
    now: DateTime<Utc>,
) -> Result<(Finding, MergeOutcome), StoreError> {
    let id = finding_id(
        tenant,
        m.rule_id,
        &m.subject,
        period_of(m.at, dedup_minutes),
    );
    let id = &id;
    on_conflict(move || async move {
        match findings::get(store, tenant, id).await? {
            None => {
                let f = Finding::from_match(id.clone(), m, now);
                findings::create(store, tenant, &f).await?;
                Ok((f, MergeOutcome::Created))
            }
            Some(current) => {
                let mut f = current.finding.clone();
                match f.merge(m, now) {
                    MergeOutcome::Unchanged => Ok((f, MergeOutcome::Unchanged)),
                    outcome => {
                        findings::replace(store, tenant, &current, &f).await?;
                        Ok((f, outcome))
                    }
                }
            }
        }
    })
    .await
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
) -> Result<Option<Finding>, StoreError> {
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
        enricher.enrich(&mut next, now).await;
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

/// An analyst's change to a finding: its status, its note (`Some(None)` clears it), or
/// both.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Triage {
    pub status: Option<FindingStatus>,
    pub note: Option<Option<String>>,
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
