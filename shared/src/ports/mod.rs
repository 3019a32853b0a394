//! Narrow traits the domain talks to; adapters implement them for SQLite and AWS.
pub mod bus;
pub mod clock;
pub mod objects;
pub mod queue;
pub mod source_queues;
pub mod store;

pub use bus::{BusError, DomainEvent, EventBus};
pub use clock::{Clock, ManualClock, SystemClock};
pub use objects::{NoObjectStore, ObjectBody, ObjectError, ObjectRef, ObjectStore};
pub use queue::{DeadLetter, Delivery, OutMessage, Queue, QueueError, QueueName};
pub use source_queues::{NoSourceQueues, SourceQueues};
pub use store::{
    Condition, Cursor, Index, IndexKey, Item, ItemStore, KeyRange, Page, Query, StoreError, WriteOp,
};
