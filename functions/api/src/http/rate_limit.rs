//! Rate-limit headers: the caller's budget rides on every authenticated answer as
//! `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (the IETF httpapi
//! draft's fields), and a refusal is a 429 with `Retry-After` as well. The charge itself
//! happens where the caller is authenticated ([`crate::auth::Caller`]), once a request.
use std::sync::{Arc, Mutex};

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use vigil_shared::resilience::Decision;

pub const LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
pub const REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
pub const RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// Where authentication leaves the request's decision for the answer's headers.
#[derive(Clone, Default)]
pub struct Slot(Arc<Mutex<Option<Decision>>>);

impl Slot {
    pub fn put(&self, d: Decision) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(d);
    }

    fn take(&self) -> Option<Decision> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

pub fn insert_headers(headers: &mut HeaderMap, d: &Decision) {
    headers.insert(LIMIT, HeaderValue::from(d.limit));
    headers.insert(REMAINING, HeaderValue::from(d.remaining));
    headers.insert(RESET, HeaderValue::from(d.reset_seconds));
}

/// Gives the request a slot and copies what was put in it onto the answer.
pub async fn headers(mut req: Request, next: Next) -> Response {
    let slot = Slot::default();
    req.extensions_mut().insert(slot.clone());
    let mut resp = next.run(req).await;
    if let Some(d) = slot.take() {
        // A refusal carries its own (the ingest budget's, say); keep those.
        if !resp.headers().contains_key(LIMIT) {
            insert_headers(resp.headers_mut(), &d);
        }
    }
    resp
}
