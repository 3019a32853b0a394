//! HTTP plumbing every route shares: the request id (and the request's tracing span),
//! JSON bodies, and ETag / `If-Match` handling.
use std::convert::Infallible;
use std::time::Instant;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::Value;
use tracing::Instrument;

use crate::error::ApiError;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of this request: the client's `x-request-id` when it is a sane token, else a
/// fresh UUIDv7. It names the request's span, comes back as `x-request-id`, travels with
/// the work the request queues, and is recorded on every audit entry it causes.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl RequestId {
    fn of(headers: &HeaderMap) -> Self {
        let given = headers
            .get(&REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()));
        Self(match given {
            Some(v) => v.to_string(),
            None => uuid::Uuid::now_v7().to_string(),
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Set by `traced`; a router without it still gets an id.
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId::of(&parts.headers)))
    }
}

/// Runs the request in a span carrying its id (the tenant is recorded once the caller
/// is authenticated) and logs its outcome.
pub async fn traced(mut req: Request, next: Next) -> Response {
    let id = RequestId::of(req.headers());
    req.extensions_mut().insert(id.clone());
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let span = tracing::info_span!(
        "request",
        request_id = %id.0,
        %method,
        %path,
        tenant = tracing::field::Empty,
    );
    let started = Instant::now();
    let mut resp = next.run(req).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::info!(
            status = resp.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "request"
        )
    });
    if let Ok(v) = HeaderValue::from_str(&id.0) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    resp
}

/// Parses a JSON body, mapping failure to a problem response.
pub fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::MalformedJson(e.to_string()))
}

/// The strong ETag of an item version.
pub fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// Sets `ETag` on a response.
pub fn with_etag(mut resp: Response, version: u64) -> Response {
    resp.headers_mut().insert(header::ETAG, etag(version));
    resp
}

/// The version `If-Match` asks for: None without the header or with `*`.
pub fn if_match(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let s = v.to_str().unwrap_or_default().trim();
    if s == "*" {
        return Ok(None);
    }
    s.trim_start_matches("W/")
        .trim_matches('"')
        .parse::<u64>()
        .map(Some)
        .map_err(|_| ApiError::field("If-Match", "must be an ETag this API issued, or *"))
}
