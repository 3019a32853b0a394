//! Findings: what the rules raise. One finding is one *session* of a rule on a subject:
//! every match whose evidence lies within the dedup gap of the evidence it already holds.
//! Its content is a function of the stored events alone, never of their arrival order.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::severity::Severity;
use super::tenant::TenantId;

/// Evidence ids kept on one finding (the earliest by time, then id); `evidence_count`
/// holds the exact number.
pub const MAX_EVIDENCE: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingStatus {
    Open,
    Acknowledged,
    Resolved,
    /// Folded into another finding (`merged_into`) when a late event bridged the two.
    Merged,
}

impl FindingStatus {
    pub const ALL: [FindingStatus; 4] = [
        FindingStatus::Open,
        FindingStatus::Acknowledged,
        FindingStatus::Resolved,
        FindingStatus::Merged,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Acknowledged => "acknowledged",
            Self::Resolved => "resolved",
            Self::Merged => "merged",
        }
    }

    /// Counted among "open findings" in the statistics.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Open | Self::Acknowledged)
    }

    /// How far triage has taken a finding; a merge keeps the furthest.
    fn progress(self) -> u8 {
        match self {
            Self::Open => 0,
            Self::Acknowledged => 1,
            Self::Resolved => 2,
            Self::Merged => 3,
        }
    }

    /// The status a merge of findings in `a` and `b` keeps.
    pub fn furthest(a: Self, b: Self) -> Self {
        if b.progress() > a.progress() { b } else { a }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnrichedBy {
    Heuristic,
    Llm,
}

/// One event a finding rests on, ordered by time then id (the order evidence is kept in).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Evidence {
    pub at: DateTime<Utc>,
    pub id: String,
}

/// One rule match, before it is folded into the finding of its session.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub rule_id: &'static str,
    pub rule_name: &'static str,
    pub severity: Severity,
    /// How strong the match is within its severity (e.g. failures in the densest window);
    /// the strongest match of a session words the finding.
    pub magnitude: u64,
    /// What the finding is about (a user, a bucket, the tenant); part of its session key.
    pub subject: String,
    pub user: Option<String>,
    pub title: String,
    pub description: String,
    /// The events the match rests on.
    pub evidence: Vec<Evidence>,
}

impl Match {
    /// The earliest and latest evidence times.
    pub fn span(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let first = self.evidence.iter().map(|e| e.at).min()?;
        let last = self.evidence.iter().map(|e| e.at).max()?;
        Some((first, last))
    }

