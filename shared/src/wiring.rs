//! Builds the AWS adapters from the configuration, once per Lambda cold start.
use std::collections::HashMap;
use std::sync::Arc;

use crate::adapters::aws::{AwsSourceQueues, DynamoStore, EventBridgeBus, SqsQueue, sdk_config};
use crate::config::{Config, ConfigError};
use crate::ports::QueueName;

pub struct AwsPorts {
    pub store: Arc<DynamoStore>,
    pub queue: Arc<SqsQueue>,
    pub bus: Option<Arc<EventBridgeBus>>,
    /// Per-source queues, when the sources function is configured
    /// (`VIGIL_SOURCES_FUNCTION_ARN`).
    pub source_queues: Option<Arc<AwsSourceQueues>>,
    /// The SDK configuration the clients share, for a function that needs one more
    /// client (loaded once per cold start).
    pub sdk: aws_config::SdkConfig,
}

impl AwsPorts {
    /// The ports a stage is built from, over these adapters and the system clock.
    pub fn stage_ports(&self) -> crate::runtime::StagePorts {
        crate::runtime::StagePorts {
            store: self.store.clone(),
            queue: self.queue.clone(),
            bus: self
                .bus
                .clone()
                .map(|b| b as Arc<dyn crate::ports::EventBus>),
            clock: Arc::new(crate::ports::SystemClock),
        }
    }
}

pub async fn aws_ports(config: &Config) -> Result<AwsPorts, ConfigError> {
    let sdk = sdk_config(config.aws_endpoint.as_deref()).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.require_table()?);
    // Dead-letter URLs are only needed by tooling that inspects them; a stage that only
    // sends and receives works without.
    let urls: HashMap<QueueName, (String, String)> = config
        .queue_urls
        .iter()
        .map(|(q, url)| {
            let dlq = config.dlq_urls.get(q).cloned().unwrap_or_default();
            (*q, (url.clone(), dlq))
        })
        .collect();
    let queue = SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), urls);
    let source_queues = config.sources_function.as_ref().map(|function| {
        Arc::new(AwsSourceQueues::new(
            aws_sdk_sqs::Client::new(&sdk),
            aws_sdk_lambda::Client::new(&sdk),
            &config.source_queue_prefix,
            function,
        ))
    });
    let bus = config.event_bus.as_ref().map(|name| {
        Arc::new(EventBridgeBus::new(
            aws_sdk_eventbridge::Client::new(&sdk),
            name,
        ))
    });
    Ok(AwsPorts {
        store: Arc::new(store),
        queue: Arc::new(queue),
        bus,
        source_queues,
        sdk,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot read the secret {arn}: {reason}")]
    Secret { arn: String, reason: String },
    #[error(transparent)]
    Client(#[from] crate::enrich::llm::LlmError),
}

async fn read_secret(config: &Config, arn: &str) -> Result<String, StartupError> {
    let sdk = sdk_config(config.aws_endpoint.as_deref()).await;
    let secret = aws_sdk_secretsmanager::Client::new(&sdk)
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| StartupError::Secret {
            arn: arn.to_string(),
            reason: aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string(),
        })?;
    secret
        .secret_string()
        .map(str::to_string)
        .ok_or_else(|| StartupError::Secret {
            arn: arn.to_string(),
            reason: "the secret has no string value".into(),
        })
}

/// 32 key bytes, base64-encoded, from a generated secret string: its SHA-256. The
/// template generates 64 random alphanumerics (~380 bits), so nothing is lost.
fn derive_key(secret: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(secret.as_bytes()))
}

/// Fills in the webhook sealing key and the audit signing key from Secrets Manager when
/// the deployment names secrets instead of passing keys.
pub async fn resolve_keys(config: &mut Config) -> Result<(), StartupError> {
    let bad = |arn: &str, e: &dyn std::fmt::Display| StartupError::Secret {
        arn: arn.to_string(),
        reason: e.to_string(),
    };
    if let (None, Some(arn)) = (&config.webhooks.secret_key, config.secret_key_arn.clone()) {
        let key = derive_key(&read_secret(config, &arn).await?);
        config.webhooks.secret_key =
            Some(crate::webhooks::SecretKey::parse_base64(&key).map_err(|e| bad(&arn, &e))?);
    }
    if let (None, Some(arn)) = (
        &config.audit_signing_key,
        config.audit_signing_key_arn.clone(),
    ) {
        let key = derive_key(&read_secret(config, &arn).await?);
        config.audit_signing_key =
            Some(crate::audit::CheckpointSigner::from_base64(&key).map_err(|e| bad(&arn, &e))?);
    }
    Ok(())
}

/// The enricher the configuration asks for: the heuristic, or a model whose key comes
/// from the environment or, on AWS, from Secrets Manager (read once per cold start, so
/// the key never sits in the function's configuration).
pub async fn enricher(config: &Config) -> Result<crate::enrich::Enricher, StartupError> {
    use crate::enrich::{Enricher, LlmClient};
    let Some(mut llm) = config.llm.clone() else {
        return Ok(Enricher::heuristic());
    };
    if let (None, Some(arn)) = (&llm.api_key, &llm.api_key_secret_arn) {
        llm.api_key = Some(read_secret(config, arn).await?);
    }
    Ok(Enricher::with_llm(LlmClient::new(llm)?, &config.resilience))
}
