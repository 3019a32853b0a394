//! A sealed secret with rotation: the current secret and, for a while after a rotation,
//! the previous one. Webhook endpoints sign with it; log sources verify with it. The
//! associated data names the owner, so a sealed secret cannot be moved to another one.
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::cipher::{CipherError, Sealed, SecretKey};
use super::endpoint::EndpointSecretError;
use super::signing::SigningSecret;

/// How long a rotated-out secret keeps working alongside the new one.
pub const ROTATION_OVERLAP_HOURS: i64 = 24;

/// A secret as stored: sealed, with the time it stops working (rotated out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredSecret {
    pub sealed: Sealed,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// Newest first; at most two (the current one and, for a day, the previous one).
/// Stored as the plain list, as endpoints always stored their secrets.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretRing(Vec<StoredSecret>);

impl SecretRing {
    /// A ring holding one fresh secret (the only time it is returned in clear).
    pub fn create(
        key: &SecretKey,
        aad: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(Self, SigningSecret), EndpointSecretError> {
        let secret = SigningSecret::generate()?;
        let sealed = key.seal(secret.expose().as_bytes(), aad)?;
        Ok((
            Self(vec![StoredSecret {
                sealed,
                created_at: now,
                expires_at: None,
            }]),
            secret,
        ))
    }

    /// A ring holding `secret`, given rather than generated (imports, fixtures).
    pub fn holding(
        key: &SecretKey,
        aad: &[u8],
        secret: &SigningSecret,
        now: DateTime<Utc>,
    ) -> Result<Self, EndpointSecretError> {
        let sealed = key.seal(secret.expose().as_bytes(), aad)?;
        Ok(Self(vec![StoredSecret {
            sealed,
            created_at: now,
            expires_at: None,
        }]))
    }

    /// Replaces the secret; the previous one keeps working for [`ROTATION_OVERLAP_HOURS`].
    pub fn rotate(
        &mut self,
        key: &SecretKey,
        aad: &[u8],
        now: DateTime<Utc>,
    ) -> Result<SigningSecret, EndpointSecretError> {
        let secret = SigningSecret::generate()?;
        let sealed = key.seal(secret.expose().as_bytes(), aad)?;
        let overlap_end = now + Duration::hours(ROTATION_OVERLAP_HOURS);
        let mut old: Vec<StoredSecret> = self
            .0
            .drain(..)
            .filter(|s| s.expires_at.is_none_or(|e| e > now))
            .map(|mut s| {
                s.expires_at = Some(s.expires_at.map_or(overlap_end, |e| e.min(overlap_end)));
                s
            })
            .collect();
        // Only the most recent previous secret overlaps.
        old.truncate(1);
        self.0 = vec![StoredSecret {
            sealed,
            created_at: now,
            expires_at: None,
        }];
        self.0.extend(old);
        Ok(secret)
    }

    /// The secrets in force at `now`, newest first.
    pub fn active(
        &self,
        key: &SecretKey,
        aad: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Vec<SigningSecret>, EndpointSecretError> {
        self.0
            .iter()
            .filter(|s| s.expires_at.is_none_or(|e| e > now))
            .map(|s| {
                let plain = key.open(&s.sealed, aad)?;
                let text = String::from_utf8(plain).map_err(|_| CipherError::Malformed)?;
                Ok(SigningSecret::parse(&text)?)
            })
            .collect()
    }

    /// When the previous secret stops working, if a rotation is under way.
    pub fn rotation_ends_at(&self) -> Option<DateTime<Utc>> {
        self.0.iter().filter_map(|s| s.expires_at).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
            .unwrap()
            .to_utc()
    }

    #[test]
    fn rotation_overlaps_for_a_day_and_the_owner_is_bound() {
        let key = SecretKey::generate().unwrap();
        let (mut ring, first) = SecretRing::create(&key, b"a", now()).unwrap();
        assert_eq!(ring.rotation_ends_at(), None);
        let second = ring.rotate(&key, b"a", now()).unwrap();
        let later = now() + Duration::hours(23);
        assert_eq!(
            ring.active(&key, b"a", later).unwrap(),
            vec![second.clone(), first]
        );
        assert_eq!(
            ring.active(&key, b"a", now() + Duration::hours(24))
                .unwrap(),
            vec![second]
        );
        assert!(ring.active(&key, b"b", now()).is_err());
        assert!(!serde_json::to_string(&ring).unwrap().contains("whsec_"));
    }
}
