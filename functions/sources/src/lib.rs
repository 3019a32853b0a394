//! The sources stage. A producer that already has records on AWS sends them to Vigil's
//! sources queue, one message each (up to SQS's 256 KiB), as a signed envelope:
//!
//! ```json
//! {"source_id": "src_acme_...", "signature": "sha256=<hex HMAC-SHA256 of body>",
//!  "body": "<native event JSON, or CloudTrail/Okta/GitHub audit records, as text>"}
//! ```
//!
//! The tenant is the source's, never the body's: the source id names it and the
//! signature (keyed with that source's secret, GitHub's scheme) proves the sender holds
//! the secret, so no producer can write into another tenant's events even though the
//! queue is shared. CloudTrail management events the deployment's own EventBridge rule
//! delivers (`detail-type: ... via CloudTrail`) carry no signature: only the rule can
//! send them (the queue policy says so), and they belong to the configured
//! `VIGIL_CLOUDTRAIL_SOURCE_ID`.
//!
//! On AWS a source may also have its own queue, made by `POST /sources` (named
//! `<VIGIL_SOURCE_QUEUE_PREFIX><tenant>_<id>`, with its own dead-letter queue and a queue
//! policy granting `sqs:SendMessage` to the principals the tenant named). Its messages
//! are the records themselves, unsigned: the queue policy is the authentication, and the
//! source (so the tenant) is taken from the record's `eventSourceARN`, never from the
//! body.
//!
//! A message that cannot be used goes to the dead-letter queue with its reason, recorded
//! against its source (when it names one that exists) for `GET /sources/{id}`.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;
use vigil_shared::config::Config;
use vigil_shared::domain::FieldError;
use vigil_shared::domain::event::{IdSource, parse_batch};
use vigil_shared::runtime::{
    BuildError, Disposition, HandlerError, MessageMeta, Stage, StageMessage, StagePorts,
    StageResult,
};
use vigil_shared::sources::intake::SourceIntake;
use vigil_shared::sources::source::source_of_queue;
use vigil_shared::sources::{self, Source, SourceKind, cloudtrail};
use vigil_shared::webhooks::SecretKey;

/// A message of the sources queue, as received.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct SourceMessage(pub Value);

impl StageMessage for SourceMessage {
    /// The tenant of a signed envelope's source, for logs and failure counts only (a
    /// source queue's records name none: their tenant is the queue's).
    fn tenant(&self) -> Option<&str> {
        envelope(&self.0).ok()?;
        self.0
            .get("source_id")?
            .as_str()?
            .strip_prefix("src_")?
            .rsplit_once('_')
            .map(|(t, _)| t)
    }

    fn request_id(&self) -> Option<&str> {
        None
    }
}

/// What a message holds once its shape is known.
enum Envelope<'a> {
    Signed {
        source_id: &'a str,
        signature: &'a str,
        body: &'a str,
    },
    /// A CloudTrail event from the deployment's own EventBridge rule.
    Rule(&'a Value),
}

fn envelope(v: &Value) -> Result<Envelope<'_>, String> {
    let s = |k: &str| v.get(k).and_then(Value::as_str);
    match (s("source_id"), s("signature"), s("body")) {
        (Some(source_id), Some(signature), Some(body)) => Ok(Envelope::Signed {
            source_id,
            signature,
            body,
        }),
        _ if s("detail-type").is_some_and(|t| t.ends_with("via CloudTrail")) => {
            Ok(Envelope::Rule(v))
        }
        _ => Err("not a source envelope: needs string fields source_id, signature and body".into()),
    }
}

pub struct SourcesStage {
    /// Source lookups, dead-letter records and forwarding onto the ingest queue.
    pub intake: SourceIntake,
    pub secret_key: Option<SecretKey>,
    pub cloudtrail_source_id: Option<String>,
    /// Per-source queue names begin with this (`VIGIL_SOURCE_QUEUE_PREFIX`).
    pub source_queue_prefix: String,
}

/// The sources stage over `ports`, for the Lambda function and local mode alike.
pub fn stage(ports: &StagePorts, config: &Config) -> Result<SourcesStage, BuildError> {
    Ok(SourcesStage {
        intake: SourceIntake::new(ports, config.event_max_age),
        secret_key: config.webhooks.secret_key.clone(),
        cloudtrail_source_id: config.cloudtrail_source_id.clone(),
        source_queue_prefix: config.source_queue_prefix.clone(),
    })
}

impl SourcesStage {
    fn events(
        &self,
        source: &Source,
        body: &Value,
        meta: &MessageMeta,
    ) -> Result<sources::Normalized, Vec<FieldError>> {
        let bounds = self.intake.bounds();
        match source.spec.kind {
            // Ids of events without one derive from the message id, which a redelivery
            // keeps.
            SourceKind::Native => parse_batch(
                body,
                &source.tenant,
                IdSource::Idempotency(&meta.message_id),
                bounds,
            )
            .map(|events| sources::Normalized {
                events,
                dropped: Vec::new(),
            }),
            SourceKind::Cloudtrail => sources::normalize_cloudtrail(body, source, bounds),
            SourceKind::Okta => sources::normalize_okta(body, source, bounds),
            SourceKind::Github => {
                let records = match body {
                    Value::Array(a) => a.clone(),
                    one => vec![one.clone()],
                };
                sources::normalize_github_audit(&records, source, bounds)
            }
        }
    }

