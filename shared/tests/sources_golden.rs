//! The golden corpus: public example records from the AWS, GitHub and Okta
//! documentation (see `fixtures/sources/README.md`), each normalized and compared
//! whole with its `expected/<name>.json`. `VIGIL_UPDATE_GOLDEN=1` rewrites the expected
//! files (review the diff); without it a missing or different file fails.
//!
//! Also: the rules fire on normalized events exactly as on the equivalent native ones.
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use vigil_shared::domain::event::TimeBounds;
use vigil_shared::domain::{Event, EventType, TenantId};
use vigil_shared::rules::engine::{RuleContext, RulesConfig, evaluate};
use vigil_shared::sources::{
    self, Normalized, Source, SourceKind, SourceSpec, github, normalize_cloudtrail,
    normalize_github_audit, normalize_github_webhook, normalize_okta,
};
use vigil_shared::webhooks::SecretKey;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sources")
}

/// The receipt time of every fixture (GitHub webhooks carry no event time of their own).
fn received() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-09-01T00:00:00Z")
        .unwrap()
        .to_utc()
}

fn source(kind: SourceKind) -> Source {
    let tenant = TenantId::parse("golden").unwrap();
    let spec = SourceSpec {
        kind,
        name: None,
        drop_unmapped: false,
        principals: vec![],
    };
    let (mut s, _) =
        Source::create(&tenant, spec, &SecretKey::generate().unwrap(), received()).unwrap();
    s.id = format!("src_golden_{:032x}", kind as u8);
    s
}

fn bounds() -> TimeBounds {
    TimeBounds::at(received())
}

/// What a normalized event is compared on: everything but its original record, which
/// is checked to be the input record itself.
fn view(e: &Event, original: &Value) -> Value {
    let mut raw = e.raw_data.clone();
    let kept = raw.remove("original").expect("the original record is kept");
    assert_eq!(&kept, original, "original kept whole");
    json!({
        "id": e.id,
        "client_id": e.client_id,
        "event_type": e.event_type,
        "timestamp": e.timestamp,
        "user": e.user,
        "source": e.source,
        "raw_data": Value::Object(raw),
    })
}

fn normalize(kind: &str, name: &str, input: &Value) -> (Normalized, Vec<Value>) {
    let b = bounds();
    match kind {
        "cloudtrail" => {
            let n = normalize_cloudtrail(input, &source(SourceKind::Cloudtrail), b).unwrap();
            let records = sources::records_of(input, Some("Records"))
                .unwrap()
                .into_iter()
                .cloned()
                .collect();
            (n, records)
        }
        "okta" => {
            let n = normalize_okta(input, &source(SourceKind::Okta), b).unwrap();
            let records = sources::okta::events_of(input)
                .unwrap()
                .into_iter()
                .cloned()
                .collect();
            (n, records)
        }
        "github" if name.ends_with(".ndjson") => unreachable!(),
        "github" => {
            let h = &input["headers"];
            let n = normalize_github_webhook(
                &input["payload"],
                h["X-GitHub-Event"].as_str().unwrap(),
                h["X-GitHub-Delivery"].as_str().unwrap(),
                &source(SourceKind::Github),
                b,
            )
            .unwrap();
            (n, vec![input["payload"].clone()])
        }
        other => panic!("unknown fixture kind {other}"),
    }
}

fn golden(kind: &str, name: &str, got: Value) {
    let path = fixtures()
        .join(kind)
        .join("expected")
        .join(format!("{name}.json"));
    let text = serde_json::to_string_pretty(&got).unwrap() + "\n";
    if std::env::var("VIGIL_UPDATE_GOLDEN").is_ok() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "{} is missing; VIGIL_UPDATE_GOLDEN=1 writes it",
            path.display()
        )
    });
    let want: Value = serde_json::from_str(&want).unwrap();
    assert_eq!(got, want, "{kind}/{name} differs from its golden file");
}

