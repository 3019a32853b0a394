//! Builds the AWS adapters from the configuration, once per Lambda cold start.
use std::collections::HashMap;
use std::sync::Arc;

use crate::adapters::aws::{DynamoStore, EventBridgeBus, SqsQueue, sdk_config};
use crate::config::{Config, ConfigError};
use crate::ports::QueueName;

pub struct AwsPorts {
    pub store: Arc<DynamoStore>,
    pub queue: Arc<SqsQueue>,
    pub bus: Option<Arc<EventBridgeBus>>,
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
    })
}

#[derive(Debug, thiserror::Error)]
pub enum EnricherError {
    #[error("cannot read the model API key from {arn}: {reason}")]
    Secret { arn: String, reason: String },
    #[error(transparent)]
    Client(#[from] crate::enrich::llm::LlmError),
}

/// The enricher the configuration asks for: the heuristic, or a model whose key comes
/// from the environment or, on AWS, from Secrets Manager (read once per cold start, so
/// the key never sits in the function's configuration).
pub async fn enricher(config: &Config) -> Result<crate::enrich::Enricher, EnricherError> {
    use crate::enrich::{Enricher, LlmClient};
    let Some(mut llm) = config.llm.clone() else {
        return Ok(Enricher::heuristic());
    };
    if let (None, Some(arn)) = (&llm.api_key, &llm.api_key_secret_arn) {
        let sdk = sdk_config(config.aws_endpoint.as_deref()).await;
        let secret = aws_sdk_secretsmanager::Client::new(&sdk)
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .map_err(|e| EnricherError::Secret {
                arn: arn.clone(),
                reason: aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string(),
            })?;
        llm.api_key = secret.secret_string().map(str::to_string);
    }
    Ok(Enricher::with_llm(LlmClient::new(llm)?))
}
