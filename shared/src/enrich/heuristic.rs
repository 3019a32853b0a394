//! The deterministic risk heuristic: a base score per severity, raised by floors for the
//! rules that matter most, and an explanation that names the evidence.
use crate::domain::{Finding, Severity};

pub fn base_score(sev: Severity) -> f64 {
    match sev {
        Severity::Low => 20.0,
        Severity::Medium => 50.0,
        Severity::High => 80.0,
        Severity::Critical => 95.0,
    }
}

/// Minimum scores for rules whose impact the severity alone understates.
fn floor(f: &Finding) -> Option<(f64, &'static str)> {
    let rule = f.rule_id.as_str();
    if rule == "api_token_admin_scope" {
        return Some((92.0, "an admin-scoped token grants full control"));
    }
    if rule.contains("public_bucket") {
        return Some((90.0, "public buckets expose data to anyone"));
    }
    if rule.contains("admin") || rule.contains("privilege") {
        return Some((90.0, "admin privileges widen the blast radius"));
    }
    if rule == "deployment_failed" && f.description.to_ascii_lowercase().contains("production") {
        return Some((85.0, "a failed production deployment affects customers"));
    }
    None
}

pub fn score(f: &Finding) -> (f64, String) {
    let base = base_score(f.severity);
    let (score, why) = match floor(f) {
        Some((min, why)) if min > base => (min, format!(" Raised to {min:.0} because {why}.")),
        _ => (base, String::new()),
    };
    let shown: Vec<&str> = f.event_ids.iter().take(5).map(String::as_str).collect();
    let more = f.event_ids.len().saturating_sub(shown.len());
    let evidence = if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    };
    let who = f
        .user
        .as_deref()
        .map(|u| format!(" for user '{u}'"))
        .unwrap_or_default();
    let explanation = format!(
        "Risk {score:.0}/100: {} finding '{}'{who}. {} Evidence: {} event(s) ({evidence}) between {} and {}.{why} Scored by Vigil's deterministic heuristic (base {base:.0} for {} severity).",
        f.severity,
        f.rule_name,
        f.description,
        f.event_ids.len(),
        f.first_seen.format("%Y-%m-%d %H:%M:%S UTC"),
        f.last_seen.format("%Y-%m-%d %H:%M:%S UTC"),
        f.severity,
    );
    (score, explanation)
}

/// A finding for other modules' tests.
#[cfg(test)]
pub(crate) fn sample_finding() -> crate::domain::Finding {
    tests::finding("login_failed_burst", Severity::High, "9 failed logins")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Finding, FindingStatus};
    use chrono::Utc;

    pub(super) fn finding(rule: &str, sev: Severity, description: &str) -> Finding {
        Finding {
            id: "fd".into(),
            rule_id: rule.into(),
            rule_name: rule.into(),
            severity: sev,
            magnitude: 2,
            title: "t".into(),
            description: description.into(),
            user: Some("alice".into()),
            subject: "alice".into(),
            event_ids: vec!["ev_1".into(), "ev_2".into()],
            evidence_count: 2,
            evidence_truncated: false,
            first_seen: Utc::now(),
            last_seen: Utc::now(),
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
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn base_scores_and_floors() {
        use Severity::*;
        let cases = [
            ("login_failed_burst", Low, "", 20.0),
            ("login_failed_burst", Medium, "", 50.0),
            ("login_failed_burst", High, "", 80.0),
            ("login_failed_burst", Critical, "", 95.0),
            ("public_bucket", Critical, "", 95.0),
            ("privilege_escalation_admin", High, "", 90.0),
            ("api_token_admin_scope", Critical, "", 95.0),
            ("api_token_admin_scope", High, "", 92.0),
            ("deployment_failed", High, "failed in production.", 85.0),
            ("deployment_failed", Medium, "failed in staging.", 50.0),
        ];
        for (rule, sev, desc, want) in cases {
            assert_eq!(score(&finding(rule, sev, desc)).0, want, "{rule} {sev}");
        }
    }

    #[test]
    fn explanation_names_the_evidence() {
        let (_, text) = score(&finding(
            "public_bucket",
            Severity::High,
            "bucket b is public",
        ));
        assert!(text.contains("ev_1, ev_2"), "{text}");
        assert!(text.contains("Raised to 90"), "{text}");
        assert!(text.contains("alice"), "{text}");
    }
}
