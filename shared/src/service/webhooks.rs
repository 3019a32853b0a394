//! Webhook endpoints: create, replace, merge-patch, delete and secret rotation, each
//! audited in the same write. Audit snapshots are the API view, which never holds a
//! secret, plain or sealed.
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Origin, ServiceError};
use crate::domain::FieldError;
use crate::ports::{ItemStore, WriteOp};
use crate::repo::webhooks::{self as repo, Versioned};
use crate::retry::on_conflict;
use crate::webhooks::endpoint::{Endpoint, EndpointSpec, merge_patch};
use crate::webhooks::signing::SigningSecret;
use crate::webhooks::{SecretKey, WebhookSettings};

fn secret_key(settings: &WebhookSettings) -> Result<&SecretKey, ServiceError> {
    settings
        .secret_key
        .as_ref()
        .ok_or(ServiceError::NotConfigured("VIGIL_SECRET_KEY"))
}

/// Parses a spec and runs the address guard on its URL (DNS included).
pub async fn checked_spec(
    settings: &WebhookSettings,
    body: &Value,
) -> Result<EndpointSpec, ServiceError> {
    let spec = EndpointSpec::from_json(body).map_err(ServiceError::Invalid)?;
    settings
        .policy
        .check(&spec.url)
        .await
        .map_err(|e| ServiceError::Invalid(vec![FieldError::new("url", e.to_string())]))?;
    Ok(spec)
}

pub async fn load(
    store: &dyn ItemStore,
    origin: &Origin,
    id: &str,
) -> Result<Versioned<Endpoint>, ServiceError> {
    repo::get_endpoint(store, &origin.tenant, id)
        .await?
        .ok_or(ServiceError::NotFound("webhook endpoint"))
}

/// The ledger ops of a change to an endpoint, for the change's own write.
async fn ledger_ops(
    store: &dyn ItemStore,
    origin: &Origin,
    action: &str,
    before: Option<&Endpoint>,
    after: Option<&Endpoint>,
    now: DateTime<Utc>,
) -> Result<Vec<WriteOp>, ServiceError> {
    let id = after.or(before).map(|e| e.id.as_str()).unwrap_or_default();
    let mut draft = origin.draft(action, "webhook", id);
    if let Some(b) = before {
        draft = draft.before(&b.view());
    }
    if let Some(a) = after {
        draft = draft.after(&a.view());
    }
    Ok(crate::audit::prepare(store, &origin.tenant, &draft, now)
        .await?
        .ops)
}

/// Refuses a URL another endpoint of the tenant already delivers to: two endpoints on
/// one URL would sign and send every message twice. Checked before the write (not in
/// it), so two concurrent creates can still both pass; the cost is a duplicate the
/// admin can delete, not a lost message.
async fn url_free(
    store: &dyn ItemStore,
    origin: &Origin,
    url: &str,
    except: Option<&str>,
) -> Result<(), ServiceError> {
    let taken = repo::list_endpoints(store, &origin.tenant)
        .await?
        .iter()
        .any(|e| e.spec.url == url && Some(e.id.as_str()) != except);
    if taken {
        return Err(ServiceError::Taken(FieldError::new(
            "url",
            "another webhook endpoint already delivers to this URL",
        )));
    }
    Ok(())
}

/// Creates an endpoint with a fresh signing secret, audited as `webhook.create`. The
/// secret is returned once and stored only sealed.
pub async fn create(
    store: &dyn ItemStore,
    settings: &WebhookSettings,
    origin: &Origin,
    spec: EndpointSpec,
    now: DateTime<Utc>,
) -> Result<(Endpoint, SigningSecret), ServiceError> {
    url_free(store, origin, &spec.url, None).await?;
    let (endpoint, secret) = Endpoint::create(&origin.tenant, spec, secret_key(settings)?, now)?;
    let e = &endpoint;
    // The id is fresh: only the ledger can have moved.
    on_conflict(move || async move {
        let ops = ledger_ops(store, origin, "webhook.create", None, Some(e), now).await?;
        repo::create_endpoint_with(store, e, ops).await?;
        Ok::<(), ServiceError>(())
    })
    .await?;
    Ok((endpoint, secret))
}

