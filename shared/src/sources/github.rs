//! GitHub: organization and repository webhooks (the event name from `X-GitHub-Event`,
//! the delivery id from `X-GitHub-Delivery`) and the organization audit-log stream
//! (NDJSON, `@timestamp` in epoch milliseconds).
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::{
    NormalizedRecord, OTHER, RecordError, SourceKind, TimeOrigin, at, check_time, clean_user,
    dedup_key, parse_epoch_millis, parse_iso_time, put_country, str_at,
};
use crate::domain::event::TimeBounds;

/// One webhook delivery as received.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// `X-GitHub-Event`.
    pub event: &'a str,
    /// `X-GitHub-Delivery`: the same for a redelivery of the same event.
    pub id: &'a str,
    pub received_at: DateTime<Utc>,
}

fn login_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    str_at(v, &[key, "login"])
}

/// Normalizes a GitHub permission or role name to the rules' vocabulary.
fn role(s: &str) -> String {
    match s.trim().to_ascii_lowercase().as_str() {
        "admin" | "owner" => "admin".into(),
        "write" | "push" => "write".into(),
        "read" | "pull" => "read".into(),
        other => other.to_string(),
    }
}

fn repo_name(p: &Value) -> Option<&str> {
    str_at(p, &["repository", "full_name"])
}

fn time_or_received(
    p: &Value,
    path: &[&str],
    d: &Delivery<'_>,
    bounds: TimeBounds,
) -> Result<(DateTime<Utc>, TimeOrigin), RecordError> {
    match str_at(p, path) {
        Some(s) => {
            let field = path.join(".");
            let t = check_time(&field, parse_iso_time(&field, s)?, bounds)?;
            Ok((t, TimeOrigin::Record))
        }
        None => Ok((d.received_at, TimeOrigin::Received)),
    }
}

