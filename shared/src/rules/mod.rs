//! The rules engine: a catalog of data-driven rules over an event and its context, and
//! the tenant-wide volume rule over per-minute counters.
pub mod catalog;
pub mod engine;
pub mod fields;
pub mod reference;
pub mod volume;
pub mod window;

pub use catalog::RULES;
pub use engine::{RuleContext, RulesConfig, USER_LOOKAROUND, around, evaluate, needs_user_window};

#[cfg(test)]
mod tests;
