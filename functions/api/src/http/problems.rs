//! The one fallback layer for answers no handler shaped: axum's own rejections (404 for
//! an unknown route, 405, a query string it cannot read, a body over the limit) come out
//! as plain text or empty, and this turns each into the same RFC 9457 document every
//! handler's error is, keeping headers such as `Allow`.
use axum::body::to_bytes;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::routes::events::MAX_BODY;

/// Most of a plain-text rejection kept as the problem's detail.
const MAX_DETAIL: usize = 1024;

fn is_problem(resp: &Response) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"))
}

/// The problem an unshaped error answer stands for.
fn problem_for(status: StatusCode, method: &str, text: String) -> ApiError {
    match status {
        StatusCode::NOT_FOUND => ApiError::NotFound("route"),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed {
            method: method.to_string(),
        },
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge { limit: MAX_BODY },
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
        StatusCode::REQUEST_TIMEOUT => ApiError::RequestTimeout,
        StatusCode::SERVICE_UNAVAILABLE => ApiError::Overloaded,
        s if s.is_server_error() => ApiError::Internal(text.into()),
        _ if text.is_empty() => ApiError::BadRequest(
            status
                .canonical_reason()
                .unwrap_or("bad request")
                .to_string(),
        ),
        _ => ApiError::BadRequest(text),
    }
}

pub async fn fallback(req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let resp = next.run(req).await;
    let status = resp.status();
    if status.as_u16() < 400 || is_problem(&resp) {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = to_bytes(body, MAX_DETAIL)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let mut out = problem_for(status, &method, text).into_response();
    // Whatever the original said about the resource (Allow, Retry-After) still holds.
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(v) = parts.headers.get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    *out.status_mut() = status;
    out
}
