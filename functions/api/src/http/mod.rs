//! HTTP plumbing every route shares: the request id (and the request's tracing span),
//! JSON bodies ([`body`]), ETag / `If-Match` handling, the request limits ([`limits`])
//! and the one layer that turns every other error answer into problem+json
//! ([`problems`]).
pub mod body;
pub mod limits;
pub mod problems;
pub mod rate_limit;

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
    // Under Lambda one request is one invocation: its metrics leave with it.
    vigil_shared::telemetry::flush_metrics();
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

/// The versions `If-Match` accepts (RFC 9110 §13.1.1): None without the header or with
/// `*` (the handler 404s a missing resource anyway). Comparison is strong, so a weak tag
/// (`W/"1"`) never matches, and neither does a tag this API never issues; an empty list
/// means no version can match, which the service answers with 412.
pub fn if_match(headers: &HeaderMap) -> Result<Option<Vec<u64>>, ApiError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let malformed = || ApiError::field("If-Match", "must be * or a list of entity tags");
    let s = v.to_str().map_err(|_| malformed())?.trim();
    if s == "*" {
        return Ok(None);
    }
    let mut versions = Vec::new();
    for tag in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let (weak, quoted) = match tag.strip_prefix("W/") {
            Some(rest) => (true, rest),
            None => (false, tag),
        };
        let opaque = quoted
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .filter(|t| !t.contains('"'))
            .ok_or_else(malformed)?;
        if let (false, Ok(n)) = (weak, opaque.parse::<u64>()) {
            versions.push(n);
        }
    }
    if s.split(',').all(|t| t.trim().is_empty()) {
        return Err(malformed());
    }
    Ok(Some(versions))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(v: &str) -> Result<Option<Vec<u64>>, ApiError> {
        let mut h = HeaderMap::new();
        h.insert(header::IF_MATCH, HeaderValue::from_str(v).unwrap());
        if_match(&h)
    }

    #[test]
    fn if_match_follows_rfc_9110() {
        assert_eq!(if_match(&HeaderMap::new()).unwrap(), None);
        assert_eq!(parsed("*").unwrap(), None);
        assert_eq!(parsed("\"3\"").unwrap(), Some(vec![3]));
        assert_eq!(parsed("\"1\", \"4\"").unwrap(), Some(vec![1, 4]));
        // Strong comparison: weak tags and tags never issued match nothing.
        assert_eq!(parsed("W/\"1\"").unwrap(), Some(vec![]));
        assert_eq!(parsed("\"not-the-etag\"").unwrap(), Some(vec![]));
        assert_eq!(parsed("W/\"1\", \"2\"").unwrap(), Some(vec![2]));
        for bad in ["1", "\"1", ",", "\"a\"b\""] {
            assert!(parsed(bad).is_err(), "{bad}");
        }
    }
}
