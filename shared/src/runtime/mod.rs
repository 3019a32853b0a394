//! Running stages: the one contract ([`stage`]), under Lambda (the SQS batch adapter) and
//! locally (the queue worker).
pub mod lambda;
pub mod sqs;
pub mod stage;
pub mod worker;

pub use sqs::SqsBatch;
pub use stage::{
    BuildError, Disposition, DynStage, FailureLog, HandlerError, MessageMeta, Stage, StageMessage,
    StagePorts, StageResult, retry_delay,
};
pub use worker::{PollStats, Worker};
#[cfg(test)]
mod testing;
