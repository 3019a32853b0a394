//! The rule catalog: the seed's detections, evaluated on event time.
use chrono::Duration;

use super::engine::{Rule, RuleContext, Subject, Trigger, Verdict};
use super::fields;
use super::window::{between, densest_window, windows_containing};
use crate::domain::{Event, KnownType as K, Severity};
use crate::sources::country::same_country;

/// Count thresholds, highest first; below the last one `otherwise` applies.
struct Grades {
    steps: &'static [(usize, Severity)],
    otherwise: Option<Severity>,
}

impl Grades {
    fn grade(&self, count: usize) -> Option<Severity> {
        self.steps
            .iter()
            .find(|(min, _)| count >= *min)
            .map(|(_, s)| *s)
            .or(self.otherwise)
    }
}

const LOGIN_FAILURES: Grades = Grades {
    steps: &[
        (8, Severity::Critical),
        (5, Severity::High),
        (3, Severity::Medium),
    ],
    otherwise: Some(Severity::Low),
};
const MFA_FAILURES: Grades = Grades {
    steps: &[(5, Severity::High), (3, Severity::Medium)],
    otherwise: None,
};
const FAILURES_BEFORE_SUSPICIOUS_LOGIN: usize = 3;

pub static RULES: &[Rule] = &[
    Rule {
        id: "login_failed_burst",
        name: "Repeated failed logins",
        trigger: Trigger::Types(&[K::LoginFailed]),
        needs_user_window: true,
        eval: login_failed_burst,
    },
    Rule {
        id: "suspicious_login_after_failures",
        name: "Suspicious login after failures",
        trigger: Trigger::Types(&[K::LoginSuccess, K::LoginFailed]),
        needs_user_window: true,
        eval: suspicious_login,
    },
    Rule {
        id: "mfa_failed_burst",
        name: "Repeated MFA failures",
        trigger: Trigger::Types(&[K::MfaFailed]),
        needs_user_window: true,
        eval: mfa_failed_burst,
    },
    Rule {
        id: "mfa_success_after_failure",
        name: "MFA success right after a failure",
        trigger: Trigger::Types(&[K::MfaSuccess, K::MfaFailed]),
        needs_user_window: true,
        eval: mfa_success_after_failure,
    },
    Rule {
        id: "privilege_escalation_admin",
        name: "Role escalation to admin",
        trigger: Trigger::Types(&[K::PermissionChanged]),
        needs_user_window: false,
        eval: admin_escalation,
    },
    Rule {
        id: "role_escalation_viewer_developer",
        name: "Viewer escalated to developer",
        trigger: Trigger::Types(&[K::PermissionChanged]),
        needs_user_window: false,
        eval: viewer_to_developer,
    },
    Rule {
        id: "api_token_admin_scope",
        name: "API token with admin scope",
        trigger: Trigger::Types(&[K::ApiTokenCreated]),
        needs_user_window: false,
        eval: token_admin_scope,
    },
    Rule {
        id: "api_token_no_expiry",
        name: "API token without expiry",
        trigger: Trigger::Types(&[K::ApiTokenCreated]),
        needs_user_window: false,
        eval: token_no_expiry,
    },
    Rule {
        id: "api_token_created",
        name: "API token created",
        trigger: Trigger::Types(&[K::ApiTokenCreated]),
        needs_user_window: false,
        eval: token_created,
    },
    Rule {
        id: "large_pull_request_merge",
        name: "Large pull request merged",
        trigger: Trigger::Types(&[K::PullRequestMerged]),
        needs_user_window: false,
        eval: large_merge,
    },
    Rule {
        id: "deployment_failed",
        name: "Deployment failed",
        trigger: Trigger::Types(&[K::DeploymentFailed]),
        needs_user_window: false,
        eval: deployment_failed,
    },
    Rule {
        id: "public_bucket",
        name: "Public storage bucket",
        trigger: Trigger::Types(&[K::StorageBucketCreated, K::StorageBucketPermissionChanged]),
        needs_user_window: false,
        eval: public_bucket,
    },
];

fn login_failed_burst<'a>(ctx: &RuleContext<'a>) -> Vec<Verdict<'a>> {
    let failures = ctx.user_events_of(K::LoginFailed);
    // Every failure is evidence; its severity is that of the densest hour holding it.
    let n = densest_window(&failures, ctx.at(), Duration::hours(1))
        .len()
        .max(1);
    LOGIN_FAILURES
        .grade(n)
        .map(|sev| {
            Verdict::on(
                ctx,
                sev,
                format!("{n} failed login(s) for {} within 1 hour", ctx.event.user),
                format!(
                    "User '{}' failed to log in {n} time(s) within one hour.",
                    ctx.event.user
                ),
            )
            .strength(n)
        })
        .into_iter()
        .collect()
}

