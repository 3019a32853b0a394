//! Model drift and bias monitoring: monitored models, frozen baselines, observations
//! folded into windows on write, checks and their schedule. The statistics are pure
//! functions in [`stats`] and [`bias`].
pub mod baseline;
pub mod bias;
pub mod check;
pub mod model;
pub mod reservoir;
pub mod schedule;
pub mod stats;
pub mod window;
