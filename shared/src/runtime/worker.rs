//! Local queue workers: poll an embedded queue and run a stage handler, exactly as the
//! Lambda event source mapping would.
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::watch;

use super::handler::MessageHandler;
use crate::ports::{Queue, QueueError, QueueName};

#[derive(Clone)]
pub struct Worker {
    pub queue: Arc<dyn Queue>,
    pub name: QueueName,
    pub handler: Arc<dyn MessageHandler>,
    pub batch: usize,
    pub concurrency: usize,
    pub visibility: Duration,
}

/// What one poll did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PollStats {
    pub received: usize,
    pub succeeded: usize,
    pub failed: usize,
}

/// Backoff before a failed message is tried again: 1 s, 2 s, 4 s ... at most a minute.
pub fn retry_delay(receive_count: u32) -> Duration {
    Duration::from_secs(1u64 << receive_count.saturating_sub(1).min(6)).min(Duration::from_secs(60))
}

impl Worker {
    pub fn new(queue: Arc<dyn Queue>, name: QueueName, handler: Arc<dyn MessageHandler>) -> Self {
        Self {
            queue,
            name,
            handler,
            batch: 50,
            concurrency: 4,
            visibility: Duration::from_secs(60),
        }
    }

    /// Receives one batch and handles it; successes are acked, failures retried later.
    pub async fn poll_once(&self) -> Result<PollStats, QueueError> {
        let deliveries = self
            .queue
            .receive(self.name, self.batch, self.visibility)
            .await?;
        let received = deliveries.len();
        let outcomes: Vec<bool> = futures::stream::iter(deliveries)
            .map(|d| async move {
                match self.handler.handle(&d.body, d.receive_count).await {
                    Ok(()) => {
                        if let Err(e) = self.queue.ack(self.name, &d.receipt).await {
                            tracing::warn!(queue = %self.name, error = %e, "ack failed; message will be redelivered");
                        }
                        true
                    }
                    Err(e) => {
                        tracing::warn!(queue = %self.name, message = %d.id, attempt = d.receive_count, error = %e, "message failed; will retry");
                        let _ = self
                            .queue
                            .retry_after(self.name, &d.receipt, retry_delay(d.receive_count))
                            .await;
                        false
                    }
                }
            })
            .buffer_unordered(self.concurrency.max(1))
            .collect()
            .await;
        let succeeded = outcomes.iter().filter(|ok| **ok).count();
        Ok(PollStats {
            received,
            succeeded,
            failed: received - succeeded,
        })
    }

    /// Polls until `shutdown` turns true, idling briefly when the queue is empty.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            let idle = match self.poll_once().await {
                Ok(s) => s.received == 0,
                Err(e) => {
                    tracing::error!(queue = %self.name, error = %e, "poll failed");
                    true
                }
            };
            if idle {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }
}
