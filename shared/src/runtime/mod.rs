//! Running stage handlers: under Lambda (SQS batches) and locally (queue workers).
pub mod handler;
pub mod lambda;
pub mod sqs;
pub mod worker;

pub use handler::{HandlerError, MessageHandler, parse_body};
pub use worker::{PollStats, Worker};
