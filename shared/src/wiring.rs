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