/// Maps one webhook delivery. `ping` is answered by the caller and never reaches here.
pub fn map_webhook(
    payload: &Value,
    d: &Delivery<'_>,
    bounds: TimeBounds,
) -> Result<NormalizedRecord, RecordError> {
    if !payload.is_object() {
        return Err(RecordError::new(
            "body",
            "a webhook payload must be a JSON object",
        ));
    }
    let action = str_at(payload, &["action"]).unwrap_or_default();
    let sender = login_of(payload, "sender");
    let mut fields = Map::new();
    if let Some(r) = repo_name(payload) {
        fields.insert("repository".into(), json!(r));
    }
    if let Some(o) = login_of(payload, "organization") {
        fields.insert("organization".into(), json!(o));
    }
    fields.insert("action".into(), json!(action));
    // Most payloads carry no time of the change itself: the receipt time stands in.
    let mut time_path: &[&str] = &[];
    let mut user = sender;
    let (event_type, mapping): (&'static str, &'static str) = match (d.event, action) {
        ("pull_request", "closed")
            if at(payload, &["pull_request", "merged"]) == Some(&Value::Bool(true)) =>
        {
            let pr = &payload["pull_request"];
            let lines =
                pr["additions"].as_u64().unwrap_or(0) + pr["deletions"].as_u64().unwrap_or(0);
            fields.insert("lines_changed".into(), json!(lines));
            fields.insert("pull_request".into(), pr["number"].clone());
            // `merged_by` may be null (merged by an app, or an old payload): the sender.
            user = login_of(pr, "merged_by").or(sender);
            time_path = &["pull_request", "merged_at"];
            ("pull_request_merged", "github.pull_request_merged")
        }
        ("pull_request", "opened") => {
            fields.insert(
                "pull_request".into(),
                payload["pull_request"]["number"].clone(),
            );
            time_path = &["pull_request", "created_at"];
            ("pull_request_opened", "github.pull_request_opened")
        }
        ("deployment_status", _) => {
            let state = str_at(payload, &["deployment_status", "state"]).unwrap_or_default();
            let env = str_at(payload, &["deployment_status", "environment"])
                .or_else(|| str_at(payload, &["deployment", "environment"]));
            if let Some(env) = env {
                fields.insert("environment".into(), json!(env));
            }
            if let Some(s) = str_at(payload, &["repository", "name"]) {
                fields.insert("service".into(), json!(s));
            }
            fields.insert("state".into(), json!(state));
            user = login_of(&payload["deployment_status"], "creator").or(sender);
            time_path = &["deployment_status", "updated_at"];
            match state {
                "failure" | "error" => ("deployment_failed", "github.deployment_status"),
                "success" => ("deployment_succeeded", "github.deployment_status"),
                "pending" | "queued" | "in_progress" => {
                    ("deployment_started", "github.deployment_status")
                }
                _ => (OTHER, "github.deployment_status_unknown"),
            }
        }
        ("member", "added" | "edited") => {
            if let Some(t) = login_of(payload, "member") {
                fields.insert("target_user".into(), json!(t));
            }
            let to = str_at(payload, &["changes", "permission", "to"])
                .or_else(|| str_at(payload, &["changes", "role_name", "to"]));
            let from = str_at(payload, &["changes", "permission", "from"])
                .or_else(|| str_at(payload, &["changes", "old_permission", "from"]));
            if let Some(to) = to {
                fields.insert("new_role".into(), json!(role(to)));
            }
            if let Some(from) = from {
                fields.insert("old_role".into(), json!(role(from)));
            }
            ("permission_changed", "github.member")
        }
        ("organization", "member_added" | "member_invited") => {
            if let Some(t) = str_at(payload, &["membership", "user", "login"])
                .or_else(|| str_at(payload, &["invitation", "login"]))
            {
                fields.insert("target_user".into(), json!(t));
            }
            if let Some(r) = str_at(payload, &["membership", "role"])
                .or_else(|| str_at(payload, &["invitation", "role"]))
            {
                fields.insert("new_role".into(), json!(role(r)));
            }
            ("permission_changed", "github.organization_member")
        }
        ("team", "added_to_repository" | "edited") => {
            if let Some(t) = str_at(payload, &["team", "slug"]) {
                fields.insert("target".into(), json!(format!("team:{t}")));
            }
            let perms = at(payload, &["repository", "permissions"]);
            if perms.and_then(|p| p.get("admin")) == Some(&Value::Bool(true)) {
                fields.insert("new_role".into(), json!("admin"));
            }
            ("permission_changed", "github.team")
        }
        ("membership", "added") => {
            if let Some(t) = login_of(payload, "member") {
                fields.insert("target_user".into(), json!(t));
            }
            if let Some(t) = str_at(payload, &["team", "slug"]) {
                fields.insert("team".into(), json!(t));
            }
            ("permission_changed", "github.team_membership")
        }
        ("repository", "publicized") => {
            fields.insert(
                "bucket_name".into(),
                json!(repo_name(payload).unwrap_or("unknown")),
            );
            fields.insert("resource_kind".into(), json!("repository"));
            fields.insert("visibility".into(), json!("public"));
            fields.insert("public".into(), json!(true));
            (
                "storage_bucket_permission_changed",
                "github.repository_publicized",
            )
        }
        ("deploy_key", "created") => {
            if let Some(t) = str_at(payload, &["key", "title"]) {
                fields.insert("token_name".into(), json!(t));
            }
            fields.insert("token_kind".into(), json!("deploy_key"));
            if let Some(ro) = at(payload, &["key", "read_only"]) {
                fields.insert("read_only".into(), ro.clone());
            }
            time_path = &["key", "created_at"];
            ("api_token_created", "github.deploy_key")
        }
        ("personal_access_token_request", "created" | "approved") => {
            let req = &payload["personal_access_token_request"];
            if let Some(o) = login_of(req, "owner") {
                user = Some(o);
            }
            fields.insert("token_kind".into(), json!("fine_grained_pat"));
            if let Some(e) = str_at(req, &["token_expires_at"]) {
                fields.insert("expires_at".into(), json!(e));
            }
            if let Some(p) = req.get("permissions_added") {
                fields.insert("permissions".into(), p.clone());
            }
            time_path = &["personal_access_token_request", "created_at"];
            ("api_token_created", "github.personal_access_token_request")
        }
        ("branch_protection_rule", _) => {
            if let Some(n) = str_at(payload, &["rule", "name"]) {
                fields.insert("branch".into(), json!(n));
            }
            fields.insert("change".into(), json!("branch_protection"));
            ("permission_changed", "github.branch_protection_rule")
        }
        _ => (OTHER, "github.unmapped"),
    };
    let (timestamp, time_origin) = if time_path.is_empty() {
        (d.received_at, TimeOrigin::Received)
    } else {
        time_or_received(payload, time_path, d, bounds)?
    };
    let user = user
        .and_then(clean_user)
        .ok_or_else(|| RecordError::new("sender.login", "is required (who acted)"))?;
    Ok(NormalizedRecord {
        kind: SourceKind::Github,
        event_type,
        timestamp,
        time_origin,
        user,
        dedup_key: dedup_key(SourceKind::Github, Some(d.id), payload),
        event_name: if action.is_empty() {
            d.event.to_string()
        } else {
            format!("{}.{action}", d.event)
        },
        mapping,
        fields,
    })
}