/// Judges a successful login: suspicious after enough failures in the 30 minutes before
/// it, from a listed country.
fn judge_login<'a>(
    ctx: &RuleContext<'a>,
    success: &'a Event,
    failures: &[&'a Event],
) -> Option<Verdict<'a>> {
    let country = fields::country(success)?;
    if !ctx
        .config
        .suspicious_countries
        .iter()
        .any(|c| same_country(c, country))
    {
        return None;
    }
    let before = between(
        failures,
        success.timestamp - Duration::minutes(30),
        success.timestamp,
    );
    if before.len() < FAILURES_BEFORE_SUSPICIOUS_LOGIN {
        return None;
    }
    let n = before.len();
    let mut evidence = vec![success];
    evidence.extend(before);
    Some(
        Verdict::over(
            evidence,
            Severity::Critical,
            format!("Login for {} from {country} after {n} failures", success.user),
            format!(
                "User '{}' logged in from {country} after {n} failed attempts in the previous 30 minutes.",
                success.user
            ),
        )
        .strength(n),
    )
}

fn suspicious_login<'a>(ctx: &RuleContext<'a>) -> Vec<Verdict<'a>> {
    let failures = ctx.user_events_of(K::LoginFailed);
    match ctx.event.known_type() {
        Some(K::LoginSuccess) => judge_login(ctx, ctx.event, &failures).into_iter().collect(),
        // A late failure can turn a later success suspicious.
        _ => ctx
            .user_events_of(K::LoginSuccess)
            .into_iter()
            .filter(|s| s.timestamp > ctx.at() && s.timestamp - ctx.at() <= Duration::minutes(30))
            .filter_map(|s| judge_login(ctx, s, &failures))
            .collect(),
    }
}

fn mfa_failed_burst<'a>(ctx: &RuleContext<'a>) -> Vec<Verdict<'a>> {
    let failures = ctx.user_events_of(K::MfaFailed);
    // Every window of ten minutes holding this failure that grades is evidence, so the
    // failure that completes a burst also reports the failures before it.
    let mut evidence: Vec<&Event> = Vec::new();
    let mut densest = 0;
    for w in windows_containing(&failures, ctx.at(), Duration::minutes(10)) {
        if MFA_FAILURES.grade(w.len()).is_some() {
            densest = densest.max(w.len());
            evidence.extend(&failures[w]);
        }
    }
    MFA_FAILURES
        .grade(densest)
        .map(|sev| {
            Verdict::over(
                evidence,
                sev,
                format!(
                    "{densest} MFA failures for {} within 10 minutes",
                    ctx.event.user
                ),
                format!(
                    "User '{}' failed MFA {densest} times within ten minutes.",
                    ctx.event.user
                ),
            )
            .strength(densest)
        })
        .into_iter()
        .collect()
}

fn judge_mfa_success<'a>(success: &'a Event, failures: &[&'a Event]) -> Option<Verdict<'a>> {
    let before = between(
        failures,
        success.timestamp - Duration::minutes(10),
        success.timestamp,
    );
    if before.is_empty() {
        return None;
    }
    let n = before.len();
    let mut evidence = vec![success];
    evidence.extend(before);
    Some(
        Verdict::over(
            evidence,
            Severity::Low,
            format!("MFA success for {} right after a failure", success.user),
            format!(
                "User '{}' passed MFA within ten minutes of {n} failed attempt(s).",
                success.user
            ),
        )
        .strength(n),
    )
}

fn mfa_success_after_failure<'a>(ctx: &RuleContext<'a>) -> Vec<Verdict<'a>> {
    let failures = ctx.user_events_of(K::MfaFailed);
    match ctx.event.known_type() {
        Some(K::MfaSuccess) => judge_mfa_success(ctx.event, &failures)
            .into_iter()
            .collect(),
        _ => ctx
            .user_events_of(K::MfaSuccess)
            .into_iter()
            .filter(|s| s.timestamp > ctx.at() && s.timestamp - ctx.at() <= Duration::minutes(10))
            .filter_map(|s| judge_mfa_success(s, &failures))
            .collect(),
    }
}

fn target(e: &Event) -> &str {
    e.raw_str(&["target_user", "target"]).unwrap_or(&e.user)
}

fn admin_escalation<'a>(ctx: &RuleContext<'a>) -> Vec<Verdict<'a>> {
    let e = ctx.event;
    if fields::role(e, "new_role").as_deref() != Some("admin") {
        return vec![];
    }
    let (sev, how) = match fields::approved_by(e) {
        Some(a) => (Severity::High, format!("approved by '{a}'")),
        None => (Severity::Critical, "without an approver".to_string()),
    };
    vec![Verdict::on(
        ctx,
        sev,
        format!("{} granted admin {how}", target(e)),
        format!(
            "'{}' changed the role of '{}' from '{}' to admin {how}.",
            e.user,
            target(e),
            fields::role(e, "old_role").unwrap_or_else(|| "unknown".into())
        ),
    )]
}

