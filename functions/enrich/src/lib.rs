//! The enrich stage: scores and explains new or escalated findings, then announces them
//! on the event bus as `finding.created` / `finding.escalated`.
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;
use vigil_shared::audit::{self, Actor, AuditDraft};
use vigil_shared::config::Config;
use vigil_shared::domain::{Finding, TenantId};
use vigil_shared::enrich::Enricher;
use vigil_shared::messages::{EnrichMessage, EnrichReason};
use vigil_shared::ports::{Clock, DomainEvent, EventBus, ItemStore, StoreError};
use vigil_shared::repo::findings;
use vigil_shared::runtime::{
    BuildError, Disposition, HandlerError, MessageMeta, Stage, StagePorts,
};

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

/// The bus event announcing a finding; its id is stable so consumers can de-duplicate.
pub fn finding_event(
    tenant: &TenantId,
    f: &Finding,
    reason: EnrichReason,
    now: DateTime<Utc>,
) -> DomainEvent {
    let (detail_type, id) = match reason {
        EnrichReason::Escalated => (
            "finding.escalated",
            format!("{}:escalated:{}", f.id, f.severity),
        ),
        EnrichReason::Created | EnrichReason::Retry => {
            ("finding.created", format!("{}:created", f.id))
        }
    };
    DomainEvent {
        id,
        tenant: tenant.to_string(),
        detail_type: detail_type.to_string(),
        time: now,
        detail: json!({
            "finding_id": f.id,
            "rule_id": f.rule_id,
            "rule_name": f.rule_name,
            "severity": f.severity,
            "title": f.title,
            "user": f.user,
            "status": f.status,
            "risk_score": f.risk_score,
            "enriched_by": f.enriched_by,
            "event_count": f.event_ids.len(),
            "first_seen": f.first_seen,
            "last_seen": f.last_seen,
        }),
        request_id: None,
    }
}

pub struct EnrichStage {
    pub store: Arc<dyn ItemStore>,
    pub bus: Arc<dyn EventBus>,
    pub enricher: Enricher,
    pub clock: Arc<dyn Clock>,
}

/// The enrich stage over `ports` (which must have a bus). The enricher is built apart,
/// by `wiring::enricher` on AWS, because it may read its model key from a secret.
pub fn stage(
    ports: &StagePorts,
    _config: &Config,
    enricher: Enricher,
) -> Result<EnrichStage, BuildError> {
    Ok(EnrichStage {
        store: ports.store.clone(),
        bus: ports.require_bus()?,
        enricher,
        clock: ports.clock.clone(),
    })
}

#[async_trait]
impl Stage for EnrichStage {
    const NAME: &'static str = "enrich";
    type Message = EnrichMessage;

    async fn handle(
        &self,
        msg: EnrichMessage,
        _meta: &MessageMeta,
    ) -> Result<Disposition, HandlerError> {
        let now = self.clock.now();
        let Some(finding) = enrich_finding(
            self.store.as_ref(),
            &self.enricher,
            &msg.tenant,
            &msg.finding_id,
            false,
            now,
        )
        .await?
        else {
            tracing::warn!(finding = %msg.finding_id, "finding to enrich does not exist; dropping");
            return Ok(Disposition::Done);
        };
        let mut event = finding_event(&msg.tenant, &finding, msg.reason, now);
        event.request_id = msg.request_id;
        self.bus.publish(&[event]).await?;
        Ok(Disposition::Done)
    }
}
