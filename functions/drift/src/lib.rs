//! The drift stage. The hourly schedule sweeps every tenant's enabled models whose next
//! run is due onto the drift queue, one `Run` message per (model, slot); the stage runs
//! each slot's check once (its id derives from the slot) and raises its alert: the
//! `model_drift` finding, the `model.drift_alert` audit entry and `model.drift_detected`.
use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::sqs::SqsEvent;
use chrono::Duration;
use serde_json::Value;
use vigil_shared::config::Config;
use vigil_shared::drift::check::AlertState;
use vigil_shared::messages::DriftMessage;
use vigil_shared::ports::{Clock, EventBus, ItemStore, Queue, QueueName};
use vigil_shared::runtime::{
    BuildError, Disposition, HandlerError, MessageMeta, SqsBatch, Stage, StagePorts, StageResult,
};
use vigil_shared::service::ServiceError;
use vigil_shared::service::drift::{self, Sweep};

/// Deliveries of a check whose data cannot be read before it is recorded as FAILED, so
/// one broken model never holds its slot (or the queue) for ever.
pub const CHECK_ATTEMPTS: u32 = 3;

#[derive(Clone)]
pub struct DriftStage {
    pub store: Arc<dyn ItemStore>,
    pub queue: Arc<dyn Queue>,
    pub bus: Arc<dyn EventBus>,
    pub clock: Arc<dyn Clock>,
    /// Checks within this gap of each other share a finding (the dedup period).
    pub gap: Duration,
    pub reservoir_cap: usize,
}

/// The drift stage over `ports` (which must have a bus).
pub fn stage(ports: &StagePorts, config: &Config) -> Result<DriftStage, BuildError> {
    Ok(DriftStage {
        store: ports.store.clone(),
        queue: ports.queue.clone(),
        bus: ports.require_bus()?,
        clock: ports.clock.clone(),
        gap: Duration::minutes(config.dedup_minutes),
        reservoir_cap: vigil_shared::drift::reservoir::DEFAULT_CAPACITY,
    })
}

fn transient(e: ServiceError) -> HandlerError {
    match e {
        ServiceError::Store(s) => HandlerError::Store(s),
        ServiceError::Queue(q) => HandlerError::Queue(q),
        ServiceError::Bus(b) => HandlerError::Bus(b),
        other => HandlerError::other("drift check", other),
    }
}

impl DriftStage {
    /// The schedule: every due model's check onto the queue.
    pub async fn on_schedule(&self) -> Result<Sweep, ServiceError> {
        let sweep =
            drift::sweep(self.store.as_ref(), self.queue.as_ref(), self.clock.now()).await?;
        tracing::info!(sent = sweep.sent.len(), "drift schedule swept");
        Ok(sweep)
    }

    async fn alert(
        &self,
        tenant: &vigil_shared::domain::TenantId,
        check_id: &str,
        redelivered: bool,
    ) -> Result<(), HandlerError> {
        drift::raise_alert(
            self.store.as_ref(),
            self.queue.as_ref(),
            self.bus.as_ref(),
            tenant,
            check_id,
            self.gap,
            redelivered,
            self.clock.now(),
        )
        .await
        .map_err(transient)
    }

    /// Runs the Lambda payload: an SQS batch (partial failures reported per record) or
    /// the schedule event.
    pub async fn dispatch(&self, payload: Value) -> Result<Value, lambda_runtime::Error> {
        if payload.get("Records").is_some() {
            let event: SqsEvent = serde_json::from_value(payload)?;
            let batch = SqsBatch::new(
                Arc::new(self.clone()),
                Arc::clone(&self.queue),
                QueueName::Drift,
                Arc::clone(&self.clock),
            );
            return Ok(serde_json::to_value(batch.handle(event).await)?);
        }
        let sweep = self.on_schedule().await?;
        Ok(serde_json::to_value(sweep)?)
    }
}

#[async_trait]
impl Stage for DriftStage {
    const NAME: &'static str = "drift";
    type Message = DriftMessage;

    async fn handle(&self, msg: DriftMessage, meta: &MessageMeta) -> StageResult {
        let redelivered = meta.receive_count > 1;
        match msg {
            DriftMessage::Run {
                tenant,
                model_id,
                model_uid,
                slot,
            } => {
                let result = drift::run_scheduled(
                    self.store.as_ref(),
                    &tenant,
                    &model_id,
                    &model_uid,
                    slot,
                    meta.receive_count >= CHECK_ATTEMPTS,
                    self.reservoir_cap,
                    self.clock.now(),
                )
                .await
                .map_err(transient)?;
                match result {
                    None => {
                        tracing::info!(model = %model_id, "model is gone; scheduled check dropped")
                    }
                    Some(c) => {
                        tracing::info!(
                            model = %model_id, check = %c.check_id, status = c.status.as_str(),
                            alert_level = ?c.alert_level, duration_ms = c.duration_ms,
                            "scheduled drift check"
                        );
                        if c.alert_state != AlertState::None {
                            self.alert(&tenant, &c.check_id, redelivered).await?;
                        }
                    }
                }
            }
            DriftMessage::Alert {
                tenant, check_id, ..
            } => self.alert(&tenant, &check_id, redelivered).await?,
        }
        Ok(Disposition::Done)
    }
}
