//! Whether a moto test runs: the one check both `vigil-testkit` and the integration
//! tests of `vigil-shared` make. It needs nothing but `std`, so `vigil-shared`'s tests
//! (which cannot depend on `vigil-testkit`: it depends on `vigil-shared`) include this
//! file by its path.

/// The moto endpoint (`VIGIL_MOTO_URL`, trimmed), or `None` after printing `SKIP {test}`
/// when a moto test should skip.
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
