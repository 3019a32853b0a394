//! Configuration, read once at start-up from the environment into one typed struct.
use std::collections::HashMap;
use std::time::Duration;

use crate::enrich::LlmConfig;
use crate::ports::QueueName;
use crate::rules::RulesConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// DynamoDB table (AWS adapters).
    pub table: Option<String>,
    /// SQS queue URLs (AWS adapters).
    pub queue_urls: HashMap<QueueName, String>,
    /// Their dead-letter queue URLs, for tooling that lists or redrives them.
    pub dlq_urls: HashMap<QueueName, String>,
    /// EventBridge bus name (AWS adapters).
    pub event_bus: Option<String>,
    /// Endpoint override for every AWS client (an emulator such as moto).
    pub aws_endpoint: Option<String>,
    pub llm: Option<LlmConfig>,
    pub rules: RulesConfig,
    /// Period in which matches of one rule on one subject share a finding.
    pub dedup_minutes: i64,
    /// How long a local worker holds the messages it received before another may take
    /// them (`VIGIL_WORKER_LEASE_SECONDS`): after a crash, in-flight work resumes then.
    /// On AWS the queues' visibility timeout in the template plays this part.
    pub worker_lease_seconds: u64,
    pub log_format: LogFormat,
    /// Webhook delivery: `VIGIL_SECRET_KEY` (seals signing secrets), the address guard,
    /// retry schedule and timeout.
    pub webhooks: crate::webhooks::WebhookSettings,
    /// Ed25519 key signing audit checkpoints (`VIGIL_AUDIT_SIGNING_KEY`, base64 seed).
    pub audit_signing_key: Option<crate::audit::CheckpointSigner>,
    /// Secrets Manager secrets the two keys above are derived from when they are not
    /// given directly (AWS); read once at cold start by `wiring::resolve_keys`.
    pub secret_key_arn: Option<String>,
    pub audit_signing_key_arn: Option<String>,
    /// Minutes between periodic audit checkpoints in `vigil serve`.
    pub audit_checkpoint_minutes: u64,
    /// AI-system re-classification: lease, fan-out sizes, local schedule.
    pub reclassify: crate::reclassify::ReclassifySettings,
    /// HTTP server limits (`VIGIL_HTTP_*`).
    pub http: HttpSettings,
    /// Oldest event time `POST /events` accepts (`VIGIL_EVENT_MAX_AGE_DAYS`).
    pub event_max_age: chrono::Duration,
    /// Rate limits, breakers, the model bulkhead and token prices.
    pub resilience: ResilienceSettings,
    /// The source (`src_<tenant>_...`) CloudTrail events from this deployment's own
    /// EventBridge rule belong to (`VIGIL_CLOUDTRAIL_SOURCE_ID`); without it they are
    /// dead-lettered, as no message body may name its tenant.
    pub cloudtrail_source_id: Option<String>,
    /// The S3 bucket CloudTrail delivers log files to (`VIGIL_CLOUDTRAIL_BUCKET`): the
    /// log-files stage reads notified objects of this bucket only.
    pub cloudtrail_bucket: Option<String>,
    /// Names of per-source SQS queues begin with this (`VIGIL_SOURCE_QUEUE_PREFIX`, at
    /// most 11 characters of A-Z, a-z, 0-9, `-` and `_`; default `vigil-src-`): the
    /// sources stage takes a record's source from its queue's name.
    pub source_queue_prefix: String,
    /// The sources function (name or ARN) per-source queues are mapped onto
    /// (`VIGIL_SOURCES_FUNCTION_ARN`); without it `POST /sources` makes no queue.
    pub sources_function: Option<String>,
}

/// Rate-limit defaults (`VIGIL_RATE_LIMIT_*`; a tenant may have its own), the breakers
/// (`VIGIL_BREAKER_*`), model calls at once per tenant and token prices.
#[derive(Debug, Clone, PartialEq)]
pub struct ResilienceSettings {
    pub limits: crate::resilience::limits::TenantLimits,
    pub breaker: crate::resilience::BreakerSettings,
    pub llm_concurrency_per_tenant: usize,
    pub prices: crate::resilience::Prices,
}

