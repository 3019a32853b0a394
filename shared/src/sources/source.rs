//! A tenant's log source: what it receives, its secret (sealed, with rotation) and, on
//! AWS, its own SQS queue. The id carries the tenant (`src_<tenant>_<id>`), so an
//! endpoint that no API key reaches (a GitHub webhook, an Okta event hook) finds the
//! source under its tenant's keys and nowhere else.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use crate::domain::{FieldError, TenantId};
use crate::webhooks::SecretKey;
use crate::webhooks::endpoint::EndpointSecretError;
use crate::webhooks::secret_ring::SecretRing;
use crate::webhooks::signing::{SigningSecret, legacy_signature};

const MAX_NAME: usize = 128;
const MAX_PRINCIPALS: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Cloudtrail,
    Github,
    Okta,
    /// Vigil's own event JSON (the SQS path).
    Native,
}

impl SourceKind {
    pub const ALL: [SourceKind; 4] = [
        SourceKind::Cloudtrail,
        SourceKind::Github,
        SourceKind::Okta,
        SourceKind::Native,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Cloudtrail => "cloudtrail",
            SourceKind::Github => "github",
            SourceKind::Okta => "okta",
            SourceKind::Native => "native",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// What an admin sets on a source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceSpec {
    pub kind: SourceKind,
    #[serde(default)]
    pub name: Option<String>,
    /// Records no mapping covers are dropped instead of stored as `other`.
    #[serde(default)]
    pub drop_unmapped: bool,
    /// AWS principals (account ids or IAM ARNs) the source queue accepts messages from.
    #[serde(default)]
    pub principals: Vec<String>,
}

fn is_principal(p: &str) -> bool {
    let account = |s: &str| s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit());
    account(p)
        || (p.starts_with("arn:aws:iam::")
            && p.len() <= 2048
            && p.split(':').nth(4).is_some_and(account)
            && !p.contains(char::is_whitespace))
}

impl SourceSpec {
    pub fn from_json(v: &Value) -> Result<Self, Vec<FieldError>> {
        let Some(obj) = v.as_object() else {
            return Err(vec![FieldError::new("body", "must be a JSON object")]);
        };
        let mut errors = Vec::new();
        for k in obj.keys() {
            if !["kind", "name", "drop_unmapped", "principals"].contains(&k.as_str()) {
                errors.push(FieldError::new(k.clone(), "is not a known field"));
            }
        }
        let kind = match obj
            .get("kind")
            .and_then(Value::as_str)
            .and_then(SourceKind::parse)
        {
            Some(k) => Some(k),
            None => {
                errors.push(FieldError::new(
                    "kind",
                    "is required: cloudtrail, github, okta or native",
                ));
                None
            }
        };
        let name = match obj.get("name") {
            None | Some(Value::Null) => None,
            Some(Value::String(s))
                if !s.trim().is_empty()
                    && s.len() <= MAX_NAME
                    && !crate::domain::validation::has_control(s) =>
            {
                Some(s.trim().to_string())
            }
            Some(_) => {
                errors.push(FieldError::new(
                    "name",
                    "must be 1-128 characters without control characters",
                ));
                None
            }
        };
        let drop_unmapped = match obj.get("drop_unmapped") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                errors.push(FieldError::new("drop_unmapped", "must be true or false"));
                false
            }
        };
        let mut principals = Vec::new();
        match obj.get("principals") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) if items.len() <= MAX_PRINCIPALS => {
                for (i, p) in items.iter().enumerate() {
                    match p.as_str().map(str::trim) {
                        Some(p) if is_principal(p) => {
                            if !principals.iter().any(|q| q == p) {
                                principals.push(p.to_string());
                            }
                        }
                        _ => errors.push(FieldError::new(
                            format!("principals[{i}]"),
                            "must be a 12-digit AWS account id or an arn:aws:iam:: ARN",
                        )),
                    }
                }
            }
            Some(_) => errors.push(FieldError::new(
                "principals",
                format!("must be an array of at most {MAX_PRINCIPALS} AWS principals"),
            )),
        }
        match kind {
            Some(kind) if errors.is_empty() => Ok(Self {
                kind,
                name,
                drop_unmapped,
                principals,
            }),
            _ => Err(errors),
        }
    }
}

