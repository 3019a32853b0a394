//! Local mode's stand-in for the EventBridge rule: reads the embedded bus from a
//! persisted position and fans each event out, as the fan-out queue does on AWS. The
//! delivery jobs it queues are worked by the one local worker (`runtime::Worker`).
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use vigil_shared::adapters::embedded::EmbeddedBus;
use vigil_shared::ports::{BusError, QueueError, StoreError};
use vigil_shared::repo::webhooks as repo;
use vigil_shared::runtime::HandlerError;
use vigil_shared::webhooks::fanout::BusEvent;

use vigil_webhook::WebhookStage;

/// Events read from the bus at once.
const BUS_BATCH: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum PumpError {
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Handler(#[from] HandlerError),
}

#[derive(Clone)]
pub struct FanoutPump {
    pub stage: Arc<WebhookStage>,
    pub bus: Arc<EmbeddedBus>,
}

impl FanoutPump {
    pub fn new(stage: Arc<WebhookStage>, bus: Arc<EmbeddedBus>) -> Self {
        Self { stage, bus }
    }

    /// Fans out the next events on the bus; returns how many were read. The position
    /// moves only after their jobs are queued (a crash repeats them; fan-out is idempotent).
    pub async fn pump_once(&self) -> Result<usize, PumpError> {
        let store = self.stage.store.as_ref();
        let (position, version) = repo::fanout_position(store).await?;
        let events = self.bus.read_after(position, BUS_BATCH).await?;
        let Some(last) = events.last().map(|(seq, _)| *seq) else {
            return Ok(0);
        };
        for (_, e) in &events {
            match BusEvent::from_domain(e) {
                Ok(event) => {
                    self.stage.fan_out(&event).await?;
                }
                Err(err) => tracing::warn!(event = %e.id, error = %err, "skipping bus event"),
            }
        }
        repo::set_fanout_position(store, last, version, self.stage.clock.now()).await?;
        Ok(events.len())
    }

    /// Pumps until `shutdown` turns true, idling briefly when the bus has nothing new.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            let pumped = self.pump_once().await.unwrap_or_else(|e| {
                tracing::error!(
                    error = &e as &dyn std::error::Error,
                    "webhook fan-out failed"
                );
                0
            });
            if pumped == 0 {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }
}
