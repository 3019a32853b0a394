//! Starting a re-classification run: take the tenant's lease, record the run and queue
//! its first scan page. A lease past its expiry (a crashed run) is taken over and its
//! run marked expired.
use chrono::{DateTime, Duration, Utc};

use super::{Origin, ServiceError, commit};
use crate::classifier::CLASSIFIER_VERSION;
use crate::domain::ai_system::{ReclassifyRun, RunStatus, RunTrigger};
use crate::ports::{ItemStore, OutMessage, Queue, QueueName};
use crate::reclassify::ReclassifyMessage;
use crate::repo::reclassify_runs::{self as runs, Lease};
use crate::retry::on_conflict;

/// Whether a run could start.
#[derive(Debug, Clone)]
pub enum Start {
    Started(ReclassifyRun),
    /// Another run holds the lease.
    Busy {
        run_id: String,
    },
}

/// Takes the lease and records a new run in one write with its `reclassify_run.start`
/// audit entry, then queues the first scan page. `requested_by`: the API key that
/// asked, if any.
pub async fn start(
    store: &dyn ItemStore,
    queue: &dyn Queue,
    origin: &Origin,
    trigger: RunTrigger,
    requested_by: Option<String>,
    now: DateTime<Utc>,
    lease_for: Duration,
) -> Result<Start, ServiceError> {
    let tenant = &origin.tenant;
    let requested_by = &requested_by;
    let start = on_conflict(move || async move {
        let run = ReclassifyRun {
            id: ReclassifyRun::new_id(),
            tenant: tenant.clone(),
            trigger,
            status: RunStatus::Running,
            classifier_version: CLASSIFIER_VERSION.to_string(),
            started_at: now,
            finished_at: None,
            requested_by: requested_by.clone(),
        };
        let lease = Lease {
            run_id: run.id.clone(),
            expires_at: now + lease_for,
        };
        let mut ops = Vec::with_capacity(3);
        match runs::lease(store, tenant).await? {
            None => ops.push(runs::lease_op(tenant, &lease, None)?),
            Some((held, version)) => {
                let holder = runs::run(store, tenant, &held.run_id).await?;
                let holder = holder.filter(|(r, _)| r.status == RunStatus::Running);
                if holder.is_some() && held.expires_at > now {
                    return Ok(Start::Busy {
                        run_id: held.run_id,
                    });
                }
                ops.push(runs::lease_op(tenant, &lease, Some(version))?);
                if let Some((mut old, old_version)) = holder {
                    old.status = RunStatus::Expired;
                    old.finished_at = Some(now);
                    ops.push(runs::run_op(&old, Some(old_version))?);
                }
            }
        }
        ops.push(runs::run_op(&run, None)?);
        let draft = origin
            .draft("reclassify_run.start", "reclassify_run", &run.id)
            .after(&run);
        // The lease, the expired run or the ledger moving meanwhile: read it all again.
        commit(store, tenant, &draft, ops, now).await?;
        Ok::<_, ServiceError>(Start::Started(run))
    })
    .await?;
    let Start::Started(run) = start else {
        return Ok(start);
    };
    let first = ReclassifyMessage::Scan {
        tenant: tenant.clone(),
        run_id: run.id.clone(),
        page: 0,
        cursor: None,
    };
    let body = serde_json::to_string(&first).unwrap_or_default();
    if let Err(e) = queue
        .send(QueueName::Reclassify, vec![OutMessage::new(body)])
        .await
    {
        runs::fail(store, tenant, &run.id, now).await?;
        return Err(e.into());
    }
    tracing::info!(tenant = %tenant, run = %run.id, ?trigger, "re-classification run started");
    Ok(Start::Started(run))
}
