//! Creates the AWS resources the adapters expect, for tests against an emulator (moto)
//! and for local tooling. Production resources come from the SAM template; the shapes
//! here must stay in step with it.
use std::collections::HashMap;
use std::time::Duration;

use aws_config::environment::EnvironmentVariableRegionProvider;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::ProfileFileRegionProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, IndexStatus, KeySchemaElement, KeyType,
    Projection, ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;

use crate::ports::queue::QueueName;
use crate::ports::store::Index;

/// Receives after which SQS moves a message to its dead-letter queue.
pub const MAX_RECEIVE_COUNT: u32 = 5;
/// Dead letters are kept for SQS's maximum, 14 days.
const DLQ_RETENTION_SECS: u32 = 14 * 24 * 3600;
/// How long [`create_table`] waits for the table and its indexes to become active.
const TABLE_READY_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
#[error("cannot provision {what}: {message}")]
pub struct ProvisionError {
    pub what: String,
    pub message: String,
}

impl ProvisionError {
    fn new(what: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Self {
            what: what.into(),
            message: message.to_string(),
        }
    }
}

/// The default AWS configuration chain. With `endpoint` (an emulator such as moto) the
/// requests go there, the region comes from the environment or profile (us-east-1 if
/// neither sets one) and static test credentials are used.
pub async fn sdk_config(endpoint: Option<&str>) -> SdkConfig {
    let loader = aws_config::defaults(BehaviorVersion::latest());
    let loader = match endpoint {
        None => loader,
        Some(url) => loader
            .endpoint_url(url)
            // Environment or profile only: asking EC2 instance metadata for the region
            // of an emulator would only add a timeout.
            .region(
                RegionProviderChain::first_try(EnvironmentVariableRegionProvider::new())
                    .or_else(ProfileFileRegionProvider::new())
                    .or_else(Region::new("us-east-1")),
            )
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "test",
                "test",
                None,
                None,
                "vigil-static-test",
            )),
    };
    loader.load().await
}

/// Creates the item table (keys, the three GSIs, TTL on `ttl`), waits until it is
/// active, and enables TTL where the service supports it. An existing table is kept.
pub async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
) -> Result<(), ProvisionError> {
    let what = || format!("DynamoDB table {name}");
    let err = |e: &dyn std::fmt::Display| ProvisionError::new(what(), e);
    let key = |attr: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(attr)
            .key_type(kind)
            .build()
            .map_err(|e| err(&e))
    };
    let secondary: Vec<(&str, &str, &str)> = Index::SECONDARY
        .into_iter()
        .filter_map(super::dynamo::index_attrs)
        .collect();
    let mut definitions = Vec::new();
    let index_keys = secondary.iter().flat_map(|(_, pk, sk)| [*pk, *sk]);
    for attr in ["pk", "sk"].into_iter().chain(index_keys) {
        definitions.push(
            AttributeDefinition::builder()
                .attribute_name(attr)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| err(&e))?,
        );
    }
    let mut indexes = Vec::new();
    for (index, pk, sk) in secondary {
        indexes.push(
            GlobalSecondaryIndex::builder()
                .index_name(index)
                .key_schema(key(pk, KeyType::Hash)?)
                .key_schema(key(sk, KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(|e| err(&e))?,
        );
    }
    let created = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .set_attribute_definitions(Some(definitions))
        .set_global_secondary_indexes(Some(indexes))
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(e) if e.code() == Some("ResourceInUseException") => {
            tracing::info!(table = name, "table exists already");
        }
        Err(e) => return Err(err(&DisplayErrorContext(&e))),
    }
    wait_until_active(client, name).await?;

    let ttl = TimeToLiveSpecification::builder()
        .attribute_name("ttl")
        .enabled(true)
        .build()
        .map_err(|e| err(&e))?;
    match client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(ttl)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => {
            let code = e.code().unwrap_or_default();
            let message = e.message().unwrap_or_default();
            let unsupported = code.contains("UnknownOperation")
                || code.contains("NotImplemented")
                || code.contains("UnsupportedOperation");
            let already = code == "ValidationException" && message.contains("already enabled");
            if unsupported || already {
                tracing::info!(table = name, code, "TTL not (re)enabled: {message}");
                Ok(())
            } else {
                Err(ProvisionError::new(
                    format!("TTL of DynamoDB table {name}"),
                    DisplayErrorContext(&e),
                ))
            }
        }
    }
}