fn permission_of(r: &Value) -> Option<String> {
    str_at(r, &["permission"])
        .or_else(|| str_at(r, &["role"]))
        .or_else(|| str_at(r, &["new_role"]))
        .map(role)
}

/// Maps one audit-log record (`action`, `actor`, `@timestamp` in epoch ms).
pub fn map_audit(record: &Value, bounds: TimeBounds) -> Result<NormalizedRecord, RecordError> {
    if !record.is_object() {
        return Err(RecordError::new(
            "",
            "each audit-log line must be a JSON object",
        ));
    }
    let action = str_at(record, &["action"])
        .ok_or_else(|| RecordError::new("action", "is required (a string)"))?;
    let ts = record
        .get("@timestamp")
        .or_else(|| record.get("created_at"))
        .ok_or_else(|| RecordError::new("@timestamp", "is required (epoch milliseconds)"))?;
    let timestamp = check_time("@timestamp", parse_epoch_millis("@timestamp", ts)?, bounds)?;
    let actor = str_at(record, &["actor"])
        .and_then(clean_user)
        .ok_or_else(|| RecordError::new("actor", "is required (who acted)"))?;
    let mut fields = Map::new();
    for (from, to) in [
        ("repo", "repository"),
        ("org", "organization"),
        ("user", "target_user"),
    ] {
        if let Some(v) = str_at(record, &[from]) {
            fields.insert(to.into(), json!(v));
        }
    }
    put_country(
        &mut fields,
        str_at(record, &["actor_location", "country_code"])
            .or_else(|| str_at(record, &["actor_location", "country_name"])),
    );
    if let Some(ip) = str_at(record, &["actor_ip"]) {
        fields.insert("ip".into(), json!(ip));
    }
    let (event_type, mapping): (&'static str, &'static str) = match action {
        "org.update_member"
        | "org.add_member"
        | "repo.add_member"
        | "repo.update_member"
        | "team.add_member"
        | "team.promote_maintainer"
        | "team.update_repository_permission"
        | "org.update_member_repository_creation_permission" => {
            if let Some(p) = permission_of(record) {
                fields.insert("new_role".into(), json!(p));
            }
            if let Some(p) =
                str_at(record, &["old_permission"]).or_else(|| str_at(record, &["old_role"]))
            {
                fields.insert("old_role".into(), json!(role(p)));
            }
            ("permission_changed", "github.audit_membership")
        }
        "repo.access" => {
            let vis = str_at(record, &["visibility"]).unwrap_or_default();
            fields.insert("visibility".into(), json!(vis));
            fields.insert(
                "bucket_name".into(),
                json!(str_at(record, &["repo"]).unwrap_or("unknown")),
            );
            fields.insert("resource_kind".into(), json!("repository"));
            fields.insert("public".into(), json!(vis == "public"));
            if let Some(p) = str_at(record, &["previous_visibility"]) {
                fields.insert("previous_visibility".into(), json!(p));
            }
            (
                "storage_bucket_permission_changed",
                "github.audit_repo_access",
            )
        }
        "personal_access_token.access_granted"
        | "personal_access_token.request_created"
        | "oauth_authorization.create"
        | "deploy_key.create"
        | "public_key.create"
        | "repo.create_deploy_key" => {
            for k in ["token_name", "title", "fingerprint"] {
                if let Some(v) = str_at(record, &[k]) {
                    fields.insert("token_name".into(), json!(v));
                    break;
                }
            }
            if let Some(e) =
                str_at(record, &["token_expires_at"]).or_else(|| str_at(record, &["expires_at"]))
            {
                fields.insert("expires_at".into(), json!(e));
            }
            if let Some(s) = record.get("scopes").or_else(|| record.get("token_scopes")) {
                fields.insert("scopes".into(), s.clone());
            }
            ("api_token_created", "github.audit_token")
        }
        "protected_branch.create"
        | "protected_branch.update"
        | "protected_branch.destroy"
        | "protected_branch.policy_override"
        | "protected_branch.rejected_ref_update" => {
            if let Some(b) = str_at(record, &["branch"]).or_else(|| str_at(record, &["name"])) {
                fields.insert("branch".into(), json!(b));
            }
            fields.insert("change".into(), json!("branch_protection"));
            ("permission_changed", "github.audit_protected_branch")
        }
        _ => (OTHER, "github.audit_unmapped"),
    };
    Ok(NormalizedRecord {
        kind: SourceKind::Github,
        event_type,
        timestamp,
        time_origin: TimeOrigin::Record,
        user: actor,
        dedup_key: dedup_key(
            SourceKind::Github,
            str_at(record, &["_document_id"]),
            record,
        ),
        event_name: action.to_string(),
        mapping,
        fields,
    })
}

