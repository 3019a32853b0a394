//! AWS CloudTrail records (a log file's `Records`, an EventBridge event's `detail`, or
//! one record as pushed) mapped onto Vigil events.
use serde_json::{Map, Value, json};

use super::{
    NormalizedRecord, OTHER, RecordError, SourceKind, TimeOrigin, at, check_time, clean_user,
    dedup_key, parse_iso_time, str_at,
};
use crate::domain::event::TimeBounds;

/// What AWS writes instead of the user name a failed sign-in typed when no such user
/// exists; never a user.
pub const HIDDEN_USER: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";
/// The AWS managed policy that grants everything.
const ADMIN_POLICY_SUFFIX: &str = ":policy/AdministratorAccess";
const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";

/// The record inside an EventBridge event (`detail-type: AWS API Call via CloudTrail`
/// or `AWS Console Sign In via CloudTrail`), or the record itself.
pub fn unwrap_eventbridge(v: &Value) -> &Value {
    match (v.get("detail-type"), v.get("detail")) {
        (Some(Value::String(t)), Some(d)) if t.contains("via CloudTrail") => d,
        _ => v,
    }
}

fn is_yes(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "yes" | "true" => Some(true),
            "no" | "false" => Some(false),
            _ => None,
        },
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}

/// Who acted, by identity type: an IAM user by name (never the hidden placeholder),
/// the root user as `root@<account>`, an assumed role or federated user by the session
/// name at the end of its ARN.
fn actor(r: &Value, fields: &mut Map<String, Value>) -> String {
    let id = r.get("userIdentity").unwrap_or(&Value::Null);
    let kind = str_at(id, &["type"]).unwrap_or("Unknown");
    let account = str_at(id, &["accountId"])
        .or_else(|| str_at(r, &["recipientAccountId"]))
        .unwrap_or("unknown");
    fields.insert("identity_type".into(), json!(kind));
    fields.insert("account".into(), json!(account));
    let arn = str_at(id, &["arn"]);
    let arn_tail = arn
        .and_then(|a| a.rsplit('/').next())
        .filter(|t| !t.contains(':'));
    let name = str_at(id, &["userName"]).filter(|n| *n != HIDDEN_USER);
    if str_at(id, &["userName"]) == Some(HIDDEN_USER) {
        fields.insert("user_hidden".into(), json!(true));
    }
    let chosen = match kind {
        "Root" => Some(format!("root@{account}")),
        "AssumedRole" | "FederatedUser" => {
            if let Some(role) = str_at(id, &["sessionContext", "sessionIssuer", "userName"]) {
                fields.insert("role".into(), json!(role));
            }
            arn_tail.map(str::to_string).or(name.map(str::to_string))
        }
        "AWSService" => str_at(id, &["invokedBy"]).map(str::to_string),
        _ => name.map(str::to_string).or(arn_tail.map(str::to_string)),
    };
    chosen
        .as_deref()
        .and_then(clean_user)
        // An unknown or hidden user name: one placeholder per account, so a burst of
        // failed sign-ins against unknown names still groups.
        .unwrap_or_else(|| format!("unknown-user@{account}"))
}

fn mfa_session(r: &Value) -> Option<bool> {
    is_yes(at(
        r,
        &[
            "userIdentity",
            "sessionContext",
            "attributes",
            "mfaAuthenticated",
        ],
    ))
}

/// A statement list, given as one object or an array.
fn statements(doc: &Value) -> Vec<&Value> {
    match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(s @ Value::Object(_)) => vec![s],
        _ => Vec::new(),
    }
}

fn has_star(v: Option<&Value>) -> bool {
    match v {
        Some(Value::String(s)) => s == "*",
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some("*")),
        _ => false,
    }
}

/// A policy document, given as an object or as a JSON string (IAM's `policyDocument`
/// usually is one, URL-decoded).
fn document(v: Option<&Value>) -> Option<Value> {
    match v? {
        Value::String(s) => serde_json::from_str(s).ok(),
        o @ Value::Object(_) => Some(o.clone()),
        _ => None,
    }
}

/// Admin-equivalent: some statement allows `*` on `*`. A deny of everything is not.
pub fn grants_admin(doc: &Value) -> bool {
    statements(doc).into_iter().any(|s| {
        str_at(s, &["Effect"]) == Some("Allow")
            && has_star(s.get("Action"))
            && has_star(s.get("Resource"))
    })
}

