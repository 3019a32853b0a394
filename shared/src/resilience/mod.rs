//! Resilience in the execution path (the seed's scalability layer): rate limits per key,
//! tenant and ingest budget; circuit breakers on the model and webhook endpoints; a
//! per-tenant bulkhead on model calls; token usage and cost.
pub mod breaker;
pub mod bulkhead;
pub mod limits;
pub mod rate_limit;
pub mod usage;

pub use breaker::{Admission, BreakerKey, BreakerSettings, Breakers};
pub use bulkhead::Bulkhead;
pub use limits::{RateLimits, TenantLimits};
pub use rate_limit::{
    Bucket, Decision, InProcessRateLimiter, Limit, RateLimiter, StoreRateLimiter,
};
pub use usage::{Prices, Tokens};
