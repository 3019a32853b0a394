//! Okta System Log events, from the System Log API (an array of LogEvents) or an event
//! hook delivery (`data.events`). The actor is `actor.alternateId` (the login), the
//! result is `outcome.result` (never the `legacyEventType`), the country a name
//! (`client.geographicalContext.country`).
use serde_json::{Map, Value, json};

use super::{
    NormalizedRecord, OTHER, RecordError, SourceKind, TimeOrigin, check_time, clean_user,
    dedup_key, parse_iso_time, put_country, str_at,
};
use crate::domain::event::TimeBounds;

/// The LogEvents of a body: an event hook delivery's `data.events`, an array, or one.
pub fn events_of(body: &Value) -> Result<Vec<&Value>, crate::domain::FieldError> {
    match body.get("data").and_then(|d| d.get("events")) {
        Some(Value::Array(a)) => Ok(a.iter().collect()),
        Some(_) => Err(crate::domain::FieldError::new(
            "data.events",
            "must be an array of LogEvents",
        )),
        None => super::records_of(body, None),
    }
}

fn targets<'a>(r: &'a Value, kind: &str) -> Vec<&'a Value> {
    match r.get("target") {
        Some(Value::Array(a)) => a
            .iter()
            .filter(|t| str_at(t, &["type"]).is_some_and(|k| k.eq_ignore_ascii_case(kind)))
            .collect(),
        _ => Vec::new(),
    }
}

fn target_name<'a>(r: &'a Value, kind: &str) -> Option<&'a str> {
    targets(r, kind).into_iter().find_map(|t| {
        // Okta writes `unknown` where a target has no login (tokens, groups).
        str_at(t, &["alternateId"])
            .filter(|a| !a.eq_ignore_ascii_case("unknown"))
            .or_else(|| str_at(t, &["displayName"]))
    })
}

/// Whether a granted privilege is an administrator role with write access: Okta's
/// `Read-only Administrator` grants none.
fn is_admin_privilege(p: &str) -> bool {
    let p = p.to_ascii_lowercase();
    (p.contains("admin") || p.contains("administrator"))
        && !p.contains("read-only")
        && !p.contains("read only")
}

fn privilege(r: &Value) -> Option<&str> {
    str_at(r, &["debugContext", "debugData", "privilegeGranted"])
}

