//! Bearer API keys: each maps to one tenant and one role.
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use vigil_shared::domain::{PresentedKey, Role, TenantId};
use vigil_shared::repo::apikeys;

use vigil_shared::service::Origin;

use crate::error::ApiError;
use crate::http::RequestId;
use crate::state::AppState;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: TenantId,
    pub role: Role,
    pub key_id: String,
}

impl Caller {
    /// On whose behalf the request's use case runs.
    pub fn origin(&self, request_id: &RequestId) -> Origin {
        Origin::key(
            self.tenant.clone(),
            &self.key_id,
            Some(request_id.0.clone()),
        )
    }

    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role.allows(role) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(role.as_str()))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiError::Unauthorized)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or(ApiError::Unauthorized)?;
        let key = PresentedKey::parse(token.trim()).ok_or(ApiError::Unauthorized)?;
        let record = apikeys::authenticate(state.store.as_ref(), &key)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        tracing::Span::current().record("tenant", record.tenant.as_str());
        let decision = state
            .limits
            .charge_request(&record.tenant, &record.id, state.clock.now())
            .await?;
        if let Some(slot) = parts.extensions.get::<crate::http::rate_limit::Slot>() {
            slot.put(decision);
        }
        if !decision.allowed {
            vigil_shared::telemetry::count(vigil_shared::telemetry::metric::RATE_LIMITED, 1);
            return Err(ApiError::RateLimited(decision));
        }
        Ok(Caller {
            tenant: record.tenant,
            role: record.role,
            key_id: record.id,
        })
    }
}
