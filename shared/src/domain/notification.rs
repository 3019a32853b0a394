//! In-app notifications for a tenant's users (an endpoint disabled, a system drifted).
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::tenant::TenantId;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub id: String,
    pub tenant: TenantId,
    /// A dotted kind such as `webhook.endpoint_disabled`.
    pub kind: String,
    pub title: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub read: bool,
    /// Structured detail for clients (e.g. a drift event's system, type and values).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub data: serde_json::Value,
}

impl Notification {
    pub fn new(
        tenant: &TenantId,
        kind: impl Into<String>,
        title: impl Into<String>,
        body: impl Into<String>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: format!("nt_{}", uuid::Uuid::now_v7().simple()),
            tenant: tenant.clone(),
            kind: kind.into(),
            title: title.into(),
            body: body.into(),
            created_at: now,
            read: false,
            data: serde_json::Value::Null,
        }
    }
}
