//! What the integration tests of `vigil-shared` share: reaching the moto server.
//!
//! (`vigil-testkit` has the same for the other crates; it depends on `vigil-shared`, so
//! these tests do not use it.)
#![allow(dead_code)]

use aws_config::SdkConfig;
use vigil_shared::adapters::aws::sdk_config;

/// The moto endpoint (`VIGIL_MOTO_URL`), or `None` after printing `SKIP {test}` when a
/// moto test should skip.
///
/// # Panics
/// When `VIGIL_REQUIRE_MOTO=1` and `VIGIL_MOTO_URL` is not set.
pub fn moto_url(test: &str) -> Option<String> {
    match std::env::var("VIGIL_MOTO_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_string()),
        _ => {
            assert!(
                std::env::var("VIGIL_REQUIRE_MOTO").as_deref() != Ok("1"),
                "VIGIL_REQUIRE_MOTO=1 but VIGIL_MOTO_URL is not set: cannot run {test} against moto"
            );
            eprintln!("SKIP {test}: VIGIL_MOTO_URL is not set");
            None
        }
    }
}

/// The SDK configuration for moto, or `None` when the test skips (see [`moto_url`]).
pub async fn moto_sdk(test: &str) -> Option<SdkConfig> {
    Some(sdk_config(Some(&moto_url(test)?)).await)
}
