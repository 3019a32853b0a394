//! The one place where errors become HTTP responses: RFC 9457 problem details. Every
//! conversion into [`ApiError`] lives here; causes stay attached as `#[source]`, so the
//! log line of a failed request shows the whole chain.
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use vigil_shared::audit::AuditError;
use vigil_shared::domain::FieldError;
use vigil_shared::governance::FailureClass;
use vigil_shared::ports::{QueueError, StoreError};
use vigil_shared::service::ServiceError;

/// A cause kept for the log, never shown to the client.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("the request has invalid fields")]
    Invalid(Vec<FieldError>),
    #[error("missing or invalid API key")]
    Unauthorized,
    /// A source push whose signature or secret (in the named header) does not match.
    #[error("the {0} header does not authenticate this request")]
    BadSignature(&'static str),
    #[error("this action needs the {0} role")]
    Forbidden(&'static str),
    /// A rule forbids this caller the change (four eyes).
    #[error("{0}")]
    Denied(String),
    #[error("no such {0}")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    /// A value that must be unique is already in use (a name, an endpoint URL).
    #[error("{}: {}", .0.field, .0.message)]
    Taken(FieldError),
    /// `If-Match` named a version that is no longer current.
    #[error("the resource is at version {current}; If-Match named another")]
    PreconditionFailed { current: String },
    /// A re-classification run holds the lease.
    #[error("re-classification run {0} is still running")]
    RunInProgress(String),
    #[error("the request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the request could not be read: {0}")]
    BadRequest(String),
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    #[error("the request target is longer than {limit} bytes")]
    UriTooLong { limit: usize },
    /// Header names and values together exceed the limit; `header` is the largest.
    #[error("the request headers exceed {limit} bytes; the largest is {header}")]
    HeadersTooLarge { limit: usize, header: String },
    #[error("the request body did not arrive in time")]
    RequestTimeout,
    #[error("{method} is not allowed here; see the Allow header")]
    MethodNotAllowed { method: String },
    #[error("the server is at its concurrency limit; retry shortly")]
    Overloaded,
    /// A rate limit refused the request (the key's, the tenant's or its ingest budget).
    #[error("rate limit of {} per window reached; retry in {} s", .0.limit, .0.retry_after_seconds)]
    RateLimited(vigil_shared::resilience::Decision),
    /// A deployment setting the request needs is missing.
    #[error("{0} is not configured on this deployment")]
    NotConfigured(&'static str),
    #[error("a dependency is temporarily unavailable; retry later")]
    Unavailable(#[source] Cause),
    #[error("internal error")]
    Internal(#[source] Cause),
}

impl ApiError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ApiError::Invalid(vec![FieldError::new(field, message)])
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::MalformedJson(_) => StatusCode::BAD_REQUEST,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized | ApiError::BadSignature(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::Denied(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) | ApiError::Taken(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            ApiError::RunInProgress(_) => StatusCode::CONFLICT,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::UriTooLong { .. } => StatusCode::URI_TOO_LONG,
            ApiError::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) | ApiError::NotConfigured(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `type` of its problem document is `https://vigil.dev/problems/<slug>`.
    pub fn slug(&self) -> &'static str {
        match self {
            ApiError::MalformedJson(_) => "malformed-json",
            ApiError::Invalid(_) => "validation-error",
            ApiError::Unauthorized => "unauthorized",
            ApiError::BadSignature(_) => "bad-signature",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::Denied(_) => "four-eyes",
            ApiError::NotFound(_) => "not-found",
            ApiError::Conflict(_) => "conflict",
            ApiError::PreconditionFailed { .. } => "precondition-failed",
            ApiError::RunInProgress(_) => "run-in-progress",
            ApiError::Taken(_) => "taken",
            ApiError::TooLarge { .. } => "payload-too-large",
            ApiError::BadRequest(_) => "bad-request",
            ApiError::UnsupportedMediaType => "unsupported-media-type",
            ApiError::UriTooLong { .. } => "uri-too-long",
            ApiError::HeadersTooLarge { .. } => "headers-too-large",
            ApiError::RequestTimeout => "request-timeout",
            ApiError::MethodNotAllowed { .. } => "method-not-allowed",
            ApiError::Overloaded => "overloaded",
            ApiError::RateLimited(_) => "rate-limited",
            ApiError::Unavailable(_) | ApiError::NotConfigured(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl ApiError {
    /// The failure class of a request that ends in this error: the one place API
    /// failures are classified (they are counted per tenant by `http::failures`).
    pub fn failure_class(&self) -> FailureClass {
        match self {
            ApiError::MalformedJson(_)
            | ApiError::Invalid(_)
            | ApiError::NotFound(_)
            | ApiError::TooLarge { .. }
            | ApiError::BadRequest(_)
            | ApiError::UnsupportedMediaType
            | ApiError::UriTooLong { .. }
            | ApiError::HeadersTooLarge { .. }
            | ApiError::MethodNotAllowed { .. } => FailureClass::ValidationError,
            // A refused key, signature, role or four-eyes rule, and a spent rate limit.
            ApiError::Unauthorized
            | ApiError::BadSignature(_)
            | ApiError::Forbidden(_)
            | ApiError::Denied(_)
            | ApiError::RateLimited(_) => FailureClass::PolicyViolation,
            ApiError::Conflict(_)
            | ApiError::Taken(_)
            | ApiError::PreconditionFailed { .. }
            | ApiError::RunInProgress(_) => FailureClass::WorkflowError,
            ApiError::RequestTimeout
            | ApiError::Overloaded
            | ApiError::NotConfigured(_)
            | ApiError::Unavailable(_) => FailureClass::InfraError,
            ApiError::Internal(_) => FailureClass::UnexpectedError,
        }
    }

    /// The header or part of the request a protocol-level problem is about.
    fn named_part(&self) -> Option<FieldError> {
        let (field, message) = match self {
            ApiError::UnsupportedMediaType => ("Content-Type", "must be application/json"),
            ApiError::TooLarge { .. } => ("body", "is too large"),
            ApiError::RequestTimeout => ("body", "was not received in time"),
            ApiError::UriTooLong { .. } => ("uri", "is too long"),
            ApiError::HeadersTooLarge { header, .. } => (header.as_str(), "is too large"),
            ApiError::Unauthorized => ("Authorization", "must be Bearer <API key>"),
            ApiError::BadSignature(header) => (*header, "does not match the source's secret"),
            ApiError::PreconditionFailed { .. } => ("If-Match", "names no current version"),
            _ => return None,
        };
        Some(FieldError::new(field, message))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict | StoreError::ConditionFailed { .. } => {
                ApiError::Conflict("the item changed concurrently; retry".into())
            }
            StoreError::Unavailable(_) => ApiError::Unavailable(e.into()),
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        ApiError::Unavailable(e.into())
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound(what) => ApiError::NotFound(what),
            ServiceError::Invalid(fields) => ApiError::Invalid(fields),
            ServiceError::Conflict(m) => ApiError::Conflict(m),
            ServiceError::Denied(m) => ApiError::Denied(m),
            ServiceError::Taken(f) => ApiError::Taken(f),
            ServiceError::PreconditionFailed { current } => ApiError::PreconditionFailed {
                current: format!("\"{current}\""),
            },
            ServiceError::NotConfigured(what) => ApiError::NotConfigured(what),
            ServiceError::Secret(_) => ApiError::Internal(e.into()),
            ServiceError::Store(s) => s.into(),
            ServiceError::Queue(q) => q.into(),
            ServiceError::Bus(b) => ApiError::Unavailable(b.into()),
        }
    }
}

impl From<vigil_shared::service::findings::EnrichError> for ApiError {
    fn from(e: vigil_shared::service::findings::EnrichError) -> Self {
        use vigil_shared::service::findings::EnrichError;
        match e {
            EnrichError::Store(s) => s.into(),
            EnrichError::Busy(_) => ApiError::Overloaded,
        }
    }
}

impl From<AuditError> for ApiError {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::Store(s) => s.into(),
            AuditError::Empty => ApiError::NotFound("audit entries"),
            AuditError::OutOfRange(m) => ApiError::Invalid(vec![FieldError::new("range", m)]),
            AuditError::Broken(_) | AuditError::Busy => ApiError::Conflict(e.to_string()),
            AuditError::NoSigner => ApiError::NotConfigured("VIGIL_AUDIT_SIGNING_KEY"),
        }
    }
}

/// The whole cause chain of an error, for the log.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cur = c.source();
    }
    out
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    errors: &'a [FieldError],
    /// The run holding the lease, for `run-in-progress`.
    #[serde(skip_serializing_if = "Option::is_none")]
    run_id: Option<&'a str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let class = self.failure_class();
        if let ApiError::Internal(_) | ApiError::Unavailable(_) = &self {
            tracing::error!(error = %chain(&self), status = status.as_u16(), "request failed");
        }
        // Problems about one header or the body name it, as validation errors do.
        let named: Vec<FieldError>;
        let errors: &[FieldError] = match &self {
            ApiError::Invalid(e) => e,
            ApiError::Taken(f) => std::slice::from_ref(f),
            other => {
                named = other.named_part().into_iter().collect();
                &named
            }
        };
        let detail = match &self {
            ApiError::Invalid(e) => vigil_shared::domain::FieldError::describe(e),
            other => other.to_string(),
        };
        let problem = Problem {
            kind: format!("https://vigil.dev/problems/{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail,
            errors,
            run_id: match &self {
                ApiError::RunInProgress(id) => Some(id),
                _ => None,
            },
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut resp = (status, body).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match self {
            ApiError::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::BadSignature(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"vigil-source\""),
                );
            }
            ApiError::Unavailable(_) | ApiError::Overloaded => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ApiError::RateLimited(d) => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(d.retry_after_seconds),
                );
                crate::http::rate_limit::insert_headers(headers, &d);
            }
            // The connection may hold the rest of a body nobody will read.
            ApiError::RequestTimeout | ApiError::TooLarge { .. } => {
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        resp.extensions_mut().insert(class);
        resp
    }
}
