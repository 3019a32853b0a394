//! What the integration tests of `vigil-shared` share: reaching the moto server.
//!
//! (`vigil-testkit` depends on `vigil-shared`, so these tests do not use it; [`moto_url`]
//! is its file, included by path.)
#![allow(dead_code)]

use aws_config::SdkConfig;
use vigil_shared::adapters::aws::sdk_config;

#[path = "../../testkit/src/moto_url.rs"]
mod moto_url;
pub use moto_url::moto_url;

/// The SDK configuration for moto, or `None` when the test skips (see [`moto_url`]).
pub async fn moto_sdk(test: &str) -> Option<SdkConfig> {
    Some(sdk_config(Some(&moto_url(test)?)).await)
}
