//! Enrichment of a stored finding: read, score, and write back under the version it was
//! read at, for the enrich stage and for the API's on-demand enrichment.
use chrono::{DateTime, Utc};

use crate::audit::{self, Actor, AuditDraft};
use crate::domain::{Finding, TenantId};
use crate::enrich::Enricher;
use crate::ports::{ItemStore, StoreError};
use crate::repo::findings;

const MAX_ATTEMPTS: usize = 8;

/// Enriches one finding unless it is already enriched for its current severity (or
/// `force`). Returns the stored finding, or None if the tenant has no such finding.
pub async fn enrich_finding(
    store: &dyn ItemStore,
    enricher: &Enricher,
    tenant: &TenantId,
    id: &str,
    force: bool,
    now: DateTime<Utc>,
) -> Result<Option<Finding>, StoreError> {
    enrich(store, enricher, tenant, id, force, now, None).await
}

/// [`enrich_finding`] on someone's request: the change is recorded in the audit ledger
/// (`finding.enrich`) in the same write.
#[allow(clippy::too_many_arguments)]
pub async fn enrich_finding_audited(
    store: &dyn ItemStore,
    enricher: &Enricher,
    tenant: &TenantId,
    id: &str,
    force: bool,
    now: DateTime<Utc>,
    actor: &Actor,
    request_id: Option<String>,
) -> Result<Option<Finding>, StoreError> {
    enrich(
        store,
        enricher,
        tenant,
        id,
        force,
        now,
        Some((actor, request_id)),
    )
    .await
}

async fn enrich(
    store: &dyn ItemStore,
    enricher: &Enricher,
    tenant: &TenantId,
    id: &str,
    force: bool,
    now: DateTime<Utc>,
    audited: Option<(&Actor, Option<String>)>,
) -> Result<Option<Finding>, StoreError> {
    let attempts = if audited.is_some() {
        audit::MAX_ATTEMPTS
    } else {
        MAX_ATTEMPTS
    };
    for _ in 0..attempts {
        let Some(current) = findings::get(store, tenant, id).await? else {
            return Ok(None);
        };
        if !force && !current.finding.needs_enrichment() {
            return Ok(Some(current.finding));
        }
        let mut next = current.finding.clone();
        enricher.enrich(&mut next, now).await;
        let extra = match &audited {
            None => Vec::new(),
            Some((actor, request_id)) => {
                let draft = AuditDraft::new((*actor).clone(), "finding.enrich", "finding", id)
                    .request_id(request_id.clone())
                    .before(&current.finding)
                    .after(&next);
                audit::prepare(store, tenant, &draft, now).await?.ops
            }
        };
        match findings::replace_with(store, tenant, &current, &next, extra).await {
            Ok(_) => return Ok(Some(next)),
            // The rules stage merged new evidence meanwhile: score the fresh copy.
            Err(StoreError::ConditionFailed { .. } | StoreError::Conflict) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Conflict)
}