    /// Orders matches by how they word a finding: severity, magnitude, then text, so
    /// the choice does not depend on which match arrived first.
    pub fn strength(&self) -> (Severity, u64, &str, &str) {
        (
            self.severity,
            self.magnitude,
            &self.title,
            &self.description,
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub id: String,
    pub rule_id: String,
    pub rule_name: String,
    pub severity: Severity,
    /// The strength of the match that words the finding (see [`Match::magnitude`]).
    #[serde(default)]
    pub magnitude: u64,
    pub title: String,
    pub description: String,
    pub user: Option<String>,
    pub subject: String,
    /// The earliest [`MAX_EVIDENCE`] evidence events by time, then id.
    pub event_ids: Vec<String>,
    /// Exactly how many events the finding rests on.
    #[serde(default)]
    pub evidence_count: u64,
    /// True when more evidence matched than [`MAX_EVIDENCE`] ids are kept.
    #[serde(default)]
    pub evidence_truncated: bool,
    /// Earliest and latest evidence time: the session's span.
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub status: FindingStatus,
    /// Set when `status` is `merged`: the finding that holds this one's evidence now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<String>,
    pub risk_score: Option<f64>,
    pub ai_explanation: Option<String>,
    pub enriched_by: Option<EnrichedBy>,
    /// The severity the current enrichment was computed for.
    #[serde(default)]
    pub enriched_severity: Option<Severity>,
    /// The model (name) an LLM enrichment used, as the governance gate approved it;
    /// None for the heuristic.
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub model_version: Option<String>,
    /// The approved prompt version an LLM enrichment used, and its SHA-256.
    #[serde(default)]
    pub prompt_version: Option<String>,
    #[serde(default)]
    pub prompt_sha256: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What recording matches did to a stored finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeOutcome {
    Created,
    /// Severity went up (or a resolved finding was reopened by new evidence).
    Escalated,
    /// New evidence only.
    Updated,
    /// Nothing new: a redelivery or duplicate.
    Unchanged,
}

/// Stable id of a new session's finding, from what started it, so concurrent or
/// repeated writers of the same session meet on one item.
pub fn finding_id(tenant: &TenantId, rule_id: &str, subject: &str, first: &Evidence) -> String {
    let mut h = Sha256::new();
    let at = first.at.timestamp_millis().to_string();
    for p in [tenant.as_str(), rule_id, subject, &at, &first.id] {
        h.update(p.as_bytes());
        h.update([0]);
    }
    format!("fd_{}", &hex::encode(h.finalize())[..24])
}

/// What a session holds, read from the store: the facts a finding is rebuilt from.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// The earliest [`MAX_EVIDENCE`] evidence ids.
    pub event_ids: Vec<String>,
    pub evidence_count: u64,
}

impl Finding {
    /// A new finding for a session, worded by its strongest match.
    pub fn open(id: String, strongest: &Match, session: &Session, now: DateTime<Utc>) -> Self {
        let mut f = Self {
            id,
            rule_id: strongest.rule_id.to_string(),
            rule_name: strongest.rule_name.to_string(),
            severity: strongest.severity,
            magnitude: strongest.magnitude,
            title: strongest.title.clone(),
            description: strongest.description.clone(),
            user: strongest.user.clone(),
            subject: strongest.subject.clone(),
            event_ids: Vec::new(),
            evidence_count: 0,
            evidence_truncated: false,
            first_seen: session.first_seen,
            last_seen: session.last_seen,
            status: FindingStatus::Open,
            merged_into: None,
            risk_score: None,
            ai_explanation: None,
            enriched_by: None,
            enriched_severity: None,
            model: None,
            model_version: None,
            prompt_version: None,
            prompt_sha256: None,
            note: None,
            created_at: now,
            updated_at: now,
        };
        f.hold(session);
        f
    }

    fn hold(&mut self, session: &Session) {
        self.first_seen = session.first_seen;
        self.last_seen = session.last_seen;
        self.event_ids.clone_from(&session.event_ids);
        self.evidence_count = session.evidence_count;
        self.evidence_truncated = session.evidence_count > session.event_ids.len() as u64;
    }

    /// Takes the wording of `m` when it is stronger than the current one.
    pub fn absorb(&mut self, m: &Match) {
        let current = (
            self.severity,
            self.magnitude,
            self.title.as_str(),
            self.description.as_str(),
        );
        if m.strength() > current {
            self.severity = m.severity;
            self.magnitude = m.magnitude;
            self.title = m.title.clone();
            self.description = m.description.clone();
        }
    }

    /// Folds `other` (a finding of the same rule and subject that the session now
    /// bridges) into this one: the stronger wording and the furthest triage status win.
    pub fn absorb_finding(&mut self, other: &Finding) {
        let theirs = (
            other.severity,
            other.magnitude,
            other.title.as_str(),
            other.description.as_str(),
        );
        let ours = (
            self.severity,
            self.magnitude,
            self.title.as_str(),
            self.description.as_str(),
        );
        if theirs > ours {
            self.severity = other.severity;
            self.magnitude = other.magnitude;
            self.title = other.title.clone();
            self.description = other.description.clone();
        }
        if other.status != FindingStatus::Merged {
            self.status = FindingStatus::furthest(self.status, other.status);
        }
        // Triage on the absorbed finding is recorded on the survivor, so an analyst's
        // acknowledgement or note is not lost with the closed id.
        let triaged = other.status != FindingStatus::Open && other.status != FindingStatus::Merged;
        if triaged || other.note.is_some() {
            let mut note = format!("merged {} ({})", other.id, other.status.as_str());
            if let Some(theirs) = &other.note {
                note = format!("{note}: {theirs}");
            }
            self.note = Some(match &self.note {
                Some(ours) if !ours.contains(&note) => format!("{ours}\n{note}"),
                Some(ours) => ours.clone(),
                None => note,
            });
        }
    }

    /// Rebuilds this finding over `session` (the evidence now stored for it) and says
    /// what changed. New evidence reopens a resolved finding.
    pub fn refresh(
        &mut self,
        session: &Session,
        before: &Finding,
        now: DateTime<Utc>,
    ) -> MergeOutcome {
        self.hold(session);
        let more = self.evidence_count > before.evidence_count
            || self.first_seen < before.first_seen
            || self.last_seen > before.last_seen;
        let mut escalated = self.severity > before.severity;
        if more && self.status == FindingStatus::Resolved {
            self.status = FindingStatus::Open;
            escalated = true;
        }
        if self == before {
            return MergeOutcome::Unchanged;
        }
        self.updated_at = now;
        if escalated {
            MergeOutcome::Escalated
        } else {
            MergeOutcome::Updated
        }
    }

    /// This finding, closed into `survivor`.
    pub fn merged_into(&self, survivor: &str, now: DateTime<Utc>) -> Finding {
        Finding {
            status: FindingStatus::Merged,
            merged_into: Some(survivor.to_string()),
            updated_at: now,
            ..self.clone()
        }
    }

    /// Needs (re-)enrichment: never enriched, or enriched for a lower severity.
    pub fn needs_enrichment(&self) -> bool {
        self.status != FindingStatus::Merged
            && (self.risk_score.is_none()
                || self.ai_explanation.is_none()
                || self.enriched_severity != Some(self.severity))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn m(sev: Severity, magnitude: u64) -> Match {
        Match {
            rule_id: "r",
            rule_name: "R",
            severity: sev,
            magnitude,
            subject: "alice".into(),
            user: Some("alice".into()),
            title: format!("t {sev} {magnitude}"),
            description: "d".into(),
            evidence: vec![Evidence {
                at: at("2026-01-01T00:10:00Z"),
                id: "a".into(),
            }],
        }
    }

    fn session(n: u64) -> Session {
        Session {
            first_seen: at("2026-01-01T00:10:00Z"),
            last_seen: at("2026-01-01T00:20:00Z"),
            event_ids: (0..n.min(2)).map(|i| i.to_string()).collect(),
            evidence_count: n,
        }
    }

    #[test]
    fn the_strongest_match_words_the_finding_whatever_the_order() {
        let now = at("2026-01-01T01:00:00Z");
        let (a, b) = (m(Severity::High, 5), m(Severity::High, 7));
        let mut one = Finding::open("fd".into(), &a, &session(1), now);
        one.absorb(&b);
        let mut two = Finding::open("fd".into(), &b, &session(1), now);
        two.absorb(&a);
        assert_eq!(one, two);
        assert_eq!(one.magnitude, 7);
        one.absorb(&m(Severity::Low, 99));
        assert_eq!(one.severity, Severity::High);
    }

    #[test]
    fn refresh_reports_what_changed_and_reopens_resolved_findings() {
        let now = at("2026-01-01T01:00:00Z");
        let mut f = Finding::open("fd".into(), &m(Severity::Low, 1), &session(1), now);
        let before = f.clone();
        assert_eq!(
            f.refresh(&session(1), &before, now),
            MergeOutcome::Unchanged
        );
        assert_eq!(f.refresh(&session(3), &before, now), MergeOutcome::Updated);
        assert!(f.evidence_truncated);
        f.status = FindingStatus::Resolved;
        let before = f.clone();
        assert_eq!(
            f.refresh(&session(4), &before, now),
            MergeOutcome::Escalated
        );
        assert_eq!(f.status, FindingStatus::Open);
    }

    #[test]
    fn a_merge_keeps_the_furthest_triage_and_notes_it() {
        let now = at("2026-01-01T01:00:00Z");
        let mut survivor = Finding::open("fd_a".into(), &m(Severity::Low, 1), &session(1), now);
        let mut other = Finding::open("fd_b".into(), &m(Severity::High, 5), &session(1), now);
        other.status = FindingStatus::Acknowledged;
        other.note = Some("on it".into());
        survivor.absorb_finding(&other);
        assert_eq!(survivor.status, FindingStatus::Acknowledged);
        assert_eq!(survivor.severity, Severity::High);
        assert_eq!(
            survivor.note.as_deref(),
            Some("merged fd_b (acknowledged): on it")
        );
        let closed = other.merged_into("fd_a", now);
        assert_eq!(closed.status, FindingStatus::Merged);
        assert!(!closed.needs_enrichment());
    }

    #[test]
    fn finding_ids_are_stable_per_session_start() {
        let t = TenantId::parse("demo").unwrap();
        let e = Evidence {
            at: at("2026-01-01T00:10:00Z"),
            id: "e1".into(),
        };
        assert_eq!(finding_id(&t, "r", "s", &e), finding_id(&t, "r", "s", &e));
        assert_ne!(finding_id(&t, "r", "s", &e), finding_id(&t, "r", "s2", &e));
    }
}
