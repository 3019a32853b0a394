//! Webhooks in local mode: the signing-secret key kept in the data directory when none
//! is configured, and the fan-out pump plus the webhook queue's worker, drained together.
use std::path::Path;
use std::sync::Arc;

use crate::webhook_pump::{FanoutPump, PumpError};
use vigil_shared::config::Config;
use vigil_shared::ports::QueueName;
use vigil_shared::runtime::Worker;
use vigil_shared::webhooks::SecretKey;
use vigil_webhook::WebhookStage;

use super::{LocalError, LocalSystem};

/// File in the data directory holding the generated `VIGIL_SECRET_KEY`.
pub const KEY_FILE: &str = "secret.key";

fn io_err(path: &Path, source: std::io::Error) -> LocalError {
    LocalError::DataDir {
        path: path.to_path_buf(),
        source,
    }
}

/// Uses the configured key, else the one in `dir`, else generates one there (mode 0600).
pub fn with_data_dir_key(dir: &Path, mut config: Config) -> Result<Config, LocalError> {
    if config.webhooks.secret_key.is_some() {
        return Ok(config);
    }
    let path = dir.join(KEY_FILE);
    let key = match std::fs::read_to_string(&path) {
        Ok(text) => SecretKey::parse_base64(&text)
            .map_err(|e| io_err(&path, std::io::Error::other(e.to_string())))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SecretKey::generate()
                .map_err(|e| io_err(&path, std::io::Error::other(e.to_string())))?;
            write_private(&path, &key.to_base64()).map_err(|e| io_err(&path, e))?;
            key
        }
        Err(e) => return Err(io_err(&path, e)),
    };
    config.webhooks.secret_key = Some(key);
    Ok(config)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

/// A system built without a data directory (tests, benchmarks) gets a key of its own.
pub fn with_ephemeral_key(mut config: Config) -> Config {
    if config.webhooks.secret_key.is_none() {
        config.webhooks.secret_key = SecretKey::generate().ok();
    }
    config
}

/// The bus pump and the webhook queue's worker (the same worker every stage uses).
#[derive(Clone)]
pub struct LocalWebhooks {
    pub pump: FanoutPump,
    pub worker: Worker,
}

impl LocalWebhooks {
    /// `stage` over `system`'s bus and queue (tests pass a stage with other settings).
    pub fn over(system: &LocalSystem, stage: Arc<WebhookStage>) -> Self {
        let mut worker = system.worker(QueueName::Webhook);
        worker.stage = stage.clone();
        Self {
            pump: FanoutPump::new(stage, system.bus.clone()),
            worker,
        }
    }

    pub fn stage(&self) -> &WebhookStage {
        &self.pump.stage
    }

    /// Pumps the bus and works the webhook queue until nothing is due now (jobs waiting
    /// for a later retry stay queued). Tests move their clock and call it again.
    pub async fn drain(&self) -> Result<(), PumpError> {
        loop {
            let pumped = self.pump.pump_once().await?;
            let polled = self.worker.poll_once().await?.received;
            if pumped == 0 && polled == 0 {
                return Ok(());
            }
        }
    }
}

impl LocalSystem {
    /// The webhook fan-out pump and delivery worker over this system's ports.
    pub fn webhooks(&self) -> LocalWebhooks {
        LocalWebhooks::over(self, self.stages.webhook.clone())
    }
}
