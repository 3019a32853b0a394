//! Model drift and bias monitoring.
pub mod bias;
pub mod stats;
