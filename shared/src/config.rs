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
        let webhooks = webhook_settings(get)?;
        Ok(Self {
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
    fn bad_values_name_the_variable() {
        let err =
            Config::from_lookup(&lookup(&[("VIGIL_FINDING_DEDUP_MINUTES", "soon")])).unwrap_err();
        assert!(err.to_string().contains("VIGIL_FINDING_DEDUP_MINUTES"));
    }
}