impl Default for ResilienceSettings {
    fn default() -> Self {
        Self {
            limits: Default::default(),
            breaker: Default::default(),
            llm_concurrency_per_tenant: 4,
            prices: Default::default(),
        }
    }
}

impl ResilienceSettings {
    fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = Self::default();
        let at_least_one = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
            match parse_num(get, name, default)? {
                0 => Err(ConfigError::Invalid {
                    name,
                    reason: "must be at least 1".into(),
                }),
                n => Ok(n),
            }
        };
        let price = |name: &'static str, default: f64| -> Result<f64, ConfigError> {
            let v: f64 = parse_num(get, name, default)?;
            if v.is_finite() && v >= 0.0 {
                Ok(v)
            } else {
                Err(ConfigError::Invalid {
                    name,
                    reason: "must be a price of 0 or more".into(),
                })
            }
        };
        let limits = crate::resilience::limits::TenantLimits {
            key_requests: at_least_one("VIGIL_RATE_LIMIT_KEY_REQUESTS", d.limits.key_requests)?,
            tenant_requests: at_least_one(
                "VIGIL_RATE_LIMIT_TENANT_REQUESTS",
                d.limits.tenant_requests,
            )?,
            ingest_events: at_least_one("VIGIL_RATE_LIMIT_INGEST_EVENTS", d.limits.ingest_events)?,
            window_seconds: at_least_one(
                "VIGIL_RATE_LIMIT_WINDOW_SECONDS",
                d.limits.window_seconds,
            )?,
        };
        if limits.validate().is_err() {
            return Err(ConfigError::Invalid {
                name: "VIGIL_RATE_LIMIT_WINDOW_SECONDS",
                reason: "must be 1 to 86400".into(),
            });
        }
        let failures = at_least_one(
            "VIGIL_BREAKER_FAILURES",
            u64::from(d.breaker.failure_threshold),
        )?;
        let open_seconds = at_least_one(
            "VIGIL_BREAKER_OPEN_SECONDS",
            d.breaker.open_for.num_seconds().unsigned_abs(),
        )?;
        Ok(Self {
            limits,
            breaker: crate::resilience::BreakerSettings {
                failure_threshold: u32::try_from(failures).unwrap_or(u32::MAX),
                open_for: chrono::Duration::seconds(
                    i64::try_from(open_seconds).unwrap_or(i64::MAX / 1000),
                ),
            },
            llm_concurrency_per_tenant: usize::try_from(at_least_one(
                "VIGIL_LLM_CONCURRENCY_PER_TENANT",
                d.llm_concurrency_per_tenant as u64,
            )?)
            .unwrap_or(usize::MAX),
            prices: crate::resilience::Prices {
                input_per_mtok: price("VIGIL_LLM_PRICE_INPUT_PER_MTOK", d.prices.input_per_mtok)?,
                output_per_mtok: price(
                    "VIGIL_LLM_PRICE_OUTPUT_PER_MTOK",
                    d.prices.output_per_mtok,
                )?,
            },
        })
    }
}

/// Limits the HTTP API enforces on every request. `vigil serve` applies all of them;
/// under Lambda, API Gateway reads the request first (30 s integration timeout, 10 MB
/// payload, 10 KiB of request line and headers on HTTP APIs), so there the header and
/// URI limits and the concurrency limit (one request per Lambda instance anyway) are
/// what this layer still enforces, and the timeouts are API Gateway's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// Time a client has to send a request's headers (`VIGIL_HTTP_HEADER_TIMEOUT_MS`).
    pub header_read_timeout: Duration,
    /// Time a client has to send a request's body (`VIGIL_HTTP_BODY_TIMEOUT_MS`).
    pub body_read_timeout: Duration,
    /// An idle keep-alive connection is closed after this (`VIGIL_HTTP_IDLE_TIMEOUT_MS`).
    pub idle_timeout: Duration,
    /// Largest request target, path and query (`VIGIL_HTTP_MAX_URI_BYTES`).
    pub max_uri_bytes: usize,
    /// Largest sum of header names and values (`VIGIL_HTTP_MAX_HEADER_BYTES`).
    pub max_header_bytes: usize,
    /// Requests handled at once; more are refused with 503 (`VIGIL_HTTP_CONCURRENCY`).
    pub concurrency_limit: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_uri_bytes: 8 * 1024,
            max_header_bytes: 16 * 1024,
            concurrency_limit: 256,
        }
    }
}

