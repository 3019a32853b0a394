//! [`SourceQueues`] on AWS: per source, a dead-letter queue, the source queue (redrive
//! after as many receives as the template's queues, a queue policy for the principals
//! the tenant named) and an event source mapping onto the sources function that
//! reports batch item failures. Every step is idempotent, so a create that failed half
//! way can be repeated.
use async_trait::async_trait;
use aws_sdk_lambda::types::FunctionResponseType;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_sqs::types::QueueAttributeName;

use crate::ports::queue::QueueError;
use crate::ports::source_queues::SourceQueues;
use crate::sources::Source;
use crate::sources::source::{SourceQueue, dlq_name, queue_name, queue_policy};

/// As the template's queues (`maxReceiveCount`, visibility 6x the 30 s function).
pub const MAX_RECEIVE_COUNT: u32 = 5;
const VISIBILITY_SECS: u32 = 180;
const RETENTION_SECS: u32 = 345_600;
const DLQ_RETENTION_SECS: u32 = 1_209_600;
const MAX_MESSAGE_BYTES: u32 = 262_144;

#[derive(Clone)]
pub struct AwsSourceQueues {
    sqs: aws_sdk_sqs::Client,
    lambda: aws_sdk_lambda::Client,
    prefix: String,
    /// The sources function's name or ARN, which consumes every source queue.
    function: String,
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> QueueError {
    QueueError::Unavailable(format!("{what}: {e}"))
}

impl AwsSourceQueues {
    pub fn new(
        sqs: aws_sdk_sqs::Client,
        lambda: aws_sdk_lambda::Client,
        prefix: impl Into<String>,
        function: impl Into<String>,
    ) -> Self {
        Self {
            sqs,
            lambda,
            prefix: prefix.into(),
            function: function.into(),
        }
    }

    async fn create(
        &self,
        name: &str,
        attributes: Vec<(QueueAttributeName, String)>,
    ) -> Result<(String, String), QueueError> {
        let mut req = self.sqs.create_queue().queue_name(name);
        for (k, v) in attributes {
            req = req.attributes(k, v);
        }
        let url = req
            .send()
            .await
            .map_err(|e| unavailable("cannot create the source queue", DisplayErrorContext(&e)))?
            .queue_url
            .ok_or_else(|| unavailable("CreateQueue", "no queue URL in the answer"))?;
        let arn = self
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| unavailable("cannot read the queue ARN", DisplayErrorContext(&e)))?
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .ok_or_else(|| unavailable("GetQueueAttributes", "no QueueArn"))?;
        Ok((url, arn))
    }

    async fn map_onto_function(&self, queue_arn: &str) -> Result<(), QueueError> {
        let existing = self
            .lambda
            .list_event_source_mappings()
            .event_source_arn(queue_arn)
            .function_name(&self.function)
            .send()
            .await
            .map_err(|e| {
                unavailable(
                    "cannot list the source queue's mappings",
                    aws_sdk_lambda::error::DisplayErrorContext(&e),
                )
            })?;
        if !existing.event_source_mappings().is_empty() {
            return Ok(());
        }
        let sent = self
            .lambda
            .create_event_source_mapping()
            .event_source_arn(queue_arn)
            .function_name(&self.function)
            .batch_size(10)
            .maximum_batching_window_in_seconds(1)
            .function_response_types(FunctionResponseType::ReportBatchItemFailures)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            // Made meanwhile by a concurrent repeat of this create.
            Err(e) if e.code() == Some("ResourceConflictException") => Ok(()),
            Err(e) => Err(unavailable(
                "cannot map the source queue onto the sources function",
                aws_sdk_lambda::error::DisplayErrorContext(&e),
            )),
        }
    }
}

#[async_trait]
impl SourceQueues for AwsSourceQueues {
    async fn provision(&self, source: &Source) -> Result<Option<SourceQueue>, QueueError> {
        let (Some(name), Some(dlq)) = (
            queue_name(&self.prefix, &source.id),
            dlq_name(&self.prefix, &source.id),
        ) else {
            return Err(unavailable("no queue name for", &source.id));
        };
        let (dlq_url, dlq_arn) = self
            .create(
                &dlq,
                vec![
                    (
                        QueueAttributeName::MessageRetentionPeriod,
                        DLQ_RETENTION_SECS.to_string(),
                    ),
                    (QueueAttributeName::SqsManagedSseEnabled, "true".into()),
                ],
            )
            .await?;
        // Same account and region as the DLQ: only the name differs.
        let arn = match dlq_arn.rsplit_once(':') {
            Some((head, _)) => format!("{head}:{name}"),
            None => return Err(unavailable("an SQS ARN without a name", &dlq_arn)),
        };
        let redrive = serde_json::json!({
            "deadLetterTargetArn": dlq_arn,
            "maxReceiveCount": MAX_RECEIVE_COUNT,
        });
        let mut attributes = vec![
            (
                QueueAttributeName::VisibilityTimeout,
                VISIBILITY_SECS.to_string(),
            ),
            (
                QueueAttributeName::MessageRetentionPeriod,
                RETENTION_SECS.to_string(),
            ),
            (
                QueueAttributeName::MaximumMessageSize,
                MAX_MESSAGE_BYTES.to_string(),
            ),
            (QueueAttributeName::SqsManagedSseEnabled, "true".into()),
            (QueueAttributeName::RedrivePolicy, redrive.to_string()),
        ];
        if let Some(policy) = queue_policy(&arn, &source.spec.principals) {
            attributes.push((QueueAttributeName::Policy, policy.to_string()));
        }
        let (url, arn) = self.create(&name, attributes).await?;
        self.map_onto_function(&arn).await?;
        Ok(Some(SourceQueue {
            url,
            arn,
            dlq_url,
            dlq_arn,
        }))
    }
}
