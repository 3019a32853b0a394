//! AWS adapters: [`DynamoStore`] (DynamoDB), [`SqsQueue`] (SQS) and [`EventBridgeBus`]
//! (EventBridge), plus [`provision`] to create their resources on an emulator.
mod dynamo;
mod eventbridge;
pub mod provision;
#[cfg(feature = "s3")]
mod s3;
pub mod source_queues;
mod sqs;

pub use dynamo::DynamoStore;
pub use eventbridge::EventBridgeBus;
pub use provision::{ProvisionError, sdk_config};
#[cfg(feature = "s3")]
pub use s3::S3Objects;
pub use source_queues::AwsSourceQueues;
pub use sqs::SqsQueue;
