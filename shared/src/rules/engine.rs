//! Evaluates the rule catalog against one event and the same user's events around it.
//!
//! Every rule is *monotone*: more stored events can only add matches, add evidence to a
//! match or raise its severity. A rule reports every match the event takes part in, so
//! whichever of a match's events is evaluated last (having seen all the others) reports
//! it whole; folding every report into sessions then gives the same findings for the
//! same events, whatever order, batching or redelivery they came in.
use chrono::{DateTime, Duration, Utc};

use super::catalog::RULES;
use crate::domain::{Event, Evidence, KnownType, Match, Severity};

/// How far around an event the rules look at the same user's events: enough for the
/// widest window (one hour) on either side, so late events are judged in their window.
pub const USER_LOOKAROUND: Duration = Duration::hours(1);

#[derive(Debug, Clone)]
pub struct RulesConfig {
    /// Countries a login after failures is suspicious from.
    pub suspicious_countries: Vec<String>,
    /// Events in any 60-minute span of the whole tenant above which activity is flagged.
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
    /// The same user's events around `event` (at least `event.timestamp ±
    /// USER_LOOKAROUND`), sorted by time then id, including `event` itself.
    pub user_events: &'a [Event],
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

/// What a finding is about; part of its session key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    User,
    Bucket(String),
}

/// A rule's verdict; the engine turns it into a [`Match`].
#[derive(Debug, Clone)]
pub struct Verdict<'a> {
    pub severity: Severity,
    /// Strength within the severity (see [`Match::magnitude`]).
    pub magnitude: u64,
    pub subject: Subject,
    pub title: String,
    pub description: String,
    /// The events the match rests on.
    pub evidence: Vec<&'a Event>,
}

impl<'a> Verdict<'a> {
    /// A verdict about the triggering event alone.
    pub fn on(
        ctx: &RuleContext<'a>,
        severity: Severity,
        title: String,
        description: String,
    ) -> Self {
        Self::over(vec![ctx.event], severity, title, description)
    }

    /// A verdict resting on `evidence`.
    pub fn over(
        evidence: Vec<&'a Event>,
        severity: Severity,
        title: String,
        description: String,
    ) -> Self {
        Self {
            severity,
            magnitude: 0,
            subject: Subject::User,
            title,
            description,
            evidence,
        }
    }

    pub fn about(mut self, subject: Subject) -> Self {
        self.subject = subject;
        self
    }

    pub fn strength(mut self, magnitude: usize) -> Self {
        self.magnitude = magnitude as u64;
        self
    }
}

/// Which events trigger a rule.
#[derive(Debug, Clone, Copy)]
pub enum Trigger {
    Types(&'static [KnownType]),
}

/// One detection rule. Adding a rule is one entry in [`RULES`] plus its table test.
pub struct Rule {
    pub id: &'static str,
    pub name: &'static str,
    pub trigger: Trigger,
    /// Reads `RuleContext::user_events`.
    pub needs_user_window: bool,
    pub eval: for<'a> fn(&RuleContext<'a>) -> Vec<Verdict<'a>>,
}

impl Rule {
    pub fn fires_on(&self, event: &Event) -> bool {
        match self.trigger {
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

/// The session key of a verdict's finding.
fn subject_key(ctx: &RuleContext<'_>, subject: &Subject) -> String {
    match subject {
        Subject::User => ctx.event.user.clone(),
        Subject::Bucket(b) => format!("bucket:{b}"),
    }
}

/// Runs every rule the event triggers.
pub fn evaluate(ctx: &RuleContext<'_>) -> Vec<Match> {
    let mut out = Vec::new();
    for rule in rules_for(ctx.event) {
        for v in (rule.eval)(ctx) {
            let mut evidence: Vec<Evidence> = v
                .evidence
                .iter()
                .map(|e| Evidence {
                    at: e.timestamp,
                    id: e.id.clone(),
                })
                .collect();
            evidence.sort();
            evidence.dedup();
            out.push(Match {
                rule_id: rule.id,
                rule_name: rule.name,
                severity: v.severity,
                magnitude: v.magnitude,
                subject: subject_key(ctx, &v.subject),
                user: Some(ctx.event.user.clone()),
                title: v.title,
                description: v.description,
                evidence,
            });
        }
    }
    out
}

/// The part of `sorted` (by time) within `USER_LOOKAROUND` of `at`: what a rule needs.
pub fn around(sorted: &[Event], at: DateTime<Utc>) -> &[Event] {
    let from = sorted.partition_point(|e| e.timestamp < at - USER_LOOKAROUND);
    let to = sorted.partition_point(|e| e.timestamp <= at + USER_LOOKAROUND);
    &sorted[from..to.max(from)]
}
