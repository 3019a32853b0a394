//! Webhook endpoints (subscriptions): where a tenant wants which events delivered.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::cipher::{CipherError, SecretKey};
use super::secret_ring::SecretRing;
use super::signing::{SecretError, SigningSecret};
use crate::domain::{FieldError, Severity, TenantId};

/// Event types a tenant can subscribe to.
pub const EVENT_TYPES: [&str; 5] = [
    "finding.created",
    "finding.escalated",
    "ai_system.drift_detected",
    "model.drift_detected",
    "risk.decided",
];
/// The type of the message `POST /webhooks/{id}/test` sends; always delivered.
pub const TEST_EVENT: &str = "webhook.test";
pub use super::secret_ring::{ROTATION_OVERLAP_HOURS, StoredSecret};
/// An endpoint failing this long without a success is disabled.
pub const FAILING_DAYS_BEFORE_DISABLE: i64 = 5;
const MAX_URL: usize = 2_048;
const MAX_DESCRIPTION: usize = 512;

/// What a client sets on an endpoint (POST and PUT take it whole, PATCH merges into it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointSpec {
    pub url: String,
    /// Empty: every event type.
    pub event_types: Vec<String>,
    pub description: Option<String>,
    pub min_severity: Option<Severity>,
    pub enabled: bool,
}

impl EndpointSpec {
    /// Parses a JSON object, collecting every field error. The URL is only checked for
    /// form here; the caller runs the address guard.
    pub fn from_json(v: &Value) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let Some(obj) = v.as_object() else {
            return Err(vec![FieldError::new("body", "must be a JSON object")]);
        };
        for k in obj.keys() {
            if ![
                "url",
                "event_types",
                "description",
                "min_severity",
                "enabled",
            ]
            .contains(&k.as_str())
            {
                errors.push(FieldError::new(k.clone(), "is not a known field"));
            }
        }
        let url = match obj.get("url") {
            Some(Value::String(u)) if !u.trim().is_empty() && u.len() <= MAX_URL => {
                u.trim().to_string()
            }
            Some(Value::String(_)) => {
                errors.push(FieldError::new("url", "must be 1-2048 characters"));
                String::new()
            }
            _ => {
                errors.push(FieldError::new("url", "is required (a string)"));
                String::new()
            }
        };
        let mut event_types = Vec::new();
        match obj.get("event_types") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    match item.as_str() {
                        Some("*") => {}
                        Some(t) if EVENT_TYPES.contains(&t) => {
                            if !event_types.iter().any(|e| e == t) {
                                event_types.push(t.to_string());
                            }
                        }
                        _ => errors.push(FieldError::new(
                            format!("event_types[{i}]"),
                            format!("must be \"*\" or one of {}", EVENT_TYPES.join(", ")),
                        )),
                    }
                }
                if items.iter().any(|i| i.as_str() == Some("*")) {
                    event_types.clear();
                }
            }
            Some(_) => errors.push(FieldError::new(
                "event_types",
                "must be an array of event types",
            )),
        }
        event_types.sort();
        let description = match obj.get("description") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.len() <= MAX_DESCRIPTION => Some(s.clone()),
            Some(_) => {
                errors.push(FieldError::new(
                    "description",
                    "must be a string of at most 512 characters",
                ));
                None
            }
        };
        let min_severity = match obj.get("min_severity") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Severity::parse(s).or_else(|| {
                errors.push(FieldError::new(
                    "min_severity",
                    "must be low, medium, high or critical",
                ));
                None
            }),
            Some(_) => {
                errors.push(FieldError::new(
                    "min_severity",
                    "must be low, medium, high or critical",
                ));
                None
            }
        };
        let enabled = match obj.get("enabled") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                errors.push(FieldError::new("enabled", "must be true or false"));
                true
            }
        };
        if errors.is_empty() {
            Ok(Self {
                url,
                event_types,
                description,
                min_severity,
                enabled,
            })
        } else {
            Err(errors)
        }
    }

    /// The spec as the client sees it, the base a merge patch applies to.
    pub fn to_json(&self) -> Value {
        json!({
            "url": self.url,
            "event_types": self.event_types_view(),
            "description": self.description,
            "min_severity": self.min_severity,
            "enabled": self.enabled,
        })
    }

    fn event_types_view(&self) -> Vec<String> {
        if self.event_types.is_empty() {
            vec!["*".to_string()]
        } else {
            self.event_types.clone()
        }
    }
}

pub use crate::domain::merge_patch::merge_patch;

