//! Sliding-window rate limits (the seed's `TenantRateLimiter`), shared across Lambda
//! instances through one versioned item per bucket, or held in the process locally.
//!
//! The window is the sliding-window counter: the count of the current fixed window plus
//! the previous window's count weighted by the part of it still inside the sliding
//! window. It needs two numbers per bucket instead of a log of timestamps, and it never
//! lets more than the limit through in any window-long span when traffic is steady.
//! A refused request is not counted, so a client that keeps retrying is not locked out
//! for longer than its own excess.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::TenantId;
use crate::ports::store::{Condition, Item, ItemStore, StoreError, WriteOp};
use crate::repo::item::{decode, encode};
use crate::retry::on_conflict;

/// What a budget is spent on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// Requests of one API key.
    Key(TenantId, String),
    /// Requests of every key of a tenant together.
    Tenant(TenantId),
    /// Events ingested by a tenant, counted in events, not requests.
    Ingest(TenantId),
}

impl Bucket {
    pub fn tenant(&self) -> &TenantId {
        match self {
            Bucket::Key(t, _) | Bucket::Tenant(t) | Bucket::Ingest(t) => t,
        }
    }

    /// Its item key; under the tenant's prefix like every stored key.
    fn key(&self) -> (String, &'static str) {
        match self {
            Bucket::Key(t, k) => (format!("{t}#RATE#KEY#{k}"), "WINDOW"),
            Bucket::Tenant(t) => (format!("{t}#RATE#TENANT"), "WINDOW"),
            Bucket::Ingest(t) => (format!("{t}#RATE#INGEST"), "WINDOW"),
        }
    }
}

/// A budget: at most `limit` units in any `window_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limit {
    pub limit: u64,
    pub window_seconds: u64,
}

/// The counts of a bucket: its current fixed window and the one before.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowState {
    /// Index of the current fixed window (unix seconds / window length).
    pub window: i64,
    pub current: u64,
    pub previous: u64,
}

/// The answer to one charge, with what the `RateLimit-*` headers say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u64,
    /// Units still available now (after this charge when allowed).
    pub remaining: u64,
    /// Seconds until the current fixed window ends and the count starts to fall.
    pub reset_seconds: u64,
    /// When refused: seconds until a charge of the same cost would be allowed.
    pub retry_after_seconds: u64,
}

/// The sliding-window decision for `cost` units at `now` on `state` (pure). Returns the
/// decision and, when allowed, the state to store.
pub fn charge(
    state: WindowState,
    limit: Limit,
    cost: u64,
    now: DateTime<Utc>,
) -> (Decision, Option<WindowState>) {
    let w = limit.window_seconds.max(1) as i64;
    let ms = now.timestamp_millis();
    let window = ms.div_euclid(w * 1000);
    let elapsed = (ms.rem_euclid(w * 1000)) as f64 / 1000.0;
    let (previous, current) = if state.window == window {
        (state.previous, state.current)
    } else if state.window == window - 1 {
        (state.current, 0)
    } else {
        (0, 0)
    };
    let weight = 1.0 - elapsed / w as f64;
    let used = previous as f64 * weight + current as f64;
    let reset_seconds = (w as f64 - elapsed).ceil().max(1.0) as u64;
    let allowed = used + cost as f64 <= limit.limit as f64;
    if allowed {
        let next = WindowState {
            window,
            current: current + cost,
            previous,
        };
        let remaining = (limit.limit as f64 - used - cost as f64).floor().max(0.0) as u64;
        let decision = Decision {
            allowed,
            limit: limit.limit,
            remaining,
            reset_seconds,
            retry_after_seconds: 0,
        };
        return (decision, Some(next));
    }
    let decision = Decision {
        allowed,
        limit: limit.limit,
        remaining: (limit.limit as f64 - used).floor().max(0.0) as u64,
        reset_seconds,
        retry_after_seconds: retry_after(previous, current, cost, limit.limit, w as f64, elapsed),
    };
    (decision, None)
}