fn inputs(kind: &str) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(fixtures().join(kind))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .map(|p| (p.file_stem().unwrap().to_string_lossy().to_string(), p))
        .collect();
    out.sort();
    out
}

fn run_kind(kind: &str) -> usize {
    let mut n = 0;
    for (name, path) in inputs(kind) {
        let text = std::fs::read_to_string(&path).unwrap();
        let (normalized, records) = if path.extension().is_some_and(|e| e == "ndjson") {
            let records = github::ndjson(&text).unwrap();
            let n =
                normalize_github_audit(&records, &source(SourceKind::Github), bounds()).unwrap();
            (n, records)
        } else {
            let input: Value = serde_json::from_str(&text).unwrap();
            if name == "ping" {
                continue;
            }
            normalize(kind, &name, &input)
        };
        assert_eq!(normalized.events.len(), records.len(), "{kind}/{name}");
        let views: Vec<Value> = normalized
            .events
            .iter()
            .zip(&records)
            .map(|(e, r)| view(e, r))
            .collect();
        golden(kind, &name, Value::Array(views));
        n += 1;
    }
    n
}

#[test]
fn cloudtrail_corpus_matches_its_golden_files() {
    assert!(run_kind("cloudtrail") >= 15);
}

#[test]
fn github_corpus_matches_its_golden_files() {
    assert!(run_kind("github") >= 9);
}

#[test]
fn okta_corpus_matches_its_golden_files() {
    assert!(run_kind("okta") >= 8);
}

/// Every native type a source maps to appears in the corpus at least once.
#[test]
fn the_corpus_covers_every_mapped_type() {
    let mut seen = std::collections::BTreeSet::new();
    for kind in ["cloudtrail", "github", "okta"] {
        for (_, path) in inputs(&format!("{kind}/expected")) {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            for e in v.as_array().unwrap() {
                seen.insert(format!("{kind}:{}", e["event_type"].as_str().unwrap()));
            }
        }
    }
    for want in [
        "cloudtrail:login_success",
        "cloudtrail:login_failed",
        "cloudtrail:mfa_challenge",
        "cloudtrail:permission_changed",
        "cloudtrail:api_token_created",
        "cloudtrail:storage_bucket_permission_changed",
        "cloudtrail:other",
        "github:pull_request_merged",
        "github:deployment_failed",
        "github:permission_changed",
        "github:storage_bucket_permission_changed",
        "github:api_token_created",
        "github:other",
        "okta:login_success",
        "okta:login_failed",
        "okta:mfa_success",
        "okta:mfa_failed",
        "okta:api_token_created",
        "okta:permission_changed",
        "okta:other",
    ] {
        assert!(seen.contains(want), "no fixture yields {want}: {seen:?}");
    }
}

// ------------------------------------------------------------ rules: normalized = native

fn native(e: &Event, raw: Value) -> Event {
    Event {
        id: format!("native-{}", e.id),
        client_id: None,
        event_type: EventType::parse(e.event_type.as_str()).unwrap(),
        timestamp: e.timestamp,
        user: e.user.clone(),
        source: None,
        raw_data: raw.as_object().cloned().unwrap_or_else(Map::new),
        received_at: e.received_at,
    }
}

/// (rule, severity, evidence count) of every match on each event of `events`.
fn verdicts(events: &[Event]) -> Vec<(String, String, usize)> {
    let mut sorted = events.to_vec();
    sorted.sort_by(|a, b| (a.timestamp, &a.id).cmp(&(b.timestamp, &b.id)));
    let config = RulesConfig::default();
    let mut out = Vec::new();
    for e in &sorted {
        let ctx = RuleContext {
            event: e,
            user_events: &sorted,
            config: &config,
        };
        for m in evaluate(&ctx) {
            out.push((
                m.rule_id.to_string(),
                m.severity.as_str().to_string(),
                m.evidence.len(),
            ));
        }
    }
    out.sort();
    out
}

