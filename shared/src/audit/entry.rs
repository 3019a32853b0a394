//! Audit entries: what one entry records, its canonical encoding and its hash.
//!
//! The hash covers the canonical JSON (sorted keys, no whitespace) of every field but the
//! hash itself, prefixed as an RFC 9162 leaf, so the chain hash and the Merkle leaf are one
//! value and no field (resource id included) can change without detection.
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::merkle::{Hash, leaf_hash};
use crate::domain::TenantId;

/// `prev_hash` of the first entry of a ledger.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Snapshots larger than this (canonical bytes) are stored as a digest only, so an entry
/// always fits in one store item.
pub const MAX_SNAPSHOT_BYTES: usize = 96 * 1024;

/// Who did it: an API key id (`key:<id>`) or a system component (`system:<name>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Actor(String);

impl Actor {
    pub fn key(key_id: &str) -> Self {
        Self(format!("key:{key_id}"))
    }

    pub fn system(component: &str) -> Self {
        Self(format!("system:{component}"))
    }

    /// An actor as given in a filter; any non-empty string of at most 200 bytes.
    pub fn parse(s: &str) -> Option<Self> {
        (!s.is_empty() && s.len() <= 200).then(|| Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    #[default]
    Success,
    Denied,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Denied => "denied",
            Self::Failed => "failed",
        }
    }
}

/// An entry before the ledger gives it a place (sequence, time, previous hash).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditDraft {
    pub actor: Actor,
    pub action: String,
    pub resource_type: String,
    pub resource_id: String,
    pub request_id: Option<String>,
    pub outcome: Outcome,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl AuditDraft {
    pub fn new(
        actor: Actor,
        action: impl Into<String>,
        resource_type: impl Into<String>,
        resource_id: impl Into<String>,
    ) -> Self {
        Self {
            actor,
            action: action.into(),
            resource_type: resource_type.into(),
            resource_id: resource_id.into(),
            request_id: None,
            outcome: Outcome::Success,
            before: None,
            after: None,
        }
    }

    pub fn request_id(mut self, id: Option<String>) -> Self {
        self.request_id = id;
        self
    }

    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }

    pub fn before<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        self.before = serde_json::to_value(value).ok().map(bounded_snapshot);
        self
    }

    pub fn after<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        self.after = serde_json::to_value(value).ok().map(bounded_snapshot);
        self
    }
}

/// A snapshot as stored: itself, or its digest when too large for an item.
fn bounded_snapshot(v: Value) -> Value {
    let bytes = canonical_json(&v);
    if bytes.len() <= MAX_SNAPSHOT_BYTES {
        return v;
    }
    serde_json::json!({
        "omitted_bytes": bytes.len(),
        "sha256": hex::encode(Sha256::digest(bytes.as_bytes())),
    })
}

/// One ledger entry as stored and exported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    #[serde(with = "micros")]
    pub at: DateTime<Utc>,
    pub tenant: TenantId,
    pub actor: Actor,
    pub action: String,
    pub resource_type: String,
    pub resource_id: String,
    pub request_id: Option<String>,
    pub outcome: Outcome,
    pub before: Option<Value>,
    pub after: Option<Value>,
    /// Hex hash of the entry before (`GENESIS_HASH` for seq 1).
    pub prev_hash: String,
    /// Hex RFC 9162 leaf hash of the canonical encoding of every other field.
    pub hash: String,
}

impl AuditEntry {
    /// Places a draft in the ledger and seals it.
    pub fn seal(
        tenant: &TenantId,
        draft: &AuditDraft,
        seq: u64,
        at: DateTime<Utc>,
        prev_hash: &str,
    ) -> Self {
        let mut e = Self {
            seq,
            at: truncate_micros(at),
            tenant: tenant.clone(),
            actor: draft.actor.clone(),
            action: draft.action.clone(),
            resource_type: draft.resource_type.clone(),
            resource_id: draft.resource_id.clone(),
            request_id: draft.request_id.clone(),
            outcome: draft.outcome,
            before: draft.before.clone(),
            after: draft.after.clone(),
            prev_hash: prev_hash.to_string(),
            hash: String::new(),
        };
        e.hash = hex::encode(e.compute_hash());
        e
    }

