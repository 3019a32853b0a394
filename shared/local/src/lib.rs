//! Local mode: the same handlers over the embedded SQLite store, queues and bus, the
//! `vigil` command's parts, and the demo and benchmark event generator.
pub mod audit;
pub mod aws_bench;
pub mod bench;
pub mod cli;
pub mod demo;
pub mod drift;
pub mod generator;
pub mod http_server;
pub mod pricing;
pub mod reclassify;
pub mod serve;
pub mod signing_key;
pub mod webhook_pump;
pub mod webhooks;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use vigil_shared::resilience::{InProcessRateLimiter, RateLimits};

use tokio::sync::watch;
use tokio::task::JoinSet;
use vigil_shared::adapters::embedded::{
    EmbeddedBus, EmbeddedDb, EmbeddedError, EmbeddedQueue, EmbeddedStore,
};
use vigil_shared::config::Config;
use vigil_shared::enrich::{Enricher, LlmClient};
use vigil_shared::ports::{Clock, QueueName, SystemClock};
use vigil_shared::runtime::{BuildError, DynStage, StagePorts, Worker};
use vigil_webhook::WebhookStage;

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
    pub stages: Stages,
    /// Rate-limit windows in the process: it serves every request.
    pub rate_limits: Arc<RateLimits>,
}

/// Every queue-fed stage, built once by the same builders the Lambda functions use.
#[derive(Clone)]
pub struct Stages {
    pub ingest: Arc<vigil_ingest::IngestStage>,
    pub rules: Arc<vigil_rules::RulesStage>,
    pub enrich: Arc<vigil_enrich::EnrichStage>,
    pub reclassify: Arc<vigil_reclassify::ReclassifyStage>,
    pub drift: Arc<vigil_drift::DriftStage>,
    pub webhook: Arc<WebhookStage>,
    pub sources: Arc<vigil_sources::SourcesStage>,
    pub decide: Arc<vigil_decide::DecideStage>,
    /// Over no object store: locally, CloudTrail log files are posted to
    /// `/sources/cloudtrail` instead; it runs no worker.
    pub logfiles: Arc<vigil_logfiles::LogFilesStage>,
}

impl Stages {
    pub fn build(
        ports: &StagePorts,
        config: &Config,
        enricher: Enricher,
    ) -> Result<Self, BuildError> {
        Ok(Self {
            ingest: Arc::new(vigil_ingest::stage(ports, config)?),
            rules: Arc::new(vigil_rules::stage(ports, config)?),
            enrich: Arc::new(vigil_enrich::stage(ports, config, enricher)?),
            reclassify: Arc::new(vigil_reclassify::stage(ports, config)?),
            drift: Arc::new(vigil_drift::stage(ports, config)?),
            webhook: Arc::new(vigil_webhook::stage(ports, config)?),
            sources: Arc::new(vigil_sources::stage(ports, config)?),
            decide: Arc::new(vigil_decide::stage(ports)?),
            logfiles: Arc::new(vigil_logfiles::stage(
                ports,
                config,
                Arc::new(vigil_shared::ports::NoObjectStore),
            )?),
        })
    }
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
    #[error("a stage cannot start")]
    Stage(#[from] BuildError),
}

impl LocalSystem {
    /// Opens (or creates) the system stored in `dir`.
    pub fn open(dir: &Path, mut config: Config) -> Result<Self, LocalError> {
        std::fs::create_dir_all(dir).map_err(|source| LocalError::DataDir {
            path: dir.to_path_buf(),
            source,
        })?;
        if config.audit_signing_key.is_none() {
            config.audit_signing_key = Some(signing_key::load_or_create(dir)?);
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
            Some(llm) => Enricher::with_llm(LlmClient::new(llm)?, &config.resilience),
            None => Enricher::heuristic(),
        };
        let store = Arc::new(EmbeddedStore::new(db.clone()));
        let queue = Arc::new(EmbeddedQueue::new(db.clone(), MAX_RECEIVES));
        let bus = Arc::new(EmbeddedBus::new(db.clone()));
        let ports = StagePorts {
            store: store.clone(),
            queue: queue.clone(),
            bus: Some(bus.clone()),
            clock: Arc::clone(&clock),
        };
        let stages = Stages::build(&ports, &config, enricher.clone())?;
        let rate_limits = Arc::new(RateLimits::new(
            Arc::new(InProcessRateLimiter::default()),
            store.clone(),
            config.resilience.limits,
        ));
        Ok(Self {
            rate_limits,
            store,
            queue,
            bus,
            db,
            clock,
            config,
            enricher,
            stages,
        })
    }

    pub fn app_state(&self) -> AppState {
        AppState::new(
            self.store.clone(),
            self.queue.clone(),
            Arc::clone(&self.clock),
            self.enricher.clone(),
            &self.config,
        )
        .with_rate_limits(self.rate_limits.clone())
    }

    /// The stage that works `queue`.
    pub fn stage(&self, queue: QueueName) -> Arc<dyn DynStage> {
        match queue {
            QueueName::Ingest => self.stages.ingest.clone(),
            QueueName::Rules => self.stages.rules.clone(),
            QueueName::Enrich => self.stages.enrich.clone(),
            QueueName::Reclassify => self.stages.reclassify.clone(),
            QueueName::Drift => self.stages.drift.clone(),
            QueueName::Webhook => self.stages.webhook.clone(),
            QueueName::Sources => self.stages.sources.clone(),
            QueueName::Decide => self.stages.decide.clone(),
            QueueName::LogFiles => self.stages.logfiles.clone(),
        }
    }

    /// The one local worker over `queue`, on this system's clock.
    pub fn worker(&self, queue: QueueName) -> Worker {
        let mut worker = Worker::new(self.queue.clone(), queue, self.stage(queue))
            .with_clock(Arc::clone(&self.clock))
            .with_failures(vigil_shared::runtime::FailureLog::new(
                self.store.clone() as Arc<dyn vigil_shared::ports::ItemStore>,
                Arc::clone(&self.clock),
            ));
        worker.visibility = std::time::Duration::from_secs(self.config.worker_lease_seconds);
        match queue {
            QueueName::Webhook => worker.with_concurrency(vigil_webhook::LOCAL_CONCURRENCY),
            _ => worker,
        }
    }

    /// The AI-system re-classification service the reclassify stage runs.
    pub fn reclassifier(&self) -> vigil_reclassify::Reclassifier {
        self.stages.reclassify.0.clone()
    }

    /// The drift stage: its schedule sweep and checks.
    pub fn drift(&self) -> vigil_drift::DriftStage {
        (*self.stages.drift).clone()
    }

    /// A worker for every stage, in stage order (the webhook fan-out pump runs apart).
    pub fn workers(&self) -> Vec<Worker> {
        [
            QueueName::Sources,
            QueueName::Ingest,
            QueueName::Rules,
            QueueName::Enrich,
            QueueName::Reclassify,
            QueueName::Drift,
            QueueName::Decide,
            QueueName::Webhook,
        ]
        .into_iter()
        .map(|q| self.worker(q))
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

    /// Runs the pipeline stages until their queues are empty (failed messages wait for
    /// their retry time, so this only returns once they are done or dead-lettered).
    /// Webhook jobs may wait hours for a retry; [`webhooks::LocalWebhooks::drain`] works
    /// them up to what is due now.
    pub async fn drain(&self) -> Result<(), vigil_shared::ports::QueueError> {
        let workers: Vec<Worker> = self
            .workers()
            .into_iter()
            .filter(|w| w.name != QueueName::Webhook)
            .collect();
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
