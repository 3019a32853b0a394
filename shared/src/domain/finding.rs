//! Findings: what the rules raise, de-duplicated per (tenant, rule, subject, period).
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::severity::Severity;
use super::tenant::TenantId;

/// Evidence ids kept on one finding; the description carries the full count.
pub const MAX_EVIDENCE: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingStatus {
    Open,
    Acknowledged,
    Resolved,
}

impl FindingStatus {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(Self::Open),
            "acknowledged" => Some(Self::Acknowledged),
            "resolved" => Some(Self::Resolved),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Acknowledged => "acknowledged",
            Self::Resolved => "resolved",
        }
    }

    /// Counted among "open findings" in the statistics.
    pub fn is_active(self) -> bool {
        self != Self::Resolved
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnrichedBy {
    Heuristic,
    Llm,
}

/// One rule match, before it is merged into a stored finding.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub rule_id: &'static str,
    pub rule_name: &'static str,
    pub severity: Severity,
    /// What the finding is about (a user, a bucket, the tenant); part of the dedup key.
    pub subject: String,
    pub user: Option<String>,
    pub title: String,
    pub description: String,
    /// Evidence, the triggering event first.
    pub event_ids: Vec<String>,
    /// Event time that places the match in a dedup period.
    pub at: DateTime<Utc>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub id: String,
    pub rule_id: String,
    pub rule_name: String,
    pub severity: Severity,
    pub title: String,
    pub description: String,
    pub user: Option<String>,
    pub subject: String,
    pub event_ids: Vec<String>,
    /// True when more evidence matched than [`MAX_EVIDENCE`] ids are kept.
    #[serde(default)]
    pub evidence_truncated: bool,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub status: FindingStatus,
    pub risk_score: Option<f64>,
    pub ai_explanation: Option<String>,
    pub enriched_by: Option<EnrichedBy>,
    /// The severity the current enrichment was computed for.
    #[serde(default)]
    pub enriched_severity: Option<Severity>,
    #[serde(default)]
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What merging a match did to the stored finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeOutcome {
    Created,
    /// Severity went up (or a resolved finding was reopened).
    Escalated,
    /// New evidence only.
    Updated,
    /// Nothing new: a redelivery or duplicate.
    Unchanged,
}

/// Stable id of the finding a match belongs to, so concurrent or repeated writers meet
/// on one item.
pub fn finding_id(tenant: &TenantId, rule_id: &str, subject: &str, period: i64) -> String {
    let mut h = Sha256::new();
    for p in [tenant.as_str(), rule_id, subject, &period.to_string()] {
        h.update(p.as_bytes());
        h.update([0]);
    }
    format!("fd_{}", &hex::encode(h.finalize())[..24])
}

/// The dedup period a time falls in.
pub fn period_of(at: DateTime<Utc>, period_minutes: i64) -> i64 {
    at.timestamp().div_euclid(period_minutes.max(1) * 60)
}

impl Finding {
    pub fn from_match(id: String, m: &Match, now: DateTime<Utc>) -> Self {
        let mut event_ids = m.event_ids.clone();
        let truncated = event_ids.len() > MAX_EVIDENCE;
        event_ids.truncate(MAX_EVIDENCE);
        Self {
            id,
            rule_id: m.rule_id.to_string(),
            rule_name: m.rule_name.to_string(),
            severity: m.severity,
            title: m.title.clone(),
            description: m.description.clone(),
            user: m.user.clone(),
            subject: m.subject.clone(),
            event_ids,
            evidence_truncated: truncated,
            first_seen: m.first_seen,
            last_seen: m.last_seen,
            status: FindingStatus::Open,
            risk_score: None,
            ai_explanation: None,
            enriched_by: None,
            enriched_severity: None,
            note: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Folds a later match into this finding: evidence is added once, severity only rises.
    pub fn merge(&mut self, m: &Match, now: DateTime<Utc>) -> MergeOutcome {
        let mut changed = false;
        for id in &m.event_ids {
            if self.event_ids.iter().any(|e| e == id) {
                continue;
            }
            if self.event_ids.len() < MAX_EVIDENCE {
                self.event_ids.push(id.clone());
                changed = true;
            } else if !self.evidence_truncated {
                self.evidence_truncated = true;
                changed = true;
            }
        }
        // Time bounds follow the stored evidence: once it is full, only a higher severity
        // changes the finding, so a busy hour does not rewrite one item per event.
        if changed {
            self.first_seen = self.first_seen.min(m.first_seen);
            self.last_seen = self.last_seen.max(m.last_seen);
        }
        let mut escalated = false;
        if m.severity > self.severity {
            self.severity = m.severity;
            self.title = m.title.clone();
            self.description = m.description.clone();
            escalated = true;
        } else if m.severity == self.severity && changed {
            // Same level, more evidence: keep the freshest wording (it carries the count).
            self.description = m.description.clone();
        }
        if changed && self.status == FindingStatus::Resolved {
            self.status = FindingStatus::Open;
            escalated = true;
        }
        if escalated {
            self.updated_at = now;
            MergeOutcome::Escalated
        } else if changed {
            self.updated_at = now;
            MergeOutcome::Updated
        } else {
            MergeOutcome::Unchanged
        }
    }

    /// Needs (re-)enrichment: never enriched, or enriched for a lower severity.
    pub fn needs_enrichment(&self) -> bool {
        self.risk_score.is_none()
            || self.ai_explanation.is_none()
            || self.enriched_severity != Some(self.severity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn m(sev: Severity, ids: &[&str]) -> Match {
        Match {
            rule_id: "r",
            rule_name: "R",
            severity: sev,
            subject: "alice".into(),
            user: Some("alice".into()),
            title: format!("t {sev}"),
            description: "d".into(),
            event_ids: ids.iter().map(|s| s.to_string()).collect(),
            at: at("2026-01-01T00:10:00Z"),
            first_seen: at("2026-01-01T00:10:00Z"),
            last_seen: at("2026-01-01T00:10:00Z"),
        }
    }

    #[test]
    fn merge_adds_evidence_once_and_never_lowers_severity() {
        let now = at("2026-01-01T01:00:00Z");
        let mut f = Finding::from_match("fd".into(), &m(Severity::High, &["a"]), now);
        assert_eq!(
            f.merge(&m(Severity::High, &["a"]), now),
            MergeOutcome::Unchanged
        );
        assert_eq!(
            f.merge(&m(Severity::Low, &["b"]), now),
            MergeOutcome::Updated
        );
        assert_eq!(f.severity, Severity::High);
        assert_eq!(
            f.merge(&m(Severity::Critical, &["c"]), now),
            MergeOutcome::Escalated
        );
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.event_ids, vec!["a", "b", "c"]);
    }

    #[test]
    fn new_evidence_reopens_a_resolved_finding() {
        let now = at("2026-01-01T01:00:00Z");
        let mut f = Finding::from_match("fd".into(), &m(Severity::Low, &["a"]), now);
        f.status = FindingStatus::Resolved;
        assert_eq!(
            f.merge(&m(Severity::Low, &["a"]), now),
            MergeOutcome::Unchanged
        );
        assert_eq!(
            f.merge(&m(Severity::Low, &["b"]), now),
            MergeOutcome::Escalated
        );
        assert_eq!(f.status, FindingStatus::Open);
    }

    #[test]
    fn a_full_finding_changes_only_when_severity_rises() {
        let now = at("2026-01-01T01:00:00Z");
        let ids: Vec<String> = (0..MAX_EVIDENCE + 1).map(|i| i.to_string()).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut f = Finding::from_match("fd".into(), &m(Severity::Low, &refs), now);
        let mut later = m(Severity::Low, &["new"]);
        later.last_seen = at("2026-01-01T00:50:00Z");
        assert_eq!(f.merge(&later, now), MergeOutcome::Unchanged);
        later.severity = Severity::High;
        assert_eq!(f.merge(&later, now), MergeOutcome::Escalated);
    }

    #[test]
    fn evidence_is_capped() {
        let now = at("2026-01-01T01:00:00Z");
        let ids: Vec<String> = (0..MAX_EVIDENCE + 5).map(|i| i.to_string()).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let f = Finding::from_match("fd".into(), &m(Severity::Low, &refs), now);
        assert_eq!(f.event_ids.len(), MAX_EVIDENCE);
        assert!(f.evidence_truncated);
    }

    #[test]
    fn finding_ids_are_stable_per_period() {
        let t = TenantId::parse("demo").unwrap();
        let p = period_of(at("2026-01-01T00:10:00Z"), 60);
        assert_eq!(p, period_of(at("2026-01-01T00:59:59Z"), 60));
        assert_ne!(p, period_of(at("2026-01-01T01:00:00Z"), 60));
        assert_eq!(finding_id(&t, "r", "s", p), finding_id(&t, "r", "s", p));
        assert_ne!(finding_id(&t, "r", "s", p), finding_id(&t, "r", "s2", p));
    }
}
