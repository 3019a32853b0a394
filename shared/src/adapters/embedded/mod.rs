//! Embedded adapters: everything in one SQLite file.
mod bus;
mod db;
mod queue;
mod store;

pub use bus::EmbeddedBus;
pub use db::{EmbeddedDb, EmbeddedError, MAX_GROUP, READERS};
pub use queue::{EmbeddedQueue, message_receive_count};
pub use store::EmbeddedStore;
