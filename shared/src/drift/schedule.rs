//! When a model's checks run: the seed's intervals as cron patterns (hourly on the hour,
//! daily at midnight UTC, weekly on Monday at midnight UTC) or a client's own pattern,
//! evaluated by `croner`.
use std::str::FromStr;

use chrono::{DateTime, Utc};
use croner::Cron;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleInterval {
    Hourly,
    Daily,
    Weekly,
    Custom,
}

impl ScheduleInterval {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "hourly" => Some(Self::Hourly),
            "daily" => Some(Self::Daily),
            "weekly" => Some(Self::Weekly),
            "custom" => Some(Self::Custom),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hourly => "hourly",
            Self::Daily => "daily",
            Self::Weekly => "weekly",
            Self::Custom => "custom",
        }
    }
}

/// A parsed schedule.
#[derive(Debug, Clone)]
pub enum Schedule {
    Cron(Box<Cron>),
    /// A stored custom pattern this build cannot read: never due.
    Never,
}

impl Schedule {
    /// The schedule of `interval`; `cron` is the pattern of a custom one (UTC).
    pub fn new(interval: ScheduleInterval, cron: Option<&str>) -> Result<Self, String> {
        let pattern = match interval {
            ScheduleInterval::Hourly => "0 * * * *",
            ScheduleInterval::Daily => "0 0 * * *",
            ScheduleInterval::Weekly => "0 0 * * MON",
            ScheduleInterval::Custom => cron.ok_or("a custom schedule needs a cron pattern")?,
        };
        let parsed = Cron::from_str(pattern).map_err(|e| format!("is not a cron pattern: {e}"))?;
        Ok(Self::Cron(Box::new(parsed)))
    }

    /// The first scheduled time strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::Cron(c) => c.find_next_occurrence(&t, false).ok(),
            Self::Never => None,
        }
    }

    /// The last scheduled time strictly before `t`.
    pub fn prev_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::Cron(c) => c.find_previous_occurrence(&t, false).ok(),
            Self::Never => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn intervals_follow_the_seed() {
        let t = at("2026-01-30T10:15:00Z");
        let next = |i, c| Schedule::new(i, c).unwrap().next_after(t).unwrap();
        assert_eq!(
            next(ScheduleInterval::Hourly, None),
            at("2026-01-30T11:00:00Z")
        );
        assert_eq!(
            next(ScheduleInterval::Daily, None),
            at("2026-01-31T00:00:00Z")
        );
        // 2026-01-30 is a Friday; the next Monday is 2 February.
        assert_eq!(
            next(ScheduleInterval::Weekly, None),
            at("2026-02-02T00:00:00Z")
        );
        assert_eq!(
            next(ScheduleInterval::Custom, Some("0 9 * * MON-FRI")),
            at("2026-02-02T09:00:00Z")
        );
        // Strictly after: a time on the schedule moves on to the next one.
        let h = Schedule::new(ScheduleInterval::Hourly, None).unwrap();
        assert_eq!(
            h.next_after(at("2026-01-30T11:00:00Z")),
            Some(at("2026-01-30T12:00:00Z"))
        );
        assert!(Schedule::new(ScheduleInterval::Custom, Some("every day")).is_err());
    }
}
