//! The findings a set of events gives, computed from scratch with every event in view.
//! The pipeline computes the same incrementally, batch by batch; the property tests
//! hold it to this definition whatever the order, batching or redelivery.
use std::collections::{BTreeMap, BTreeSet};

use chrono::Duration;

use super::RuleContext;
use super::engine::{RulesConfig, around, evaluate};
use super::volume;
use crate::domain::finding::MAX_EVIDENCE;
use crate::domain::{Event, Finding, FindingStatus, Severity};

/// What makes two findings the same: rule, subject, severity and evidence.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Fingerprint {
    pub rule_id: String,
    pub subject: String,
    pub severity: Severity,
    pub evidence_count: u64,
    /// The earliest [`MAX_EVIDENCE`] evidence ids by time, then id.
    pub evidence: Vec<String>,
}

impl Fingerprint {
    pub fn of(f: &Finding) -> Self {
        Self {
            rule_id: f.rule_id.clone(),
            subject: f.subject.clone(),
            severity: f.severity,
            evidence_count: f.evidence_count,
            evidence: f.event_ids.clone(),
        }
    }
}

/// The fingerprints of stored findings, leaving out those merged into others.
pub fn fingerprints<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> BTreeSet<Fingerprint> {
    findings
        .into_iter()
        .filter(|f| f.status != FindingStatus::Merged)
        .map(Fingerprint::of)
        .collect()
}

fn fingerprint(
    rule_id: &str,
    subject: &str,
    severity: Severity,
    mut evidence: Vec<(chrono::DateTime<chrono::Utc>, String)>,
) -> Fingerprint {
    evidence.sort();
    evidence.dedup();
    Fingerprint {
        rule_id: rule_id.to_string(),
        subject: subject.to_string(),
        severity,
        evidence_count: evidence.len() as u64,
        evidence: evidence
            .into_iter()
            .take(MAX_EVIDENCE)
            .map(|(_, id)| id)
            .collect(),
    }
}

/// Every finding `events` (distinct ids) give, with sessions `gap` apart.
pub fn findings_of(events: &[Event], config: &RulesConfig, gap: Duration) -> BTreeSet<Fingerprint> {
    let mut by_user: BTreeMap<&str, Vec<Event>> = BTreeMap::new();
    for e in events {
        by_user.entry(&e.user).or_default().push(e.clone());
    }
    let mut matches: BTreeMap<(&'static str, String), Vec<crate::domain::Match>> = BTreeMap::new();
    for evs in by_user.values_mut() {
        evs.sort_by(|a, b| (a.timestamp, &a.id).cmp(&(b.timestamp, &b.id)));
        for e in evs.iter() {
            let ctx = RuleContext {
                event: e,
                user_events: around(evs, e.timestamp),
                config,
            };
            for m in evaluate(&ctx) {
                matches
                    .entry((m.rule_id, m.subject.clone()))
                    .or_default()
                    .push(m);
            }
        }
    }
    let mut out = BTreeSet::new();
    for ((rule_id, subject), mut ms) in matches {
        ms.sort_by_key(|m| m.span());
        let mut session: Option<(chrono::DateTime<chrono::Utc>, Severity, Vec<_>)> = None;
        for m in ms {
            let Some((first, last)) = m.span() else {
                continue;
            };
            let evidence = m.evidence.iter().map(|e| (e.at, e.id.clone()));
            match &mut session {
                Some((end, sev, ev)) if first - *end <= gap => {
                    *end = (*end).max(last);
                    *sev = (*sev).max(m.severity);
                    ev.extend(evidence);
                }
                _ => {
                    if let Some((_, sev, ev)) = session.take() {
                        out.insert(fingerprint(rule_id, &subject, sev, ev));
                    }
                    session = Some((last, m.severity, evidence.collect()));
                }
            }
        }
        if let Some((_, sev, ev)) = session {
            out.insert(fingerprint(rule_id, &subject, sev, ev));
        }
    }
    let mut counts: BTreeMap<i64, u64> = BTreeMap::new();
    for e in events {
        *counts.entry(volume::minute_of(e.timestamp)).or_default() += 1;
    }
    let (Some(lo), Some(hi)) = (counts.keys().next().copied(), counts.keys().last().copied())
    else {
        return out;
    };
    let busy = volume::busy(&counts, config.tenant_hourly_volume, lo, hi);
    for (a, b) in volume::sessions(&busy.minutes, gap.num_minutes()) {
        let evidence = events
            .iter()
            .filter(|e| {
                let m = volume::minute_of(e.timestamp);
                m >= a && m <= b && busy.minutes.contains(&m)
            })
            .map(|e| (e.timestamp, e.id.clone()))
            .collect();
        out.insert(fingerprint(
            volume::RULE_ID,
            volume::SUBJECT,
            volume::SEVERITY,
            evidence,
        ));
    }
    out
}