async fn wait_until_active(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
) -> Result<(), ProvisionError> {
    let deadline = tokio::time::Instant::now() + TABLE_READY_TIMEOUT;
    loop {
        let out = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| {
                ProvisionError::new(format!("DynamoDB table {name}"), DisplayErrorContext(&e))
            })?;
        let ready = out.table().is_some_and(|t| {
            t.table_status() == Some(&TableStatus::Active)
                && t.global_secondary_indexes()
                    .iter()
                    .all(|i| i.index_status().is_none_or(|s| *s == IndexStatus::Active))
        });
        if ready {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ProvisionError::new(
                format!("DynamoDB table {name}"),
                format!("not active after {} s", TABLE_READY_TIMEOUT.as_secs()),
            ));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Creates `{prefix}-{queue}` for every [`QueueName`], each with a dead-letter queue
/// `{prefix}-{queue}-dlq` and a RedrivePolicy of [`MAX_RECEIVE_COUNT`] receives.
/// Returns the `(queue URL, dead-letter queue URL)` pairs [`super::SqsQueue`] takes.
pub async fn create_queues(
    client: &aws_sdk_sqs::Client,
    prefix: &str,
) -> Result<HashMap<QueueName, (String, String)>, ProvisionError> {
    let mut urls = HashMap::new();
    for queue in QueueName::ALL {
        let name = format!("{prefix}-{queue}");
        let dlq_name = format!("{name}-dlq");
        let dlq_url = create_queue(
            client,
            &dlq_name,
            QueueAttributeName::MessageRetentionPeriod,
            DLQ_RETENTION_SECS.to_string(),
        )
        .await?;
        let dlq_arn = client
            .get_queue_attributes()
            .queue_url(&dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| sqs_queue_error(&dlq_name, DisplayErrorContext(&e)))?
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .ok_or_else(|| sqs_queue_error(&dlq_name, "no queue ARN returned"))?;
        let policy = serde_json::json!({
            "deadLetterTargetArn": dlq_arn,
            "maxReceiveCount": MAX_RECEIVE_COUNT.to_string(),
        });
        let url = create_queue(
            client,
            &name,
            QueueAttributeName::RedrivePolicy,
            policy.to_string(),
        )
        .await?;
        urls.insert(queue, (url, dlq_url));
    }
    Ok(urls)
}

/// Creates the SQS queue `name` with one attribute set, returning its URL.
async fn create_queue(
    client: &aws_sdk_sqs::Client,
    name: &str,
    attribute: QueueAttributeName,
    value: String,
) -> Result<String, ProvisionError> {
    client
        .create_queue()
        .queue_name(name)
        .attributes(attribute, value)
        .send()
        .await
        .map_err(|e| sqs_queue_error(name, DisplayErrorContext(&e)))?
        .queue_url
        .ok_or_else(|| sqs_queue_error(name, "no queue URL returned"))
}

fn sqs_queue_error(name: &str, message: impl std::fmt::Display) -> ProvisionError {
    ProvisionError::new(format!("SQS queue {name}"), message)
}

/// Creates a custom event bus; `default` always exists and an existing bus is kept.
pub async fn create_bus(
    client: &aws_sdk_eventbridge::Client,
    name: &str,
) -> Result<(), ProvisionError> {
    if name == "default" {
        return Ok(());
    }
    match client.create_event_bus().name(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("ResourceAlreadyExistsException") => Ok(()),
        Err(e) => Err(ProvisionError::new(
            format!("event bus {name}"),
            DisplayErrorContext(&e),
        )),
    }
}