#[derive(Debug, thiserror::Error)]
pub enum EndpointSecretError {
    #[error(transparent)]
    Cipher(#[from] CipherError),
    #[error("stored secret is invalid: {0}")]
    Secret(#[from] SecretError),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    pub id: String,
    pub tenant: TenantId,
    #[serde(flatten)]
    pub spec: EndpointSpec,
    /// The signing secret and, for a day after a rotation, the previous one.
    pub secrets: SecretRing,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Start of the current run of failed attempts.
    #[serde(default)]
    pub failing_since: Option<DateTime<Utc>>,
    /// Why the system (not the client) disabled it.
    #[serde(default)]
    pub disabled_reason: Option<String>,
}

fn aad(tenant: &TenantId, id: &str) -> Vec<u8> {
    format!("vigil-webhook-secret/{tenant}/{id}").into_bytes()
}

/// A new endpoint id: `ep_` and 26 characters of a v7 UUID (time-ordered).
pub fn new_endpoint_id() -> String {
    format!("ep_{}", uuid::Uuid::now_v7().simple())
}

impl Endpoint {
    /// A new endpoint and its secret (the only time it is returned in clear).
    pub fn create(
        tenant: &TenantId,
        spec: EndpointSpec,
        key: &SecretKey,
        now: DateTime<Utc>,
    ) -> Result<(Self, SigningSecret), EndpointSecretError> {
        let id = new_endpoint_id();
        let (secrets, secret) = SecretRing::create(key, &aad(tenant, &id), now)?;
        Ok((
            Self {
                id,
                tenant: tenant.clone(),
                spec,
                secrets,
                created_at: now,
                updated_at: now,
                failing_since: None,
                disabled_reason: None,
            },
            secret,
        ))
    }

    /// Replaces the signing secret; the old one keeps signing for a day.
    pub fn rotate(
        &mut self,
        key: &SecretKey,
        now: DateTime<Utc>,
    ) -> Result<SigningSecret, EndpointSecretError> {
        let secret = self
            .secrets
            .rotate(key, &aad(&self.tenant, &self.id), now)?;
        self.updated_at = now;
        Ok(secret)
    }

    /// The secrets that sign at `now`, newest first.
    pub fn signing_secrets(
        &self,
        key: &SecretKey,
        now: DateTime<Utc>,
    ) -> Result<Vec<SigningSecret>, EndpointSecretError> {
        self.secrets.active(key, &aad(&self.tenant, &self.id), now)
    }

    /// Whether an event of this type and severity goes to this endpoint.
    pub fn wants(&self, event_type: &str, severity: Option<Severity>) -> bool {
        if !self.spec.enabled {
            return false;
        }
        if event_type == TEST_EVENT {
            return true;
        }
        // "All" means every public event type, not whatever else travels on the bus.
        let type_ok = if self.spec.event_types.is_empty() {
            EVENT_TYPES.contains(&event_type)
        } else {
            self.spec.event_types.iter().any(|t| t == event_type)
        };
        // Events without a severity pass a severity filter.
        let severity_ok = match (self.spec.min_severity, severity) {
            (Some(min), Some(sev)) => sev >= min,
            _ => true,
        };
        type_ok && severity_ok
    }

    /// The endpoint as the API shows it: never any secret.
    pub fn view(&self) -> Value {
        let mut v = self.spec.to_json();
        if let Value::Object(m) = &mut v {
            m.insert("id".into(), json!(self.id));
            m.insert("created_at".into(), json!(self.created_at));
            m.insert("updated_at".into(), json!(self.updated_at));
            m.insert("failing_since".into(), json!(self.failing_since));
            m.insert("disabled_reason".into(), json!(self.disabled_reason));
            m.insert(
                "secret_rotation_ends_at".into(),
                json!(self.secrets.rotation_ends_at()),
            );
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn t() -> TenantId {
        TenantId::parse("acme").unwrap()
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
            .unwrap()
            .to_utc()
    }

    #[test]
    fn specs_parse_with_defaults_and_report_every_bad_field() {
        let s = EndpointSpec::from_json(&json!({"url": "https://x.example/h"})).unwrap();
        assert!(s.event_types.is_empty() && s.enabled && s.min_severity.is_none());
        let s = EndpointSpec::from_json(&json!({
            "url": "https://x.example/h",
            "event_types": ["finding.escalated", "finding.created", "finding.created"],
            "min_severity": "high",
        }))
        .unwrap();
        assert_eq!(s.event_types, ["finding.created", "finding.escalated"]);
        let errs = EndpointSpec::from_json(&json!({
            "event_types": ["nope"], "min_severity": "huge", "enabled": "yes", "extra": 1
        }))
        .unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["extra", "url", "event_types[0]", "min_severity", "enabled"]
        );
    }

    #[test]
    fn filters_by_type_and_minimum_severity() {
        let key = SecretKey::generate().unwrap();
        let mut spec = EndpointSpec::from_json(&json!({"url": "https://x.example"})).unwrap();
        spec.event_types = vec!["finding.escalated".into()];
        spec.min_severity = Some(Severity::High);
        let (mut ep, _) = Endpoint::create(&t(), spec, &key, now()).unwrap();
        assert!(ep.wants("finding.escalated", Some(Severity::Critical)));
        assert!(!ep.wants("finding.escalated", Some(Severity::Medium)));
        assert!(!ep.wants("finding.created", Some(Severity::Critical)));
        assert!(ep.wants(TEST_EVENT, None));
        ep.spec.event_types.clear();
        assert!(ep.wants("ai_system.drift_detected", None));
        assert!(!ep.wants("audit.checkpoint", None));
        ep.spec.enabled = false;
        assert!(!ep.wants(TEST_EVENT, None));
    }

    #[test]
    fn rotation_keeps_the_old_secret_signing_for_a_day() {
        let key = SecretKey::generate().unwrap();
        let spec = EndpointSpec::from_json(&json!({"url": "https://x.example"})).unwrap();
        let (mut ep, first) = Endpoint::create(&t(), spec, &key, now()).unwrap();
        assert_eq!(
            ep.signing_secrets(&key, now()).unwrap(),
            vec![first.clone()]
        );
        let second = ep.rotate(&key, now()).unwrap();
        assert_eq!(
            ep.signing_secrets(&key, now() + Duration::hours(23))
                .unwrap(),
            vec![second.clone(), first.clone()]
        );
        assert_eq!(
            ep.signing_secrets(&key, now() + Duration::hours(24))
                .unwrap(),
            vec![second.clone()]
        );
        // A second rotation within the day keeps only the previous secret alongside.
        let third = ep.rotate(&key, now() + Duration::hours(1)).unwrap();
        assert_eq!(
            ep.signing_secrets(&key, now() + Duration::hours(2))
                .unwrap(),
            vec![third, second]
        );
        assert!(!ep.view().to_string().contains("whsec_"));
        assert!(!serde_json::to_string(&ep).unwrap().contains("whsec_"));
    }
}
