//! Runtime AI governance: the model and prompt registries with their approval states
//! ([`registry`]), the enforcement gate every use of a model or prompt goes through
//! ([`gate`]), the versions a tenant starts with ([`builtin`]) and the failure taxonomy
//! ([`failures`]). The use cases that change versions are in `service::governance`.
pub mod builtin;
pub mod failures;
pub mod gate;
pub mod registry;

pub use failures::FailureClass;
pub use gate::{
    ApprovedModel, ApprovedPrompt, Blocked, GateError, approved_model, approved_prompt,
};
pub use registry::{Action, Kind, ModelSpec, PromptSpec, Registered, Spec, State};
