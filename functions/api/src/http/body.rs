//! JSON request bodies: `Content-Type: application/json` (or a `+json` type such as
//! `application/merge-patch+json`) is required, the size is capped, and the body must
//! arrive within the configured read timeout, so a client that declares 100 bytes and
//! sends 7 is answered 408 instead of holding a worker.
use axum::body::{Bytes, to_bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, header};

use crate::error::ApiError;
use crate::routes::events::MAX_BODY;
use crate::state::AppState;

/// A JSON body, read whole; handlers parse it with [`super::parse_json`] so field
/// errors stay theirs.
#[derive(Debug, Clone)]
pub struct JsonBody(pub Bytes);

/// A body that may be absent (no bytes and no `Content-Type`); when present it follows
/// the rules of [`JsonBody`].
#[derive(Debug, Clone)]
pub struct OptionalJsonBody(pub Bytes);

fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn declared_len(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Largest body of the bulk drift endpoints (baselines, observations, inline checks):
/// 10,000 rows of a few dozen features. Under Lambda it stays below the 6 MB invocation
/// payload limit.
pub const LARGE_BODY: usize = 5 * 1024 * 1024;

/// A JSON body of up to [`LARGE_BODY`] bytes, for the bulk drift endpoints; otherwise
/// as [`JsonBody`].
#[derive(Debug, Clone)]
pub struct LargeJsonBody(pub Bytes);

/// A [`LargeJsonBody`] that may be absent, as [`OptionalJsonBody`].
#[derive(Debug, Clone)]
pub struct OptionalLargeJsonBody(pub Bytes);

async fn read(req: Request, state: &AppState) -> Result<Bytes, ApiError> {
    read_up_to(req, state, MAX_BODY).await
}

async fn read_up_to(req: Request, state: &AppState, limit: usize) -> Result<Bytes, ApiError> {
    if declared_len(req.headers()).is_some_and(|n| n > limit) {
        return Err(ApiError::TooLarge { limit });
    }
    let read = to_bytes(req.into_body(), limit);
    match tokio::time::timeout(state.http.body_read_timeout, read).await {
        Err(_) => Err(ApiError::RequestTimeout),
        Ok(Ok(bytes)) => Ok(bytes),
        // The only failure that is the client's doing at this size is the limit; a
        // broken connection has nobody left to answer.
        Ok(Err(_)) => Err(ApiError::TooLarge { limit }),
    }
}

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        read(req, state).await.map(JsonBody)
    }
}

impl FromRequest<AppState> for OptionalJsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let has_type = req.headers().contains_key(header::CONTENT_TYPE);
        if has_type && !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = read(req, state).await?;
        if !bytes.is_empty() && !has_type {
            return Err(ApiError::UnsupportedMediaType);
        }
        Ok(OptionalJsonBody(bytes))
    }
}

impl FromRequest<AppState> for LargeJsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        read_up_to(req, state, LARGE_BODY).await.map(LargeJsonBody)
    }
}

impl FromRequest<AppState> for OptionalLargeJsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let has_type = req.headers().contains_key(header::CONTENT_TYPE);
        if has_type && !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = read_up_to(req, state, LARGE_BODY).await?;
        if !bytes.is_empty() && !has_type {
            return Err(ApiError::UnsupportedMediaType);
        }
        Ok(OptionalLargeJsonBody(bytes))
    }
}

/// A body of any type, read whole under the same size limit and timeout (source
/// pushes: NDJSON streams, gzip log files; the handler checks what it accepts).
#[derive(Debug, Clone)]
pub struct RawBody(pub Bytes);

impl FromRequest<AppState> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        read(req, state).await.map(RawBody)
    }
}