impl HttpSettings {
    fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = Self::default();
        let ms = |name, default: Duration| -> Result<Duration, ConfigError> {
            let v: u64 = parse_num(get, name, u64::try_from(default.as_millis()).unwrap_or(0))?;
            if v == 0 {
                return Err(ConfigError::Invalid {
                    name,
                    reason: "must be at least 1".into(),
                });
            }
            Ok(Duration::from_millis(v))
        };
        let positive = |name, default: usize| -> Result<usize, ConfigError> {
            match parse_num(get, name, default)? {
                0 => Err(ConfigError::Invalid {
                    name,
                    reason: "must be at least 1".into(),
                }),
                n => Ok(n),
            }
        };
        Ok(Self {
            header_read_timeout: ms("VIGIL_HTTP_HEADER_TIMEOUT_MS", d.header_read_timeout)?,
            body_read_timeout: ms("VIGIL_HTTP_BODY_TIMEOUT_MS", d.body_read_timeout)?,
            idle_timeout: ms("VIGIL_HTTP_IDLE_TIMEOUT_MS", d.idle_timeout)?,
            max_uri_bytes: positive("VIGIL_HTTP_MAX_URI_BYTES", d.max_uri_bytes)?,
            max_header_bytes: positive("VIGIL_HTTP_MAX_HEADER_BYTES", d.max_header_bytes)?,
            concurrency_limit: positive("VIGIL_HTTP_CONCURRENCY", d.concurrency_limit)?,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("{0} is required")]
    Missing(&'static str),
}

fn parse_num<T: std::str::FromStr>(
    get: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| ConfigError::Invalid {
            name,
            reason: format!("'{v}' is not a number"),
        }),
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// Builds the config from any variable lookup (tests pass a map).
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut queue_urls = HashMap::new();
        let mut dlq_urls = HashMap::new();
        for q in QueueName::ALL {
            let upper = q.as_str().to_ascii_uppercase();
            if let Some(url) = get(&format!("VIGIL_{upper}_QUEUE_URL")) {
                queue_urls.insert(q, url);
            }
            if let Some(url) = get(&format!("VIGIL_{upper}_DLQ_URL")) {
                dlq_urls.insert(q, url);
            }
        }
        let llm = match get("VIGIL_LLM_URL") {
            None => None,
            Some(url) => Some(LlmConfig {
                url,
                api_key: get("VIGIL_LLM_API_KEY"),
                api_key_secret_arn: get("VIGIL_LLM_API_KEY_SECRET_ARN"),
                model: get("VIGIL_LLM_MODEL").unwrap_or_else(|| "gpt-4o-mini".into()),
                timeout: Duration::from_millis(parse_num(get, "VIGIL_LLM_TIMEOUT_MS", 10_000u64)?),
                retries: parse_num(get, "VIGIL_LLM_RETRIES", 2u32)?,
            }),
        };
        let mut rules = RulesConfig::default();
        if let Some(list) = get("VIGIL_SUSPICIOUS_COUNTRIES") {
            rules.suspicious_countries = list
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
        }
        rules.tenant_hourly_volume = parse_num(get, "VIGIL_TENANT_HOURLY_VOLUME", 300u64)?;
        let dedup_minutes = parse_num(get, "VIGIL_FINDING_DEDUP_MINUTES", 60i64)?;
        let worker_lease_seconds = parse_num(get, "VIGIL_WORKER_LEASE_SECONDS", 60u64)?;
        if worker_lease_seconds < 1 {
            return Err(ConfigError::Invalid {
                name: "VIGIL_WORKER_LEASE_SECONDS",
                reason: "must be at least 1".into(),
            });
        }
        if dedup_minutes < 1 {
            return Err(ConfigError::Invalid {
                name: "VIGIL_FINDING_DEDUP_MINUTES",
                reason: "must be at least 1".into(),
            });
        }
        let log_format = match get("VIGIL_LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "VIGIL_LOG_FORMAT",
                    reason: format!("'{other}' is neither json nor text"),
                });
            }
        };
        let audit_signing_key = match get("VIGIL_AUDIT_SIGNING_KEY") {
            None => None,
            Some(v) => Some(
                crate::audit::CheckpointSigner::from_base64(&v).map_err(|e| {
                    ConfigError::Invalid {
                        name: "VIGIL_AUDIT_SIGNING_KEY",
                        reason: e.to_string(),
                    }
                })?,
            ),
        };
        let audit_checkpoint_minutes = parse_num(get, "VIGIL_AUDIT_CHECKPOINT_MINUTES", 10u64)?;
        let resilience = ResilienceSettings::from_lookup(get)?;
        let mut webhooks = webhook_settings(get)?;
        webhooks.breaker = resilience.breaker;
        let max_age_days = parse_num(
            get,
            "VIGIL_EVENT_MAX_AGE_DAYS",
            crate::domain::event::DEFAULT_MAX_AGE_DAYS,
        )?;
        if !(1..=365_000).contains(&max_age_days) {
            return Err(ConfigError::Invalid {
                name: "VIGIL_EVENT_MAX_AGE_DAYS",
                reason: "must be from 1 to 365000".into(),
            });
        }
        let source_queue_prefix =
            get("VIGIL_SOURCE_QUEUE_PREFIX").unwrap_or_else(|| "vigil-src-".into());
        if source_queue_prefix.len() > crate::sources::source::MAX_QUEUE_PREFIX
            || !source_queue_prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(ConfigError::Invalid {
                name: "VIGIL_SOURCE_QUEUE_PREFIX",
                reason: "must be at most 11 characters of A-Z, a-z, 0-9, '-' and '_'".into(),
            });
        }
        Ok(Self {
            source_queue_prefix,
            sources_function: get("VIGIL_SOURCES_FUNCTION_ARN"),
            resilience,
            http: HttpSettings::from_lookup(get)?,
            event_max_age: chrono::Duration::days(max_age_days),
            cloudtrail_source_id: get("VIGIL_CLOUDTRAIL_SOURCE_ID"),
            cloudtrail_bucket: get("VIGIL_CLOUDTRAIL_BUCKET"),
            reclassify: crate::reclassify::ReclassifySettings::from_lookup(get)?,
            webhooks,
            audit_signing_key,
            audit_checkpoint_minutes,
            secret_key_arn: get("VIGIL_SECRET_KEY_SECRET_ARN"),
            audit_signing_key_arn: get("VIGIL_AUDIT_SIGNING_KEY_SECRET_ARN"),
            table: get("VIGIL_TABLE"),
            queue_urls,
            dlq_urls,
            event_bus: get("VIGIL_EVENT_BUS"),
            aws_endpoint: get("AWS_ENDPOINT_URL"),
            llm,
            rules,
            dedup_minutes,
            worker_lease_seconds,
            log_format,
        })
    }

    pub fn require_secret_key(&self) -> Result<&crate::webhooks::SecretKey, ConfigError> {
        self.webhooks
            .secret_key
            .as_ref()
            .ok_or(ConfigError::Missing("VIGIL_SECRET_KEY"))
    }

    pub fn require_table(&self) -> Result<&str, ConfigError> {
        self.table
            .as_deref()
            .ok_or(ConfigError::Missing("VIGIL_TABLE"))
    }
}

