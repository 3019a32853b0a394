//! When a failed delivery is tried again, and which answers are worth retrying.
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Delays between attempts: the first retry waits `delays[0]` after the first attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

impl Default for RetrySchedule {
    /// 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: about 28 hours in all.
    fn default() -> Self {
        Self(
            [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a delay such as 500ms, 5s, 5m, 2h or 1d")]
pub struct BadSchedule(pub String);

fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    let secs = match unit {
        "ms" => return Some(Duration::from_millis(n)),
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3_600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

impl RetrySchedule {
    pub fn new(delays: Vec<Duration>) -> Self {
        Self(delays)
    }

    /// Parses a comma-separated list such as `5s,5m,30m,2h,5h,10h,10h`.
    pub fn parse(s: &str) -> Result<Self, BadSchedule> {
        s.split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|p| parse_duration(p).ok_or_else(|| BadSchedule(p.trim().to_string())))
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// The wait before retry number `retry` (0-based); `None` once the schedule is spent.
    pub fn delay(&self, retry: u32) -> Option<Duration> {
        self.0.get(usize::try_from(retry).ok()?).copied()
    }

    pub fn retries(&self) -> usize {
        self.0.len()
    }
}

/// What an HTTP answer means for a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// Worth trying again; `not_before` is the receiver's `Retry-After`, if any.
    Retry {
        not_before: Option<Duration>,
    },
    /// The receiver refused the message; retrying will not help.
    Terminal,
    /// 410 Gone: the receiver asks us to stop; the endpoint is disabled.
    Gone,
}

pub fn classify(status: u16, retry_after: Option<Duration>) -> Verdict {
    match status {
        200..=299 => Verdict::Delivered,
        410 => Verdict::Gone,
        408 | 500..=599 => Verdict::Retry { not_before: None },
        429 => Verdict::Retry {
            not_before: retry_after,
        },
        _ => Verdict::Terminal,
    }
}

/// Longest `Retry-After` honoured; a longer ask is capped so the schedule still ends.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3_600);

/// Parses `Retry-After`: delta seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    let wait = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = httpdate::parse_http_date(value).ok()?;
        let at: DateTime<Utc> = at.into();
        (at - now).to_std().unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schedule_matches_the_issue() {
        let s = RetrySchedule::default();
        let mins: Vec<u64> = (0..7).map(|i| s.delay(i).unwrap().as_secs()).collect();
        assert_eq!(mins, [5, 300, 1800, 7200, 18000, 36000, 36000]);
        assert_eq!(s.delay(7), None);
        assert_eq!(RetrySchedule::parse("5s,5m,30m,2h,5h,10h,10h").unwrap(), s);
    }

    #[test]
    fn schedules_parse_units_and_reject_junk() {
        let s = RetrySchedule::parse("100ms, 1s,1d").unwrap();
        assert_eq!(s.delay(0), Some(Duration::from_millis(100)));
        assert_eq!(s.delay(2), Some(Duration::from_secs(86_400)));
        assert_eq!(s.retries(), 3);
        assert!(RetrySchedule::parse("5x").is_err());
        assert!(RetrySchedule::parse("s").is_err());
    }

    #[test]
    fn answers_are_classified() {
        assert_eq!(classify(204, None), Verdict::Delivered);
        assert_eq!(classify(503, None), Verdict::Retry { not_before: None });
        assert_eq!(classify(408, None), Verdict::Retry { not_before: None });
        let d = Some(Duration::from_secs(7));
        assert_eq!(classify(429, d), Verdict::Retry { not_before: d });
        assert_eq!(classify(410, None), Verdict::Gone);
        assert_eq!(classify(400, None), Verdict::Terminal);
        assert_eq!(classify(301, None), Verdict::Terminal);
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:29:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("999999999", now), Some(MAX_RETRY_AFTER));
    }
}
