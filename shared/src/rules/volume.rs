//! The tenant-wide volume rule: more than the configured number of events in any span of
//! 60 whole minutes of event time. It reads per-minute counters, not events, so a busy
//! tenant costs one evaluation per batch, not one per event.
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use crate::domain::Severity;

pub const RULE_ID: &str = "high_activity_volume";
pub const RULE_NAME: &str = "High activity volume";
/// The subject of every volume finding.
pub const SUBJECT: &str = "tenant";
pub const SEVERITY: Severity = Severity::High;
/// Minutes in one span.
pub const SPAN_MINUTES: i64 = 60;

/// The unix minute `t` falls in.
pub fn minute_of(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(60)
}

/// The start of unix minute `m`.
pub fn minute_start(m: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(m.saturating_mul(60), 0).unwrap_or_default()
}

/// What the counters say about a stretch of minutes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Busy {
    /// Minutes with events that lie in a span over the threshold.
    pub minutes: BTreeSet<i64>,
    /// The most events any span held.
    pub densest: u64,
}

impl Busy {
    /// Events in the busy minutes within `[from, to]`.
    pub fn events_in(&self, counts: &BTreeMap<i64, u64>, from: i64, to: i64) -> u64 {
        self.minutes
            .range(from..=to)
            .map(|m| counts.get(m).copied().unwrap_or(0))
            .sum()
    }
}

/// The busy minutes among `counts` (events per minute), judging every span that starts
/// in `[from, to]`. A span can be moved to start at its first event without losing any,
/// so only spans starting at a counted minute are tried.
pub fn busy(counts: &BTreeMap<i64, u64>, threshold: u64, from: i64, to: i64) -> Busy {
    let mut out = Busy::default();
    let starts: Vec<i64> = counts
        .range(from..=to)
        .filter(|(_, c)| **c > 0)
        .map(|(m, _)| *m)
        .collect();
    for s in starts {
        let span = counts.range(s..s + SPAN_MINUTES);
        let n: u64 = span.clone().map(|(_, c)| *c).sum();
        out.densest = out.densest.max(n);
        if n > threshold {
            out.minutes
                .extend(span.filter(|(_, c)| **c > 0).map(|(m, _)| *m));
        }
    }
    if out.minutes.is_empty() {
        out.densest = 0;
    }
    out
}

/// Groups busy minutes no further apart than `gap` minutes, as `(first, last)`.
pub fn sessions(minutes: &BTreeSet<i64>, gap: i64) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::new();
    for &m in minutes {
        match out.last_mut() {
            Some((_, last)) if m - *last <= gap => *last = m,
            _ => out.push((m, m)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_sixty_minute_span_counts_not_clock_hours() {
        // 330 events from :35 to :25 the next hour, 11 a minute over 30 minutes: more
        // than 300 in one span, fewer in either clock hour.
        let counts: BTreeMap<i64, u64> = (35..95).step_by(2).map(|m| (m, 11)).collect();
        let b = busy(&counts, 300, 0, 200);
        assert_eq!(b.densest, 330);
        assert_eq!(b.minutes.len(), 30);
        assert_eq!(sessions(&b.minutes, 60), vec![(35, 93)]);
        assert!(busy(&counts, 330, 0, 200).minutes.is_empty());
    }

    #[test]
    fn quiet_minutes_between_busy_spans_are_not_evidence() {
        let mut counts: BTreeMap<i64, u64> = BTreeMap::from([(0, 301), (200, 301)]);
        counts.insert(100, 1);
        let b = busy(&counts, 300, -100, 300);
        assert_eq!(b.minutes, BTreeSet::from([0, 200]));
        assert_eq!(sessions(&b.minutes, 60), vec![(0, 0), (200, 200)]);
        assert_eq!(sessions(&b.minutes, 200), vec![(0, 200)]);
        assert_eq!(b.events_in(&counts, 0, 200), 602);
    }
}
