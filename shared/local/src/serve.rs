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
    let (_, key) = api_keys::create(
        system.store.as_ref(),
        &Origin::system(tenant.clone(), "apikeys"),
        Role::Admin,
        Some("demo admin".into()),
        system.clock.now(),
    )
    .await
    .map_err(|e| ServeError::Demo(e.to_string()))?;
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
    Ok(key)
}

async fn shutdown_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

pub async fn run(
    system: LocalSystem,
    addr: SocketAddr,
    data: &Path,
    demo: bool,
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
    if demo {
        let key = load_demo(&system).await?;
        eprintln!("demo admin API key (shown once):");
        println!("{key}");
        eprintln!("try: curl -H 'Authorization: Bearer {key}' http://{local}/stats/summary");
    }
    eprintln!("press Ctrl-C to stop");
    axum::serve(listener, router(system.app_state()))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    eprintln!("stopping workers...");
    let _ = stop_tx.send(true);
    while workers.join_next().await.is_some() {}
    let _ = purger.await;
    Ok(())
}
