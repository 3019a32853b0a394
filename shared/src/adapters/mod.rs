//! Implementations of the ports: `embedded` (SQLite) and `aws` (DynamoDB, SQS, EventBridge).
#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "embedded")]
pub mod embedded;