fn iam_change(r: &Value, name: &str, fields: &mut Map<String, Value>) {
    let p = r.get("requestParameters").unwrap_or(&Value::Null);
    if let Some(t) = str_at(p, &["userName"])
        .or_else(|| str_at(p, &["roleName"]))
        .or_else(|| str_at(p, &["groupName"]))
    {
        fields.insert("target_user".into(), json!(t));
    }
    for k in [
        "userName",
        "roleName",
        "groupName",
        "policyArn",
        "policyName",
    ] {
        if let Some(v) = str_at(p, &[k]) {
            fields.insert(k.to_string(), json!(v));
        }
    }
    let by_arn = str_at(p, &["policyArn"]).is_some_and(|a| a.ends_with(ADMIN_POLICY_SUFFIX));
    let by_doc = document(p.get("policyDocument")).is_some_and(|d| grants_admin(&d));
    fields.insert("change".into(), json!(name));
    if by_arn || by_doc {
        fields.insert("new_role".into(), json!("admin"));
        fields.insert("admin_equivalent".into(), json!(true));
    }
}

fn acl_values(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether a `PutBucketAcl`/`CreateBucket` request grants everyone access: a canned
/// public ACL (`x-amz-acl`, a string or an array), a grant header naming everyone, or
/// an `AccessControlPolicy` grant (one object or a list) to AllUsers or
/// AuthenticatedUsers.
fn acl_is_public(p: &Value) -> bool {
    let canned = acl_values(p.get("x-amz-acl")).iter().any(|a| {
        matches!(
            a.as_str(),
            "public-read" | "public-read-write" | "authenticated-read"
        )
    });
    let header = [
        "x-amz-grant-read",
        "x-amz-grant-write",
        "x-amz-grant-read-acp",
        "x-amz-grant-write-acp",
        "x-amz-grant-full-control",
    ]
    .iter()
    .flat_map(|h| acl_values(p.get(*h)))
    .any(|g| g.contains(ALL_USERS) || g.contains(AUTHENTICATED_USERS));
    let grants = match at(p, &["AccessControlPolicy", "AccessControlList", "Grant"]) {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(g @ Value::Object(_)) => vec![g],
        _ => Vec::new(),
    };
    let granted = grants.into_iter().any(|g| {
        str_at(g, &["Grantee", "URI"]).is_some_and(|u| u == ALL_USERS || u == AUTHENTICATED_USERS)
    });
    canned || header || granted
}

/// Whether a bucket policy allows anyone (`"Principal": "*"` or `{"AWS": "*"}`) with
/// no condition narrowing it.
fn policy_is_public(doc: &Value) -> bool {
    statements(doc).into_iter().any(|s| {
        let principal = match s.get("Principal") {
            Some(Value::String(p)) => p == "*",
            Some(Value::Object(o)) => has_star(o.get("AWS")),
            _ => false,
        };
        str_at(s, &["Effect"]) == Some("Allow") && principal && s.get("Condition").is_none()
    })
}

fn bucket_change(r: &Value, name: &str, fields: &mut Map<String, Value>) {
    let p = r.get("requestParameters").unwrap_or(&Value::Null);
    if let Some(b) = str_at(p, &["bucketName"]).filter(|b| !b.trim().is_empty()) {
        fields.insert("bucket_name".into(), json!(b));
    }
    fields.insert("change".into(), json!(name));
    let public = match name {
        "PutBucketAcl" | "CreateBucket" => acl_is_public(p),
        "PutBucketPolicy" => document(p.get("bucketPolicy")).is_some_and(|d| policy_is_public(&d)),
        // Removing or setting a public-access block changes what may become public; by
        // itself it grants nobody anything.
        _ => false,
    };
    if name.contains("PublicAccessBlock") {
        let removed = name.starts_with("Delete");
        fields.insert(
            "public_access_block".into(),
            json!(if removed { "removed" } else { "set" }),
        );
    }
    fields.insert("public".into(), json!(public));
}

/// Maps one CloudTrail record.
pub fn map(record: &Value, bounds: TimeBounds) -> Result<NormalizedRecord, RecordError> {
    let r = unwrap_eventbridge(record);
    if !r.is_object() {
        return Err(RecordError::new("", "each record must be a JSON object"));
    }
    let name = str_at(r, &["eventName"])
        .ok_or_else(|| RecordError::new("eventName", "is required (a string)"))?;
    let time = str_at(r, &["eventTime"])
        .ok_or_else(|| RecordError::new("eventTime", "is required (an ISO 8601 string)"))?;
    let timestamp = check_time("eventTime", parse_iso_time("eventTime", time)?, bounds)?;
    let mut fields = Map::new();
    let user = actor(r, &mut fields);
    if let Some(ip) = str_at(r, &["sourceIPAddress"]) {
        fields.insert("ip".into(), json!(ip));
    }
    if let Some(region) = str_at(r, &["awsRegion"]) {
        fields.insert("region".into(), json!(region));
    }
    let event_source = str_at(r, &["eventSource"]).unwrap_or_default();
    fields.insert("event_source".into(), json!(event_source));
    if let Some(m) = mfa_session(r) {
        fields.insert("mfa_authenticated".into(), json!(m));
    }
    let failed_call = r.get("errorCode").is_some_and(|c| !c.is_null());
    if let Some(c) = str_at(r, &["errorCode"]) {
        fields.insert("error_code".into(), json!(c));
    }
    let (event_type, mapping): (&'static str, &'static str) = match name {
        "ConsoleLogin" => {
            let outcome = str_at(r, &["responseElements", "ConsoleLogin"]);
            if let Some(m) = is_yes(at(r, &["additionalEventData", "MFAUsed"])) {
                fields.insert("mfa_used".into(), json!(m));
            }
            if let Some(e) = str_at(r, &["errorMessage"]) {
                fields.insert("reason".into(), json!(e));
            }
            match outcome {
                Some("Success") => ("login_success", "cloudtrail.console_login"),
                Some("Failure") => ("login_failed", "cloudtrail.console_login"),
                _ => (OTHER, "cloudtrail.console_login_unknown_outcome"),
            }
        }
        // CheckMfa asks whether the user must present MFA; it is not a passed check.
        "CheckMfa" => ("mfa_challenge", "cloudtrail.check_mfa"),
        _ if failed_call => (OTHER, "cloudtrail.failed_call"),
        "AttachUserPolicy"
        | "AttachRolePolicy"
        | "AttachGroupPolicy"
        | "PutUserPolicy"
        | "PutRolePolicy"
        | "PutGroupPolicy"
        | "CreatePolicyVersion"
        | "AddUserToGroup"
            if event_source == "iam.amazonaws.com" || event_source.is_empty() =>
        {
            iam_change(r, name, &mut fields);
            ("permission_changed", "cloudtrail.iam_permission")
        }
        "CreateAccessKey" => {
            let p = r.get("requestParameters").unwrap_or(&Value::Null);
            let target = str_at(p, &["userName"]).unwrap_or(&user).to_string();
            fields.insert("target_user".into(), json!(target));
            if let Some(k) = str_at(r, &["responseElements", "accessKey", "accessKeyId"]) {
                fields.insert("token_name".into(), json!(k));
            }
            // Access keys carry no expiry and no scope: neither is invented.
            ("api_token_created", "cloudtrail.create_access_key")
        }
        "PutBucketAcl"
        | "PutBucketPolicy"
        | "DeletePublicAccessBlock"
        | "PutPublicAccessBlock"
        | "DeleteBucketPublicAccessBlock"
        | "PutBucketPublicAccessBlock" => {
            bucket_change(r, name, &mut fields);
            (
                "storage_bucket_permission_changed",
                "cloudtrail.s3_bucket_permission",
            )
        }
        "CreateBucket" => {
            bucket_change(r, name, &mut fields);
            ("storage_bucket_created", "cloudtrail.s3_create_bucket")
        }
        _ => (OTHER, "cloudtrail.unmapped"),
    };
    Ok(NormalizedRecord {
        kind: SourceKind::Cloudtrail,
        event_type,
        timestamp,
        time_origin: TimeOrigin::Record,
        user,
        dedup_key: dedup_key(SourceKind::Cloudtrail, str_at(r, &["eventID"]), r),
        event_name: name.to_string(),
        mapping,
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn bounds() -> TimeBounds {
        TimeBounds::at(
            DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
                .unwrap()
                .to_utc(),
        )
    }

    fn login(identity: Value, outcome: &str, extra: Value) -> Value {
        let mut r = json!({
            "eventVersion": "1.08",
            "userIdentity": identity,
            "eventTime": "2023-07-19T21:44:40Z",
            "eventSource": "signin.amazonaws.com",
            "eventName": "ConsoleLogin",
            "sourceIPAddress": "192.0.2.0",
            "responseElements": {"ConsoleLogin": outcome},
            "eventID": "e1bf1000-86a4-4a78-81d7-EXAMPLE83333",
        });
        if let (Some(o), Value::Object(e)) = (r.as_object_mut(), extra) {
            o.extend(e);
        }
        r
    }

    fn m(r: &Value) -> NormalizedRecord {
        map(r, bounds()).unwrap()
    }

    #[test]
    fn console_login_success_and_failure_for_an_iam_user() {
        let id = json!({"type": "IAMUser", "accountId": "999999999999", "arn": "arn:aws:iam::999999999999:user/Anaya", "userName": "Anaya"});
        let ok = m(&login(id.clone(), "Success", json!({})));
        assert_eq!(
            (ok.event_type, ok.user.as_str()),
            ("login_success", "Anaya")
        );
        let bad = m(&login(
            id,
            "Failure",
            json!({"errorMessage": "Failed authentication"}),
        ));
        assert_eq!(bad.event_type, "login_failed");
        assert_eq!(bad.fields["reason"], json!("Failed authentication"));
        assert_eq!(bad.mapping, "cloudtrail.console_login");
    }

    #[test]
    fn hidden_user_names_are_never_attributed_to_the_literal() {
        let id = json!({"type": "IAMUser", "accountId": "123456789012", "accessKeyId": "", "userName": HIDDEN_USER});
        let n = m(&login(id, "Failure", json!({})));
        assert_eq!(n.user, "unknown-user@123456789012");
        assert_eq!(n.fields["user_hidden"], json!(true));
    }

    #[test]
    fn root_and_assumed_role_and_federated_sign_ins_get_their_names() {
        let root = json!({"type": "Root", "principalId": "111122223333", "arn": "arn:aws:iam::111122223333:root", "accountId": "111122223333"});
        assert_eq!(
            m(&login(root, "Success", json!({}))).user,
            "root@111122223333"
        );
        let role = json!({"type": "AssumedRole", "principalId": "AROAEXAMPLE:jdoe@example.com", "arn": "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123/jdoe@example.com", "accountId": "111122223333", "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "AWSReservedSSO_Admin_0123"}}});
        let n = m(&login(role, "Success", json!({})));
        assert_eq!(n.user, "jdoe@example.com");
        assert_eq!(n.fields["role"], json!("AWSReservedSSO_Admin_0123"));
        let fed = json!({"type": "FederatedUser", "arn": "arn:aws:sts::111122223333:federated-user/Bob", "accountId": "111122223333"});
        assert_eq!(m(&login(fed, "Success", json!({}))).user, "Bob");
    }

    #[test]
    fn mfa_used_reads_yes_in_any_case_and_session_mfa() {
        let id = json!({"type": "IAMUser", "userName": "Anaya", "accountId": "1"});
        for (v, want) in [("Yes", true), ("YES", true), ("No", false)] {
            let n = m(&login(
                id.clone(),
                "Success",
                json!({"additionalEventData": {"MFAUsed": v}}),
            ));
            assert_eq!(n.fields["mfa_used"], json!(want), "{v}");
        }
        let s = json!({"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/R/s", "accountId": "1", "sessionContext": {"attributes": {"mfaAuthenticated": "true"}}});
        assert_eq!(
            m(&login(s, "Success", json!({}))).fields["mfa_authenticated"],
            json!(true)
        );
    }

    #[test]
    fn check_mfa_is_a_challenge_not_an_mfa_success() {
        let r = json!({"eventName": "CheckMfa", "eventTime": "2023-07-19T21:44:30Z", "eventSource": "signin.amazonaws.com", "userIdentity": {"type": "IAMUser", "userName": "Anaya", "accountId": "1"}, "responseElements": {"CheckMfa": "Success"}});
        let n = m(&r);
        assert_eq!(n.event_type, "mfa_challenge");
        assert_ne!(n.event_type, "mfa_success");
    }

    fn iam(name: &str, params: Value) -> Value {
        json!({"eventName": name, "eventSource": "iam.amazonaws.com", "eventTime": "2023-03-01T10:00:00Z",
               "userIdentity": {"type": "IAMUser", "userName": "admin-bob", "accountId": "1"},
               "requestParameters": params, "eventID": format!("id-{name}")})
    }

    #[test]
    fn administrator_access_and_allow_star_are_admin_grants() {
        let n = m(&iam(
            "AttachUserPolicy",
            json!({"userName": "eve", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
        ));
        assert_eq!(n.event_type, "permission_changed");
        assert_eq!(n.fields["new_role"], json!("admin"));
        assert_eq!(n.fields["target_user"], json!("eve"));
        let doc = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#;
        let n = m(&iam(
            "PutRolePolicy",
            json!({"roleName": "ci", "policyName": "all", "policyDocument": doc}),
        ));
        assert_eq!(n.fields["new_role"], json!("admin"));
        let n = m(&iam(
            "CreatePolicyVersion",
            json!({"policyArn": "arn:aws:iam::1:policy/p", "policyDocument": {"Statement": [{"Effect": "Allow", "Action": ["s3:*", "*"], "Resource": ["*"]}]}, "setAsDefault": true}),
        ));
        assert_eq!(n.fields["new_role"], json!("admin"));
        let n = m(&iam(
            "AddUserToGroup",
            json!({"userName": "eve", "groupName": "devs"}),
        ));
        assert_eq!(n.event_type, "permission_changed");
        assert!(n.fields.get("new_role").is_none());
    }

    #[test]
    fn a_policy_document_string_denying_everything_is_not_admin() {
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#;
        let n = m(&iam(
            "PutUserPolicy",
            json!({"userName": "eve", "policyName": "deny", "policyDocument": doc}),
        ));
        assert_eq!(n.event_type, "permission_changed");
        assert!(n.fields.get("new_role").is_none());
        let n = m(&iam(
            "AttachUserPolicy",
            json!({"userName": "eve", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
        ));
        assert!(n.fields.get("new_role").is_none());
    }

    #[test]
    fn failed_api_calls_change_nothing() {
        let mut r = iam(
            "AttachUserPolicy",
            json!({"userName": "eve", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
        );
        r["errorCode"] = json!("AccessDenied");
        let n = m(&r);
        assert_eq!((n.event_type, n.mapping), (OTHER, "cloudtrail.failed_call"));
    }

    #[test]
    fn access_keys_are_tokens_with_no_expiry_and_no_invented_scope() {
        let mut r = iam("CreateAccessKey", json!({"userName": "Bob"}));
        r["responseElements"] = json!({"accessKey": {"accessKeyId": "AKIAIOSFODNN7EXAMPLE", "status": "Active", "userName": "Bob"}});
        let n = m(&r);
        assert_eq!(n.event_type, "api_token_created");
        assert_eq!(n.fields["token_name"], json!("AKIAIOSFODNN7EXAMPLE"));
        assert!(n.fields.get("scopes").is_none() && n.fields.get("scope").is_none());
        assert!(n.fields.get("expires_at").is_none());
    }

    fn s3(name: &str, params: Value) -> Value {
        json!({"eventName": name, "eventSource": "s3.amazonaws.com", "eventTime": "2023-03-01T10:00:00Z",
               "userIdentity": {"type": "IAMUser", "userName": "ops", "accountId": "1"}, "requestParameters": params})
    }

    #[test]
    fn canned_acls_as_string_or_array_and_grants_as_object_or_list() {
        for p in [
            json!({"bucketName": "b", "x-amz-acl": ["public-read"]}),
            json!({"bucketName": "b", "x-amz-acl": "public-read-write"}),
            json!({"bucketName": "b", "AccessControlPolicy": {"AccessControlList": {"Grant": {"Grantee": {"xsi:type": "Group", "URI": ALL_USERS}, "Permission": "READ"}}}}),
            json!({"bucketName": "b", "AccessControlPolicy": {"AccessControlList": {"Grant": [
                {"Grantee": {"xsi:type": "CanonicalUser", "ID": "abc"}, "Permission": "FULL_CONTROL"},
                {"Grantee": {"xsi:type": "Group", "URI": ALL_USERS}, "Permission": "READ"}]}}}),
        ] {
            let n = m(&s3("PutBucketAcl", p.clone()));
            assert_eq!(n.event_type, "storage_bucket_permission_changed");
            assert_eq!(n.fields["public"], json!(true), "{p}");
            assert_eq!(n.fields["bucket_name"], json!("b"));
        }
        let private = json!({"bucketName": "b", "x-amz-acl": ["private"], "AccessControlPolicy": {"AccessControlList": {"Grant": {"Grantee": {"ID": "abc"}, "Permission": "FULL_CONTROL"}}}});
        assert_eq!(
            m(&s3("PutBucketAcl", private)).fields["public"],
            json!(false)
        );
    }

    #[test]
    fn bucket_policies_are_public_only_for_anyone_without_condition() {
        let public = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;
        assert_eq!(
            m(&s3(
                "PutBucketPolicy",
                json!({"bucketName": "b", "bucketPolicy": public})
            ))
            .fields["public"],
            json!(true)
        );
        let aws_star = json!({"Statement": {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": "s3:*", "Resource": "*"}});
        assert_eq!(
            m(&s3(
                "PutBucketPolicy",
                json!({"bucketName": "b", "bucketPolicy": aws_star})
            ))
            .fields["public"],
            json!(true)
        );
        let narrowed = json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}}});
        assert_eq!(
            m(&s3(
                "PutBucketPolicy",
                json!({"bucketName": "b", "bucketPolicy": narrowed})
            ))
            .fields["public"],
            json!(false)
        );
    }

    #[test]
    fn removing_a_public_access_block_is_recorded_not_called_public() {
        let n = m(&s3("DeletePublicAccessBlock", json!({"bucketName": "b"})));
        assert_eq!(n.event_type, "storage_bucket_permission_changed");
        assert_eq!(n.fields["public"], json!(false));
        assert_eq!(n.fields["public_access_block"], json!("removed"));
        let n = m(&s3(
            "PutPublicAccessBlock",
            json!({"bucketName": "b", "PublicAccessBlockConfiguration": {"BlockPublicAcls": true}}),
        ));
        assert_eq!(n.fields["public_access_block"], json!("set"));
    }

    #[test]
    fn records_without_event_id_still_dedup() {
        let r = s3("PutBucketAcl", json!({"bucketName": "b"}));
        let a = m(&r);
        assert!(a.dedup_key.starts_with("cloudtrail:sha256:"));
        assert_eq!(a.dedup_key, m(&r).dedup_key);
        let with_id = m(&login(
            json!({"type": "Root", "accountId": "1"}),
            "Success",
            json!({}),
        ));
        assert_eq!(
            with_id.dedup_key,
            "cloudtrail:e1bf1000-86a4-4a78-81d7-EXAMPLE83333"
        );
    }

    #[test]
    fn impossible_or_missing_times_and_names_are_errors() {
        let mut r = s3("PutBucketAcl", json!({}));
        r["eventTime"] = json!("2023-02-30T10:00:00Z");
        assert_eq!(map(&r, bounds()).unwrap_err().field, "eventTime");
        r["eventTime"] = json!("2031-01-01T00:00:00Z");
        assert!(map(&r, bounds()).unwrap_err().message.contains("future"));
        let e = map(&json!({"eventTime": "2023-01-01T00:00:00Z"}), bounds()).unwrap_err();
        assert_eq!(e.field, "eventName");
        assert!(map(&json!([1]), bounds()).is_err());
    }

    #[test]
    fn unmapped_records_are_other_and_eventbridge_events_unwrap() {
        let r = json!({"eventName": "DescribeInstances", "eventTime": "2023-01-01T00:00:00Z", "eventSource": "ec2.amazonaws.com", "userIdentity": {"type": "IAMUser", "userName": "a", "accountId": "1"}});
        let n = m(&r);
        assert_eq!((n.event_type, n.mapping), (OTHER, "cloudtrail.unmapped"));
        let eb = json!({"version": "0", "detail-type": "AWS Console Sign In via CloudTrail", "source": "aws.signin", "detail": login(json!({"type": "Root", "accountId": "1"}), "Success", json!({}))});
        assert_eq!(m(&eb).event_type, "login_success");
    }
}