    /// The canonical bytes the hash covers: every field except `hash`.
    pub fn canonical_bytes(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            m.remove("hash");
        }
        canonical_json(&v)
    }

    /// The leaf hash recomputed from the fields.
    pub fn compute_hash(&self) -> Hash {
        leaf_hash(self.canonical_bytes().as_bytes())
    }

    /// The stored hash, decoded (None when it is not 32 hex bytes).
    pub fn stored_hash(&self) -> Option<Hash> {
        decode_hash(&self.hash)
    }
}

pub fn decode_hash(s: &str) -> Option<Hash> {
    let bytes = hex::decode(s).ok()?;
    bytes.try_into().ok()
}

/// Times are kept at microsecond precision so they survive every encoding unchanged.
pub fn truncate_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    let micros = at.timestamp_micros();
    DateTime::from_timestamp_micros(micros).unwrap_or(at)
}

pub fn format_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

mod micros {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_time(*at))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.to_utc())
            .map_err(serde::de::Error::custom)
    }
}

/// Canonical JSON: object keys sorted (by UTF-8 bytes), no insignificant whitespace,
/// strings and numbers as serde_json writes them. Independent of map ordering features.
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(&quote(s)),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_unstable();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&quote(k));
                out.push(':');
                if let Some(x) = m.get(k) {
                    write_canonical(x, out);
                }
            }
            out.push('}');
        }
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry() -> AuditEntry {
        let t = TenantId::parse("acme").unwrap();
        let d = AuditDraft::new(Actor::key("k1"), "finding.update", "finding", "f1")
            .before(&json!({"status": "open"}))
            .after(&json!({"status": "resolved"}));
        AuditEntry::seal(&t, &d, 1, Utc::now(), GENESIS_HASH)
    }

    #[test]
    fn canonical_json_sorts_keys_and_drops_whitespace() {
        let v = json!({"b": [1, {"z": null, "a": "x y"}], "a": true});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":true,"b":[1,{"a":"x y","z":null}]}"#
        );
    }

    #[test]
    fn every_field_is_covered_by_the_hash() {
        let e = entry();
        assert_eq!(e.stored_hash(), Some(e.compute_hash()));
        type Mutation = Box<dyn Fn(&mut AuditEntry)>;
        let mutations: Vec<Mutation> = vec![
            Box::new(|e| e.seq += 1),
            Box::new(|e| e.at += chrono::Duration::microseconds(1)),
            Box::new(|e| e.tenant = TenantId::parse("other").unwrap()),
            Box::new(|e| e.actor = Actor::key("k2")),
            Box::new(|e| e.action.push('x')),
            Box::new(|e| e.resource_type.push('x')),
            Box::new(|e| e.resource_id.push('x')),
            Box::new(|e| e.request_id = Some("r".into())),
            Box::new(|e| e.outcome = Outcome::Failed),
            Box::new(|e| e.before = None),
            Box::new(|e| e.after = Some(json!({"status": "open"}))),
            Box::new(|e| e.prev_hash = "11".repeat(32)),
        ];
        for (i, m) in mutations.iter().enumerate() {
            let mut changed = e.clone();
            m(&mut changed);
            assert_ne!(changed.compute_hash(), e.compute_hash(), "mutation {i}");
        }
    }

    #[test]
    fn entries_round_trip_through_json_unchanged() {
        let e = entry();
        let back: AuditEntry = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.compute_hash(), e.compute_hash());
    }

    #[test]
    fn large_snapshots_become_digests() {
        let big = "x".repeat(MAX_SNAPSHOT_BYTES + 1);
        let d = AuditDraft::new(Actor::system("t"), "a", "r", "i").after(&big);
        let after = d.after.unwrap();
        assert!(after.get("sha256").is_some());
    }
}
