//! One Vigil event as an OCSF event: Authentication (3002) for logins and MFA, Account
//! Change (3001) for permission and token changes, API Activity (6003) for the other
//! known types, Base Event (0) for types Vigil does not know.
use std::net::IpAddr;

use serde_json::{Map, Value, json};

use super::{ACCOUNT_CHANGE, API_ACTIVITY, AUTHENTICATION, BASE_EVENT, Class, metadata, ms};
use crate::domain::{Event, KnownType as K};
use crate::rules::fields;

/// Where an OCSF consumer finds the event: its class, activity, and outcome.
struct Mapping {
    class: &'static Class,
    activity: (u32, &'static str),
    /// `status_id` and `status`; None leaves the outcome out (not known).
    status: Option<(u32, &'static str)>,
}

const SUCCESS: Option<(u32, &str)> = Some((1, "Success"));
const FAILURE: Option<(u32, &str)> = Some((2, "Failure"));
const LOGON: (u32, &str) = (1, "Logon");
const CREATE: (u32, &str) = (1, "Create");
const UPDATE: (u32, &str) = (3, "Update");

fn mapping(kind: Option<K>) -> Mapping {
    let m = |class, activity, status| Mapping {
        class,
        activity,
        status,
    };
    match kind {
        Some(K::LoginSuccess | K::MfaSuccess) => m(&AUTHENTICATION, LOGON, SUCCESS),
        Some(K::LoginFailed | K::MfaFailed) => m(&AUTHENTICATION, LOGON, FAILURE),
        // A challenge is a step of the logon whose outcome is still open.
        Some(K::MfaChallenge) => m(&AUTHENTICATION, LOGON, Some((99, "Challenge"))),
        // A role or permission granted is a policy attached to the account.
        Some(K::PermissionChanged) => m(&ACCOUNT_CHANGE, (7, "Attach Policy"), SUCCESS),
        // OCSF 1.8 has no credential activity on Account Change: Other, named.
        Some(K::ApiTokenCreated) => m(&ACCOUNT_CHANGE, (99, "API Token Created"), SUCCESS),
        Some(K::ApiTokenRevoked) => m(&ACCOUNT_CHANGE, (99, "API Token Revoked"), SUCCESS),
        Some(K::PullRequestOpened) => m(&API_ACTIVITY, CREATE, SUCCESS),
        Some(K::PullRequestMerged) => m(&API_ACTIVITY, UPDATE, SUCCESS),
        Some(K::DeploymentStarted) => m(&API_ACTIVITY, CREATE, None),
        Some(K::DeploymentSucceeded) => m(&API_ACTIVITY, UPDATE, SUCCESS),
        Some(K::DeploymentFailed) => m(&API_ACTIVITY, UPDATE, FAILURE),
        Some(K::StorageBucketCreated) => m(&API_ACTIVITY, CREATE, SUCCESS),
        Some(K::StorageBucketPermissionChanged) => m(&API_ACTIVITY, UPDATE, SUCCESS),
        None => m(&BASE_EVENT, (99, "Other"), None),
    }
}

fn user(name: &str) -> Value {
    json!({ "name": name })
}

/// `src_endpoint`: the address the event came from when `raw_data` names a valid one,
/// with its country when that is an ISO 3166-1 alpha-2 code (other spellings stay in
/// `unmapped`).
fn src_endpoint(e: &Event) -> Option<Map<String, Value>> {
    let ip = e
        .raw_str(&["ip", "ip_address", "source_ip", "src_ip", "client_ip"])
        .and_then(|s| s.trim().parse::<IpAddr>().ok());
    let country = fields::country(e)
        .map(str::trim)
        .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()))
        .map(str::to_ascii_uppercase);
    let mut m = Map::new();
    if let Some(ip) = ip {
        m.insert("ip".into(), json!(ip.to_string()));
    }
    if let Some(c) = country {
        m.insert("location".into(), json!({ "country": c }));
    }
    (!m.is_empty()).then_some(m)
}