    /// The source whose own queue `meta` says the record came from, if it did.
    fn queue_source(&self, meta: &MessageMeta) -> Option<String> {
        source_of_queue(&self.source_queue_prefix, meta.source_arn.as_deref()?)
    }

    /// A record of a source's own queue: the records as the producer sent them, for the
    /// source the queue belongs to.
    async fn handle_queued(
        &self,
        source_id: &str,
        body: &Value,
        meta: &MessageMeta,
    ) -> StageResult {
        let arn = meta.source_arn.as_deref().unwrap_or_default();
        let Some(source) = self.intake.source(source_id).await? else {
            return Ok(Disposition::DeadLetter {
                reason: format!("{arn} is the queue of no source"),
            });
        };
        // The stored source must name this very queue (not one of the same name in
        // another account).
        if source.queue.as_ref().is_none_or(|q| q.arn != arn) {
            return self
                .intake
                .dead(
                    &source,
                    meta,
                    format!("{arn} is not the source's queue"),
                    &body.to_string(),
                )
                .await;
        }
        let body = match &source.spec.kind {
            SourceKind::Cloudtrail => cloudtrail::unwrap_eventbridge(body).clone(),
            _ => body.clone(),
        };
        self.normalize_and_forward(&source, &body, &body.to_string(), meta)
            .await
    }

    async fn normalize_and_forward(
        &self,
        source: &Source,
        body: &Value,
        body_text: &str,
        meta: &MessageMeta,
    ) -> StageResult {
        match self.events(source, body, meta) {
            Ok(n) => {
                self.intake.forward(source, &n).await?;
                Ok(Disposition::Done)
            }
            Err(errors) => {
                self.intake
                    .dead(source, meta, FieldError::describe(&errors), body_text)
                    .await
            }
        }
    }
}

#[async_trait]
impl Stage for SourcesStage {
    const NAME: &'static str = "sources";
    type Message = SourceMessage;

    async fn handle(&self, msg: SourceMessage, meta: &MessageMeta) -> StageResult {
        if let Some(source_id) = self.queue_source(meta) {
            return self.handle_queued(&source_id, &msg.0, meta).await;
        }
        let env = match envelope(&msg.0) {
            Ok(e) => e,
            Err(reason) => return Ok(Disposition::DeadLetter { reason }),
        };
        let source_id = match &env {
            Envelope::Signed { source_id, .. } => Some(*source_id),
            Envelope::Rule(_) => self.cloudtrail_source_id.as_deref(),
        };
        let Some(source_id) = source_id else {
            return Ok(Disposition::DeadLetter {
                reason: "a CloudTrail rule event, but VIGIL_CLOUDTRAIL_SOURCE_ID is not set".into(),
            });
        };
        let Some(source) = self.intake.source(source_id).await? else {
            return Ok(Disposition::DeadLetter {
                reason: format!("no source {source_id}"),
            });
        };
        let (body_text, body): (String, Value) = match env {
            Envelope::Signed {
                signature,
                body: text,
                ..
            } => {
                let Some(key) = &self.secret_key else {
                    return Err(HandlerError::Other {
                        context: "VIGIL_SECRET_KEY is not configured",
                        source: "signed source messages cannot be checked".into(),
                    });
                };
                let ok = source
                    .verifies_hub_signature(
                        key,
                        signature,
                        text.as_bytes(),
                        self.intake.clock.now(),
                    )
                    .map_err(|e| HandlerError::other("cannot open the source secret", e))?;
                if !ok {
                    return self
                        .intake
                        .dead(
                            &source,
                            meta,
                            "the signature does not match the source's secret".into(),
                            text,
                        )
                        .await;
                }
                match serde_json::from_str(text) {
                    Ok(v) => (text.to_string(), v),
                    Err(e) => {
                        return self
                            .intake
                            .dead(&source, meta, format!("body: is not JSON: {e}"), text)
                            .await;
                    }
                }
            }
            Envelope::Rule(v) => {
                if source.spec.kind != SourceKind::Cloudtrail {
                    return Ok(Disposition::DeadLetter {
                        reason: format!("{source_id} is not a cloudtrail source"),
                    });
                }
                (v.to_string(), cloudtrail::unwrap_eventbridge(v).clone())
            }
        };
        self.normalize_and_forward(&source, &body, &body_text, meta)
            .await
    }

    /// A source queue's record that is not JSON is recorded against its source (the
    /// runner dead-letters it).
    async fn malformed(&self, body: &str, meta: &MessageMeta, reason: &str) {
        let Some(source_id) = self.queue_source(meta) else {
            return;
        };
        let source = match self.intake.source(&source_id).await {
            Ok(Some(s)) => s,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(
                    error = &e as &dyn std::error::Error,
                    "cannot read the source of a malformed message"
                );
                return;
            }
        };
        if source
            .queue
            .as_ref()
            .is_none_or(|q| Some(q.arn.as_str()) != meta.source_arn.as_deref())
        {
            return;
        }
        if let Err(e) = self
            .intake
            .dead(&source, meta, reason.to_string(), body)
            .await
        {
            tracing::warn!(
                error = &e as &dyn std::error::Error,
                "cannot record a malformed message"
            );
        }
    }
}

/// The envelope a producer sends for `body` (tests and the README's example use it).
pub fn signed_envelope(source_id: &str, secret: &str, body: &str) -> Value {
    serde_json::json!({
        "source_id": source_id,
        "signature": sources::source::hub_signature(secret.as_bytes(), body.as_bytes()),
        "body": body,
    })
}
