//! `vigil serve`: the API and every stage worker in one process.
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::generator::{GeneratorOptions, generate_events};
use chrono::Duration as ChronoDuration;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use vigil_shared::domain::event::{IdSource, TimeBounds, parse_batch};
use vigil_shared::domain::{Role, TenantId};
use vigil_shared::messages::EventMessage;
use vigil_shared::ports::{OutMessage, Queue, QueueName};
use vigil_shared::service::{Origin, api_keys};

use super::LocalSystem;
use vigil_api::router;

/// Events the demo loads.
pub const DEMO_EVENTS: usize = 3_000;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("demo data could not be loaded: {0}")]
    Demo(String),
}

/// Queues generated events the way `POST /events` would, in API-sized batches.
pub async fn enqueue_generated(
    system: &LocalSystem,
    tenant: &TenantId,
    events: &[Value],
) -> Result<usize, String> {
    let bounds = TimeBounds {
        now: system.clock.now(),
        max_age: system.config.event_max_age,
    };
    let mut n = 0;
    for chunk in events.chunks(500) {
        let batch = parse_batch(
            &Value::Array(chunk.to_vec()),
            tenant,
            IdSource::Random,
            bounds,
        )
        .map_err(|e| format!("{e:?}"))?;
        n += batch.len();
        let msgs = EventMessage::bodies(tenant, &batch, None)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(OutMessage::new)
            .collect::<Vec<_>>();
        system
            .queue
            .send(QueueName::Ingest, msgs)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(n)
}

/// Creates the demo tenant's admin key and queues a week of generated events.
async fn load_demo(system: &LocalSystem) -> Result<String, ServeError> {
    let tenant = TenantId::parse("demo").map_err(|e| ServeError::Demo(e.to_string()))?;
    let key = admin_key(system, &tenant, "demo admin").await?;
    super::demo::load_webhook(system, &tenant)
        .await
        .map_err(ServeError::Demo)?;
    // Stop a minute short of now so no event is judged to be in the future.
    let end = system.clock.now() - ChronoDuration::minutes(1);
    let events = generate_events(&GeneratorOptions {
        count: DEMO_EVENTS,
        seed: 7,
        days: 7,
        end,
    });
    let n = enqueue_generated(system, &tenant, &events)
        .await
        .map_err(ServeError::Demo)?;
    eprintln!("demo: queued {n} generated events for tenant 'demo' (the workers process them now)");
    let checks = super::drift::load_demo(system, &tenant)
        .await
        .map_err(ServeError::Demo)?;
    super::demo::load_registry(system, &tenant)
        .await
        .map_err(ServeError::Demo)?;
    eprintln!(
        "demo: AI systems, pending model and prompt approvals, risk requests (one awaiting an approver), a webhook endpoint and a re-classification run"
    );
    eprintln!(
        "demo: {checks} monitored models with baselines and six hours of observations; see /models and /models/credit-scorer/checks"
    );
    Ok(key)
}

async fn shutdown_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

/// What `vigil serve` should set up besides the server.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Load the demo tenant and print its admin key.
    pub demo: bool,
    /// Create an admin key for this tenant and print it (the fuzz run uses one).
    pub bootstrap_admin: Option<TenantId>,
}

/// The Prometheus renderer behind `GET /metrics`, installed as the process's metrics
/// recorder; None when another recorder is already installed.
pub fn prometheus() -> Option<vigil_api::state::MetricsText> {
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .ok()?;
    Some(std::sync::Arc::new(move || {
        handle.run_upkeep();
        handle.render()
    }))
}

async fn admin_key(
    system: &LocalSystem,
    tenant: &TenantId,
    name: &str,
) -> Result<String, ServeError> {
    let (_, key) = api_keys::create(
        system.store.as_ref(),
        &Origin::system(tenant.clone(), "apikeys"),
        Role::Admin,
        Some(name.into()),
        system.clock.now(),
    )
    .await
    .map_err(|e| ServeError::Demo(e.to_string()))?;
    Ok(key)
}

pub async fn run(
    system: LocalSystem,
    addr: SocketAddr,
    data: &Path,
    options: ServeOptions,
) -> Result<(), ServeError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let local = listener.local_addr()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut workers = system.spawn_workers(system.workers(), &stop_rx);
    workers.spawn(super::audit::checkpointer(system.clone(), stop_rx.clone()));
    workers.spawn(super::reclassify::scheduler(
        system.clone(),
        stop_rx.clone(),
    ));
    workers.spawn(super::drift::scheduler(system.clone(), stop_rx.clone()));
    workers.spawn(system.webhooks().pump.run(stop_rx.clone()));
    let purger = {
        let store = system.store.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(600)) => {
                        if let Err(e) = store.purge_expired().await {
                            tracing::warn!(error = %e, "expired item purge failed");
                        }
                    }
                    _ = stop.changed() => return,
                }
            }
        })
    };
    eprintln!(
        "Vigil is listening on http://{local} (data in {})",
        data.display()
    );
    if options.demo {
        let key = load_demo(&system).await?;
        eprintln!("demo admin API key (shown once):");
        println!("{key}");
        eprintln!("try: curl -H 'Authorization: Bearer {key}' http://{local}/stats/summary");
    }
    if let Some(tenant) = &options.bootstrap_admin {
        let key = admin_key(&system, tenant, "bootstrap admin").await?;
        eprintln!("admin API key for tenant {tenant} (shown once):");
        println!("{key}");
    }
    eprintln!("API document: http://{local}/openapi.json, interactive: http://{local}/docs");
    eprintln!("press Ctrl-C to stop");
    let mut state = system.app_state();
    state.metrics = prometheus();
    let settings = system.config.http.clone();
    crate::http_server::serve(listener, router(state), &settings, shutdown_signal()).await?;
    eprintln!("stopping workers...");
    let _ = stop_tx.send(true);
    while workers.join_next().await.is_some() {}
    let _ = purger.await;
    Ok(())
}
