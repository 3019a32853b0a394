//! The decide stage: runs each risk or compliance request's workflow (validate, start,
//! retrieval → policy → scoring → guardrails → decision) to its end, one write per step,
//! and announces `risk.decided`. A redelivered message resumes at the first unfinished
//! step; one whose request was already decided re-publishes the event (stable id), in
//! case the first delivery stopped between its last write and the publish.
use std::sync::Arc;

use async_trait::async_trait;
use vigil_shared::ports::{Clock, EventBus, ItemStore};
use vigil_shared::runtime::{
    BuildError, Disposition, HandlerError, MessageMeta, Stage, StagePorts, StageResult,
};
use vigil_shared::service::ServiceError;
use vigil_shared::service::decisions::{self, DecideMessage};

pub struct DecideStage {
    pub store: Arc<dyn ItemStore>,
    pub bus: Arc<dyn EventBus>,
    pub clock: Arc<dyn Clock>,
}

/// The decide stage over `ports` (which must have a bus).
pub fn stage(ports: &StagePorts) -> Result<DecideStage, BuildError> {
    Ok(DecideStage {
        store: ports.store.clone(),
        bus: ports.require_bus()?,
        clock: ports.clock.clone(),
    })
}

#[async_trait]
impl Stage for DecideStage {
    const NAME: &'static str = "decide";
    type Message = DecideMessage;

    async fn handle(&self, msg: DecideMessage, meta: &MessageMeta) -> StageResult {
        let now = self.clock.now();
        let (d, concluded) =
            match decisions::run(self.store.as_ref(), &msg.tenant, &msg.decision_id, now).await {
                Ok(done) => done,
                Err(ServiceError::NotFound(_)) => {
                    return Ok(Disposition::DeadLetter {
                        reason: format!("no decision {}", msg.decision_id),
                    });
                }
                Err(ServiceError::Store(e)) => return Err(HandlerError::Store(e)),
                Err(ServiceError::Conflict(why)) => {
                    return Ok(Disposition::DeadLetter { reason: why });
                }
                Err(other) => return Err(HandlerError::other("decide", other)),
            };
        let decided =
            d.status.is_final() || d.status == vigil_shared::decide::Status::RequiresApproval;
        if decided && (concluded || msg.announce || meta.receive_count > 1) {
            self.bus
                .publish(&[decisions::decided_event(&msg.tenant, &d, now)])
                .await?;
        }
        tracing::info!(
            decision = %d.id, status = d.status.as_str(), score = ?decisions::score_of(&d),
            "decision workflow ran"
        );
        Ok(Disposition::Done)
    }
}