fn viewer_to_developer<'a>(ctx: &RuleContext<'a>) -> Vec<Verdict<'a>> {
    let e = ctx.event;
    let escalated = fields::role(e, "old_role").as_deref() == Some("viewer")
        && fields::role(e, "new_role").as_deref() == Some("developer");
    if !escalated {
        return vec![];
    }
    vec![Verdict::on(
        ctx,
        Severity::Medium,
        format!("{} escalated from viewer to developer", target(e)),
        format!(
            "'{}' raised '{}' from viewer to developer.",
            e.user,
            target(e)
        ),
    )]
}

fn has_admin_scope(e: &Event) -> bool {
    fields::scopes(e).iter().any(|s| s == "admin:*")
}

fn token_name(e: &Event) -> &str {
    e.raw_str(&["token_name", "name"]).unwrap_or("unnamed")
}

/// The one verdict an `api_token_created` event gets: admin scope outranks a missing
/// expiry, which outranks an ordinary token.
fn token_verdict(ctx: &RuleContext<'_>) -> (Severity, String, String) {
    let e = ctx.event;
    let (user, name) = (&e.user, token_name(e));
    if has_admin_scope(e) {
        (
            Severity::Critical,
            format!("Admin-scoped API token '{name}' created"),
            format!("'{user}' created API token '{name}' with scope admin:*."),
        )
    } else if fields::has_no_expiry(e) {
        (
            Severity::High,
            format!("API token '{name}' never expires"),
            format!("'{user}' created API token '{name}' without an expiry date."),
        )
    } else {
        (
            Severity::Medium,
            format!("API token '{name}' created"),
            format!(
                "'{user}' created API token '{name}' with scopes [{}].",
                fields::scopes(e).join(", ")
            ),
        )
    }
}

/// Each token rule fires when the cascade lands on its severity.
fn token_rule<'a>(ctx: &RuleContext<'a>, severity: Severity) -> Vec<Verdict<'a>> {
    let (sev, title, description) = token_verdict(ctx);
    if sev != severity {
        return vec![];
    }
    vec![Verdict::on(ctx, sev, title, description)]
}

fn token_admin_scope<'a>(ctx: &RuleContext<'a>) -> Vec<Verdict<'a>> {
    token_rule(ctx, Severity::Critical)
}

fn token_no_expiry<'a>(ctx: &RuleContext<'a>) -> Vec<Verdict<'a>> {
    token_rule(ctx, Severity::High)
}

fn token_created<'a>(ctx: &RuleContext<'a>) -> Vec<Verdict<'a>> {
    token_rule(ctx, Severity::Medium)
}

fn large_merge<'a>(ctx: &RuleContext<'a>) -> Vec<Verdict<'a>> {
    let lines = fields::lines_changed(ctx.event).unwrap_or(0);
    let sev = match lines {
        401.. => Severity::High,
        151..=400 => Severity::Medium,
        _ => Severity::Low,
    };
    let repo = fields::repository(ctx.event).unwrap_or("unknown repository");
    vec![Verdict::on(
        ctx,
        sev,
        format!("{lines} lines merged into {repo}"),
        format!(
            "'{}' merged a pull request changing {lines} lines in {repo}.",
            ctx.event.user
        ),
    )]
}

fn deployment_failed<'a>(ctx: &RuleContext<'a>) -> Vec<Verdict<'a>> {
    let env = fields::environment(ctx.event).unwrap_or_else(|| "unknown".into());
    let sev = match env.as_str() {
        "production" => Severity::High,
        "staging" => Severity::Medium,
        _ => Severity::Low,
    };
    let service = ctx
        .event
        .raw_str(&["service", "app"])
        .unwrap_or("a service");
    vec![Verdict::on(
        ctx,
        sev,
        format!("Deployment of {service} failed in {env}"),
        format!(
            "A deployment of {service} by '{}' failed in {env}.",
            ctx.event.user
        ),
    )]
}

fn public_bucket<'a>(ctx: &RuleContext<'a>) -> Vec<Verdict<'a>> {
    if !fields::is_public(ctx.event) {
        return vec![];
    }
    let bucket = fields::bucket_name(ctx.event)
        .unwrap_or("unnamed")
        .to_string();
    vec![
        Verdict::on(
            ctx,
            Severity::Critical,
            format!("Storage bucket '{bucket}' is public"),
            format!(
                "'{}' made storage bucket '{bucket}' publicly accessible.",
                ctx.event.user
            ),
        )
        .about(Subject::Bucket(bucket)),
    ]
}
