//! Delivering one stored message to its endpoint: sign, POST (10 s timeout, redirects
//! not followed, every connection through the address guard), record the attempt, and
//! decide what happens next. The queue layer turns a [`Disposition`] into an ack or a
//! visibility change, so a waiting retry survives restarts.
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::WebhookSettings;
use super::cipher::SecretKey;
use super::endpoint::{Endpoint, EndpointSecretError, FAILING_DAYS_BEFORE_DISABLE};
use super::retry::{Verdict, classify, parse_retry_after};
use super::signing::{
    HEADER_ID, HEADER_LEGACY, HEADER_SIGNATURE, HEADER_TIMESTAMP, legacy_signature,
    signature_header,
};
use super::ssrf::{GuardedResolver, SsrfError, UrlPolicy};
use crate::audit;
use crate::domain::TenantId;
use crate::domain::notification::Notification;
use crate::ports::store::{Condition, StoreError, WriteOp};
use crate::ports::{Clock, ItemStore};
use crate::repo::{notifications, webhooks as repo};
use crate::resilience::{Admission, BreakerKey, Breakers};
use crate::retry::on_conflict;

/// The actor of an endpoint disabled by the delivery worker, in the audit log.
pub const AUDIT_ACTOR: &str = "webhook-dispatcher";
const USER_AGENT: &str = "Vigil-Webhooks/1.0";
/// Longest error text kept on an attempt.
const MAX_ERROR: usize = 500;

/// The body of a webhook-queue message: a pointer to a stored message. The message's
/// state (attempts, next retry) lives in the store, so the same queue message can be
/// made visible again later instead of being re-sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryJob {
    pub tenant: TenantId,
    pub endpoint_id: String,
    pub message_id: String,
    /// The request id of the HTTP call that caused the event, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Waiting for its first attempt or a retry.
    Pending,
    Delivered,
    /// Refused by the receiver (4xx), blocked, or its endpoint was deleted.
    Failed,
    /// Retries exhausted or the endpoint disabled: in the dead-letter list.
    Dead,
}

/// One message to one endpoint; `webhook-id` is its id on every attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookMessage {
    pub id: String,
    pub tenant: TenantId,
    pub endpoint_id: String,
    pub event_type: String,
    #[serde(default)]
    pub event_id: Option<String>,
    /// The exact body sent (canonical JSON).
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub status: MessageStatus,
    /// Attempts made so far, over all redeliveries.
    pub attempts: u32,
    /// Retries used since the message was (re)queued: the position in the schedule.
    pub retry: u32,
    #[serde(default)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_status_code: Option<u16>,
    #[serde(default)]
    pub last_error: Option<String>,
}

impl WebhookMessage {
    pub fn new(
        id: String,
        endpoint: &Endpoint,
        event_type: &str,
        event_id: Option<String>,
        body: String,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            tenant: endpoint.tenant.clone(),
            endpoint_id: endpoint.id.clone(),
            event_type: event_type.to_string(),
            event_id,
            body,
            created_at: now,
            updated_at: now,
            status: MessageStatus::Pending,
            attempts: 0,
            retry: 0,
            next_attempt_at: None,
            last_status_code: None,
            last_error: None,
        }
    }

    pub fn job(&self) -> DeliveryJob {
        DeliveryJob {
            tenant: self.tenant.clone(),
            endpoint_id: self.endpoint_id.clone(),
            message_id: self.id.clone(),
            request_id: None,
        }
    }

    /// Puts a finished message back in line for a fresh run of the retry schedule.
    pub fn requeue(&mut self, now: DateTime<Utc>) {
        self.status = MessageStatus::Pending;
        self.retry = 0;
        self.next_attempt_at = None;
        self.updated_at = now;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    Delivered,
    Retrying,
    Failed,
    /// 410: the endpoint was disabled.
    Gone,
    /// The last retry failed: the message is dead-lettered.
    Exhausted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub number: u32,
    pub at: DateTime<Utc>,
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    pub error: Option<String>,
    pub outcome: AttemptOutcome,
    pub next_retry_at: Option<DateTime<Utc>>,
}

/// What became of one POST.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpOutcome {
    pub status: Option<u16>,
    pub retry_after: Option<String>,
    pub latency: Duration,
    pub error: Option<String>,
    /// The address guard refused the connection.
    pub blocked: bool,
}

/// The HTTP client deliveries go through; one per process, connections pooled.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    policy: UrlPolicy,
}

