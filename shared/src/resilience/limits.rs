//! The budgets a tenant's requests and ingestion are held to: the deployment's defaults
//! (`VIGIL_RATE_LIMIT_*`), or the tenant's own (`PUT /governance/limits`, audited).
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::rate_limit::{Bucket, Decision, Limit, RateLimiter};
use crate::domain::{FieldError, TenantId};
use crate::ports::store::{Condition, Item, ItemStore, StoreError, WriteOp};
use crate::repo::item::{decode, encode};
use crate::service::{Origin, ServiceError, commit};

/// A tenant's budgets, each per `window_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantLimits {
    /// Requests one API key may make.
    pub key_requests: u64,
    /// Requests all of the tenant's keys may make together.
    pub tenant_requests: u64,
    /// Events the tenant may ingest (`POST /events`, sources), counted in events.
    pub ingest_events: u64,
    pub window_seconds: u64,
}

impl Default for TenantLimits {
    /// The seed's 100 requests per 60 s per key.
    fn default() -> Self {
        Self {
            key_requests: 100,
            tenant_requests: 1_000,
            ingest_events: 60_000,
            window_seconds: 60,
        }
    }
}

impl TenantLimits {
    /// Every budget at least 1, the window 1 s to 1 day.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        for (field, v) in [
            ("key_requests", self.key_requests),
            ("tenant_requests", self.tenant_requests),
            ("ingest_events", self.ingest_events),
        ] {
            if v == 0 {
                errors.push(FieldError::new(field, "must be at least 1"));
            }
        }
        if !(1..=86_400).contains(&self.window_seconds) {
            errors.push(FieldError::new("window_seconds", "must be 1 to 86400"));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    fn limit(&self, units: u64) -> Limit {
        Limit {
            limit: units,
            window_seconds: self.window_seconds,
        }
    }
}

/// How long an instance trusts the limits it read: another instance's change reaches it
/// within this, the one that made it at once.
const CACHE_FOR: Duration = Duration::seconds(30);

fn key(t: &TenantId) -> (String, &'static str) {
    (format!("{t}#SETTINGS"), "RATE_LIMITS")
}

/// Charges requests and ingestion against the tenant's budgets.
pub struct RateLimits {
    limiter: Arc<dyn RateLimiter>,
    store: Arc<dyn ItemStore>,
    defaults: TenantLimits,
    cache: Mutex<HashMap<TenantId, (DateTime<Utc>, TenantLimits)>>,
}

impl RateLimits {
    pub fn new(
        limiter: Arc<dyn RateLimiter>,
        store: Arc<dyn ItemStore>,
        defaults: TenantLimits,
    ) -> Self {
        Self {
            limiter,
            store,
            defaults,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The tenant's limits and whether they are its own (else the defaults).
    pub async fn limits(
        &self,
        tenant: &TenantId,
        now: DateTime<Utc>,
    ) -> Result<(TenantLimits, bool), StoreError> {
        let (pk, sk) = key(tenant);
        let stored = self.store.get(&pk, sk).await?;
        Ok(match stored {
            Some(item) => (decode(&item)?, true),
            None => (self.defaults, false),
        })
        .inspect(|(l, _)| self.remember(tenant, *l, now))
    }

    fn remember(&self, tenant: &TenantId, l: TenantLimits, now: DateTime<Utc>) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.insert(tenant.clone(), (now, l));
    }

    async fn current(
        &self,
        tenant: &TenantId,
        now: DateTime<Utc>,
    ) -> Result<TenantLimits, StoreError> {
        let cached = {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            cache
                .get(tenant)
                .filter(|(at, _)| now >= *at && now - *at < CACHE_FOR)
                .map(|(_, l)| *l)
        };
        match cached {
            Some(l) => Ok(l),
            None => Ok(self.limits(tenant, now).await?.0),
        }
    }

    /// One request by `key_id`: the key's budget, then the tenant's. The answer is the
    /// tighter of the two (a refusal, or the one with less left).
    pub async fn charge_request(
        &self,
        tenant: &TenantId,
        key_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Decision, StoreError> {
        let l = self.current(tenant, now).await?;
        let by_key = self
            .limiter
            .charge(
                &Bucket::Key(tenant.clone(), key_id.to_string()),
                l.limit(l.key_requests),
                1,
                now,
            )
            .await?;
        if !by_key.allowed {
            return Ok(by_key);
        }
        let by_tenant = self
            .limiter
            .charge(
                &Bucket::Tenant(tenant.clone()),
                l.limit(l.tenant_requests),
                1,
                now,
            )
            .await?;
        Ok(
            if !by_tenant.allowed || by_tenant.remaining < by_key.remaining {
                by_tenant
            } else {
                by_key
            },
        )
    }

    /// `events` events ingested at once.
    pub async fn charge_ingest(
        &self,
        tenant: &TenantId,
        events: u64,
        now: DateTime<Utc>,
    ) -> Result<Decision, StoreError> {
        let l = self.current(tenant, now).await?;
        self.limiter
            .charge(
                &Bucket::Ingest(tenant.clone()),
                l.limit(l.ingest_events),
                events,
                now,
            )
            .await
    }

    /// Sets the tenant's own limits, audited as `governance.limits.update`.
    pub async fn set(
        &self,
        origin: &Origin,
        limits: TenantLimits,
        now: DateTime<Utc>,
    ) -> Result<TenantLimits, ServiceError> {
        limits.validate().map_err(ServiceError::Invalid)?;
        let tenant = &origin.tenant;
        crate::retry::on_conflict(|| async move {
            let (pk, sk) = key(tenant);
            let stored = self.store.get(&pk, sk).await?;
            let before = match &stored {
                Some(item) => decode::<TenantLimits>(item)?,
                None => self.defaults,
            };
            let mut item = Item::new(pk, sk, encode(&limits)?);
            let condition = match &stored {
                Some(s) => {
                    item.version = s.version + 1;
                    Condition::Version(s.version)
                }
                None => Condition::NotExists,
            };
            let draft = origin
                .draft("governance.limits.update", "rate_limits", tenant.as_str())
                .before(&before)
                .after(&limits);
            commit(
                self.store.as_ref(),
                tenant,
                &draft,
                vec![WriteOp::put(item, condition)],
                now,
            )
            .await?;
            Ok::<_, ServiceError>(())
        })
        .await?;
        self.remember(tenant, limits, now);
        Ok(limits)
    }
}
