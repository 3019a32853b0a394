//! Every key the domain stores, in one place. Each starts with the tenant id, so no
//! query can reach another tenant's items.
use chrono::{DateTime, Utc};

use crate::domain::TenantId;
use crate::domain::event::time_key;

pub fn event_pk(t: &TenantId, id: &str) -> String {
    format!("{t}#EVENT#{id}")
}
pub const EVENT_SK: &str = "EVENT";
pub fn events_by_time(t: &TenantId) -> String {
    format!("{t}#EV")
}
pub fn events_by_user(t: &TenantId, user: &str) -> String {
    format!("{t}#EVU#{user}")
}
pub fn events_by_type(t: &TenantId, kind: &str) -> String {
    format!("{t}#EVT#{kind}")
}
/// Sort key of event and finding listings: time, then id for uniqueness.
pub fn timed(at: DateTime<Utc>, id: &str) -> String {
    format!("{}#{id}", time_key(at))
}
/// Inclusive sort-key bounds for a time range.
pub fn time_bounds(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Option<(String, String)> {
    if from.is_none() && to.is_none() {
        return None;
    }
    Some((
        from.map(time_key).unwrap_or_default(),
        to.map(|t| format!("{}#\u{10FFFF}", time_key(t)))
            .unwrap_or_else(|| "\u{10FFFF}".to_string()),
    ))
}

/// The sort-key condition for a time range on a time-ordered listing.
pub fn time_range(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> crate::ports::KeyRange {
    time_bounds(from, to)
        .map(|(a, b)| crate::ports::KeyRange::Between(a, b))
        .unwrap_or(crate::ports::KeyRange::All)
}

pub fn finding_pk(t: &TenantId, id: &str) -> String {
    format!("{t}#FINDING#{id}")
}
pub const FINDING_SK: &str = "FINDING";
pub fn findings_by_time(t: &TenantId) -> String {
    format!("{t}#FD")
}
pub fn findings_by_severity(t: &TenantId, sev: &str) -> String {
    format!("{t}#FDS#{sev}")
}
pub fn findings_by_user(t: &TenantId, user: &str) -> String {
    format!("{t}#FDU#{user}")
}

pub fn stats_pk(t: &TenantId) -> String {
    format!("{t}#STATS")
}

pub fn apikeys_pk(t: &TenantId) -> String {
    format!("{t}#APIKEY")
}

pub fn idempotency_pk(t: &TenantId) -> String {
    format!("{t}#IDEM")
}

/// Counter sort keys within [`stats_pk`].
pub mod counter {
    use chrono::{DateTime, Utc};

    pub const EVENTS: &str = "events";
    pub const FINDINGS: &str = "findings";
    pub fn events_day(at: DateTime<Utc>) -> String {
        format!("events_day#{}", at.format("%Y-%m-%d"))
    }
    pub fn events_hour(at: DateTime<Utc>) -> String {
        format!("events_hour#{}", at.format("%Y-%m-%dT%H"))
    }
    pub fn events_type(kind: &str) -> String {
        format!("events_type#{kind}")
    }
    pub fn user_events(user: &str) -> String {
        format!("user_events#{user}")
    }
    pub fn findings_severity(sev: &str) -> String {
        format!("findings_sev#{sev}")
    }
    pub fn open_by_rule(rule: &str) -> String {
        format!("open_rule#{rule}")
    }
    pub fn user_findings(user: &str) -> String {
        format!("user_findings#{user}")
    }
}
