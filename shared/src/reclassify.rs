//! Settings and queue messages of the re-classification fan-out, and the start of a run,
//! shared by the `reclassify` function, the API (which starts runs) and the local runner.
use chrono::{DateTime, Duration, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use crate::audit::Actor;
use crate::classifier::CLASSIFIER_VERSION;
use crate::config::ConfigError;
use crate::domain::TenantId;
use crate::domain::ai_system::RunTrigger;
use crate::ports::{Cursor, ItemStore, OutMessage, Queue, QueueError, QueueName, StoreError};
use crate::repo::reclassify_runs::{self as runs, Start};
use crate::runtime::HandlerError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReclassifySettings {
    /// How long a run holds its tenant's lease; a crashed run's lease expires after it.
    pub lease: Duration,
    /// Systems read per scan page (one `Scan` message).
    pub page_size: usize,
    /// Systems per `Batch` message.
    pub batch_size: usize,
    /// When `vigil serve` starts the nightly run (UTC); None disables it.
    pub local_schedule: Option<NaiveTime>,
}

impl Default for ReclassifySettings {
    fn default() -> Self {
        Self {
            lease: Duration::minutes(60),
            page_size: 500,
            batch_size: 50,
            local_schedule: NaiveTime::from_hms_opt(2, 0, 0),
        }
    }
}

fn number(
    get: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
    min: i64,
    max: i64,
    default: i64,
) -> Result<i64, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(ConfigError::Invalid {
                name,
                reason: format!("'{v}' is not a whole number from {min} to {max}"),
            }),
        },
    }
}

impl ReclassifySettings {
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = Self::default();
        let local_schedule =
            match get("VIGIL_RECLASSIFY_AT").as_deref().map(str::trim) {
                None => d.local_schedule,
                Some("off") => None,
                Some(v) => Some(NaiveTime::parse_from_str(v, "%H:%M").map_err(|_| {
                    ConfigError::Invalid {
                        name: "VIGIL_RECLASSIFY_AT",
                        reason: format!("'{v}' is neither HH:MM (UTC) nor off"),
                    }
                })?),
            };
        let size = |n: i64| usize::try_from(n).unwrap_or(1);
        Ok(Self {
            lease: Duration::minutes(number(get, "VIGIL_RECLASSIFY_LEASE_MINUTES", 1, 1440, 60)?),
            page_size: size(number(get, "VIGIL_RECLASSIFY_PAGE_SIZE", 1, 5_000, 500)?),
            // A batch message carries ids only; 500 ids stay far below 256 KiB.
            batch_size: size(number(get, "VIGIL_RECLASSIFY_BATCH_SIZE", 1, 500, 50)?),
            local_schedule,
        })
    }

    /// The next scheduled start strictly after `now`.
    pub fn next_run_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let at = self.local_schedule?;
        let today = now.date_naive().and_time(at).and_utc();
        Some(if today > now {
            today
        } else {
            today + Duration::days(1)
        })
    }
}

/// Messages on the reclassify queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReclassifyMessage {
    /// Read one page of the tenant's monitored systems and fan it out.
    Scan {
        tenant: TenantId,
        run_id: String,
        page: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cursor: Option<Cursor>,
    },
    /// Re-classify these systems.
    Batch {
        tenant: TenantId,
        run_id: String,
        /// `{page}-{index}`: unique within the run, the same on every redelivery.
        batch: String,
        system_ids: Vec<String>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// The actor of everything the reclassify stage does on its own (schedule, drift).
pub const SYSTEM_ACTOR: &str = "reclassify";

/// Takes the tenant's lease, records the run and queues its first scan page. A second
/// call while the run holds the lease answers [`Start::Busy`] with the running run's id.
/// Audited as the requesting key, or `system:reclassify` without one.
pub async fn start_run(
    store: &dyn ItemStore,
    queue: &dyn Queue,
    tenant: &TenantId,
    trigger: RunTrigger,
    requested_by: Option<String>,
    now: DateTime<Utc>,
    lease: chrono::Duration,
) -> Result<Start, RunError> {
    let actor = match &requested_by {
        Some(key) => Actor::key(key),
        None => Actor::system(SYSTEM_ACTOR),
    };
    let who = runs::Audit {
        actor: &actor,
        request_id: None,
    };
    start_run_by(store, queue, tenant, trigger, requested_by, now, lease, who).await
}

/// [`start_run`] audited as `who` (the API passes the caller's key and request id).
#[allow(clippy::too_many_arguments)]
pub async fn start_run_by(
    store: &dyn ItemStore,
    queue: &dyn Queue,
    tenant: &TenantId,
    trigger: RunTrigger,
    requested_by: Option<String>,
    now: DateTime<Utc>,
    lease: chrono::Duration,
    who: runs::Audit<'_>,
) -> Result<Start, RunError> {
    let start = runs::start_by(
        store,
        tenant,
        trigger,
        requested_by,
        CLASSIFIER_VERSION,
        now,
        lease,
        who,
    )
    .await?;
    if let Start::Started(run) = &start {
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
    }
    Ok(start)
}

impl From<RunError> for HandlerError {
    fn from(e: RunError) -> Self {
        match e {
            RunError::Store(s) => HandlerError::Store(s),
            RunError::Queue(q) => HandlerError::Queue(q),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_defaults_to_two_am_utc_and_parses() {
        let s = ReclassifySettings::from_lookup(&|_| None).unwrap();
        let now = DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            s.next_run_after(now).unwrap().to_rfc3339(),
            "2026-03-02T02:00:00+00:00"
        );
        let early = DateTime::parse_from_rfc3339("2026-03-01T01:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            s.next_run_after(early).unwrap().to_rfc3339(),
            "2026-03-01T02:00:00+00:00"
        );
        let off = ReclassifySettings::from_lookup(&|k| {
            (k == "VIGIL_RECLASSIFY_AT").then(|| "off".into())
        })
        .unwrap();
        assert_eq!(off.next_run_after(now), None);
        let bad = ReclassifySettings::from_lookup(&|k| {
            (k == "VIGIL_RECLASSIFY_BATCH_SIZE").then(|| "0".into())
        });
        assert!(
            bad.unwrap_err()
                .to_string()
                .contains("VIGIL_RECLASSIFY_BATCH_SIZE")
        );
    }
}