/// Maps one LogEvent.
pub fn map(r: &Value, bounds: TimeBounds) -> Result<NormalizedRecord, RecordError> {
    if !r.is_object() {
        return Err(RecordError::new("", "each LogEvent must be a JSON object"));
    }
    let event_type_name = str_at(r, &["eventType"])
        .ok_or_else(|| RecordError::new("eventType", "is required (a string)"))?;
    let published = str_at(r, &["published"])
        .ok_or_else(|| RecordError::new("published", "is required (an ISO 8601 string)"))?;
    let timestamp = check_time("published", parse_iso_time("published", published)?, bounds)?;
    let user = str_at(r, &["actor", "alternateId"])
        .and_then(clean_user)
        .or_else(|| str_at(r, &["actor", "id"]).and_then(clean_user))
        .ok_or_else(|| RecordError::new("actor.alternateId", "is required (who acted)"))?;
    let result = str_at(r, &["outcome", "result"])
        .unwrap_or("UNKNOWN")
        .to_ascii_uppercase();
    let mut fields = Map::new();
    fields.insert("outcome".into(), json!(result));
    if let Some(reason) = str_at(r, &["outcome", "reason"]) {
        fields.insert("reason".into(), json!(reason));
    }
    if let Some(ip) = str_at(r, &["client", "ipAddress"]) {
        fields.insert("ip".into(), json!(ip));
    }
    if let Some(l) = str_at(r, &["legacyEventType"]) {
        fields.insert("legacy_event_type".into(), json!(l));
    }
    put_country(
        &mut fields,
        str_at(r, &["client", "geographicalContext", "country"]),
    );
    if let Some(city) = str_at(r, &["client", "geographicalContext", "city"]) {
        fields.insert("city".into(), json!(city));
    }
    let success = result == "SUCCESS" || result == "ALLOW";
    let failure = result == "FAILURE" || result == "DENY";
    let (event_type, mapping): (&'static str, &'static str) = match event_type_name {
        "user.session.start" if success => ("login_success", "okta.session_start"),
        "user.session.start" if failure => ("login_failed", "okta.session_start"),
        "user.authentication.auth_via_mfa"
        | "user.authentication.verify"
        | "user.mfa.factor.verify" => match result.as_str() {
            _ if success => ("mfa_success", "okta.mfa_verify"),
            _ if failure => ("mfa_failed", "okta.mfa_verify"),
            "CHALLENGE" => ("mfa_challenge", "okta.mfa_verify"),
            _ => (OTHER, "okta.mfa_verify_unknown_outcome"),
        },
        "system.push.send_factor_verify_push" => ("mfa_challenge", "okta.mfa_push"),
        "user.mfa.okta_verify.deny_push" => ("mfa_failed", "okta.mfa_push_denied"),
        "system.api_token.create" if !failure => {
            if let Some(t) = target_name(r, "Token") {
                fields.insert("token_name".into(), json!(t));
            }
            // The record states no expiry and no scope; neither is invented.
            ("api_token_created", "okta.api_token_create")
        }
        "user.account.privilege.grant" if !failure => {
            if let Some(t) = target_name(r, "User") {
                fields.insert("target_user".into(), json!(t));
            }
            if let Some(p) = privilege(r) {
                fields.insert("privilege".into(), json!(p));
                if is_admin_privilege(p) {
                    fields.insert("new_role".into(), json!("admin"));
                }
            }
            ("permission_changed", "okta.user_privilege_grant")
        }
        "group.privilege.grant" if !failure => {
            if let Some(g) = target_name(r, "UserGroup") {
                fields.insert("target".into(), json!(format!("group:{g}")));
            }
            if let Some(p) = privilege(r) {
                fields.insert("privilege".into(), json!(p));
                if is_admin_privilege(p) {
                    fields.insert("new_role".into(), json!("admin"));
                }
            }
            ("permission_changed", "okta.group_privilege_grant")
        }
        "group.user_membership.add" if !failure => {
            if let Some(t) = target_name(r, "User") {
                fields.insert("target_user".into(), json!(t));
            }
            let group = targets(r, "UserGroup")
                .into_iter()
                .find_map(|g| str_at(g, &["displayName"]));
            if let Some(g) = group {
                fields.insert("group".into(), json!(g));
                // Membership of a group named as an administrators' group is an admin
                // grant; what other groups confer is not in the record.
                if is_admin_privilege(g) {
                    fields.insert("new_role".into(), json!("admin"));
                }
            }
            ("permission_changed", "okta.admin_group_membership")
        }
        _ => (OTHER, "okta.unmapped"),
    };
    Ok(NormalizedRecord {
        kind: SourceKind::Okta,
        event_type,
        timestamp,
        time_origin: TimeOrigin::Record,
        user,
        dedup_key: dedup_key(SourceKind::Okta, str_at(r, &["uuid"]), r),
        event_name: event_type_name.to_string(),
        mapping,
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn b() -> TimeBounds {
        TimeBounds::at(
            DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
                .unwrap()
                .to_utc(),
        )
    }

    fn ev(kind: &str, result: &str) -> Value {
        json!({"uuid": "dc9fd3c0-598c-11ef-8478-2b7584bf8d5a", "published": "2023-08-13T14:12:08.914Z", "eventType": kind,
            "version": "0", "severity": "INFO", "legacyEventType": "core.user_auth.login_success",
            "actor": {"id": "00u1qw1mqitPHM8AJ0g7", "type": "User", "alternateId": "admin@example.com", "displayName": "Admin"},
            "client": {"ipAddress": "203.0.113.7", "geographicalContext": {"city": "Moscow", "country": "Russia"}},
            "outcome": {"result": result}, "target": []})
    }

    #[test]
    fn session_start_success_and_failure_by_outcome_not_legacy_type() {
        let ok = map(&ev("user.session.start", "SUCCESS"), b()).unwrap();
        assert_eq!(ok.event_type, "login_success");
        assert_eq!(ok.user, "admin@example.com");
        assert_eq!(ok.fields["country"], json!("RU"));
        assert_eq!(ok.fields["country_name"], json!("Russia"));
        // The legacy type says success; the outcome says failure, and wins.
        let bad = map(&ev("user.session.start", "FAILURE"), b()).unwrap();
        assert_eq!(bad.event_type, "login_failed");
    }

    #[test]
    fn event_types_match_exactly_no_trailing_space() {
        let n = map(&ev("user.session.start ", "SUCCESS"), b()).unwrap();
        assert_eq!(n.event_type, OTHER);
    }

    #[test]
    fn mfa_verification_success_failure_and_challenge() {
        assert_eq!(
            map(&ev("user.authentication.auth_via_mfa", "SUCCESS"), b())
                .unwrap()
                .event_type,
            "mfa_success"
        );
        assert_eq!(
            map(&ev("user.authentication.auth_via_mfa", "FAILURE"), b())
                .unwrap()
                .event_type,
            "mfa_failed"
        );
        assert_eq!(
            map(&ev("user.authentication.verify", "CHALLENGE"), b())
                .unwrap()
                .event_type,
            "mfa_challenge"
        );
        assert_eq!(
            map(&ev("user.mfa.okta_verify.deny_push", "SUCCESS"), b())
                .unwrap()
                .event_type,
            "mfa_failed"
        );
    }

    #[test]
    fn api_tokens_have_no_invented_expiry_or_scope() {
        let mut e = ev("system.api_token.create", "SUCCESS");
        e["target"] =
            json!([{"id": "00Tabcdefg1234567", "type": "Token", "displayName": "ci-token"}]);
        let n = map(&e, b()).unwrap();
        assert_eq!(n.event_type, "api_token_created");
        assert_eq!(n.fields["token_name"], json!("ci-token"));
        assert!(n.fields.get("expires_at").is_none() && n.fields.get("scopes").is_none());
    }

    #[test]
    fn privilege_grants_and_admin_group_membership() {
        let mut e = ev("user.account.privilege.grant", "SUCCESS");
        e["target"] =
            json!([{"type": "User", "alternateId": "eve@example.com", "displayName": "Eve"}]);
        e["debugContext"] = json!({"debugData": {"privilegeGranted": "Super administrator"}});
        let n = map(&e, b()).unwrap();
        assert_eq!(
            (n.event_type, n.fields["new_role"].clone()),
            ("permission_changed", json!("admin"))
        );
        assert_eq!(n.fields["target_user"], json!("eve@example.com"));
        e["debugContext"] = json!({"debugData": {"privilegeGranted": "Read-only Administrator"}});
        assert!(map(&e, b()).unwrap().fields.get("new_role").is_none());
        let mut g = ev("group.privilege.grant", "SUCCESS");
        g["target"] = json!([{"type": "UserGroup", "displayName": "Ops"}]);
        g["debugContext"] =
            json!({"debugData": {"privilegeGranted": "Organization administrator"}});
        assert_eq!(map(&g, b()).unwrap().fields["new_role"], json!("admin"));
        let mut m = ev("group.user_membership.add", "SUCCESS");
        m["target"] = json!([{"type": "User", "alternateId": "eve@example.com"}, {"type": "UserGroup", "displayName": "Okta Administrators"}]);
        assert_eq!(map(&m, b()).unwrap().fields["new_role"], json!("admin"));
        m["target"][1]["displayName"] = json!("Engineering");
        assert!(map(&m, b()).unwrap().fields.get("new_role").is_none());
    }

    #[test]
    fn the_actor_is_the_alternate_id_and_required() {
        let mut e = ev("user.session.start", "SUCCESS");
        e["actor"] = json!({"id": "00u1", "displayName": "No Login"});
        assert_eq!(map(&e, b()).unwrap().user, "00u1");
        e["actor"] = json!({});
        assert_eq!(map(&e, b()).unwrap_err().field, "actor.alternateId");
    }

    #[test]
    fn hook_deliveries_and_arrays_both_yield_events() {
        let hook = json!({"eventType": "com.okta.event_hook", "data": {"events": [ev("user.session.start", "SUCCESS"), ev("user.session.start", "FAILURE")]}});
        assert_eq!(events_of(&hook).unwrap().len(), 2);
        let arr = json!([ev("user.session.start", "SUCCESS")]);
        assert_eq!(events_of(&arr).unwrap().len(), 1);
        let mut e = ev("user.session.start", "SUCCESS");
        e["published"] = json!("2023-02-29T00:00:00Z");
        assert_eq!(map(&e, b()).unwrap_err().field, "published");
    }
}
