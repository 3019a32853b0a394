//! Log sources: create and secret rotation, each audited in the same write. Audit
//! snapshots are the API view, which never holds a secret.
use chrono::{DateTime, Utc};

use super::{Origin, ServiceError};
use crate::ports::{ItemStore, SourceQueues};
use crate::repo::sources as repo;
use crate::repo::webhooks::Versioned;
use crate::retry::on_conflict;
use crate::sources::{Source, SourceSpec};
use crate::webhooks::signing::SigningSecret;
use crate::webhooks::{SecretKey, WebhookSettings};

fn secret_key(settings: &WebhookSettings) -> Result<&SecretKey, ServiceError> {
    settings
        .secret_key
        .as_ref()
        .ok_or(ServiceError::NotConfigured("VIGIL_SECRET_KEY"))
}

pub async fn load(
    store: &dyn ItemStore,
    origin: &Origin,
    id: &str,
) -> Result<Versioned<Source>, ServiceError> {
    repo::get(store, &origin.tenant, id)
        .await?
        .ok_or(ServiceError::NotFound("source"))
}

/// Creates a source with a fresh secret, audited as `source.create`; the secret is
/// returned once and stored only sealed. `queues` makes its own SQS queue (on AWS)
/// before this write, so the stored source names it; should the write fail, the queue
/// is left without a source, and its messages are dead-lettered as naming none.
pub async fn create(
    store: &dyn ItemStore,
    settings: &WebhookSettings,
    origin: &Origin,
    spec: SourceSpec,
    queues: &dyn SourceQueues,
    now: DateTime<Utc>,
) -> Result<(Source, SigningSecret), ServiceError> {
    let (mut source, secret) = Source::create(&origin.tenant, spec, secret_key(settings)?, now)?;
    source.queue = queues.provision(&source).await?;
    let s = &source;
    on_conflict(move || async move {
        let draft = origin
            .draft("source.create", "source", &s.id)
            .after(&s.view());
        super::commit(
            store,
            &origin.tenant,
            &draft,
            vec![repo::create_op(s)?],
            now,
        )
        .await?;
        Ok::<(), ServiceError>(())
    })
    .await?;
    Ok((source, secret))
}

/// Starts accepting a new secret (the previous one still works for a day), audited as
/// `source.rotate_secret`.
pub async fn rotate_secret(
    store: &dyn ItemStore,
    settings: &WebhookSettings,
    origin: &Origin,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(Source, SigningSecret), ServiceError> {
    let key = secret_key(settings)?;
    on_conflict(move || async move {
        let current = load(store, origin, id).await?;
        let mut s = current.value.clone();
        let secret = s.rotate(key, now)?;
        let draft = origin
            .draft("source.rotate_secret", "source", id)
            .before(&current.value.view())
            .after(&s.view());
        super::commit(
            store,
            &origin.tenant,
            &draft,
            vec![repo::replace_op(&s, current.version)?],
            now,
        )
        .await?;
        Ok((s, secret))
    })
    .await
}
