//! The failure taxonomy: every failed API request and stage message is one class,
//! counted per tenant in durable counters (atomic adds in the tenant's statistics
//! partition) and in the metrics. The API's error map and the stage contract each
//! classify once; this module only counts.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::TenantId;
use crate::ports::store::{
    Condition, Index, Item, ItemStore, KeyRange, Query, StoreError, WriteOp,
};
use crate::repo::page::collect_all;
use crate::repo::storage_keys::{self, governance as k};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FailureClass {
    /// The input is wrong: malformed, invalid, naming nothing that exists.
    ValidationError,
    /// A rule refused it: a role, four eyes, a blocked model or prompt.
    PolicyViolation,
    /// A risk decision held it back (the risk workflow's refusals).
    HighRisk,
    /// The resource's state forbids it: an invalid transition, a concurrent change, a
    /// message that can never be processed.
    WorkflowError,
    /// A dependency failed: store, queue, bus, a missing deployment setting.
    InfraError,
    /// A bug.
    UnexpectedError,
}

impl FailureClass {
    pub const ALL: [FailureClass; 6] = [
        FailureClass::ValidationError,
        FailureClass::PolicyViolation,
        FailureClass::HighRisk,
        FailureClass::WorkflowError,
        FailureClass::InfraError,
        FailureClass::UnexpectedError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::ValidationError => "VALIDATION_ERROR",
            FailureClass::PolicyViolation => "POLICY_VIOLATION",
            FailureClass::HighRisk => "HIGH_RISK",
            FailureClass::WorkflowError => "WORKFLOW_ERROR",
            FailureClass::InfraError => "INFRA_ERROR",
            FailureClass::UnexpectedError => "UNEXPECTED_ERROR",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// How long a counted stage message is remembered: SQS keeps a message 14 days at most.
const MESSAGE_MEMORY_DAYS: i64 = 14;

/// The atomic add of one failure of `class` to the tenant's counter; goes into the
/// same write as whatever else records the failure.
pub fn count_op(tenant: &TenantId, class: FailureClass) -> WriteOp {
    WriteOp::add(
        storage_keys::stats_pk(tenant),
        format!("{}{}", k::FAILURE_PREFIX, class.as_str()),
        1,
    )
}

/// Counts one failed request (each request fails at most once).
pub async fn count(
    store: &dyn ItemStore,
    tenant: &TenantId,
    class: FailureClass,
    source: &'static str,
) -> Result<(), StoreError> {
    crate::telemetry::count_failure(class.as_str(), source);
    store.write(vec![count_op(tenant, class)]).await
}

/// Counts a failed stage message once, however often it is delivered: the marker of
/// (`stage`, `message_id`) and the add go in one write, and a marker already there
/// means it was counted. True when this call counted it.
pub async fn count_message(
    store: &dyn ItemStore,
    tenant: &TenantId,
    stage: &'static str,
    message_id: &str,
    class: FailureClass,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut marker = Item::new(
        k::failed_messages_pk(tenant),
        format!("{stage}#{message_id}"),
        serde_json::json!({"class": class.as_str()}),
    );
    marker.ttl = Some((now + chrono::Duration::days(MESSAGE_MEMORY_DAYS)).timestamp());
    let ops = vec![
        WriteOp::put(marker, Condition::NotExists),
        count_op(tenant, class),
    ];
    match store.write(ops).await {
        Ok(()) => {
            crate::telemetry::count_failure(class.as_str(), stage);
            Ok(true)
        }
        Err(StoreError::ConditionFailed { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The tenant's failures by class; every class is present (0 when none).
pub async fn counts(
    store: &dyn ItemStore,
    tenant: &TenantId,
) -> Result<BTreeMap<&'static str, i64>, StoreError> {
    let q = Query::new(Index::Primary, storage_keys::stats_pk(tenant))
        .range(KeyRange::Prefix(k::FAILURE_PREFIX.to_string()))
        .limit(100);
    let stored = collect_all(store, q, |i| {
        Ok((
            i.sk.trim_start_matches(k::FAILURE_PREFIX).to_string(),
            i.count,
        ))
    })
    .await?;
    let mut out: BTreeMap<&'static str, i64> =
        FailureClass::ALL.iter().map(|c| (c.as_str(), 0)).collect();
    for (class, n) in stored {
        if let Some(c) = FailureClass::parse(&class) {
            out.insert(c.as_str(), n);
        }
    }
    Ok(out)
}