/// The new spec of an update.
#[derive(Debug, Clone)]
pub enum NewSpec {
    /// PUT, audited as `webhook.replace`.
    Full(EndpointSpec),
    /// PATCH (RFC 7396 over the current spec), audited as `webhook.update`.
    Patch(Value),
}

/// Replaces the spec, keeping the secrets; enabling again clears the failure record.
/// A full spec comes parsed and checked ([`checked_spec`]). `read` is the endpoint as
/// the caller looked it up (so an unknown id answers not found before a bad body does);
/// the first attempt uses it, a retry after a lost race reads again.
pub async fn update(
    store: &dyn ItemStore,
    settings: &WebhookSettings,
    origin: &Origin,
    read: Versioned<Endpoint>,
    new: &NewSpec,
    now: DateTime<Utc>,
) -> Result<Endpoint, ServiceError> {
    if let NewSpec::Patch(p) = new {
        if !p.is_object() {
            return Err(ServiceError::field(
                "body",
                "a merge patch must be a JSON object",
            ));
        }
    }
    let action = match new {
        NewSpec::Full(_) => "webhook.replace",
        NewSpec::Patch(_) => "webhook.update",
    };
    let id = read.value.id.clone();
    let id = id.as_str();
    let mut first = Some(read);
    on_conflict(move || {
        let read = first.take();
        async move {
            let current = match read {
                Some(r) => r,
                None => load(store, origin, id).await?,
            };
            let spec = match new {
                NewSpec::Full(spec) => spec.clone(),
                NewSpec::Patch(patch) => {
                    let mut merged = current.value.spec.to_json();
                    merge_patch(&mut merged, patch);
                    checked_spec(settings, &merged).await?
                }
            };
            if spec.url != current.value.spec.url {
                url_free(store, origin, &spec.url, Some(id)).await?;
            }
            let mut e = current.value.clone();
            if spec.enabled && !e.spec.enabled {
                e.disabled_reason = None;
                e.failing_since = None;
            }
            e.spec = spec;
            e.updated_at = now;
            let ops =
                ledger_ops(store, origin, action, Some(&current.value), Some(&e), now).await?;
            repo::replace_endpoint_with(store, &e, current.version, ops).await?;
            Ok(e)
        }
    })
    .await
}

/// Deletes an endpoint, audited as `webhook.delete` (no `after`).
pub async fn delete(
    store: &dyn ItemStore,
    origin: &Origin,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    on_conflict(move || async move {
        // Gone meanwhile: the next read answers not found.
        let current = load(store, origin, id).await?;
        let ops = ledger_ops(
            store,
            origin,
            "webhook.delete",
            Some(&current.value),
            None,
            now,
        )
        .await?;
        repo::delete_endpoint_with(store, &origin.tenant, id, current.version, ops).await?;
        Ok(())
    })
    .await
}

/// Starts signing with a new secret (the previous one is still accepted for a while),
/// audited as `webhook.rotate_secret`; the snapshots show only when the previous secret
/// stops being accepted, never a secret.
pub async fn rotate_secret(
    store: &dyn ItemStore,
    settings: &WebhookSettings,
    origin: &Origin,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(Endpoint, SigningSecret), ServiceError> {
    let key = secret_key(settings)?;
    on_conflict(move || async move {
        let current = load(store, origin, id).await?;
        let mut e = current.value.clone();
        let secret = e.rotate(key, now)?;
        let ops = ledger_ops(
            store,
            origin,
            "webhook.rotate_secret",
            Some(&current.value),
            Some(&e),
            now,
        )
        .await?;
        repo::replace_endpoint_with(store, &e, current.version, ops).await?;
        Ok((e, secret))
    })
    .await
}
