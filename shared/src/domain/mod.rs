//! Domain types; parsing at the edge happens here, so values inside are valid.

/// The rest of a validated string newtype `$name(String)` whose `parse(&str)` fails
/// with `$err`: its text, and the `String` conversions serde goes through
/// (`#[serde(try_from = "String", into = "String")]`), so it deserializes only when valid.
macro_rules! validated_string {
    ($name:ident, $err:ty) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = $err;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> Self {
                v.0
            }
        }
    };
}

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
pub use finding::{EnrichedBy, Evidence, Finding, FindingStatus, Match, MergeOutcome, Session};
pub use severity::Severity;
pub use tenant::TenantId;
pub use validation::FieldError;
