//! The reclassify stage. Its schedule, queue and permissions exist already; the AI-system
//! re-classification it runs arrives with the AI governance work. Until then it accepts
//! its inputs and reports that nothing is registered to re-classify.
use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunSummary {
    pub trigger: String,
    pub systems_scanned: u64,
}

/// Handles the nightly schedule.
pub fn on_schedule(event: &CloudWatchEvent<Value>) -> RunSummary {
    let trigger = event
        .detail_type
        .clone()
        .unwrap_or_else(|| "Scheduled Event".into());
    tracing::info!(%trigger, "re-classification run requested; no AI systems are registered yet");
    RunSummary {
        trigger,
        systems_scanned: 0,
    }
}
