//! Every OCSF document Vigil produces validates against the pinned OCSF schema: the JSON
//! Schemas generated from the ocsf-schema repository (tests/ocsf/generate_schema.py),
//! not our own idea of them.
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use chrono::{DateTime, Duration, Utc};
use jsonschema::Validator;
use serde_json::{Value, json};
use vigil_shared::domain::event::{IdSource, TimeBounds, parse_event};
use vigil_shared::domain::finding::MAX_EVIDENCE;
use vigil_shared::domain::{
    EnrichedBy, Event, Evidence, Finding, FindingStatus, KnownType, Match, Session, Severity,
    TenantId,
};
use vigil_shared::ocsf;
use vigil_shared::rules::{RULES, volume};

fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/ocsf/schema")
        .join(ocsf::VERSION)
}

/// The compiled schema of `class_uid`, built once per class.
fn validator(class_uid: u64) -> &'static Validator {
    static CLASSES: OnceLock<Mutex<HashMap<u64, &'static Validator>>> = OnceLock::new();
    let mut cache = CLASSES.get_or_init(Default::default).lock().unwrap();
    cache
        .entry(class_uid)
        .or_insert_with(|| Box::leak(Box::new(compile(class_uid))))
}

fn compile(class_uid: u64) -> Validator {
    let file = match class_uid {
        2004 => "detection_finding_2004.json",
        3002 => "authentication_3002.json",
        3001 => "account_change_3001.json",
        6003 => "api_activity_6003.json",
        0 => "base_event_0.json",
        other => panic!("no schema for class {other}"),
    };
    let text = std::fs::read_to_string(schema_dir().join(file)).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

/// The schema's complaints about `doc`, by the class it declares.
fn violations(doc: &Value) -> Vec<String> {
    let class = doc["class_uid"].as_u64().expect("class_uid");
    validator(class)
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn assert_valid(doc: &Value) {
    let errors = violations(doc);
    assert!(errors.is_empty(), "{errors:#?}\n{doc:#}");
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z")
        .unwrap()
        .to_utc()
}

fn tenant() -> TenantId {
    TenantId::parse("acme").unwrap()
}

/// An event of `kind` at `minute` before now, with `raw` data.
fn event(kind: &str, minute: i64, raw: Value, source: Option<&str>) -> Event {
    let mut body = json!({
        "event_type": kind,
        "user": "alice@example.com",
        "timestamp": (now() - Duration::minutes(minute)).to_rfc3339(),
        "raw_data": raw,
        "id": format!("{kind}-{minute}"),
    });
    if let Some(s) = source {
        body["source"] = json!(s);
    }
    parse_event(&body, &tenant(), IdSource::Random, 0, TimeBounds::at(now())).unwrap()
}

/// Each known type and an unknown one, with the raw data shapes records carry: a valid
/// address and ISO country, an address that is none and a country name, nothing.
fn event_mix() -> Vec<Event> {
    let raws = [
        json!({"ip": "203.0.113.9", "country": "de", "new_role": "Admin", "target_user": "bob",
               "repository": "acme/api", "environment": "prod", "bucket_name": "logs", "public": true,
               "token_name": "ci", "scopes": ["admin"], "lines_changed": 1200}),
        json!({"ip": "not-an-ip", "location": "Germany", "role": "viewer", "service": "okta"}),
        json!({"ip": "2001:db8::1"}),
        json!({}),
    ];
    let kinds: Vec<&str> = KnownType::ALL
        .iter()
        .map(|k| k.as_str())
        .chain(["custom.audit_thing"])
        .collect();
    let mut out = Vec::new();
    for (i, kind) in kinds.iter().enumerate() {
        for (j, raw) in raws.iter().enumerate() {
            let source = if j % 2 == 0 { Some("github") } else { None };
            out.push(event(kind, (i * 10 + j) as i64, raw.clone(), source));
        }
    }
    out
}

/// The class each Vigil type is mapped to.
fn expected_class(kind: &str) -> u64 {
    match kind {
        "login_success" | "login_failed" | "mfa_challenge" | "mfa_failed" | "mfa_success" => 3002,
        "permission_changed" | "api_token_created" | "api_token_revoked" => 3001,
        "pull_request_opened"
        | "pull_request_merged"
        | "deployment_started"
        | "deployment_succeeded"
        | "deployment_failed"
        | "storage_bucket_created"
        | "storage_bucket_permission_changed" => 6003,
        _ => 0,
    }
}

#[test]
fn every_event_type_maps_to_a_valid_document_of_its_class() {
    for e in event_mix() {
        let doc = ocsf::event(&e);
        assert_valid(&doc);
        let class = doc["class_uid"].as_u64().unwrap();
        assert_eq!(class, expected_class(e.event_type.as_str()), "{doc:#}");
        assert_eq!(
            doc["type_uid"].as_u64().unwrap(),
            class * 100 + doc["activity_id"].as_u64().unwrap()
        );
        assert_eq!(doc["time"], e.timestamp.timestamp_millis());
        assert_eq!(doc["metadata"]["version"], ocsf::VERSION);
        assert_eq!(doc["metadata"]["uid"], e.id.as_str());
        assert_eq!(doc["metadata"]["product"]["name"], "Vigil");
        assert_eq!(doc["metadata"]["event_code"], e.event_type.as_str());
    }
}

#[test]
fn outcomes_addresses_and_accounts_land_where_ocsf_puts_them() {
    let failed = ocsf::event(&event(
        "login_failed",
        1,
        json!({"ip": "203.0.113.9", "country": "de"}),
        Some("okta"),
    ));
    assert_eq!(failed["status_id"], 2);
    assert_eq!(failed["activity_id"], 1);
    assert_eq!(failed["src_endpoint"]["ip"], "203.0.113.9");
    assert_eq!(failed["src_endpoint"]["location"]["country"], "DE");
    assert_eq!(failed["service"]["name"], "okta");
    assert_eq!(failed["is_mfa"], false);
    let mfa = ocsf::event(&event("mfa_success", 1, json!({}), None));
    assert_eq!(
        (mfa["status_id"].clone(), mfa["is_mfa"].clone()),
        (json!(1), json!(true))
    );
    // A country name is no ISO code and a bad address no IP: both stay unmapped.
    let named = ocsf::event(&event(
        "login_success",
        1,
        json!({"ip": "999.1.1.1", "location": "Germany"}),
        None,
    ));
    assert!(named.get("src_endpoint").is_none(), "{named:#}");
    assert_eq!(named["unmapped"]["raw_data"]["location"], "Germany");
    let grant = ocsf::event(&event(
        "permission_changed",
        1,
        json!({"target_user": "bob", "new_role": "Admin"}),
        None,
    ));
    assert_eq!(grant["activity_id"], 7, "Attach Policy");
    assert_eq!(grant["user"]["name"], "bob");
    assert_eq!(grant["actor"]["user"]["name"], "alice@example.com");
    assert_eq!(grant["policy"]["name"], "admin");
    let other = ocsf::event(&event("custom.audit_thing", 1, json!({"k": 1}), None));
    assert_eq!(
        (other["class_uid"].clone(), other["type_uid"].clone()),
        (json!(0), json!(99))
    );
    assert_eq!(other["unmapped"]["user"], "alice@example.com");
}

/// Every rule of the catalog, with the events it fires on as evidence.
fn rule_ids() -> Vec<(&'static str, &'static str)> {
    RULES
        .iter()
        .map(|r| (r.id, r.name))
        .chain([(volume::RULE_ID, volume::RULE_NAME)])
        .collect()
}

fn finding_of(rule: (&'static str, &'static str), severity: Severity, events: &[Event]) -> Finding {
    let evidence: Vec<Evidence> = events
        .iter()
        .map(|e| Evidence {
            at: e.timestamp,
            id: e.id.clone(),
        })
        .collect();
    let m = Match {
        rule_id: rule.0,
        rule_name: rule.1,
        severity,
        magnitude: 3,
        subject: "alice@example.com".into(),
        user: Some("alice@example.com".into()),
        title: format!("{} for alice", rule.1),
        description: "what happened, and why it matters".into(),
        evidence: evidence.clone(),
    };
    let (first, last) = m.span().unwrap();
    let session = Session {
        first_seen: first,
        last_seen: last,
        event_ids: evidence.iter().map(|e| e.id.clone()).collect(),
        evidence_count: evidence.len() as u64,
    };
    Finding::open(format!("fd_{}", rule.0), &m, &session, now())
}

/// The finding in each triage state, enriched or not, with a note or not.
fn states(base: &Finding) -> Vec<Finding> {
    let mut out = Vec::new();
    for status in FindingStatus::ALL {
        let mut f = base.clone();
        f.status = status;
        if status != FindingStatus::Open {
            f.updated_at = f.created_at + Duration::minutes(5);
        }
        if status == FindingStatus::Merged {
            f = f.merged_into("fd_survivor", f.updated_at);
        }
        out.push(f.clone());
        f.risk_score = Some(87.6);
        f.ai_explanation = Some("an explanation".into());
        f.enriched_by = Some(EnrichedBy::Heuristic);
        f.note = Some("looked at it".into());
        out.push(f);
    }
    out
}

#[test]
fn every_rules_findings_in_every_state_are_valid_detection_findings() {
    let events = event_mix();
    for rule in rule_ids() {
        for severity in Severity::ALL {
            let base = finding_of(rule, severity, &events[..8]);
            for f in states(&base) {
                // One evidence event no longer stored: named by id only.
                let doc = ocsf::finding(&f, &events[1..8]);
                assert_valid(&doc);
                assert_eq!(doc["class_uid"], 2004);
                assert_eq!(doc["category_uid"], 2);
                assert_eq!(
                    doc["type_uid"].as_u64().unwrap(),
                    200400 + doc["activity_id"].as_u64().unwrap()
                );
                let sev = match severity {
                    Severity::Low => 2,
                    Severity::Medium => 3,
                    Severity::High => 4,
                    Severity::Critical => 5,
                };
                assert_eq!(doc["severity_id"], sev);
                let status = match f.status {
                    FindingStatus::Open => 1,
                    FindingStatus::Acknowledged => 2,
                    FindingStatus::Resolved => 4,
                    FindingStatus::Merged => 99,
                };
                assert_eq!(doc["status_id"], status, "{doc:#}");
                let info = &doc["finding_info"];
                assert_eq!(info["uid"], f.id.as_str());
                assert_eq!(info["analytic"]["uid"], rule.0);
                assert_eq!(info["analytic"]["name"], rule.1);
                assert_eq!(info["first_seen_time"], f.first_seen.timestamp_millis());
                assert_eq!(info["last_seen_time"], f.last_seen.timestamp_millis());
                assert_eq!(doc["time"], f.updated_at.timestamp_millis());
                let evidences = doc["evidences"].as_array().unwrap();
                assert_eq!(evidences.len(), 8);
                assert_eq!(evidences[0]["data"]["stored"], false);
                for (ev, e) in evidences[1..].iter().zip(&events[1..8]) {
                    assert_eq!(ev["uid"], e.id.as_str());
                    // The evidence carries the event's own OCSF document, valid too.
                    assert_valid(&ev["data"]);
                }
                match f.risk_score {
                    Some(_) => assert_eq!(doc["risk_score"], 88),
                    None => assert!(doc.get("risk_score").is_none()),
                }
            }
        }
    }
}

#[test]
fn a_full_evidence_list_stays_valid() {
    let events: Vec<Event> = (0..MAX_EVIDENCE as i64)
        .map(|i| event("login_failed", i, json!({"ip": "198.51.100.7"}), None))
        .collect();
    let f = finding_of(rule_ids()[0], Severity::Critical, &events);
    let doc = ocsf::finding(&f, &events);
    assert_valid(&doc);
    assert_eq!(doc["evidences"].as_array().unwrap().len(), MAX_EVIDENCE);
}

/// The schemas are strict enough to catch a wrong mapping, so the checks above can fail.
#[test]
fn the_schemas_refuse_what_ocsf_refuses() {
    let events = event_mix();
    let f = finding_of(rule_ids()[0], Severity::High, &events[..2]);
    let good = ocsf::finding(&f, &events[..2]);
    assert_valid(&good);
    let broken = |change: &dyn Fn(&mut Value)| {
        let mut doc = good.clone();
        change(&mut doc);
        violations(&doc)
    };
    assert!(!broken(&|d| d["severity_id"] = json!(7)).is_empty());
    assert!(!broken(&|d| d["type_uid"] = json!(300201)).is_empty());
    assert!(!broken(&|d| d["time"] = json!("2026-11-25T12:00:00Z")).is_empty());
    assert!(!broken(&|d| d["finding_info"]["analytic"]["type_id"] = json!(12)).is_empty());
    assert!(!broken(&|d| d["made_up"] = json!(1)).is_empty());
    assert!(
        !broken(&|d| {
            d.as_object_mut().unwrap().remove("metadata");
        })
        .is_empty()
    );
    assert!(
        !broken(&|d| d["evidences"][0]["src_endpoint"]["ip"] = json!("not an address")).is_empty()
    );
    let auth = ocsf::event(&events[0]);
    let mut no_user = auth.clone();
    no_user.as_object_mut().unwrap().remove("user");
    assert!(
        !violations(&no_user).is_empty(),
        "Authentication requires user"
    );
}
