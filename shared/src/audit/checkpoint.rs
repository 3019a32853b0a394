//! Signed checkpoints: an Ed25519 signature over (tenant, tree size, root hash, time), so
//! an outside party holding the public key can pin the log and later check it only grew.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::entry::{format_time, truncate_micros};
use super::merkle::Hash;
use crate::domain::TenantId;

/// First line of every signed checkpoint note; changes if the format does.
pub const CHECKPOINT_ORIGIN: &str = "vigil-audit-checkpoint/v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub tenant: TenantId,
    pub tree_size: u64,
    /// Hex MTH of the first `tree_size` entries.
    pub root_hash: String,
    pub at: String,
    /// Base64 Ed25519 public key that signed it.
    pub public_key: String,
    /// Base64 Ed25519 signature over [`Checkpoint::message`].
    pub signature: String,
}

impl Checkpoint {
    /// The exact bytes signed.
    pub fn message(&self) -> String {
        note(&self.tenant, self.tree_size, &self.root_hash, &self.at)
    }

    pub fn root(&self) -> Option<Hash> {
        super::entry::decode_hash(&self.root_hash)
    }

    /// Checks the signature, against `trusted` when given (else the embedded key, which
    /// only proves integrity, not origin).
    pub fn verify(&self, trusted: Option<&VerifyingKey>) -> Result<(), CheckpointError> {
        let embedded = parse_public_key(&self.public_key)?;
        let key = match trusted {
            Some(k) if *k != embedded => return Err(CheckpointError::UntrustedKey),
            Some(k) => *k,
            None => embedded,
        };
        let sig = STANDARD
            .decode(&self.signature)
            .ok()
            .and_then(|b| Signature::from_slice(&b).ok())
            .ok_or(CheckpointError::BadSignature)?;
        key.verify(self.message().as_bytes(), &sig)
            .map_err(|_| CheckpointError::BadSignature)
    }
}

fn note(tenant: &TenantId, size: u64, root: &str, at: &str) -> String {
    format!("{CHECKPOINT_ORIGIN}\n{tenant}\n{size}\n{root}\n{at}\n")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("the audit signing key must be base64 of a 32-byte Ed25519 seed")]
    BadKey,
    #[error("the public key is not a base64 Ed25519 key")]
    BadPublicKey,
    #[error("the checkpoint signature does not verify")]
    BadSignature,
    #[error("the checkpoint was signed by a key other than the trusted one")]
    UntrustedKey,
}

/// The 32 bytes of an Ed25519 key (public, or a signing seed) given in base64.
fn key_bytes(s: &str) -> Option<[u8; 32]> {
    STANDARD
        .decode(s.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
}

pub fn parse_public_key(s: &str) -> Result<VerifyingKey, CheckpointError> {
    let bytes = key_bytes(s).ok_or(CheckpointError::BadPublicKey)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| CheckpointError::BadPublicKey)
}

/// The checkpoint signing key (from `VIGIL_AUDIT_SIGNING_KEY`). Debug never shows it.
#[derive(Clone)]
pub struct CheckpointSigner(SigningKey);

impl std::fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CheckpointSigner(public {})", self.public_key())
    }
}

impl CheckpointSigner {
    /// Parses base64 of a 32-byte seed.
    pub fn from_base64(s: &str) -> Result<Self, CheckpointError> {
        let seed = key_bytes(s).ok_or(CheckpointError::BadKey)?;
        Ok(Self(SigningKey::from_bytes(&seed)))
    }

    pub fn generate() -> Self {
        Self(SigningKey::generate(&mut rand::rngs::OsRng))
    }

    /// Base64 of the seed, for storing a generated local key.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0.to_bytes())
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.0.verifying_key()
    }

    pub fn public_key(&self) -> String {
        STANDARD.encode(self.0.verifying_key().to_bytes())
    }

    pub fn sign(
        &self,
        tenant: &TenantId,
        tree_size: u64,
        root: &Hash,
        at: DateTime<Utc>,
    ) -> Checkpoint {
        let at = format_time(truncate_micros(at));
        let root_hash = hex::encode(root);
        let sig = self
            .0
            .sign(note(tenant, tree_size, &root_hash, &at).as_bytes());
        Checkpoint {
            tenant: tenant.clone(),
            tree_size,
            root_hash,
            at,
            public_key: self.public_key(),
            signature: STANDARD.encode(sig.to_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_checkpoints_verify_and_edits_do_not() {
        let s = CheckpointSigner::generate();
        let s2 = CheckpointSigner::from_base64(&s.to_base64()).unwrap();
        assert_eq!(s.public_key(), s2.public_key());
        let t = TenantId::parse("acme").unwrap();
        let cp = s.sign(&t, 5, &[7u8; 32], Utc::now());
        cp.verify(None).unwrap();
        cp.verify(Some(&s.verifying_key())).unwrap();
        let mut bad = cp.clone();
        bad.tree_size = 4;
        assert_eq!(bad.verify(None), Err(CheckpointError::BadSignature));
        let other = CheckpointSigner::generate();
        assert_eq!(
            cp.verify(Some(&other.verifying_key())),
            Err(CheckpointError::UntrustedKey)
        );
        assert!(!format!("{s:?}").contains(&s.to_base64()));
        assert!(CheckpointSigner::from_base64("c2hvcnQ=").is_err());
    }
}
