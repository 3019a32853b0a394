//! Test support for Vigil (not published):
//!
//! - [`runtime_api::Emulator`]: a Lambda Runtime API on 127.0.0.1 that queues events
//!   and waits for the function's answers, recording when the function first polled;
//! - [`bootstrap::Bootstrap`]: a function's bootstrap binary as a child process with the
//!   Lambda environment, killed on drop;
//! - [`moto::MotoStack`]: a table, queues and bus on moto for one test;
//! - [`sample`]: the sample payloads in `events/`;
//! - [`fixtures`]: domain records to seed.
pub mod bootstrap;
pub mod fixtures;
pub mod moto;
mod moto_url;
pub mod runtime_api;

pub use bootstrap::{Bootstrap, Function};
pub use moto::{MotoStack, moto_url};
pub use runtime_api::{Emulator, InvocationError};

/// The repository's `events/` directory.
pub fn events_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

/// A sample payload from `events/`, parsed.
///
/// # Panics
/// When the file is missing or not JSON: a broken fixture is a failed test.
pub fn sample(name: &str) -> serde_json::Value {
    let path = events_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The names of the samples in `events/` for one function (those starting with
/// `{function}-`), sorted.
pub fn samples_for(function: &str) -> Vec<String> {
    let prefix = format!("{function}-");
    let mut names: Vec<String> = std::fs::read_dir(events_dir())
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&prefix) && n.ends_with(".json"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}