/// The SQS queue (and its dead-letter queue) provisioned for a source on AWS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceQueue {
    pub url: String,
    pub arn: String,
    pub dlq_url: String,
    pub dlq_arn: String,
}

/// Longest queue-name prefix: a queue is `<prefix><tenant>_<32 hex>` and its
/// dead-letter queue that and `-dlq`, within SQS's 80 characters for the longest
/// (32-character) tenant id.
pub const MAX_QUEUE_PREFIX: usize = 11;
const DLQ_SUFFIX: &str = "-dlq";

/// The name of a source's own queue: the source id without its `src_`, after `prefix`.
pub fn queue_name(prefix: &str, source_id: &str) -> Option<String> {
    tenant_of(source_id)?;
    let rest = source_id.strip_prefix("src_")?;
    Some(format!("{prefix}{rest}"))
}

/// The name of a source's dead-letter queue.
pub fn dlq_name(prefix: &str, source_id: &str) -> Option<String> {
    queue_name(prefix, source_id).map(|n| format!("{n}{DLQ_SUFFIX}"))
}

/// The source whose own queue `arn` (an SQS record's `eventSourceARN`, or a queue name)
/// is, if it is one: only the queue name (the ARN's last part) counts, never a body.
pub fn source_of_queue(prefix: &str, arn: &str) -> Option<String> {
    let name = arn.rsplit(':').next()?;
    let rest = name.strip_prefix(prefix).filter(|_| !prefix.is_empty())?;
    let id = format!("src_{rest}");
    tenant_of(&id).map(|_| id)
}

/// The queue policy of a source queue: `sqs:SendMessage` for the principals the tenant
/// named (account ids or IAM ARNs), on this queue only. None without principals (then
/// only this account's own IAM principals can send, and only with IAM permission).
pub fn queue_policy(queue_arn: &str, principals: &[String]) -> Option<Value> {
    if principals.is_empty() {
        return None;
    }
    Some(json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "TenantProducers",
            "Effect": "Allow",
            "Principal": {"AWS": principals},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
        }],
    }))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub id: String,
    pub tenant: TenantId,
    #[serde(flatten)]
    pub spec: SourceSpec,
    pub secrets: SecretRing,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<SourceQueue>,
}

fn aad(tenant: &TenantId, id: &str) -> Vec<u8> {
    format!("vigil-source-secret/{tenant}/{id}").into_bytes()
}

/// A new source id: `src_<tenant>_<v7 uuid>`.
pub fn new_source_id(tenant: &TenantId) -> String {
    format!("src_{tenant}_{}", uuid::Uuid::now_v7().simple())
}

/// The tenant a source id names, if it is one. Tenant ids hold no `_`.
pub fn tenant_of(id: &str) -> Option<TenantId> {
    let rest = id.strip_prefix("src_")?;
    let (tenant, tail) = rest.rsplit_once('_')?;
    let ok = tail.len() == 32 && tail.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| TenantId::parse(tenant).ok()).flatten()
}

/// GitHub's `X-Hub-Signature-256`: `sha256=` and the hex HMAC-SHA256 of the exact body,
/// keyed with the secret string as entered in GitHub.
pub fn hub_signature(secret: &[u8], body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut m = match <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret) {
        Ok(m) => m,
        // HMAC takes keys of any length; nothing to sign with otherwise.
        Err(_) => return String::new(),
    };
    m.update(body);
    format!("sha256={}", hex::encode(m.finalize().into_bytes()))
}

impl Source {
    pub fn create(
        tenant: &TenantId,
        spec: SourceSpec,
        key: &SecretKey,
        now: DateTime<Utc>,
    ) -> Result<(Self, SigningSecret), EndpointSecretError> {
        let id = new_source_id(tenant);
        let (secrets, secret) = SecretRing::create(key, &aad(tenant, &id), now)?;
        Ok((
            Self {
                id,
                tenant: tenant.clone(),
                spec,
                secrets,
                created_at: now,
                updated_at: now,
                queue: None,
            },
            secret,
        ))
    }