/// Seconds until `cost` more units fit, if no other charge lands meanwhile.
fn retry_after(previous: u64, current: u64, cost: u64, limit: u64, w: f64, elapsed: f64) -> u64 {
    if cost > limit {
        // Never fits: the caller must send less at once; tell it to wait a whole window.
        return w.ceil() as u64;
    }
    let room = (limit - cost) as f64;
    let (p, c) = (previous as f64, current as f64);
    // Within this window the weighted previous count decays: p·(1 − (e+t)/w) + c ≤ room.
    if c <= room && p > 0.0 {
        let t = w * (1.0 - (room - c) / p) - elapsed;
        if t <= w - elapsed {
            return t.max(0.0).ceil().max(1.0) as u64;
        }
    }
    // Otherwise in the next window, where this window's count becomes the previous one:
    // c·(1 − t'/w) ≤ room.
    let rest = w - elapsed;
    let t_next = if c > 0.0 { w * (1.0 - room / c) } else { 0.0 };
    (rest + t_next.max(0.0)).ceil().max(1.0) as u64
}

/// Where bucket states live.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    async fn charge(
        &self,
        bucket: &Bucket,
        limit: Limit,
        cost: u64,
        now: DateTime<Utc>,
    ) -> Result<Decision, StoreError>;
}

/// Bucket states in the item store: one item per bucket, changed under its version, so
/// every Lambda instance counts against the same window (two requests per charge).
pub struct StoreRateLimiter {
    store: Arc<dyn ItemStore>,
}

impl StoreRateLimiter {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self { store }
    }
}

#[async_trait]
impl RateLimiter for StoreRateLimiter {
    async fn charge(
        &self,
        bucket: &Bucket,
        limit: Limit,
        cost: u64,
        now: DateTime<Utc>,
    ) -> Result<Decision, StoreError> {
        charge_stored(self.store.as_ref(), bucket, limit, cost, now).await
    }
}

/// One charge against the bucket's item in `store`: read, decide, write under the read
/// version (a lost race reads again).
pub async fn charge_stored(
    store: &dyn ItemStore,
    bucket: &Bucket,
    limit: Limit,
    cost: u64,
    now: DateTime<Utc>,
) -> Result<Decision, StoreError> {
    let (pk, sk) = bucket.key();
    on_conflict(|| {
        let pk = pk.clone();
        async move {
            let stored = store.get(&pk, sk).await?;
            let (state, condition) = match &stored {
                Some(item) => (
                    decode::<WindowState>(item)?,
                    Condition::Version(item.version),
                ),
                None => (WindowState::default(), Condition::NotExists),
            };
            let (decision, next) = charge(state, limit, cost, now);
            if let Some(next) = next {
                let mut item = Item::new(pk, sk, encode(&next)?);
                // No expiry: one item per key or tenant, not per window, and an expired
                // item a store has not yet deleted would fail the not-exists condition.
                item.version = stored.map_or(1, |i| i.version + 1);
                store.write(vec![WriteOp::put(item, condition)]).await?;
            }
            Ok(decision)
        }
    })
    .await
}

/// Bucket states in this process (`vigil serve`: one process serves every request).
#[derive(Default)]
pub struct InProcessRateLimiter {
    states: Mutex<HashMap<Bucket, WindowState>>,
}

