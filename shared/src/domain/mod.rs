//! Domain types; parsing at the edge happens here, so values inside are valid.
pub mod ai_system;
pub mod ai_system_spec;
pub mod apikey;
pub mod event;
pub mod finding;
pub mod merge_patch;
pub mod notification;
pub mod severity;
pub mod tenant;
pub mod validation;

pub use ai_system_spec::AiSystemSpec;
pub use apikey::{ApiKeyRecord, PresentedKey, Role};
pub use event::{Event, EventType, KnownType};
pub use finding::{EnrichedBy, Finding, FindingStatus, Match, MergeOutcome};
pub use severity::Severity;
pub use tenant::TenantId;
pub use validation::FieldError;
