//! Encryption of stored secrets. Webhook signing secrets must be usable for signing, so
//! they are sealed with AES-256-GCM under `VIGIL_SECRET_KEY` rather than hashed. The
//! associated data binds a ciphertext to its owner, so it cannot be moved to another
//! tenant's endpoint.
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use serde::{Deserialize, Serialize};

const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    #[error("the secret key must be base64 of exactly 32 bytes")]
    BadKey,
    #[error("a sealed secret is malformed")]
    Malformed,
    #[error("a sealed secret does not open with this key (wrong key or tampered)")]
    Open,
    #[error("sealing failed")]
    Seal,
}

/// The AES-256-GCM key that seals stored secrets.
#[derive(Clone)]
pub struct SecretKey {
    cipher: Aes256Gcm,
    raw: [u8; KEY_BYTES],
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// A sealed value as stored: base64 nonce and ciphertext (with its tag).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    pub nonce: String,
    pub ciphertext: String,
}

impl SecretKey {
    fn from_raw(raw: [u8; KEY_BYTES]) -> Result<Self, CipherError> {
        let cipher = Aes256Gcm::new_from_slice(&raw).map_err(|_| CipherError::BadKey)?;
        Ok(Self { cipher, raw })
    }

    /// Parses `VIGIL_SECRET_KEY`: base64 of 32 bytes.
    pub fn parse_base64(s: &str) -> Result<Self, CipherError> {
        let bytes = STANDARD.decode(s.trim()).map_err(|_| CipherError::BadKey)?;
        let raw: [u8; KEY_BYTES] = bytes.try_into().map_err(|_| CipherError::BadKey)?;
        Self::from_raw(raw)
    }

    pub fn generate() -> Result<Self, CipherError> {
        let mut raw = [0u8; KEY_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        Self::from_raw(raw)
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.raw)
    }

    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Sealed, CipherError> {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| CipherError::Seal)?;
        Ok(Sealed {
            nonce: STANDARD.encode(nonce),
            ciphertext: STANDARD.encode(ciphertext),
        })
    }

    pub fn open(&self, sealed: &Sealed, aad: &[u8]) -> Result<Vec<u8>, CipherError> {
        let nonce = STANDARD
            .decode(&sealed.nonce)
            .map_err(|_| CipherError::Malformed)?;
        if nonce.len() != NONCE_BYTES {
            return Err(CipherError::Malformed);
        }
        let ciphertext = STANDARD
            .decode(&sealed.ciphertext)
            .map_err(|_| CipherError::Malformed)?;
        self.cipher
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &ciphertext,
                    aad,
                },
            )
            .map_err(|_| CipherError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_only_with_the_same_key_and_owner() {
        let k = SecretKey::generate().unwrap();
        let sealed = k.seal(b"whsec_abc", b"acme/ep1").unwrap();
        assert!(!sealed.ciphertext.contains("whsec"));
        assert_eq!(k.open(&sealed, b"acme/ep1").unwrap(), b"whsec_abc");
        assert_eq!(k.open(&sealed, b"other/ep1"), Err(CipherError::Open));
        let k2 = SecretKey::generate().unwrap();
        assert_eq!(k2.open(&sealed, b"acme/ep1"), Err(CipherError::Open));
        // Two seals of one value differ (fresh nonce each time).
        assert_ne!(k.seal(b"x", b"a").unwrap(), k.seal(b"x", b"a").unwrap());
    }

    #[test]
    fn keys_parse_from_base64_of_32_bytes() {
        let k = SecretKey::generate().unwrap();
        let again = SecretKey::parse_base64(&k.to_base64()).unwrap();
        let sealed = k.seal(b"v", b"").unwrap();
        assert_eq!(again.open(&sealed, b"").unwrap(), b"v");
        assert_eq!(
            SecretKey::parse_base64("c2hvcnQ=").unwrap_err(),
            CipherError::BadKey
        );
        assert_eq!(format!("{k:?}"), "SecretKey(..)");
    }
}
