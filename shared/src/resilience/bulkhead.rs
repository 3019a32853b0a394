//! Bounded concurrent model calls per tenant, so one tenant's burst of findings cannot
//! take every model call a process can make while the others wait.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::domain::TenantId;

pub struct Bulkhead {
    per_tenant: usize,
    slots: Mutex<HashMap<TenantId, Arc<Semaphore>>>,
}

impl Bulkhead {
    /// At most `per_tenant` calls of one tenant at once (`VIGIL_LLM_CONCURRENCY_PER_TENANT`).
    pub fn new(per_tenant: usize) -> Self {
        Self {
            per_tenant: per_tenant.max(1),
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// A slot for one call of `tenant`, or None when all of its slots are taken: the
    /// caller puts its work back (the enrich stage retries the message shortly) instead
    /// of holding a worker that another tenant's message could use.
    pub fn try_enter(&self, tenant: &TenantId) -> Option<OwnedSemaphorePermit> {
        self.semaphore(tenant).try_acquire_owned().ok()
    }

    /// A slot for one call of `tenant`, waiting for one to free up (a person waiting on
    /// `POST /findings/{id}/enrich` rather than a queue that can hold the work).
    pub async fn enter(&self, tenant: &TenantId) -> Option<OwnedSemaphorePermit> {
        self.semaphore(tenant).acquire_owned().await.ok()
    }

    fn semaphore(&self, tenant: &TenantId) -> Arc<Semaphore> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots
            .entry(tenant.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_tenant)))
            .clone()
    }

    pub fn per_tenant(&self) -> usize {
        self.per_tenant
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_tenant_full_leaves_the_others_their_slots() {
        let b = Bulkhead::new(2);
        let a = TenantId::parse("a").unwrap();
        let c = TenantId::parse("c").unwrap();
        let p1 = b.try_enter(&a).unwrap();
        let _p2 = b.try_enter(&a).unwrap();
        assert!(b.try_enter(&a).is_none());
        assert!(b.try_enter(&c).is_some());
        drop(p1);
        assert!(b.try_enter(&a).is_some());
    }
}
