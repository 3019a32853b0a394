//! Local mode: the same handlers over the embedded SQLite store, queues and bus, the
//! `vigil` command's parts, and the demo and benchmark event generator.
pub mod audit;
pub mod audit_key;
pub mod bench;
pub mod cli;
pub mod generator;
pub mod local_webhooks;
pub mod reclassify;
pub mod serve;
pub mod webhooks;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinSet;
use vigil_enrich::EnrichHandler;
use vigil_ingest::IngestHandler;
use vigil_rules::RulesHandler;
use vigil_shared::adapters::embedded::{
    EmbeddedBus, EmbeddedDb, EmbeddedError, EmbeddedQueue, EmbeddedStore,
};
use vigil_shared::config::Config;
use vigil_shared::enrich::{Enricher, LlmClient};
use vigil_shared::ports::{Clock, QueueName, SystemClock};
use vigil_shared::runtime::{MessageHandler, Worker};

use vigil_api::AppState;

/// Receives before a local message is dead-lettered, as the template's redrive policy.
pub const MAX_RECEIVES: u32 = 5;

/// Every port over one embedded database.
#[derive(Clone)]
pub struct LocalSystem {
    pub db: EmbeddedDb,
    pub store: Arc<EmbeddedStore>,
    pub queue: Arc<EmbeddedQueue>,
    pub bus: Arc<EmbeddedBus>,
    pub clock: Arc<dyn Clock>,
    pub config: Config,
    pub enricher: Enricher,
}

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Db(#[from] EmbeddedError),
    #[error("audit signing key {path}: {reason}")]
    AuditKey { path: PathBuf, reason: String },
    #[error("the model client cannot start: {0}")]
    Llm(#[from] vigil_shared::enrich::llm::LlmError),
}

impl LocalSystem {
    /// Opens (or creates) the system stored in `dir`.
    pub fn open(dir: &Path, mut config: Config) -> Result<Self, LocalError> {
        std::fs::create_dir_all(dir).map_err(|source| LocalError::DataDir {
            path: dir.to_path_buf(),
            source,
        })?;
        if config.audit_signing_key.is_none() {
            config.audit_signing_key = Some(audit_key::load_or_create(dir)?);
        }
        let config = webhooks::with_data_dir_key(dir, config)?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let db = EmbeddedDb::open(&dir.join("vigil.db"), Arc::clone(&clock))?;
        Self::over(db, clock, config)
    }

    /// Builds the system over an already opened database (tests use a manual clock).
    pub fn over(
        db: EmbeddedDb,
        clock: Arc<dyn Clock>,
        mut config: Config,
    ) -> Result<Self, LocalError> {
        // Without a configured or stored key, checkpoints are signed by a key of this run.
        if config.audit_signing_key.is_none() {
            config.audit_signing_key = Some(vigil_shared::audit::CheckpointSigner::generate());
        }
        let config = webhooks::with_ephemeral_key(config);
        let enricher = match config.llm.clone() {
            Some(llm) => Enricher::with_llm(LlmClient::new(llm)?),
            None => Enricher::heuristic(),
        };
        Ok(Self {
            store: Arc::new(EmbeddedStore::new(db.clone())),
            queue: Arc::new(EmbeddedQueue::new(db.clone(), MAX_RECEIVES)),
            bus: Arc::new(EmbeddedBus::new(db.clone())),
            db,
            clock,
            config,
            enricher,
        })
    }

    pub fn app_state(&self) -> AppState {
        AppState {
            store: self.store.clone(),
            queue: self.queue.clone(),
            clock: Arc::clone(&self.clock),
            enricher: self.enricher.clone(),
            webhooks: self.config.webhooks.clone(),
            audit_signer: self.config.audit_signing_key.clone().map(Arc::new),
            reclassify: self.config.reclassify.clone(),
        }
    }

    pub fn handler(&self, queue: QueueName) -> Option<Arc<dyn MessageHandler>> {
        match queue {
            QueueName::Ingest => Some(Arc::new(IngestHandler {
                store: self.store.clone(),
                queue: self.queue.clone(),
            })),
            QueueName::Rules => Some(Arc::new(RulesHandler {
                store: self.store.clone(),
                queue: self.queue.clone(),
                clock: Arc::clone(&self.clock),
                config: self.config.rules.clone(),
                dedup_minutes: self.config.dedup_minutes,
            })),
            QueueName::Enrich => Some(Arc::new(EnrichHandler {
                store: self.store.clone(),
                bus: self.bus.clone(),
                enricher: self.enricher.clone(),
                clock: Arc::clone(&self.clock),
            })),
            QueueName::Reclassify => Some(Arc::new(self.reclassifier())),
            QueueName::Webhook => None,
        }
    }

    /// The AI-system re-classification stage over the embedded ports.
    pub fn reclassifier(&self) -> vigil_reclassify::Reclassifier {
        vigil_reclassify::Reclassifier {
            store: self.store.clone(),
            queue: self.queue.clone(),
            bus: self.bus.clone(),
            clock: Arc::clone(&self.clock),
            settings: self.config.reclassify.clone(),
        }
    }

    /// The pipeline's workers, in stage order.
    pub fn workers(&self) -> Vec<Worker> {
        [
            QueueName::Ingest,
            QueueName::Rules,
            QueueName::Enrich,
            QueueName::Reclassify,
        ]
        .into_iter()
        .filter_map(|q| {
            self.handler(q)
                .map(|h| Worker::new(self.queue.clone(), q, h))
        })
        .collect()
    }

    /// Starts every worker; they stop when `shutdown` turns true.
    pub fn spawn_workers(
        &self,
        workers: Vec<Worker>,
        shutdown: &watch::Receiver<bool>,
    ) -> JoinSet<()> {
        let mut set = JoinSet::new();
        for w in workers {
            set.spawn(w.run(shutdown.clone()));
        }
        set
    }

    /// Runs every stage until all queues are empty (failed messages wait for their retry
    /// time, so this only returns once they are done or dead-lettered).
    pub async fn drain(&self) -> Result<(), vigil_shared::ports::QueueError> {
        let workers = self.workers();
        loop {
            let mut busy = false;
            for w in &workers {
                loop {
                    let s = w.poll_once().await?;
                    if s.received == 0 {
                        break;
                    }
                    busy = true;
                }
            }
            if busy {
                continue;
            }
            let mut pending = 0;
            for w in &workers {
                pending += self.queue.depth(w.name).await?;
            }
            if pending == 0 {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}
