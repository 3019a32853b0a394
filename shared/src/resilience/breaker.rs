//! Circuit breakers on the model endpoint and on each webhook endpoint: CLOSED → OPEN
//! after a run of consecutive failures → HALF_OPEN after a cool-down, when exactly one
//! trial call goes through; its success closes the breaker, its failure opens it again.
//!
//! The state is one versioned item per breaker, so every Lambda instance sees the same
//! breaker: one instance's failures open it for all. The hot path of a healthy endpoint
//! is one read per call and no write.
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::TenantId;
use crate::ports::store::{Condition, Item, ItemStore, KeyRange, Query, StoreError, WriteOp};
use crate::repo::item::{decode, encode};
use crate::retry::on_conflict;

/// When a breaker opens and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive failures that open a closed breaker (`VIGIL_BREAKER_FAILURES`, 5).
    pub failure_threshold: u32,
    /// How long an open breaker refuses calls before one trial (`VIGIL_BREAKER_OPEN_SECONDS`, 30).
    pub open_for: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            open_for: Duration::seconds(30),
        }
    }
}

/// The partition of breakers no tenant owns: the model endpoint serves every tenant.
/// Tenant ids cannot start with `_`, so no tenant's keys can reach it.
const SHARED_PK: &str = "_deployment#BREAKER";

/// Which breaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreakerKey {
    /// The model endpoint, by host: shared by every tenant.
    Llm { host: String },
    /// One tenant's webhook endpoint.
    Webhook {
        tenant: TenantId,
        endpoint_id: String,
    },
}

impl BreakerKey {
    pub fn llm(url: &str) -> Self {
        let host = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| {
                u.host_str().map(|h| match u.port() {
                    Some(p) => format!("{h}:{p}"),
                    None => h.to_string(),
                })
            })
            .unwrap_or_else(|| url.to_string());
        BreakerKey::Llm { host }
    }

    pub fn webhook(tenant: &TenantId, endpoint_id: &str) -> Self {
        BreakerKey::Webhook {
            tenant: tenant.clone(),
            endpoint_id: endpoint_id.to_string(),
        }
    }

    fn key(&self) -> (String, String) {
        match self {
            BreakerKey::Llm { host } => (SHARED_PK.to_string(), format!("llm#{host}")),
            BreakerKey::Webhook {
                tenant,
                endpoint_id,
            } => (
                format!("{tenant}#BREAKER"),
                format!("webhook#{endpoint_id}"),
            ),
        }
    }

    fn name(&self) -> String {
        self.key().1
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

/// One breaker as stored and as `GET /governance/breakers` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breaker {
    pub name: String,
    pub state: BreakerState,
    pub consecutive_failures: u32,
    #[serde(default)]
    pub opened_at: Option<DateTime<Utc>>,
    /// HALF_OPEN: the trial call's lease; a trial that never reports back (a crashed
    /// instance) frees the breaker for another trial when it passes.
    #[serde(default)]
    pub trial_until: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_error: Option<String>,
    pub times_opened: u64,
    pub changed_at: DateTime<Utc>,
}

impl Breaker {
    fn closed(name: String, now: DateTime<Utc>) -> Self {
        Self {
            name,
            state: BreakerState::Closed,
            consecutive_failures: 0,
            opened_at: None,
            trial_until: None,
            last_error: None,
            times_opened: 0,
            changed_at: now,
        }
    }

    /// When an open breaker lets its trial through.
    pub fn retry_at(&self, settings: &BreakerSettings) -> Option<DateTime<Utc>> {
        match self.state {
            BreakerState::Closed => None,
            BreakerState::Open => self.opened_at.map(|t| t + settings.open_for),
            BreakerState::HalfOpen => self.trial_until,
        }
    }
}

/// Whether a call may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Allowed,
    /// The one trial call of a half-open breaker.
    Trial,
    /// Refused until then.
    Refused {
        until: DateTime<Utc>,
    },
}

impl Admission {
    pub fn allowed(&self) -> bool {
        !matches!(self, Admission::Refused { .. })
    }
}

