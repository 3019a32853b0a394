//! The one retry helper for optimistic writes: run read → change → one conditional
//! write again when another writer got there first, with a bounded number of attempts
//! and jittered backoff, so many writers of one item (or one tenant's audit chain) do
//! not collide in lockstep. Nobody else writes a retry loop.
use std::future::Future;
use std::time::Duration;

use crate::ports::StoreError;

/// How often a lost race is retried. The audit chain head serializes every audited
/// write of a tenant, so under load a writer may lose a few dozen races in a row.
pub const MAX_ATTEMPTS: u32 = 32;

/// Errors that say "someone else wrote first: read again and retry".
pub trait Contention: Sized {
    /// True when the whole read-change-write may simply run again.
    fn is_contention(&self) -> bool;
    /// The error to give up with after [`MAX_ATTEMPTS`] lost races.
    fn exhausted() -> Self;
}

impl Contention for StoreError {
    fn is_contention(&self) -> bool {
        // The only two answers after which nothing was written and a fresh read decides:
        // a condition on a version (or not-exists) failed, or a concurrent transaction won.
        matches!(
            self,
            StoreError::ConditionFailed { .. } | StoreError::Conflict
        )
    }

    fn exhausted() -> Self {
        StoreError::Conflict
    }
}

/// Runs `attempt` until it succeeds, fails for a reason other than contention, or has
/// lost [`MAX_ATTEMPTS`] races. Each call must read its inputs afresh.
pub async fn on_conflict<T, E, F, Fut>(mut attempt: F) -> Result<T, E>
where
    E: Contention,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    for n in 0..MAX_ATTEMPTS {
        match attempt().await {
            Err(e) if e.is_contention() => {
                if n + 1 < MAX_ATTEMPTS {
                    tokio::time::sleep(backoff(n)).await;
                }
            }
            done => return done,
        }
    }
    Err(E::exhausted())
}

/// A random pause in `0..=2^(n+1)` ms, capped at 128 ms: full jitter, so writers that
/// collided once spread out instead of colliding again.
pub fn backoff(n: u32) -> Duration {
    use rand::Rng;
    let cap = 2u64 << n.min(6);
    Duration::from_millis(rand::thread_rng().gen_range(0..=cap))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn retries_contention_then_succeeds() {
        let calls = AtomicU32::new(0);
        let got: Result<u32, StoreError> = on_conflict(|| async {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            if n < 3 {
                Err(StoreError::ConditionFailed { op: 0 })
            } else {
                Ok(n)
            }
        })
        .await;
        assert_eq!(got.expect("succeeds"), 3);
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn other_errors_are_not_retried() {
        let calls = AtomicU32::new(0);
        let got: Result<(), StoreError> = on_conflict(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(StoreError::Unavailable("down".into()))
        })
        .await;
        assert!(matches!(got, Err(StoreError::Unavailable(_))));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_max_attempts() {
        let calls = AtomicU32::new(0);
        let got: Result<(), StoreError> = on_conflict(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(StoreError::Conflict)
        })
        .await;
        assert!(matches!(got, Err(StoreError::Conflict)));
        assert_eq!(calls.load(Ordering::SeqCst), MAX_ATTEMPTS);
    }

    #[test]
    fn backoff_is_bounded() {
        for n in 0..50 {
            assert!(backoff(n) <= Duration::from_millis(128));
        }
    }
}