fn error_text(e: &(dyn std::error::Error + 'static)) -> (String, bool) {
    let mut text = e.to_string();
    let mut blocked = false;
    let mut source = e.source();
    while let Some(s) = source {
        blocked |= s.downcast_ref::<SsrfError>().is_some();
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text.truncate(MAX_ERROR);
    (text, blocked)
}

impl Sender {
    pub fn new(policy: UrlPolicy, timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve the name itself, past the guard.
            .no_proxy()
            .dns_resolver(GuardedResolver::shared(policy))
            .user_agent(USER_AGENT)
            .build()?;
        Ok(Self { client, policy })
    }

    /// POSTs `body`; never fails, the outcome says what happened.
    pub async fn post(&self, url: &str, headers: &[(&str, String)], body: String) -> HttpOutcome {
        let started = Instant::now();
        if let Err(e) = self.policy.check_syntax(url) {
            return HttpOutcome {
                status: None,
                retry_after: None,
                latency: started.elapsed(),
                error: Some(format!("url {e}")),
                blocked: matches!(e, SsrfError::Forbidden { .. } | SsrfError::Scheme),
            };
        }
        let mut req = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        match req.body(body).send().await {
            Ok(resp) => HttpOutcome {
                status: Some(resp.status().as_u16()),
                retry_after: resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
                latency: started.elapsed(),
                error: None,
                blocked: false,
            },
            Err(e) => {
                let (text, blocked) = error_text(&e);
                let kind = if e.is_timeout() { "timeout: " } else { "" };
                HttpOutcome {
                    status: None,
                    retry_after: None,
                    latency: started.elapsed(),
                    error: Some(format!("{kind}{text}")),
                    blocked,
                }
            }
        }
    }
}

/// What the queue should do with the message that carried a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Finished (or nothing to do): acknowledge it.
    Done,
    /// Make it visible again after this long.
    Wait(Duration),
}

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("signing secrets cannot be opened: {0}")]
    Secret(#[from] EndpointSecretError),
    #[error("VIGIL_SECRET_KEY is not configured; webhooks cannot be signed")]
    NoKey,
}

/// What [`Dispatcher::process`] found: nothing to send now, or an attempt to make.
enum Due {
    Finished(Disposition),
    Send(Box<DueAttempt>),
}

struct DueAttempt {
    endpoint: Endpoint,
    msg: WebhookMessage,
    version: u64,
    now: DateTime<Utc>,
}

/// Delivers stored messages.
#[derive(Clone)]
pub struct Dispatcher {
    pub store: Arc<dyn ItemStore>,
    pub clock: Arc<dyn Clock>,
    pub settings: WebhookSettings,
    pub sender: Sender,
}

fn to_std(d: chrono::Duration) -> Duration {
    d.to_std().unwrap_or(Duration::ZERO)
}

/// The headers of one attempt at `now`.
pub fn signed_headers(
    secrets: &[super::signing::SigningSecret],
    msg_id: &str,
    now: DateTime<Utc>,
    body: &str,
) -> Vec<(&'static str, String)> {
    let ts = now.timestamp();
    let mut headers = vec![
        (HEADER_ID, msg_id.to_string()),
        (HEADER_TIMESTAMP, ts.to_string()),
        (
            HEADER_SIGNATURE,
            signature_header(secrets, msg_id, ts, body.as_bytes()),
        ),
    ];
    if let Some(newest) = secrets.first() {
        headers.push((HEADER_LEGACY, legacy_signature(newest, body.as_bytes())));
    }
    headers
}

impl Dispatcher {
    pub fn new(
        store: Arc<dyn ItemStore>,
        clock: Arc<dyn Clock>,
        settings: WebhookSettings,
    ) -> Result<Self, reqwest::Error> {
        let sender = Sender::new(settings.policy, settings.timeout)?;
        Ok(Self {
            store,
            clock,
            settings,
            sender,
        })
    }

    fn key(&self) -> Result<&SecretKey, DispatchError> {
        self.settings
            .secret_key
            .as_ref()
            .ok_or(DispatchError::NoKey)
    }