fn webhook_settings(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<crate::webhooks::WebhookSettings, ConfigError> {
    use crate::webhooks::{RetrySchedule, SecretKey, UrlPolicy, WebhookSettings};
    let secret_key = match get("VIGIL_SECRET_KEY") {
        None => None,
        Some(v) => Some(
            SecretKey::parse_base64(&v).map_err(|e| ConfigError::Invalid {
                name: "VIGIL_SECRET_KEY",
                reason: e.to_string(),
            })?,
        ),
    };
    let allow_loopback_http = match get("VIGIL_WEBHOOK_ALLOW_LOOPBACK_HTTP").as_deref() {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(other) => {
            return Err(ConfigError::Invalid {
                name: "VIGIL_WEBHOOK_ALLOW_LOOPBACK_HTTP",
                reason: format!("'{other}' is neither true nor false"),
            });
        }
    };
    let schedule = match get("VIGIL_WEBHOOK_RETRY_SCHEDULE") {
        None => RetrySchedule::default(),
        Some(v) => RetrySchedule::parse(&v).map_err(|e| ConfigError::Invalid {
            name: "VIGIL_WEBHOOK_RETRY_SCHEDULE",
            reason: e.to_string(),
        })?,
    };
    Ok(WebhookSettings {
        secret_key,
        policy: UrlPolicy {
            allow_loopback_http,
        },
        schedule,
        timeout: Duration::from_millis(parse_num(get, "VIGIL_WEBHOOK_TIMEOUT_MS", 10_000u64)?),
        breaker: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_and_overrides() {
        let c = Config::from_lookup(&lookup(&[])).unwrap();
        assert_eq!(c.dedup_minutes, 60);
        assert!(c.llm.is_none());
        assert_eq!(c.rules.suspicious_countries, ["Russia", "China", "Other"]);
        let c = Config::from_lookup(&lookup(&[
            ("VIGIL_LLM_URL", "http://127.0.0.1:9/v1/chat/completions"),
            ("VIGIL_SUSPICIOUS_COUNTRIES", "Iran, North Korea"),
            ("VIGIL_RULES_QUEUE_URL", "http://q/rules"),
        ]))
        .unwrap();
        assert_eq!(c.llm.unwrap().model, "gpt-4o-mini");
        assert_eq!(c.rules.suspicious_countries, ["Iran", "North Korea"]);
        assert_eq!(c.queue_urls[&QueueName::Rules], "http://q/rules");
    }

    #[test]
    fn http_limits_and_event_age_have_defaults_and_overrides() {
        let c = Config::from_lookup(&lookup(&[])).unwrap();
        assert_eq!(c.http, HttpSettings::default());
        assert_eq!(c.event_max_age.num_days(), 3650);
        let c = Config::from_lookup(&lookup(&[
            ("VIGIL_HTTP_BODY_TIMEOUT_MS", "250"),
            ("VIGIL_HTTP_MAX_HEADER_BYTES", "2048"),
            ("VIGIL_HTTP_CONCURRENCY", "4"),
            ("VIGIL_EVENT_MAX_AGE_DAYS", "30"),
        ]))
        .unwrap();
        assert_eq!(c.http.body_read_timeout, Duration::from_millis(250));
        assert_eq!(c.http.max_header_bytes, 2048);
        assert_eq!(c.http.concurrency_limit, 4);
        assert_eq!(c.event_max_age.num_days(), 30);
        for bad in ["VIGIL_HTTP_IDLE_TIMEOUT_MS", "VIGIL_HTTP_CONCURRENCY"] {
            let err = Config::from_lookup(&lookup(&[(bad, "0")])).unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err =
            Config::from_lookup(&lookup(&[("VIGIL_FINDING_DEDUP_MINUTES", "soon")])).unwrap_err();
        assert!(err.to_string().contains("VIGIL_FINDING_DEDUP_MINUTES"));
    }
}
