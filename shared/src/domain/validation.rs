//! Field-level validation errors, reported to clients as RFC 9457 problem details.
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Position in a batch, when the request carried several items.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            index: None,
            field: field.into(),
            message: message.into(),
        }
    }

    /// The errors as one line: `[index].field: message; ...` (problem details, dead
    /// letter reasons).
    pub fn describe(errors: &[FieldError]) -> String {
        errors
            .iter()
            .map(|f| match f.index {
                Some(i) => format!("[{i}].{}: {}", f.field, f.message),
                None => format!("{}: {}", f.field, f.message),
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn at(mut self, index: usize) -> Self {
        self.index = Some(index);
        self
    }
}

/// Whether `s` holds a control character (C0, DEL or C1). Identifiers and names with
/// one would render misleadingly in logs, CSV exports and terminals, so they are refused.
pub fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// A trimmed string field of a JSON object, at most `max` characters. An absent, null
/// or (when not `required`) blank value is the empty string; anything else in error is
/// pushed onto `errors` under `key`.
pub fn text_field(
    obj: &serde_json::Map<String, serde_json::Value>,
    key: &str,
    max: usize,
    required: bool,
    errors: &mut Vec<FieldError>,
) -> String {
    use serde_json::Value;
    match obj.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= max => {
            s.trim().to_string()
        }
        Some(Value::String(s)) if s.trim().is_empty() && !required => String::new(),
        None | Some(Value::Null) if !required => String::new(),
        None | Some(Value::Null) => {
            errors.push(FieldError::new(key, "is required"));
            String::new()
        }
        _ => {
            errors.push(FieldError::new(
                key,
                format!("must be a non-empty string of at most {max} characters"),
            ));
            String::new()
        }
    }
}