    /// Makes the next attempt of `job`'s message if one is due. Idempotent: a job that
    /// arrives twice, late, or for a finished message does nothing.
    pub async fn process(&self, job: &DeliveryJob) -> Result<Disposition, DispatchError> {
        let store = self.store.as_ref();
        // Only the decision is retried on a lost race; an attempt, once sent, is not.
        let due = on_conflict::<_, StoreError, _, _>(move || async move {
            let now = self.clock.now();
            let Some(read) = repo::get_message(store, &job.tenant, &job.message_id).await? else {
                tracing::warn!(message = %job.message_id, "webhook message does not exist; dropping its job");
                return Ok(Due::Finished(Disposition::Done));
            };
            let msg = read.value;
            if msg.status != MessageStatus::Pending {
                return Ok(Due::Finished(Disposition::Done));
            }
            if let Some(at) = msg.next_attempt_at.filter(|at| *at > now) {
                return Ok(Due::Finished(Disposition::Wait(to_std(at - now))));
            }
            let endpoint = repo::get_endpoint(store, &job.tenant, &msg.endpoint_id).await?;
            match endpoint {
                Some(e) if e.value.spec.enabled => Ok(Due::Send(Box::new(DueAttempt {
                    endpoint: e.value,
                    msg,
                    version: read.version,
                    now,
                }))),
                other => {
                    // Deleted: nothing to deliver to. Disabled: keep it in the dead-letter
                    // list so it can be redelivered once the endpoint is enabled again.
                    let (status, reason) = match other {
                        None => (MessageStatus::Failed, "endpoint deleted"),
                        Some(_) => (MessageStatus::Dead, "endpoint disabled"),
                    };
                    let mut m = msg.clone();
                    m.status = status;
                    m.last_error = Some(reason.to_string());
                    m.next_attempt_at = None;
                    m.updated_at = now;
                    repo::replace_message(store, &m, read.version).await?;
                    Ok(Due::Finished(Disposition::Done))
                }
            }
        })
        .await?;
        let DueAttempt {
            endpoint,
            msg,
            version,
            now,
        } = match due {
            Due::Finished(d) => return Ok(d),
            Due::Send(attempt) => *attempt,
        };
        // An endpoint that keeps failing is left alone while its breaker is open: the
        // message waits for the trial without using up a retry of its schedule.
        let breaker = BreakerKey::webhook(&endpoint.tenant, &endpoint.id);
        let breakers = Breakers::new(self.settings.breaker);
        if let Admission::Refused { until } = breakers.admit(store, &breaker, now).await? {
            tracing::info!(endpoint = %endpoint.id, %until, "endpoint breaker open; delivery waits");
            return Ok(Disposition::Wait(
                to_std(until - now).max(Duration::from_secs(1)),
            ));
        }
        let secrets = endpoint.signing_secrets(self.key()?, now)?;
        let headers = signed_headers(&secrets, &msg.id, now, &msg.body);
        let outcome = self
            .sender
            .post(&endpoint.spec.url, &headers, msg.body.clone())
            .await;
        // The receiver answering at all (even 4xx) is a live endpoint; only 5xx, 429,
        // timeouts and refused connections count against it. A blocked address never
        // reached it.
        let failure = match (outcome.status, outcome.blocked) {
            (_, true) => None,
            (Some(code), _) if code == 429 || code >= 500 => Some(format!("HTTP {code}")),
            (Some(_), _) => None,
            (None, false) => Some(outcome.error.clone().unwrap_or_else(|| "no answer".into())),
        };
        if !outcome.blocked {
            breakers
                .record(store, &breaker, failure.as_deref(), self.clock.now())
                .await?;
        }
        self.record(&endpoint, msg, version, now, outcome).await
    }

