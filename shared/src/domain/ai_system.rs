//! AI systems in the registry, their monitoring settings, drift events and
//! re-classification runs.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::tenant::TenantId;
use crate::classifier::{Answers, Classification, ComplianceStatus, Confidence, RiskLevel};

pub const MAX_NAME: usize = 200;
pub const MAX_TEXT: usize = 4_000;

/// Which changes a re-classification reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftType {
    RiskChange,
    StatusChange,
    ClassifierVersionChange,
    /// More than one of the above at once.
    Mixed,
}

impl DriftType {
    pub const ALL: [DriftType; 4] = [
        DriftType::RiskChange,
        DriftType::StatusChange,
        DriftType::ClassifierVersionChange,
        DriftType::Mixed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DriftType::RiskChange => "risk_change",
            DriftType::StatusChange => "status_change",
            DriftType::ClassifierVersionChange => "classifier_version_change",
            DriftType::Mixed => "mixed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Monitoring {
    pub monitoring_enabled: bool,
    /// Drift types that create a notification; every drift is recorded regardless.
    pub notify_on: Vec<DriftType>,
}

impl Default for Monitoring {
    fn default() -> Self {
        Self {
            monitoring_enabled: true,
            notify_on: DriftType::ALL.to_vec(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AiSystem {
    pub id: String,
    pub tenant: TenantId,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub purpose: String,
    #[serde(default)]
    pub owner: String,
    /// Whether the deployer declares human oversight in place (Art. 14, 26(2)): a
    /// high-risk system without it is refused at runtime. None: not declared.
    #[serde(default)]
    pub human_oversight: Option<bool>,
    /// None when no questionnaire was given: such a system is never classified.
    pub answers: Option<Answers>,
    pub classification: Option<Classification>,
    #[serde(default)]
    pub monitoring: Monitoring,
    #[serde(default)]
    pub archived: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl AiSystem {
    pub fn new_id() -> String {
        format!("ais_{}", uuid::Uuid::now_v7().simple())
    }

    /// Re-scanned by re-classification runs.
    pub fn is_monitored(&self) -> bool {
        !self.archived && self.monitoring.monitoring_enabled && self.answers.is_some()
    }

    pub fn level(&self) -> Option<RiskLevel> {
        self.classification.as_ref().map(|c| c.level)
    }
}

/// The parts of a classification a drift event compares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub risk_level: RiskLevel,
    pub status: ComplianceStatus,
    pub confidence: Confidence,
    pub classifier_version: String,
}

impl From<&Classification> for Snapshot {
    fn from(c: &Classification) -> Self {
        Self {
            risk_level: c.level,
            status: c.status,
            confidence: c.confidence,
            classifier_version: c.classifier_version.clone(),
        }
    }
}

/// What changed between the stored result and a fresh one, if anything.
pub fn detect_drift(before: &Classification, after: &Classification) -> Option<DriftType> {
    let changes = [
        (before.level != after.level, DriftType::RiskChange),
        (before.status != after.status, DriftType::StatusChange),
        (
            before.classifier_version != after.classifier_version,
            DriftType::ClassifierVersionChange,
        ),
    ];
    let mut hit = changes
        .iter()
        .filter(|(changed, _)| *changed)
        .map(|(_, t)| *t);
    match (hit.next(), hit.next()) {
        (None, _) => None,
        (Some(t), None) => Some(t),
        (Some(_), Some(_)) => Some(DriftType::Mixed),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftEvent {
    pub id: String,
    pub tenant: TenantId,
    pub system_id: String,
    pub system_name: String,
    pub run_id: String,
    pub drift_type: DriftType,
    pub before: Snapshot,
    pub after: Snapshot,
    pub detected_at: DateTime<Utc>,
}

/// Deterministic per (run, system): a redelivered batch or a restarted worker writes
/// the same id, and the conditional put refuses the second copy.
pub fn drift_event_id(run_id: &str, system_id: &str) -> String {
    let digest = Sha256::digest(format!("{run_id}\n{system_id}").as_bytes());
    format!("drift_{}", &hex::encode(digest)[..32])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Completed,
    /// Its lease ran out before it finished (a crashed or stuck run).
    Expired,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunTrigger {
    Schedule,
    Api,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReclassifyRun {
    pub id: String,
    pub tenant: TenantId,
    pub trigger: RunTrigger,
    pub status: RunStatus,
    pub classifier_version: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
}

impl ReclassifyRun {
    pub fn new_id() -> String {
        format!("run_{}", uuid::Uuid::now_v7().simple())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classifier::{Q, classify};
    use chrono::NaiveDate;

    #[test]
    fn drift_types() {
        let d = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
        let minimal = classify(&Answers::default().no(Q::InteractsWithHumans), d);
        assert_eq!(detect_drift(&minimal, &minimal), None);
        let mut older = minimal.clone();
        older.classifier_version = "0".into();
        assert_eq!(
            detect_drift(&older, &minimal),
            Some(DriftType::ClassifierVersionChange)
        );
        let mut riskier = minimal.clone();
        riskier.level = RiskLevel::High;
        assert_eq!(
            detect_drift(&riskier, &minimal),
            Some(DriftType::RiskChange)
        );
        riskier.classifier_version = "0".into();
        assert_eq!(detect_drift(&riskier, &minimal), Some(DriftType::Mixed));
        assert_eq!(drift_event_id("r", "s"), drift_event_id("r", "s"));
        assert_ne!(drift_event_id("r", "s"), drift_event_id("r2", "s"));
    }
}
