//! A Vigil finding as an OCSF Detection Finding (class 2004).
use serde_json::{Map, Value, json};

use super::{DETECTION_FINDING, metadata, ms};
use crate::domain::{Event, Finding, FindingStatus, Severity};
use crate::rules::volume;

/// OCSF `severity_id` and its caption.
fn severity(s: Severity) -> (u32, &'static str) {
    match s {
        Severity::Low => (2, "Low"),
        Severity::Medium => (3, "Medium"),
        Severity::High => (4, "High"),
        Severity::Critical => (5, "Critical"),
    }
}

/// OCSF `status_id` and `status` of a triage state. A merged finding was folded into
/// another that now holds its evidence and triage: none of OCSF's Suppressed (benign),
/// Archived or Deleted (created in error) says that, so it is Other (99), with the
/// source's own word "Merged" in `status` as OCSF prescribes for Other.
fn status_id(s: FindingStatus) -> (u32, &'static str) {
    match s {
        FindingStatus::Open => (1, "New"),
        FindingStatus::Acknowledged => (2, "In Progress"),
        FindingStatus::Resolved => (4, "Resolved"),
        FindingStatus::Merged => (99, "Merged"),
    }
}

/// The finding activity this state reports: created and untouched, updated (new
/// evidence or triage), or closed (resolved, or merged into another).
fn activity(f: &Finding) -> (u32, &'static str) {
    match f.status {
        FindingStatus::Resolved | FindingStatus::Merged => (3, "Close"),
        FindingStatus::Open if f.updated_at == f.created_at => (1, "Create"),
        _ => (2, "Update"),
    }
}

/// One evidence artifact: the event's actor, user, endpoint and API as its OCSF class
/// has them, the whole OCSF event in `data`; an event no longer stored (expired) is
/// named by its id only.
fn evidence(id: &str, found: Option<&Event>) -> Value {
    let Some(e) = found else {
        return json!({ "uid": id, "data": { "event_uid": id, "stored": false } });
    };
    let doc = super::event(e);
    let mut ev = Map::new();
    ev.insert("uid".into(), json!(id));
    ev.insert("name".into(), json!(e.event_type.as_str()));
    for key in ["actor", "user", "src_endpoint", "api", "resources"] {
        if let Some(v) = doc.get(key) {
            ev.insert(key.into(), v.clone());
        }
    }
    if !ev.contains_key("actor") {
        ev.insert("actor".into(), json!({ "user": { "name": e.user } }));
    }
    ev.insert("data".into(), doc);
    Value::Object(ev)
}

/// `f` as an OCSF Detection Finding; `events` holds the evidence events that could be
/// read (any order), each kept id becoming one `evidences` entry in the finding's order.
pub fn finding(f: &Finding, events: &[Event]) -> Value {
    let mut doc = Map::new();
    let (activity_id, activity_name) = activity(f);
    DETECTION_FINDING.classify(&mut doc, activity_id, activity_name);
    // The time of the state this document reports.
    doc.insert("time".into(), json!(ms(f.updated_at)));
    doc.insert("start_time".into(), json!(ms(f.first_seen)));
    doc.insert("end_time".into(), json!(ms(f.last_seen)));
    let (sev_id, sev) = severity(f.severity);
    doc.insert("severity_id".into(), json!(sev_id));
    doc.insert("severity".into(), json!(sev));
    let (st_id, st) = status_id(f.status);
    doc.insert("status_id".into(), json!(st_id));
    doc.insert("status".into(), json!(st));
    if let Some(into) = &f.merged_into {
        doc.insert("status_detail".into(), json!(format!("merged into {into}")));
    }
    doc.insert("is_alert".into(), json!(f.status.is_active()));
    doc.insert("message".into(), json!(f.title));
    if let Some(score) = f.risk_score.filter(|s| s.is_finite()) {
        // Vigil scores 0-100 as a float; OCSF's risk_score is an integer.
        doc.insert(
            "risk_score".into(),
            json!(score.round().clamp(0.0, 100.0) as i64),
        );
    }
    if let Some(note) = &f.note {
        doc.insert("comment".into(), json!(note));
    }
    // The volume rule counts events per minute; every other rule matches patterns.
    let (type_id, kind) = if f.rule_id == volume::RULE_ID {
        (3, "Statistical")
    } else {
        (1, "Rule")
    };
    let mut info = json!({
        "uid": f.id,
        "title": f.title,
        "desc": f.description,
        "analytic": {
            "name": f.rule_name,
            "uid": f.rule_id,
            "type_id": type_id,
            "type": kind,
        },
        "first_seen_time": ms(f.first_seen),
        "last_seen_time": ms(f.last_seen),
        "created_time": ms(f.created_at),
        "modified_time": ms(f.updated_at),
        "related_events_count": f.evidence_count,
    });
    if let Some(into) = &f.merged_into {
        info["related_events"] = json!([{ "uid": into, "type": "Detection Finding" }]);
    }
    doc.insert("finding_info".into(), info);
    let evidences: Vec<Value> = f
        .event_ids
        .iter()
        .map(|id| evidence(id, events.iter().find(|e| &e.id == id)))
        .collect();
    if !evidences.is_empty() {
        doc.insert("evidences".into(), Value::Array(evidences));
    }
    doc.insert(
        "metadata".into(),
        Value::Object(metadata(&f.id, f.created_at, f.updated_at)),
    );
    let mut unmapped = json!({
        "subject": f.subject,
        "evidence_count": f.evidence_count,
        "evidence_truncated": f.evidence_truncated,
    });
    for (k, v) in [
        ("user", f.user.as_ref().map(|u| json!(u))),
        (
            "ai_explanation",
            f.ai_explanation.as_ref().map(|x| json!(x)),
        ),
        ("enriched_by", f.enriched_by.map(|x| json!(x))),
        ("merged_into", f.merged_into.as_ref().map(|x| json!(x))),
    ] {
        if let Some(v) = v {
            unmapped[k] = v;
        }
    }
    doc.insert("unmapped".into(), unmapped);
    Value::Object(doc)
}