    async fn record(
        &self,
        endpoint: &Endpoint,
        msg: WebhookMessage,
        read_version: u64,
        started: DateTime<Utc>,
        outcome: HttpOutcome,
    ) -> Result<Disposition, DispatchError> {
        let now = self.clock.now();
        let verdict = match (outcome.status, outcome.blocked) {
            (_, true) => Verdict::Terminal,
            (Some(code), _) => classify(
                code,
                outcome
                    .retry_after
                    .as_deref()
                    .and_then(|v| parse_retry_after(v, now)),
            ),
            // Timeouts and network errors.
            (None, false) => Verdict::Retry { not_before: None },
        };
        crate::telemetry::count(crate::telemetry::metric::WEBHOOK_ATTEMPTS, 1);
        if !matches!(verdict, Verdict::Delivered) {
            crate::telemetry::count(crate::telemetry::metric::WEBHOOK_FAILURES, 1);
        }
        let mut m = msg;
        m.attempts += 1;
        m.updated_at = now;
        m.last_status_code = outcome.status;
        m.last_error = outcome.error.clone();
        m.next_attempt_at = None;
        let (attempt_outcome, disposition) = match verdict {
            Verdict::Delivered => {
                m.status = MessageStatus::Delivered;
                (AttemptOutcome::Delivered, Disposition::Done)
            }
            Verdict::Gone => {
                m.status = MessageStatus::Failed;
                (AttemptOutcome::Gone, Disposition::Done)
            }
            Verdict::Terminal => {
                m.status = MessageStatus::Failed;
                (AttemptOutcome::Failed, Disposition::Done)
            }
            Verdict::Retry { not_before } => match self.settings.schedule.delay(m.retry) {
                Some(delay) => {
                    // Honour Retry-After, but never retry sooner than the schedule says.
                    let wait = delay.max(not_before.unwrap_or(Duration::ZERO));
                    m.retry += 1;
                    m.next_attempt_at = chrono::Duration::from_std(wait).ok().map(|w| now + w);
                    (AttemptOutcome::Retrying, Disposition::Wait(wait))
                }
                None => {
                    m.status = MessageStatus::Dead;
                    (AttemptOutcome::Exhausted, Disposition::Done)
                }
            },
        };
        let attempt = Attempt {
            number: m.attempts,
            at: started,
            status_code: outcome.status,
            latency_ms: u64::try_from(outcome.latency.as_millis()).unwrap_or(u64::MAX),
            error: outcome.error,
            outcome: attempt_outcome,
            next_retry_at: m.next_attempt_at,
        };
        match repo::record_attempt(self.store.as_ref(), &m, read_version, &attempt, vec![]).await {
            Ok(()) => {}
            Err(StoreError::ConditionFailed { .. }) => {
                // Another worker recorded this attempt; it carries the message on.
                tracing::info!(message = %m.id, attempt = attempt.number, "attempt recorded by another worker");
                return Ok(Disposition::Done);
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(message = %m.id, endpoint = %m.endpoint_id, attempt = attempt.number, status = ?attempt.status_code, outcome = ?attempt.outcome, "webhook attempt");
        self.update_health(&endpoint.tenant, &endpoint.id, verdict, now)
            .await?;
        Ok(disposition)
    }

    /// Tracks how long an endpoint has been failing and disables it after 410 or five
    /// days of failures, telling the tenant with an in-app notification and recording
    /// `webhook.disable` (actor `system:webhook-dispatcher`) in the same write.
    async fn update_health(
        &self,
        tenant: &TenantId,
        endpoint_id: &str,
        verdict: Verdict,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let store = self.store.as_ref();
        on_conflict(move || async move {
            let Some(read) = repo::get_endpoint(store, tenant, endpoint_id).await? else {
                return Ok(());
            };
            let mut e = read.value.clone();
            let mut disable: Option<String> = None;
            match verdict {
                Verdict::Delivered => e.failing_since = None,
                Verdict::Gone => {
                    disable = Some("the receiver answered 410 Gone".to_string());
                }
                Verdict::Retry { .. } | Verdict::Terminal => {
                    let since = *e.failing_since.get_or_insert(now);
                    if now - since >= chrono::Duration::days(FAILING_DAYS_BEFORE_DISABLE) {
                        disable = Some(format!(
                            "every delivery failed for {FAILING_DAYS_BEFORE_DISABLE} days (since {})",
                            since.to_rfc3339()
                        ));
                    }
                }
            }
            let mut ops = Vec::new();
            let disabling = disable.is_some() && e.spec.enabled;
            if let Some(reason) = disable.filter(|_| e.spec.enabled) {
                e.spec.enabled = false;
                e.disabled_reason = Some(reason.clone());
                let n = Notification::new(
                    tenant,
                    "webhook.endpoint_disabled",
                    format!("Webhook endpoint {} was disabled", e.id),
                    format!(
                        "Vigil stopped delivering to {}: {reason}. Fix the receiver, then enable the endpoint again (PATCH {{\"enabled\": true}}) and redeliver dead letters.",
                        e.spec.url
                    ),
                    now,
                );
                ops.push(notifications::put_op(&n)?);
                tracing::warn!(endpoint = %e.id, %reason, "webhook endpoint disabled");
            }
            if e == read.value {
                return Ok(());
            }
            e.updated_at = now;
            ops.insert(
                0,
                WriteOp::put(
                    repo::endpoint_item(&e, read.version + 1)?,
                    Condition::Version(read.version),
                ),
            );
            if disabling {
                // The API view: no secret, plain or sealed, reaches the audit log.
                let draft = audit::AuditDraft::new(
                    audit::Actor::system(AUDIT_ACTOR),
                    "webhook.disable",
                    "webhook",
                    &e.id,
                )
                .before(&read.value.view())
                .after(&e.view());
                ops.extend(audit::prepare(store, tenant, &draft, now).await?.ops);
            }
            store.write(ops).await
        })
        .await
    }
}
