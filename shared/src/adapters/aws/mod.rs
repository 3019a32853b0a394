//! AWS adapters: [`DynamoStore`] (DynamoDB), [`SqsQueue`] (SQS) and [`EventBridgeBus`]
//! (EventBridge), plus [`provision`] to create their resources on an emulator.
mod dynamo;
mod eventbridge;
pub mod provision;
pub mod source_queues;
mod sqs;

pub use dynamo::DynamoStore;
pub use eventbridge::EventBridgeBus;
pub use provision::{ProvisionError, sdk_config};
pub use source_queues::AwsSourceQueues;
pub use sqs::SqsQueue;
