//! Local mode: a worker on the embedded webhook queue and a pump that reads the embedded
//! bus from a persisted position, feeding the same fan-out the bus rule feeds on AWS.
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::watch;
use vigil_shared::adapters::embedded::EmbeddedBus;
use vigil_shared::ports::{BusError, Queue, QueueError, QueueName, StoreError};
use vigil_shared::repo::webhooks as repo;
use vigil_shared::runtime::HandlerError;
use vigil_shared::runtime::worker::retry_delay;
use vigil_shared::webhooks::fanout::BusEvent;

use vigil_webhook::WebhookFunction;

/// Events read from the bus at once.
const BUS_BATCH: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum PumpError {
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Handler(#[from] HandlerError),
}

#[derive(Clone)]
pub struct LocalWebhooks {
    pub function: Arc<WebhookFunction>,
    pub bus: Arc<EmbeddedBus>,
    pub batch: usize,
    pub concurrency: usize,
    pub visibility: Duration,
}

impl LocalWebhooks {
    pub fn new(function: Arc<WebhookFunction>, bus: Arc<EmbeddedBus>) -> Self {
        Self {
            function,
            bus,
            batch: 50,
            concurrency: 16,
            visibility: Duration::from_secs(60),
        }
    }

    fn queue(&self) -> &dyn Queue {
        self.function.queue.as_ref()
    }

    /// Fans out the next events on the bus; returns how many were read. The position
    /// moves only after their jobs are queued (a crash repeats them; fan-out is idempotent).
    pub async fn pump_once(&self) -> Result<usize, PumpError> {
        let store = self.function.store.as_ref();
        let (position, version) = repo::fanout_position(store).await?;
        let events = self.bus.read_after(position, BUS_BATCH).await?;
        let Some(last) = events.last().map(|(seq, _)| *seq) else {
            return Ok(0);
        };
        for (_, e) in &events {
            match BusEvent::from_domain(e) {
                Ok(event) => {
                    self.function.fan_out(&event).await?;
                }
                Err(err) => tracing::warn!(event = %e.id, error = %err, "skipping bus event"),
            }
        }
        repo::set_fanout_position(store, last, version, self.function.clock.now()).await?;
        Ok(events.len())
    }

    /// Receives one batch of delivery jobs and processes them; returns how many arrived.
    pub async fn poll_once(&self) -> Result<usize, QueueError> {
        let deliveries = self
            .queue()
            .receive(QueueName::Webhook, self.batch, self.visibility)
            .await?;
        let n = deliveries.len();
        futures::stream::iter(deliveries)
            .for_each_concurrent(self.concurrency.max(1), |d| async move {
                match self.function.process(&d).await {
                    Ok(true) => {
                        if let Err(e) = self.queue().ack(QueueName::Webhook, &d.receipt).await {
                            tracing::warn!(error = %e, "ack failed; the job will come again");
                        }
                    }
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(message = %d.id, attempt = d.receive_count, error = %e, "webhook job failed; will retry");
                        let _ = self
                            .queue()
                            .retry_after(QueueName::Webhook, &d.receipt, retry_delay(d.receive_count))
                            .await;
                    }
                }
            })
            .await;
        Ok(n)
    }

    /// Pumps the bus and works the queue until nothing is due now (jobs waiting for a
    /// later retry stay queued). Tests move their clock and call it again.
    pub async fn drain(&self) -> Result<(), PumpError> {
        loop {
            let pumped = self.pump_once().await?;
            let polled = self
                .poll_once()
                .await
                .map_err(|e| PumpError::Handler(e.into()))?;
            if pumped == 0 && polled == 0 {
                return Ok(());
            }
        }
    }

    /// Runs the pump and the worker until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            let pumped = self.pump_once().await.unwrap_or_else(|e| {
                tracing::error!(error = %e, "webhook fan-out failed");
                0
            });
            let polled = self.poll_once().await.unwrap_or_else(|e| {
                tracing::error!(error = %e, "webhook poll failed");
                0
            });
            if pumped == 0 && polled == 0 {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }
}
