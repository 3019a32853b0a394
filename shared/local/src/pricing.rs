//! The AWS prices and per-call latencies the benchmarks assume when they turn request
//! counts into a cost estimate. us-east-1 list prices in USD (on-demand DynamoDB after
//! the November 2024 price cut); latencies are typical in-region figures for a Lambda
//! function, not measurements.
pub const DDB_PER_M_WRU: f64 = 0.625;
pub const DDB_PER_M_RRU: f64 = 0.125;
pub const SQS_PER_M_REQUESTS: f64 = 0.40;
pub const EVENTBRIDGE_PER_M_EVENTS: f64 = 1.00;
pub const HTTP_API_PER_M_REQUESTS: f64 = 1.00;
pub const LAMBDA_PER_GB_S: f64 = 0.000_016_666_7;
pub const LAMBDA_PER_M_INVOCATIONS: f64 = 0.20;
/// The functions' memory in the template (256 MB).
pub const LAMBDA_GB: f64 = 0.25;
/// Assumed in-Lambda latency of each call (ms).
pub const MS_GET: f64 = 5.0;
pub const MS_WRITE: f64 = 8.0;
pub const MS_TRANSACT: f64 = 20.0;
pub const MS_QUERY: f64 = 10.0;
pub const MS_SEND: f64 = 15.0;
pub const MS_PUT_EVENTS: f64 = 20.0;
