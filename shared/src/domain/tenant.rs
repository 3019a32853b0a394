//! Tenant identifiers: every stored key starts with one.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("tenant id must be 1-32 characters of a-z, 0-9 and '-', starting with a letter or digit")]
pub struct InvalidTenant;

impl TenantId {
    pub fn parse(s: &str) -> Result<Self, InvalidTenant> {
        let ok = !s.is_empty()
            && s.len() <= 32
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-');
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(InvalidTenant)
        }
    }
}

validated_string!(TenantId, InvalidTenant);

impl std::fmt::Display for TenantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_valid_and_rejects_invalid() {
        assert!(TenantId::parse("demo").is_ok());
        assert!(TenantId::parse("acme-01").is_ok());
        for bad in ["", "-x", "Acme", "a_b", "a#b", &"x".repeat(33)] {
            assert_eq!(TenantId::parse(bad), Err(InvalidTenant), "{bad}");
        }
    }
}
