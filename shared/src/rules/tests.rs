//! Table-driven tests for every rule and threshold edge.
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::engine::{RuleContext, RulesConfig, evaluate};
use crate::domain::{Event, EventType, Severity};

fn base() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
        .unwrap()
        .to_utc()
}

fn ev(i: usize, kind: &str, minute: i64, raw: Value) -> Event {
    Event {
        id: format!("e{i}"),
        client_id: None,
        event_type: EventType::parse(kind).unwrap(),
        timestamp: base() + Duration::minutes(minute),
        user: "alice".into(),
        source: None,
        raw_data: raw.as_object().cloned().unwrap_or_default(),
        received_at: base(),
    }
}

/// Evaluates the event at `target` among `events` and returns (rule, severity) pairs.
fn run(events: &[(&str, i64, Value)], target: usize) -> Vec<(String, Severity)> {
    let mut evs: Vec<Event> = events
        .iter()
        .enumerate()
        .map(|(i, (k, m, r))| ev(i, k, *m, r.clone()))
        .collect();
    let target_id = format!("e{target}");
    evs.sort_by(|a, b| (a.timestamp, &a.id).cmp(&(b.timestamp, &b.id)));
    let event = evs.iter().find(|e| e.id == target_id).unwrap().clone();
    let config = RulesConfig::default();
    let ctx = RuleContext {
        event: &event,
        user_events: &evs,
        config: &config,
    };
    let mut out: Vec<(String, Severity)> = evaluate(&ctx)
        .into_iter()
        .map(|m| (m.rule_id.to_string(), m.severity))
        .collect();
    out.sort();
    out
}

fn failures(n: usize, spacing_min: i64) -> Vec<(&'static str, i64, Value)> {
    (0..n)
        .map(|i| ("login_failed", i as i64 * spacing_min, json!({})))
        .collect()
}

fn one(rule: &str, sev: Severity) -> Vec<(String, Severity)> {
    vec![(rule.to_string(), sev)]
}

#[test]
fn login_failure_thresholds() {
    use Severity::*;
    let cases = [
        (1, Low),
        (2, Low),
        (3, Medium),
        (4, Medium),
        (5, High),
        (7, High),
        (8, Critical),
        (12, Critical),
    ];
    for (n, sev) in cases {
        let evs = failures(n, 5);
        assert_eq!(
            run(&evs, n - 1),
            one("login_failed_burst", sev),
            "{n} failures"
        );
    }
}

#[test]
fn login_failures_outside_the_hour_do_not_count() {
    // 8 failures spread over 8 × 9 minutes = 63 minutes: at most 7 fit in one hour.
    let evs = failures(8, 9);
    assert_eq!(run(&evs, 7), one("login_failed_burst", Severity::High));
}

#[test]
fn an_early_event_sees_later_failures_in_its_window() {
    // Out-of-order arrival: the first failure is judged with the ones after it.
    let evs = failures(8, 5);
    assert_eq!(run(&evs, 0), one("login_failed_burst", Severity::Critical));
}

#[test]
fn suspicious_login_needs_three_failures_and_a_listed_country() {
    let mk = |n: usize, country: &str, field: &str| {
        let mut evs = failures(n, 5);
        evs.push(("login_success", 20, json!({ field: country })));
        evs
    };
    let crit = (
        "suspicious_login_after_failures".to_string(),
        Severity::Critical,
    );
    assert!(run(&mk(3, "Russia", "country"), 3).contains(&crit));
    assert!(run(&mk(3, "China", "location"), 3).contains(&crit));
    assert!(run(&mk(3, "other", "location"), 3).contains(&crit));
    assert!(run(&mk(2, "Russia", "country"), 2).is_empty());
    assert!(run(&mk(3, "Germany", "country"), 3).is_empty());
    // Failures more than 30 minutes before the login do not count.
    let mut evs = failures(3, 1);
    evs.push(("login_success", 40, json!({"country":"Russia"})));
    assert!(run(&evs, 3).is_empty());
}

#[test]
fn a_late_failure_makes_an_earlier_processed_login_suspicious() {
    let mut evs = failures(3, 5);
    evs.push(("login_success", 20, json!({"country":"Russia"})));
    // Judge the third failure (arriving late): the success after it becomes suspicious.
    let got = run(&evs, 2);
    assert!(got.contains(&(
        "suspicious_login_after_failures".to_string(),
        Severity::Critical
    )));
}

#[test]
fn mfa_failure_thresholds() {
    use Severity::*;
    for (n, sev) in [
        (2, None),
        (3, Some(Medium)),
        (4, Some(Medium)),
        (5, Some(High)),
    ] {
        let evs: Vec<_> = (0..n)
            .map(|i| ("mfa_failed", i as i64, json!({})))
            .collect();
        let expected = sev.map(|s| one("mfa_failed_burst", s)).unwrap_or_default();
        assert_eq!(run(&evs, n - 1), expected, "{n} mfa failures");
    }
    // Five failures over 12 minutes: at most four in any ten.
    let evs: Vec<_> = (0..5).map(|i| ("mfa_failed", i * 3, json!({}))).collect();
    assert_eq!(run(&evs, 4), one("mfa_failed_burst", Medium));
}