/// The service an event concerns, by what the record or its source says.
fn service_name(e: &Event) -> &str {
    e.raw_str(&["service", "app", "application"])
        .or(e.source.as_deref())
        .unwrap_or("unknown")
}

/// `resources`: what an API activity acted on, by the fields the rules read.
fn resources(e: &Event) -> Vec<Value> {
    let named = [
        ("repository", fields::repository(e).map(str::to_string)),
        ("environment", fields::environment(e)),
        ("bucket", fields::bucket_name(e).map(str::to_string)),
    ];
    named
        .into_iter()
        .filter_map(|(kind, name)| name.map(|n| json!({ "name": n, "type": kind })))
        .collect()
}

/// The event `e` as an OCSF document of its class.
pub fn event(e: &Event) -> Value {
    let kind = e.known_type();
    let Mapping {
        class,
        activity,
        status,
    } = mapping(kind);
    let mut doc = Map::new();
    class.classify(&mut doc, activity.0, activity.1);
    doc.insert("time".into(), json!(ms(e.timestamp)));
    // Vigil grades findings, not single events.
    doc.insert("severity_id".into(), json!(1));
    doc.insert("severity".into(), json!("Informational"));
    if let Some((id, name)) = status {
        doc.insert("status_id".into(), json!(id));
        doc.insert("status".into(), json!(name));
    }
    let mut meta = metadata(&e.id, e.received_at, e.received_at);
    meta.insert("event_code".into(), json!(e.event_type.as_str()));
    if let Some(cid) = &e.client_id {
        meta.insert("original_event_uid".into(), json!(cid));
    }
    if let Some(source) = &e.source {
        meta.insert("log_provider".into(), json!(source));
    }
    doc.insert("metadata".into(), Value::Object(meta));
    doc.insert(
        "message".into(),
        json!(format!("{} by {}", e.event_type.as_str(), e.user)),
    );
    let endpoint = src_endpoint(e);
    let actor = json!({ "user": user(&e.user) });
    match class.class_uid {
        3002 => {
            doc.insert("user".into(), user(&e.user));
            doc.insert("service".into(), json!({ "name": service_name(e) }));
            let mfa = matches!(kind, Some(K::MfaChallenge | K::MfaFailed | K::MfaSuccess));
            doc.insert("is_mfa".into(), json!(mfa));
            if let Some(ep) = endpoint {
                doc.insert("src_endpoint".into(), Value::Object(ep));
            }
        }
        3001 => {
            // The account changed is the target when the record names one; the actor
            // is who changed it.
            let target = e.raw_str(&["target_user", "target"]).unwrap_or(&e.user);
            doc.insert("user".into(), user(target));
            doc.insert("actor".into(), actor);
            if kind == Some(K::PermissionChanged) {
                if let Some(role) = fields::role(e, "new_role").or_else(|| fields::role(e, "role"))
                {
                    doc.insert("policy".into(), json!({ "name": role, "type": "role" }));
                }
            }
            if let Some(ep) = endpoint {
                doc.insert("src_endpoint".into(), Value::Object(ep));
            }
        }
        6003 => {
            doc.insert("actor".into(), actor);
            doc.insert(
                "api".into(),
                json!({
                    "operation": e.event_type.as_str(),
                    "service": { "name": service_name(e) },
                }),
            );
            // Required by the class; "unknown" when the record names no address.
            let ep = endpoint.unwrap_or_else(|| {
                let mut m = Map::new();
                m.insert("name".into(), json!("unknown"));
                m
            });
            doc.insert("src_endpoint".into(), Value::Object(ep));
            let res = resources(e);
            if !res.is_empty() {
                doc.insert("resources".into(), Value::Array(res));
            }
        }
        _ => {}
    }
    let mut unmapped = Map::new();
    if class.class_uid == BASE_EVENT.class_uid {
        // The base event has no user attribute.
        unmapped.insert("user".into(), json!(e.user));
    }
    if !e.raw_data.is_empty() {
        unmapped.insert("raw_data".into(), Value::Object(e.raw_data.clone()));
    }
    doc.insert("unmapped".into(), Value::Object(unmapped));
    Value::Object(doc)
}