fn okta_login(uuid: &str, result: &str, minute: u32) -> Value {
    json!({"uuid": uuid, "published": format!("2024-08-13T14:{minute:02}:00.000Z"), "eventType": "user.session.start",
        "actor": {"id": "00u1", "type": "User", "alternateId": "john.doe@example.com"},
        "client": {"ipAddress": "203.0.113.9", "geographicalContext": {"country": "Russia", "city": "Moscow"}},
        "outcome": {"result": result}})
}

#[test]
fn brute_force_then_login_from_a_listed_country_fires_as_native() {
    let records = json!([
        okta_login("u1", "FAILURE", 1),
        okta_login("u2", "FAILURE", 2),
        okta_login("u3", "FAILURE", 3),
        okta_login("u4", "FAILURE", 4),
        okta_login("u5", "SUCCESS", 5),
    ]);
    let normalized = normalize_okta(&records, &source(SourceKind::Okta), bounds())
        .unwrap()
        .events;
    // The native events a client would have sent, with the country as the seed's
    // generator names it.
    let natives: Vec<Event> = normalized
        .iter()
        .map(|e| native(e, json!({"country": "Russia", "ip": "203.0.113.9"})))
        .collect();
    let got = verdicts(&normalized);
    assert_eq!(got, verdicts(&natives));
    assert!(
        got.iter()
            .any(|(r, s, _)| r == "suspicious_login_after_failures" && s == "critical")
    );
    assert!(got.iter().any(|(r, _, _)| r == "login_failed_burst"));
}

#[test]
fn admin_grants_tokens_merges_deployments_and_public_buckets_fire_as_native() {
    let read = |kind: &str, name: &str| -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(fixtures().join(kind).join(format!("{name}.json"))).unwrap(),
        )
        .unwrap()
    };
    let mut normalized = Vec::new();
    for name in [
        "attach_user_policy_administrator_access",
        "create_access_key",
        "put_bucket_policy_public",
        "delete_public_access_block",
        "put_user_policy_deny_all_string",
    ] {
        normalized.extend(
            normalize("cloudtrail", name, &read("cloudtrail", name))
                .0
                .events,
        );
    }
    for name in [
        "pull_request_closed_merged",
        "deployment_status_failure",
        "member_edited_to_admin",
    ] {
        normalized.extend(normalize("github", name, &read("github", name)).0.events);
    }
    // Native twins carry exactly the fields the seed documents for each type.
    let natives: Vec<Event> = normalized
        .iter()
        .map(|e| {
            let r = &e.raw_data;
            let pick = |keys: &[&str]| -> Value {
                Value::Object(
                    keys.iter()
                        .filter_map(|k| r.get(*k).map(|v| (k.to_string(), v.clone())))
                        .collect(),
                )
            };
            native(
                e,
                pick(&[
                    "new_role",
                    "old_role",
                    "target_user",
                    "token_name",
                    "bucket_name",
                    "public",
                    "lines_changed",
                    "repository",
                    "environment",
                    "service",
                ]),
            )
        })
        .collect();
    let got = verdicts(&normalized);
    assert_eq!(got, verdicts(&natives));
    let rules: Vec<&str> = got.iter().map(|(r, _, _)| r.as_str()).collect();
    for want in [
        "privilege_escalation_admin",
        "api_token_no_expiry",
        "public_bucket",
        "large_pull_request_merge",
        "deployment_failed",
    ] {
        assert!(rules.contains(&want), "{want} did not fire: {got:?}");
    }
    // The deny-all policy and the removed public-access block raise nothing.
    assert_eq!(rules.iter().filter(|r| **r == "public_bucket").count(), 1);
    assert_eq!(
        rules
            .iter()
            .filter(|r| **r == "privilege_escalation_admin")
            .count(),
        2,
        "AdministratorAccess and the GitHub admin role only: {got:?}"
    );
}