/// The admission decision on `b` at `now` (pure): the decision and the state to store
/// when it changes.
pub fn admit(
    b: &Breaker,
    settings: &BreakerSettings,
    now: DateTime<Utc>,
) -> (Admission, Option<Breaker>) {
    match b.state {
        BreakerState::Closed => (Admission::Allowed, None),
        BreakerState::Open | BreakerState::HalfOpen => {
            let until = b.retry_at(settings).unwrap_or(now);
            if now < until {
                return (Admission::Refused { until }, None);
            }
            let mut next = b.clone();
            next.state = BreakerState::HalfOpen;
            next.trial_until = Some(now + settings.open_for);
            next.changed_at = now;
            (Admission::Trial, Some(next))
        }
    }
}

/// The state after a call's outcome (pure); None when nothing changes.
pub fn record(
    b: &Breaker,
    settings: &BreakerSettings,
    failure: Option<&str>,
    now: DateTime<Utc>,
) -> Option<Breaker> {
    let mut next = b.clone();
    match failure {
        None => {
            if b.state == BreakerState::Closed && b.consecutive_failures == 0 {
                return None;
            }
            next.state = BreakerState::Closed;
            next.consecutive_failures = 0;
            next.opened_at = None;
            next.trial_until = None;
        }
        Some(error) => {
            next.consecutive_failures = b.consecutive_failures.saturating_add(1);
            next.last_error = Some(error.chars().take(300).collect());
            let opens = match b.state {
                BreakerState::Closed => next.consecutive_failures >= settings.failure_threshold,
                // The trial failed.
                BreakerState::HalfOpen => true,
                // A call admitted before the breaker opened, failing late: still open.
                BreakerState::Open => false,
            };
            if opens {
                next.state = BreakerState::Open;
                next.opened_at = Some(now);
                next.trial_until = None;
                next.times_opened += 1;
            }
        }
    }
    next.changed_at = now;
    Some(next)
}

/// Breakers in the item store.
#[derive(Debug, Clone, Copy)]
pub struct Breakers {
    pub settings: BreakerSettings,
}

impl Breakers {
    pub fn new(settings: BreakerSettings) -> Self {
        Self { settings }
    }

    async fn read(
        &self,
        store: &dyn ItemStore,
        key: &BreakerKey,
        now: DateTime<Utc>,
    ) -> Result<(Breaker, Condition, u64), StoreError> {
        let (pk, sk) = key.key();
        Ok(match store.get(&pk, &sk).await? {
            Some(item) => (
                decode(&item)?,
                Condition::Version(item.version),
                item.version,
            ),
            None => (Breaker::closed(key.name(), now), Condition::NotExists, 0),
        })
    }

    async fn store_state(
        store: &dyn ItemStore,
        key: &BreakerKey,
        b: &Breaker,
        condition: Condition,
        version: u64,
    ) -> Result<(), StoreError> {
        let (pk, sk) = key.key();
        let mut item = Item::new(pk, sk, encode(b)?);
        item.version = version + 1;
        store.write(vec![WriteOp::put(item, condition)]).await
    }