#[async_trait]
impl RateLimiter for InProcessRateLimiter {
    async fn charge(
        &self,
        bucket: &Bucket,
        limit: Limit,
        cost: u64,
        now: DateTime<Utc>,
    ) -> Result<Decision, StoreError> {
        let mut states = self.states.lock().unwrap_or_else(|e| e.into_inner());
        let state = states.get(bucket).copied().unwrap_or_default();
        let (decision, next) = charge(state, limit, cost, now);
        if let Some(next) = next {
            states.insert(bucket.clone(), next);
        }
        // Drop buckets idle for two windows so the map stays as large as the active set.
        if states.len() > 10_000 {
            let w = limit.window_seconds.max(1) as i64;
            let window = now.timestamp().div_euclid(w);
            states.retain(|_, s| s.window >= window - 1);
        }
        Ok(decision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(secs: f64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt((1_800_000_000.0 * 1000.0 + secs * 1000.0) as i64)
            .unwrap()
    }

    const L: Limit = Limit {
        limit: 100,
        window_seconds: 60,
    };

    fn run(state: &mut WindowState, cost: u64, now: DateTime<Utc>) -> Decision {
        let (d, next) = charge(*state, L, cost, now);
        if let Some(n) = next {
            *state = n;
        }
        d
    }

    #[test]
    fn a_burst_gets_exactly_the_limit_then_waits() {
        // 1_800_000_000 is a multiple of 60, so t=0 starts a window.
        let mut s = WindowState::default();
        for i in 0..100 {
            let d = run(&mut s, 1, at(1.0));
            assert!(d.allowed, "request {i}");
            assert_eq!(d.remaining, 99 - i);
        }
        let d = run(&mut s, 1, at(1.0));
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        assert_eq!(d.reset_seconds, 59);
        // Full window used at t=1; in the next window the weight of 100 must fall to 99:
        // 100·(1 − t/60) ≤ 99 → t = 0.6 s into it: 59 + 0.6 → 60 s.
        assert_eq!(d.retry_after_seconds, 60);
        // Refused requests are not counted.
        assert_eq!(s.current, 100);
        // Just before the retry time: still refused; at it: allowed.
        assert!(!run(&mut s, 1, at(60.5)).allowed);
        assert!(run(&mut s, 1, at(61.0)).allowed);
    }

    #[test]
    fn the_previous_window_decays_into_the_current_one() {
        let mut s = WindowState::default();
        for _ in 0..80 {
            assert!(run(&mut s, 1, at(50.0)).allowed);
        }
        // At t=90 (30 s into the next window) 80·0.5 = 40 still count: 60 left.
        let d = run(&mut s, 60, at(90.0));
        assert!(d.allowed);
        assert_eq!(d.remaining, 0);
        let refused = run(&mut s, 1, at(90.0));
        assert!(!refused.allowed);
        // 80·(1 − (30+t)/60) + 60 ≤ 99 → t = 0.75 → 1 s.
        assert_eq!(refused.retry_after_seconds, 1);
        // Two windows later nothing remains.
        let d = run(&mut s, 100, at(200.0));
        assert!(d.allowed);
    }

    #[test]
    fn a_charge_above_the_limit_never_fits() {
        let d = charge(WindowState::default(), L, 101, at(0.0)).0;
        assert!(!d.allowed);
        assert_eq!(d.retry_after_seconds, 60);
    }

    #[tokio::test]
    async fn store_and_in_process_limiters_agree() {
        use crate::adapters::embedded::{EmbeddedDb, EmbeddedStore};
        let db = EmbeddedDb::in_memory(Arc::new(crate::ports::ManualClock::new(at(0.0)))).unwrap();
        let store = StoreRateLimiter::new(Arc::new(EmbeddedStore::new(db)));
        let local = InProcessRateLimiter::default();
        let t = TenantId::parse("acme").unwrap();
        let b = Bucket::Key(t.clone(), "k1".into());
        let other = Bucket::Key(TenantId::parse("beta").unwrap(), "k1".into());
        let small = Limit {
            limit: 5,
            window_seconds: 10,
        };
        for (i, secs) in [
            0.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 9.0, 12.0, 15.0, 15.0, 31.0,
        ]
        .into_iter()
        .enumerate()
        {
            let a = store.charge(&b, small, 1, at(secs)).await.unwrap();
            let c = local.charge(&b, small, 1, at(secs)).await.unwrap();
            assert_eq!(a, c, "charge {i} at {secs}");
        }
        // Another tenant's key of the same name has its own budget.
        assert!(
            store
                .charge(&other, small, 5, at(15.0))
                .await
                .unwrap()
                .allowed
        );
    }
}
