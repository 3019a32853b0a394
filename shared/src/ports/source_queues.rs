//! The source-queue port: on AWS each tenant source may get its own SQS queue (with a
//! dead-letter queue, a queue policy naming the principals the tenant allows, and an
//! event source mapping onto the sources function), so the queue a message arrives on,
//! not its body, names the tenant.
use async_trait::async_trait;

use super::queue::QueueError;
use crate::sources::Source;
use crate::sources::source::SourceQueue;

#[async_trait]
pub trait SourceQueues: Send + Sync {
    /// Makes the queue of a new source (before the source is stored, so the stored
    /// source names it). `None` where this deployment has no per-source queues.
    async fn provision(&self, source: &Source) -> Result<Option<SourceQueue>, QueueError>;
}

/// No per-source queues: `vigil serve`, and AWS deployments that did not configure the
/// sources function. Producers use the shared sources queue (signed envelopes) or the
/// push endpoints.
///
/// Embedded mode has one local queue store and no IAM: a "per-tenant queue" there would
/// have nothing to authenticate its senders, which is the whole point of the queue
/// policy, so it gives none rather than one that only looks isolated.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSourceQueues;

#[async_trait]
impl SourceQueues for NoSourceQueues {
    async fn provision(&self, _source: &Source) -> Result<Option<SourceQueue>, QueueError> {
        Ok(None)
    }
}
