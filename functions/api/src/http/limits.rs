//! Request limits applied before routing: the request target and header sizes (414 and
//! 431, naming the largest header) and the number of requests in flight (503 with
//! `Retry-After` past it, rather than queueing without bound).
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;
use vigil_shared::config::HttpSettings;

use crate::error::ApiError;

/// What the limits layer needs: the settings and the in-flight permits.
#[derive(Clone)]
pub struct Limits {
    settings: HttpSettings,
    in_flight: Arc<Semaphore>,
}

impl Limits {
    pub fn new(settings: HttpSettings) -> Self {
        let permits = settings.concurrency_limit;
        Self {
            settings,
            in_flight: Arc::new(Semaphore::new(permits)),
        }
    }

    fn check(&self, req: &Request) -> Result<(), ApiError> {
        let uri = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
        if uri > self.settings.max_uri_bytes {
            return Err(ApiError::UriTooLong {
                limit: self.settings.max_uri_bytes,
            });
        }
        let mut total = 0;
        let mut largest = ("", 0);
        for (name, value) in req.headers() {
            let size = name.as_str().len() + value.len();
            total += size;
            if size > largest.1 {
                largest = (name.as_str(), size);
            }
        }
        if total > self.settings.max_header_bytes {
            return Err(ApiError::HeadersTooLarge {
                limit: self.settings.max_header_bytes,
                header: largest.0.to_string(),
            });
        }
        Ok(())
    }
}

pub async fn enforce(State(limits): State<Limits>, req: Request, next: Next) -> Response {
    if let Err(e) = limits.check(&req) {
        return e.into_response();
    }
    let Ok(_permit) = limits.in_flight.clone().try_acquire_owned() else {
        return ApiError::Overloaded.into_response();
    };
    next.run(req).await
}
