//! AWS adapters: [`DynamoStore`] (DynamoDB), [`SqsQueue`] (SQS) and [`EventBridgeBus`]
//! (EventBridge), plus [`provision`] to create their resources on an emulator.
mod dynamo;
mod eventbridge;
pub mod provision;
mod sqs;

pub use dynamo::DynamoStore;
pub use eventbridge::EventBridgeBus;
pub use provision::{ProvisionError, sdk_config};
pub use sqs::SqsQueue;
