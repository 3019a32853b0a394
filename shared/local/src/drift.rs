//! Local model drift monitoring: the hourly sweep `vigil serve` runs on its clock (the
//! same one the template gives EventBridge), and `vigil bench-drift`.
use std::time::Duration;

use tokio::sync::watch;
use vigil_shared::drift::window::{WINDOW, window_of};

use super::LocalSystem;

/// At the top of every hour, sends each due model's check to the drift queue (the
/// workers run them), until `stop` turns true.
pub async fn scheduler(system: LocalSystem, mut stop: watch::Receiver<bool>) {
    let drift = system.drift();
    loop {
        match drift.on_schedule().await {
            Ok(s) => {
                if !s.sent.is_empty() {
                    tracing::info!(sent = s.sent.len(), "scheduled drift checks");
                }
            }
            Err(e) => tracing::error!(error = %e, "drift schedule sweep failed"),
        }
        let now = system.clock.now();
        let next = window_of(now) + WINDOW;
        let wait = (next - now).to_std().unwrap_or(Duration::from_secs(1));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
    }
}