#[test]
fn mfa_success_after_failure_within_ten_minutes() {
    let evs = vec![("mfa_failed", 0, json!({})), ("mfa_success", 9, json!({}))];
    assert_eq!(
        run(&evs, 1),
        one("mfa_success_after_failure", Severity::Low)
    );
    let evs = vec![("mfa_failed", 0, json!({})), ("mfa_success", 11, json!({}))];
    assert!(run(&evs, 1).is_empty());
    assert!(run(&[("mfa_success", 0, json!({}))], 0).is_empty());
}

#[test]
fn permission_rules() {
    let cases: Vec<(Value, Vec<(String, Severity)>)> = vec![
        (
            json!({"old_role":"developer","new_role":"admin"}),
            one("privilege_escalation_admin", Severity::Critical),
        ),
        (
            json!({"old_role":"developer","new_role":"admin","approved_by":null}),
            one("privilege_escalation_admin", Severity::Critical),
        ),
        (
            json!({"old_role":"developer","new_role":"Admin","approved_by":"carol"}),
            one("privilege_escalation_admin", Severity::High),
        ),
        (
            json!({"old_role":"viewer","new_role":"developer"}),
            one("role_escalation_viewer_developer", Severity::Medium),
        ),
        (json!({"old_role":"developer","new_role":"viewer"}), vec![]),
    ];
    for (raw, expected) in cases {
        assert_eq!(
            run(&[("permission_changed", 0, raw.clone())], 0),
            expected,
            "{raw}"
        );
    }
}

#[test]
fn api_token_rules() {
    let cases: Vec<(Value, Vec<(String, Severity)>)> = vec![
        (
            json!({"scopes":["repo:read","admin:*"],"expires_at":"2027-01-01T00:00:00Z"}),
            one("api_token_admin_scope", Severity::Critical),
        ),
        (
            json!({"scopes":"admin:*"}),
            one("api_token_admin_scope", Severity::Critical),
        ),
        (
            json!({"scopes":["repo:read"]}),
            one("api_token_no_expiry", Severity::High),
        ),
        (
            json!({"scopes":["repo:read"],"expires_at":null}),
            one("api_token_no_expiry", Severity::High),
        ),
        (
            json!({"scopes":["repo:read"],"has_expiry":false,"expires_at":"2027-01-01T00:00:00Z"}),
            one("api_token_no_expiry", Severity::High),
        ),
        (
            json!({"scopes":["repo:read"],"expires_at":"2027-01-01T00:00:00Z"}),
            one("api_token_created", Severity::Medium),
        ),
    ];
    for (raw, expected) in cases {
        assert_eq!(
            run(&[("api_token_created", 0, raw.clone())], 0),
            expected,
            "{raw}"
        );
    }
}

#[test]
fn pull_request_size_edges() {
    use Severity::*;
    for (lines, sev) in [
        (10, Low),
        (150, Low),
        (151, Medium),
        (400, Medium),
        (401, High),
    ] {
        let raw = json!({"lines_changed": lines, "repo": "api"});
        assert_eq!(
            run(&[("pull_request_merged", 0, raw)], 0),
            one("large_pull_request_merge", sev),
            "{lines}"
        );
    }
    let old_name = json!({"line_changed": 500, "repository": "api"});
    assert_eq!(
        run(&[("pull_request_merged", 0, old_name)], 0),
        one("large_pull_request_merge", High)
    );
    assert!(
        run(
            &[("pull_request_opened", 0, json!({"lines_changed": 900}))],
            0
        )
        .is_empty()
    );
}

#[test]
fn deployment_environments() {
    use Severity::*;
    for (env, sev) in [
        ("production", High),
        ("prod", High),
        ("staging", Medium),
        ("dev", Low),
    ] {
        let raw = json!({"environment": env});
        assert_eq!(
            run(&[("deployment_failed", 0, raw)], 0),
            one("deployment_failed", sev),
            "{env}"
        );
    }
    assert!(
        run(
            &[("deployment_succeeded", 0, json!({"environment":"prod"}))],
            0
        )
        .is_empty()
    );
}

#[test]
fn public_buckets() {
    for kind in [
        "storage_bucket_created",
        "storage_bucket_permission_changed",
    ] {
        for raw in [
            json!({"bucket_name":"b","public":true}),
            json!({"bucket_name":"b","visibility":"public"}),
        ] {
            assert_eq!(
                run(&[(kind, 0, raw)], 0),
                one("public_bucket", Severity::Critical)
            );
        }
        for raw in [
            json!({"bucket_name":"b","public":false}),
            json!({"bucket_name":"b","visibility":"private"}),
        ] {
            assert!(run(&[(kind, 0, raw)], 0).is_empty());
        }
    }
}

#[test]
fn unknown_and_unruled_types_match_nothing() {
    assert!(run(&[("custom.thing", 0, json!({}))], 0).is_empty());
    assert!(run(&[("deployment_started", 0, json!({}))], 0).is_empty());
}

#[test]
fn every_rule_has_a_unique_id() {
    let mut ids: Vec<&str> = super::RULES.iter().map(|r| r.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), super::RULES.len());
}
