//! Counts every failed request by its failure class (set on the response by the one
//! error map, `ApiError::failure_class`) for the caller's tenant: a durable counter in
//! the store and the `vigil_failures_total` metric. A request whose caller is not
//! authenticated has no tenant and is counted in the metric only.
use std::sync::{Arc, OnceLock};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use vigil_shared::domain::TenantId;
use vigil_shared::governance::{FailureClass, failures};

use crate::state::AppState;

/// Where the authenticated caller's tenant is left for this layer (set by the `Caller`
/// extractor).
#[derive(Clone, Default)]
pub struct TenantSlot(Arc<OnceLock<TenantId>>);

impl TenantSlot {
    pub fn set(&self, tenant: &TenantId) {
        let _ = self.0.set(tenant.clone());
    }
}

pub async fn count(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let slot = TenantSlot::default();
    req.extensions_mut().insert(slot.clone());
    let resp = next.run(req).await;
    let Some(class) = resp.extensions().get::<FailureClass>().copied() else {
        return resp;
    };
    match slot.0.get() {
        Some(tenant) => {
            if let Err(e) = failures::count(state.store.as_ref(), tenant, class, "api").await {
                tracing::warn!(
                    error = &e as &dyn std::error::Error,
                    class = class.as_str(),
                    "cannot count the failed request"
                );
            }
        }
        None => vigil_shared::telemetry::count_failure(class.as_str(), "api"),
    }
    resp
}
