//! The rules engine: a catalog of data-driven rules over an event and its context.
pub mod catalog;
pub mod engine;
pub mod fields;
pub mod window;

pub use catalog::RULES;
pub use engine::{RuleContext, RulesConfig, USER_LOOKAROUND, evaluate, needs_user_window};

#[cfg(test)]
mod tests;
