//! Evaluates the rule catalog against one event and the context around it.
use chrono::{DateTime, Duration, Utc};

use super::catalog::RULES;
use crate::domain::{Event, KnownType, Match, Severity};

/// How far around an event the rules look at the same user's events: enough for the
/// widest window (one hour) on either side, so late events are judged in their window.
pub const USER_LOOKAROUND: Duration = Duration::hours(1);

#[derive(Debug, Clone)]
pub struct RulesConfig {
    /// Countries a login after failures is suspicious from.
    pub suspicious_countries: Vec<String>,
    /// Events per hour for the whole tenant above which activity is flagged.
    pub tenant_hourly_volume: u64,
}

impl Default for RulesConfig {
    fn default() -> Self {
        Self {
            suspicious_countries: vec!["Russia".into(), "China".into(), "Other".into()],
            tenant_hourly_volume: 300,
        }
    }
}

/// What a rule sees.
pub struct RuleContext<'a> {
    pub event: &'a Event,
    /// The same user's events in `event.timestamp ± USER_LOOKAROUND`, sorted by time,
    /// including `event` itself.
    pub user_events: &'a [Event],
    /// Events the tenant has in the calendar hour of `event`.
    pub tenant_hour_count: u64,
    pub config: &'a RulesConfig,
}

impl<'a> RuleContext<'a> {
    /// The user's events of one type, sorted by time.
    pub fn user_events_of(&self, kind: KnownType) -> Vec<&'a Event> {
        self.user_events
            .iter()
            .filter(|e| e.known_type() == Some(kind))
            .collect()
    }

    pub fn at(&self) -> DateTime<Utc> {
        self.event.timestamp
    }
}

/// What a finding is about; part of its dedup key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    User,
    Bucket(String),
    Tenant,
}

/// A rule's verdict; the engine turns it into a [`Match`].
#[derive(Debug, Clone)]
pub struct Verdict {
    pub severity: Severity,
    pub subject: Subject,
    pub title: String,
    pub description: String,
    /// Evidence; the engine puts the triggering event first.
    pub evidence: Vec<String>,
    /// The time that places the finding in its dedup period (the anchor event's time).
    pub at: DateTime<Utc>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

impl Verdict {
    /// A verdict about the triggering event alone.
    pub fn on(
        ctx: &RuleContext<'_>,
        severity: Severity,
        title: String,
        description: String,
    ) -> Self {
        Self::over(ctx.event, &[ctx.event], severity, title, description)
    }

    /// A verdict anchored at `anchor` with `evidence` events.
    pub fn over(
        anchor: &Event,
        evidence: &[&Event],
        severity: Severity,
        title: String,
        description: String,
    ) -> Self {
        let first = evidence
            .iter()
            .map(|e| e.timestamp)
            .min()
            .unwrap_or(anchor.timestamp);
        let last = evidence
            .iter()
            .map(|e| e.timestamp)
            .max()
            .unwrap_or(anchor.timestamp);
        Self {
            severity,
            subject: Subject::User,
            title,
            description,
            evidence: evidence.iter().map(|e| e.id.clone()).collect(),
            at: anchor.timestamp,
            first_seen: first.min(anchor.timestamp),
            last_seen: last.max(anchor.timestamp),
        }
    }

    pub fn about(mut self, subject: Subject) -> Self {
        self.subject = subject;
        self
    }
}

/// Which events trigger a rule.
#[derive(Debug, Clone, Copy)]
pub enum Trigger {
    /// Every event, known type or not.
    Any,
    Types(&'static [KnownType]),
}

/// One detection rule. Adding a rule is one entry in [`RULES`] plus its table test.
pub struct Rule {
    pub id: &'static str,
    pub name: &'static str,
    pub trigger: Trigger,
    /// Reads `RuleContext::user_events`.
    pub needs_user_window: bool,
    pub eval: fn(&RuleContext<'_>) -> Vec<Verdict>,
}

impl Rule {
    pub fn fires_on(&self, event: &Event) -> bool {
        match self.trigger {
            Trigger::Any => true,
            Trigger::Types(types) => event.known_type().is_some_and(|k| types.contains(&k)),
        }
    }
}

/// Rules that an event triggers.
pub fn rules_for(event: &Event) -> impl Iterator<Item = &'static Rule> + '_ {
    RULES.iter().filter(move |r| r.fires_on(event))
}

/// Whether evaluating `event` needs the user's surrounding events.
pub fn needs_user_window(event: &Event) -> bool {
    rules_for(event).any(|r| r.needs_user_window)
}

/// Runs every rule the event triggers.
pub fn evaluate(ctx: &RuleContext<'_>) -> Vec<Match> {
    let mut out = Vec::new();
    for rule in rules_for(ctx.event) {
        for v in (rule.eval)(ctx) {
            let subject = match &v.subject {
                Subject::User => ctx.event.user.clone(),
                Subject::Bucket(b) => format!("bucket:{b}"),
                Subject::Tenant => "tenant".to_string(),
            };
            let user = match v.subject {
                Subject::Tenant => None,
                _ => Some(ctx.event.user.clone()),
            };
            let mut event_ids = Vec::with_capacity(v.evidence.len() + 1);
            event_ids.push(ctx.event.id.clone());
            event_ids.extend(v.evidence.into_iter().filter(|id| *id != ctx.event.id));
            out.push(Match {
                rule_id: rule.id,
                rule_name: rule.name,
                severity: v.severity,
                subject,
                user,
                title: v.title,
                description: v.description,
                event_ids,
                at: v.at,
                first_seen: v.first_seen.min(ctx.event.timestamp),
                last_seen: v.last_seen.max(ctx.event.timestamp),
            });
        }
    }
    out
}