    /// Whether a call through `key` may go ahead now. Of several callers racing for a
    /// half-open breaker's trial, exactly one wins.
    pub async fn admit(
        &self,
        store: &dyn ItemStore,
        key: &BreakerKey,
        now: DateTime<Utc>,
    ) -> Result<Admission, StoreError> {
        let (b, condition, version) = self.read(store, key, now).await?;
        let (admission, next) = admit(&b, &self.settings, now);
        if !admission.allowed() {
            crate::telemetry::count(crate::telemetry::metric::BREAKER_REFUSALS, 1);
        }
        let Some(next) = next else {
            return Ok(admission);
        };
        match Self::store_state(store, key, &next, condition, version).await {
            Ok(()) => {
                tracing::info!(breaker = %next.name, "breaker half-open: one trial call");
                Ok(admission)
            }
            // Another caller took the trial.
            Err(StoreError::ConditionFailed { .. } | StoreError::Conflict) => {
                Ok(Admission::Refused {
                    until: now + self.settings.open_for,
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Records a call's outcome: `failure` is its error, None for a success.
    pub async fn record(
        &self,
        store: &dyn ItemStore,
        key: &BreakerKey,
        failure: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_conflict(|| async move {
            let (b, condition, version) = self.read(store, key, now).await?;
            let Some(next) = record(&b, &self.settings, failure, now) else {
                return Ok(());
            };
            if next.state != b.state {
                tracing::warn!(breaker = %next.name, from = ?b.state, to = ?next.state, error = failure.unwrap_or(""), "breaker changed state");
                crate::telemetry::count(crate::telemetry::metric::BREAKER_TRANSITIONS, 1);
            }
            Self::store_state(store, key, &next, condition, version).await
        })
        .await
    }

    /// The breakers a tenant's calls go through: the shared model endpoint's and its
    /// own webhook endpoints'.
    pub async fn list(
        store: &dyn ItemStore,
        tenant: &TenantId,
    ) -> Result<Vec<Breaker>, StoreError> {
        let mut out = Vec::new();
        for pk in [SHARED_PK.to_string(), format!("{tenant}#BREAKER")] {
            let q = Query::new(crate::ports::Index::Primary, pk)
                .range(KeyRange::All)
                .limit(1000);
            out.extend(crate::repo::page::collect_all(store, q, decode::<Breaker>).await?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::embedded::{EmbeddedDb, EmbeddedStore};
    use crate::ports::ManualClock;
    use chrono::TimeZone;
    use std::sync::Arc;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
    }

    fn store() -> EmbeddedStore {
        EmbeddedStore::new(EmbeddedDb::in_memory(Arc::new(ManualClock::new(t0()))).unwrap())
    }

    #[tokio::test]
    async fn opens_after_five_failures_then_one_trial_decides() {
        let s = store();
        let b = Breakers::new(BreakerSettings::default());
        let key = BreakerKey::llm("http://127.0.0.1:9/v1/chat/completions");
        let t = t0();
        for i in 0..4 {
            assert_eq!(
                b.admit(&s, &key, t).await.unwrap(),
                Admission::Allowed,
                "{i}"
            );
            b.record(&s, &key, Some("HTTP 503"), t).await.unwrap();
        }
        // A success resets the run.
        b.record(&s, &key, None, t).await.unwrap();
        for _ in 0..5 {
            assert!(b.admit(&s, &key, t).await.unwrap().allowed());
            b.record(&s, &key, Some("HTTP 503"), t).await.unwrap();
        }
        let until = t + Duration::seconds(30);
        assert_eq!(
            b.admit(&s, &key, t).await.unwrap(),
            Admission::Refused { until }
        );
        let at = t + Duration::seconds(29);
        assert_eq!(
            b.admit(&s, &key, at).await.unwrap(),
            Admission::Refused { until }
        );
        // At 30 s: one trial; a second caller is refused while it runs.
        let at = t + Duration::seconds(30);
        assert_eq!(b.admit(&s, &key, at).await.unwrap(), Admission::Trial);
        assert!(!b.admit(&s, &key, at).await.unwrap().allowed());
        // The trial fails: open again for 30 s from now.
        b.record(&s, &key, Some("timeout"), at).await.unwrap();
        let listed = Breakers::list(&s, &TenantId::parse("acme").unwrap())
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].state, BreakerState::Open);
        assert_eq!(listed[0].times_opened, 2);
        assert_eq!(listed[0].name, "llm#127.0.0.1:9");
        let later = at + Duration::seconds(30);
        assert_eq!(b.admit(&s, &key, later).await.unwrap(), Admission::Trial);
        b.record(&s, &key, None, later).await.unwrap();
        assert_eq!(b.admit(&s, &key, later).await.unwrap(), Admission::Allowed);
        let listed = Breakers::list(&s, &TenantId::parse("acme").unwrap())
            .await
            .unwrap();
        assert_eq!(listed[0].state, BreakerState::Closed);
        assert_eq!(listed[0].consecutive_failures, 0);
    }

    #[tokio::test]
    async fn a_lost_trial_frees_the_breaker_after_its_lease() {
        let s = store();
        let b = Breakers::new(BreakerSettings::default());
        let key = BreakerKey::webhook(&TenantId::parse("acme").unwrap(), "ep1");
        let t = t0();
        for _ in 0..5 {
            b.record(&s, &key, Some("HTTP 500"), t).await.unwrap();
        }
        let at = t + Duration::seconds(30);
        assert_eq!(b.admit(&s, &key, at).await.unwrap(), Admission::Trial);
        // The trial's instance died without reporting: 30 s later another may try.
        assert!(
            !b.admit(&s, &key, at + Duration::seconds(29))
                .await
                .unwrap()
                .allowed()
        );
        assert_eq!(
            b.admit(&s, &key, at + Duration::seconds(30)).await.unwrap(),
            Admission::Trial
        );
        // Another tenant sees only the shared breakers and its own.
        let other = Breakers::list(&s, &TenantId::parse("beta").unwrap())
            .await
            .unwrap();
        assert!(other.is_empty());
    }
}