/// The lines of an NDJSON body, parsed; a bad line is an error naming its index.
pub fn ndjson(body: &str) -> Result<Vec<Value>, crate::domain::FieldError> {
    body.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| {
                crate::domain::FieldError::new("line", format!("is not JSON: {e}")).at(i)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
            .unwrap()
            .to_utc()
    }

    fn d(event: &str) -> Delivery<'_> {
        Delivery {
            event,
            id: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
            received_at: now(),
        }
    }

    fn wh(event: &str, p: Value) -> NormalizedRecord {
        map_webhook(&p, &d(event), TimeBounds::at(now())).unwrap()
    }

    fn merged(merged_by: Value) -> Value {
        json!({"action": "closed", "number": 2,
            "pull_request": {"number": 2, "merged": true, "merged_at": "2023-05-01T10:00:00Z", "additions": 300, "deletions": 150, "merged_by": merged_by},
            "repository": {"name": "Hello-World", "full_name": "Codertocat/Hello-World"},
            "sender": {"login": "Codertocat"}})
    }

    #[test]
    fn a_merged_pull_request_counts_additions_and_deletions() {
        let n = wh("pull_request", merged(json!({"login": "octocat"})));
        assert_eq!(n.event_type, "pull_request_merged");
        assert_eq!(n.fields["lines_changed"], json!(450));
        assert_eq!(n.user, "octocat");
        assert_eq!(n.time_origin, TimeOrigin::Record);
        assert_eq!(n.timestamp.to_rfc3339(), "2023-05-01T10:00:00+00:00");
        assert_eq!(n.fields["repository"], json!("Codertocat/Hello-World"));
    }

    #[test]
    fn merged_by_null_falls_back_to_the_sender() {
        assert_eq!(wh("pull_request", merged(Value::Null)).user, "Codertocat");
    }

    #[test]
    fn a_closed_unmerged_pull_request_is_not_a_merge() {
        let mut p = merged(Value::Null);
        p["pull_request"]["merged"] = json!(false);
        assert_eq!(wh("pull_request", p).event_type, OTHER);
    }

    #[test]
    fn deployment_failure_and_error_carry_their_environment() {
        for state in ["failure", "error"] {
            let p = json!({"action": "created", "deployment_status": {"state": state, "environment": "production", "creator": {"login": "octocat"}, "updated_at": "2023-05-01T10:00:00Z"},
                "deployment": {"environment": "production"}, "repository": {"name": "api", "full_name": "o/api"}, "sender": {"login": "octocat"}});
            let n = wh("deployment_status", p);
            assert_eq!(n.event_type, "deployment_failed");
            assert_eq!(n.fields["environment"], json!("production"));
            assert_eq!(n.fields["service"], json!("api"));
        }
    }

    #[test]
    fn member_and_organization_role_changes_to_admin() {
        let p = json!({"action": "edited", "member": {"login": "eve"}, "changes": {"permission": {"from": "write", "to": "admin"}}, "repository": {"full_name": "o/r"}, "sender": {"login": "bob"}});
        let n = wh("member", p);
        assert_eq!(n.event_type, "permission_changed");
        assert_eq!(
            (n.fields["new_role"].clone(), n.fields["old_role"].clone()),
            (json!("admin"), json!("write"))
        );
        assert_eq!(n.fields["target_user"], json!("eve"));
        let p = json!({"action": "member_added", "membership": {"role": "admin", "user": {"login": "eve"}}, "organization": {"login": "o"}, "sender": {"login": "bob"}});
        assert_eq!(wh("organization", p).fields["new_role"], json!("admin"));
        let p = json!({"action": "added_to_repository", "team": {"slug": "ops"}, "repository": {"full_name": "o/r", "permissions": {"admin": true, "push": true, "pull": true}}, "sender": {"login": "bob"}});
        assert_eq!(wh("team", p).fields["new_role"], json!("admin"));
    }

    #[test]
    fn payloads_without_an_event_time_use_the_receipt_time_and_say_so() {
        let p = json!({"action": "edited", "member": {"login": "eve"}, "sender": {"login": "bob"}});
        let n = wh("member", p);
        assert_eq!(n.time_origin, TimeOrigin::Received);
        assert_eq!(n.timestamp, now());
    }

    #[test]
    fn a_publicized_repository_is_a_public_resource() {
        let p = json!({"action": "publicized", "repository": {"full_name": "o/secret-sauce", "private": false}, "sender": {"login": "bob"}});
        let n = wh("repository", p);
        assert_eq!(n.event_type, "storage_bucket_permission_changed");
        assert_eq!(n.fields["public"], json!(true));
        assert_eq!(n.fields["bucket_name"], json!("o/secret-sauce"));
    }

    #[test]
    fn deploy_keys_and_token_requests_are_tokens_without_invented_scope_or_expiry() {
        let p = json!({"action": "created", "key": {"id": 1, "title": "ci", "read_only": false, "created_at": "2023-05-01T10:00:00Z"}, "repository": {"full_name": "o/r"}, "sender": {"login": "bob"}});
        let n = wh("deploy_key", p);
        assert_eq!(n.event_type, "api_token_created");
        assert_eq!(n.fields["token_name"], json!("ci"));
        assert!(n.fields.get("scopes").is_none() && n.fields.get("expires_at").is_none());
        let p = json!({"action": "created", "personal_access_token_request": {"owner": {"login": "eve"}, "token_expires_at": null, "permissions_added": {"repository": {"contents": "write"}}, "created_at": "2023-05-01T10:00:00Z"}, "sender": {"login": "eve"}});
        let n = wh("personal_access_token_request", p);
        assert_eq!(n.user, "eve");
        assert!(n.fields.get("expires_at").is_none() && n.fields.get("scopes").is_none());
    }

    #[test]
    fn branch_protection_changes_are_permission_changes() {
        let p = json!({"action": "deleted", "rule": {"name": "main"}, "repository": {"full_name": "o/r"}, "sender": {"login": "bob"}});
        let n = wh("branch_protection_rule", p);
        assert_eq!(
            (n.event_type, n.fields["branch"].clone()),
            ("permission_changed", json!("main"))
        );
        let a = map_audit(&json!({"action": "protected_branch.destroy", "actor": "bob", "branch": "main", "@timestamp": 1672531200000_i64}), TimeBounds::at(now())).unwrap();
        assert_eq!(a.event_type, "permission_changed");
    }

    #[test]
    fn the_delivery_id_is_the_dedup_key() {
        let n = wh("pull_request", merged(Value::Null));
        assert_eq!(n.dedup_key, "github:72d3162e-cc78-11e3-81ab-4c9367dc0958");
    }

    #[test]
    fn audit_times_are_epoch_milliseconds_and_countries_are_codes() {
        let r = json!({"@timestamp": 1672531200123_i64, "_document_id": "doc-1", "action": "org.update_member", "actor": "octocat", "user": "eve", "org": "o", "permission": "admin", "old_permission": "read", "actor_location": {"country_code": "RU"}});
        let n = map_audit(&r, TimeBounds::at(now())).unwrap();
        assert_eq!(n.timestamp.to_rfc3339(), "2023-01-01T00:00:00.123+00:00");
        assert_eq!(n.event_type, "permission_changed");
        assert_eq!(n.fields["new_role"], json!("admin"));
        assert_eq!(n.fields["old_role"], json!("read"));
        assert_eq!(n.fields["country"], json!("RU"));
        assert_eq!(n.dedup_key, "github:doc-1");
        let e = map_audit(
            &json!({"action": "x", "actor": "a", "@timestamp": "2023-01-01"}),
            TimeBounds::at(now()),
        )
        .unwrap_err();
        assert_eq!(e.field, "@timestamp");
    }

    #[test]
    fn repo_access_is_public_only_when_made_public() {
        let b = TimeBounds::at(now());
        let public = map_audit(&json!({"action": "repo.access", "actor": "a", "repo": "o/r", "visibility": "public", "@timestamp": 1672531200000_i64}), b).unwrap();
        assert_eq!(public.fields["public"], json!(true));
        let private = map_audit(&json!({"action": "repo.access", "actor": "a", "repo": "o/r", "visibility": "private", "@timestamp": 1672531200000_i64}), b).unwrap();
        assert_eq!(private.fields["public"], json!(false));
    }

    #[test]
    fn ndjson_errors_name_the_line() {
        let ok = ndjson("{\"a\":1}\n\n{\"b\":2}\n").unwrap();
        assert_eq!(ok.len(), 2);
        let err = ndjson("{\"a\":1}\nnope\n").unwrap_err();
        assert_eq!(err.index, Some(1));
    }
}
