//! Readers for `raw_data` fields under every name the sources (and the seed's
//! generator) use for them.
use serde_json::Value;

use crate::domain::Event;

pub fn country(e: &Event) -> Option<&str> {
    e.raw_str(&["country", "location"])
}

pub fn approved_by(e: &Event) -> Option<&str> {
    e.raw_str(&["approved_by"]).filter(|s| !s.trim().is_empty())
}

pub fn role(e: &Event, field: &str) -> Option<String> {
    e.raw_str(&[field]).map(|s| s.trim().to_ascii_lowercase())
}

/// No expiry: `has_expiry: false`, or `expires_at` missing, null or empty.
pub fn has_no_expiry(e: &Event) -> bool {
    if e.raw("has_expiry") == Some(&Value::Bool(false)) {
        return true;
    }
    match e.raw("expires_at") {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(_) => false,
    }
}

/// Token scopes, from an array or a comma/space separated string.
pub fn scopes(e: &Event) -> Vec<String> {
    match e.raw("scopes").or_else(|| e.raw("scope")) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(|s| s.trim().to_string())
            .collect(),
        Some(Value::String(s)) => s
            .split([',', ' '])
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

pub fn lines_changed(e: &Event) -> Option<u64> {
    ["lines_changed", "line_changed"]
        .iter()
        .find_map(|n| match e.raw(n) {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        })
}

pub fn repository(e: &Event) -> Option<&str> {
    e.raw_str(&["repository", "repo"])
}

/// Deployment environment, normalised: `prod` reads as `production`.
pub fn environment(e: &Event) -> Option<String> {
    e.raw_str(&["environment", "env"]).map(|s| {
        let s = s.trim().to_ascii_lowercase();
        if s == "prod" { "production".into() } else { s }
    })
}

pub fn bucket_name(e: &Event) -> Option<&str> {
    e.raw_str(&["bucket_name", "bucket"])
}

/// Public: `public: true` or `visibility: "public"`.
pub fn is_public(e: &Event) -> bool {
    e.raw("public") == Some(&Value::Bool(true))
        || e.raw_str(&["visibility"])
            .is_some_and(|v| v.eq_ignore_ascii_case("public"))
}