    /// A source with a given id and secret (an import, a fixture); [`Source::create`]
    /// mints both.
    pub fn with_id_and_secret(
        id: &str,
        tenant: &TenantId,
        spec: SourceSpec,
        key: &SecretKey,
        secret: &SigningSecret,
        now: DateTime<Utc>,
    ) -> Result<Self, EndpointSecretError> {
        Ok(Self {
            id: id.to_string(),
            tenant: tenant.clone(),
            spec,
            secrets: SecretRing::holding(key, &aad(tenant, id), secret, now)?,
            created_at: now,
            updated_at: now,
            queue: None,
        })
    }

    /// A new secret; the previous one is accepted for a day more.
    pub fn rotate(
        &mut self,
        key: &SecretKey,
        now: DateTime<Utc>,
    ) -> Result<SigningSecret, EndpointSecretError> {
        let s = self
            .secrets
            .rotate(key, &aad(&self.tenant, &self.id), now)?;
        self.updated_at = now;
        Ok(s)
    }

    fn active(
        &self,
        key: &SecretKey,
        now: DateTime<Utc>,
    ) -> Result<Vec<SigningSecret>, EndpointSecretError> {
        self.secrets.active(key, &aad(&self.tenant, &self.id), now)
    }

    /// Whether `header` is the GitHub signature of `body` under a secret in force
    /// (constant-time). The secret string handed out is what the admin enters in GitHub.
    pub fn verifies_hub_signature(
        &self,
        key: &SecretKey,
        header: &str,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<bool, EndpointSecretError> {
        Ok(self.active(key, now)?.iter().any(|s| {
            bool::from(
                legacy_signature(s, body)
                    .as_bytes()
                    .ct_eq(header.trim().as_bytes()),
            )
        }))
    }

    /// Whether `presented` is a secret in force (constant-time): Okta event hooks send
    /// it as the `Authorization` header value, other pushes as `Bearer <secret>`.
    pub fn accepts_secret(
        &self,
        key: &SecretKey,
        presented: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, EndpointSecretError> {
        let presented = presented.trim();
        let presented = presented
            .strip_prefix("Bearer ")
            .or_else(|| presented.strip_prefix("bearer "))
            .unwrap_or(presented)
            .trim();
        Ok(self
            .active(key, now)?
            .iter()
            .any(|s| bool::from(s.expose().as_bytes().ct_eq(presented.as_bytes()))))
    }

    /// Where the source's records are pushed over HTTP (none for native: the queue or
    /// `POST /events`).
    pub fn push_path(&self) -> Option<String> {
        match self.spec.kind {
            SourceKind::Native => None,
            k => Some(format!("/sources/{}/{}", self.id, k.as_str())),
        }
    }

    /// The source as the API shows it: never a secret.
    pub fn view(&self) -> Value {
        json!({
            "id": self.id,
            "kind": self.spec.kind,
            "name": self.spec.name,
            "drop_unmapped": self.spec.drop_unmapped,
            "principals": self.spec.principals,
            "push_path": self.push_path(),
            "queue_url": self.queue.as_ref().map(|q| &q.url),
            "queue_arn": self.queue.as_ref().map(|q| &q.arn),
            "dead_letter_queue_arn": self.queue.as_ref().map(|q| &q.dlq_arn),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "secret_rotation_ends_at": self.secrets.rotation_ends_at(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> TenantId {
        TenantId::parse("acme-01").unwrap()
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
            .unwrap()
            .to_utc()
    }

    #[test]
    fn githubs_published_signature_example() {
        // docs.github.com, "Validating webhook deliveries", testing the webhook payload
        // validation.
        assert_eq!(
            hub_signature(b"It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn source_ids_carry_their_tenant() {
        let id = new_source_id(&t());
        assert_eq!(tenant_of(&id), Some(t()));
        assert_eq!(tenant_of("src_acme"), None);
        assert_eq!(tenant_of("ep_acme_0123"), None);
        assert_eq!(tenant_of("src_Acme_0190f0c5a1b27c3d8e9f00112233aabb"), None);
    }

    #[test]
    fn signatures_and_secrets_verify_across_a_rotation() {
        let key = SecretKey::generate().unwrap();
        let spec = SourceSpec::from_json(&json!({"kind": "github"})).unwrap();
        let (mut src, first) = Source::create(&t(), spec, &key, now()).unwrap();
        let body = br#"{"zen":"Keep it logically awesome."}"#;
        let sig = hub_signature(first.expose().as_bytes(), body);
        assert!(src.verifies_hub_signature(&key, &sig, body, now()).unwrap());
        assert!(
            !src.verifies_hub_signature(&key, &sig, b"{}", now())
                .unwrap()
        );
        assert!(
            !src.verifies_hub_signature(&key, "sha256=00", body, now())
                .unwrap()
        );
        let second = src.rotate(&key, now()).unwrap();
        let later = now() + chrono::Duration::hours(1);
        assert!(src.verifies_hub_signature(&key, &sig, body, later).unwrap());
        assert!(src.accepts_secret(&key, &second.expose(), later).unwrap());
        assert!(
            src.accepts_secret(&key, &format!("Bearer {}", first.expose()), later)
                .unwrap()
        );
        let day_later = now() + chrono::Duration::hours(25);
        assert!(
            !src.accepts_secret(&key, &first.expose(), day_later)
                .unwrap()
        );
        assert!(!src.view().to_string().contains("whsec_"));
    }

    #[test]
    fn queue_names_carry_the_source_and_fit_sqs() {
        let long = TenantId::parse(&"a".repeat(32)).unwrap();
        let id = new_source_id(&long);
        let prefix = "vigil-src-x";
        assert_eq!(prefix.len(), MAX_QUEUE_PREFIX);
        let q = queue_name(prefix, &id).unwrap();
        assert!(dlq_name(prefix, &id).unwrap().len() <= 80);
        let arn = format!("arn:aws:sqs:eu-west-1:123456789012:{q}");
        assert_eq!(source_of_queue(prefix, &arn), Some(id.clone()));
        assert_eq!(source_of_queue(prefix, &q), Some(id.clone()));
        // Its DLQ, the shared queue and another prefix name no source.
        let dlq = format!(
            "arn:aws:sqs:eu-west-1:123456789012:{}",
            dlq_name(prefix, &id).unwrap()
        );
        assert_eq!(source_of_queue(prefix, &dlq), None);
        assert_eq!(
            source_of_queue(prefix, "arn:aws:sqs:eu-west-1:1:vigil-dev-sources"),
            None
        );
        assert_eq!(source_of_queue("", &arn), None);
        assert_eq!(queue_name(prefix, "src_nope"), None);
    }

    #[test]
    fn the_queue_policy_names_only_the_tenants_principals() {
        let arn = "arn:aws:sqs:eu-west-1:123456789012:vigil-src-acme_00";
        assert_eq!(queue_policy(arn, &[]), None);
        let p = queue_policy(arn, &["210987654321".into()]).unwrap();
        assert_eq!(
            p["Statement"][0]["Principal"]["AWS"],
            json!(["210987654321"])
        );
        assert_eq!(p["Statement"][0]["Action"], "sqs:SendMessage");
        assert_eq!(p["Statement"][0]["Resource"], arn);
    }

    #[test]
    fn specs_report_every_bad_field() {
        let errs = SourceSpec::from_json(&json!({
            "kind": "splunk", "drop_unmapped": "yes", "principals": ["1234", "arn:aws:iam::123456789012:root"], "x": 1
        }))
        .unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["x", "kind", "drop_unmapped", "principals[0]"]);
        let ok = SourceSpec::from_json(&json!({"kind": "native", "principals": ["123456789012"]}))
            .unwrap();
        assert_eq!(ok.principals, ["123456789012"]);
    }
}
