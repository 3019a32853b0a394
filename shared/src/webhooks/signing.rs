//! Message signing. Standard Webhooks v1 (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{ts}.{body}")>`) so any receiver
//! can verify with an off-the-shelf library, plus the seed's `X-Vigil-Signature:
//! sha256=<hex HMAC-SHA256 over the body>` for receivers written against it. The legacy
//! header is keyed with the secret string exactly as shown (`whsec_...`), as receivers of
//! the seed used the string they were handed.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

pub const SECRET_PREFIX: &str = "whsec_";
pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";
pub const HEADER_LEGACY: &str = "x-vigil-signature";
/// Bytes of key material in a generated secret.
const SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("a signing secret starts with whsec_")]
    Prefix,
    #[error("the signing secret is not valid base64")]
    Base64,
    #[error("the signing secret is too short")]
    TooShort,
}

/// A webhook signing secret; the HMAC key is the base64-decoded part after `whsec_`.
#[derive(Clone)]
pub struct SigningSecret {
    key: Vec<u8>,
    /// Keyed MACs, ready to clone per message.
    v1: HmacSha256,
    legacy: HmacSha256,
}

impl PartialEq for SigningSecret {
    fn eq(&self, other: &Self) -> bool {
        self.key.ct_eq(&other.key).into()
    }
}

impl Eq for SigningSecret {}

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(..)")
    }
}

impl SigningSecret {
    fn from_key(key: Vec<u8>) -> Result<Self, SecretError> {
        if key.len() < 16 {
            return Err(SecretError::TooShort);
        }
        let exposed = format!("{SECRET_PREFIX}{}", STANDARD.encode(&key));
        let v1 = <HmacSha256 as Mac>::new_from_slice(&key).map_err(|_| SecretError::TooShort)?;
        let legacy = <HmacSha256 as Mac>::new_from_slice(exposed.as_bytes())
            .map_err(|_| SecretError::TooShort)?;
        Ok(Self { key, v1, legacy })
    }

    pub fn generate() -> Result<Self, SecretError> {
        let mut key = vec![0u8; SECRET_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self::from_key(key)
    }

    pub fn parse(s: &str) -> Result<Self, SecretError> {
        let b64 = s.strip_prefix(SECRET_PREFIX).ok_or(SecretError::Prefix)?;
        let key = STANDARD.decode(b64).map_err(|_| SecretError::Base64)?;
        Self::from_key(key)
    }

    /// The secret as handed to the receiver: `whsec_<base64>`.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.key))
    }
}

/// The Standard Webhooks v1 signature of one message: `v1,<base64>`.
pub fn sign_v1(secret: &SigningSecret, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut m = secret.v1.clone();
    m.update(msg_id.as_bytes());
    m.update(b".");
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    format!("v1,{}", STANDARD.encode(m.finalize().into_bytes()))
}

/// The `webhook-signature` header: one `v1,` signature per active secret, space-separated,
/// so receivers holding either secret verify during a rotation.
pub fn signature_header(
    secrets: &[SigningSecret],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|s| sign_v1(s, msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The seed's header value: `sha256=<hex HMAC-SHA256(secret string, body)>`.
pub fn legacy_signature(secret: &SigningSecret, body: &[u8]) -> String {
    let mut m = secret.legacy.clone();
    m.update(body);
    format!("sha256={}", hex::encode(m.finalize().into_bytes()))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the webhook-timestamp header is not a unix time")]
    BadTimestamp,
    #[error("the message timestamp is outside the tolerance")]
    Stale,
    #[error("no signature matches")]
    NoMatch,
}

/// Verifies a received message as a receiver would (constant-time comparison).
pub fn verify(
    secret: &SigningSecret,
    msg_id: &str,
    timestamp: &str,
    signature_header: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), VerifyError> {
    let ts: i64 = timestamp.parse().map_err(|_| VerifyError::BadTimestamp)?;
    if (now - ts).abs() > tolerance_secs {
        return Err(VerifyError::Stale);
    }
    let expected = sign_v1(secret, msg_id, ts, body);
    let found = signature_header
        .split(' ')
        .any(|sig| bool::from(sig.as_bytes().ct_eq(expected.as_bytes())));
    if found {
        Ok(())
    } else {
        Err(VerifyError::NoMatch)
    }
}

/// Canonical JSON: object keys sorted, no insignificant whitespace, so a body signs the
/// same whichever library produced it.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(k) {
                    write_canonical(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;

    #[test]
    fn standard_webhooks_known_answer() {
        let s = SigningSecret::parse(SECRET).unwrap();
        assert_eq!(
            sign_v1(&s, ID, TS, BODY),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_eq!(s.expose(), SECRET);
    }

    #[test]
    fn verification_accepts_any_listed_signature_and_rejects_tampering() {
        let old = SigningSecret::parse(SECRET).unwrap();
        let new = SigningSecret::generate().unwrap();
        let header = signature_header(&[new.clone(), old.clone()], ID, TS, BODY);
        assert_eq!(header.split(' ').count(), 2);
        assert_eq!(
            verify(&old, ID, "1614265330", &header, BODY, TS, 300),
            Ok(())
        );
        assert_eq!(
            verify(&new, ID, "1614265330", &header, BODY, TS + 10, 300),
            Ok(())
        );
        let other = SigningSecret::generate().unwrap();
        assert_eq!(
            verify(&other, ID, "1614265330", &header, BODY, TS, 300),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            verify(&old, ID, "1614265330", &header, b"{}", TS, 300),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            verify(&old, ID, "1614265330", &header, BODY, TS + 301, 300),
            Err(VerifyError::Stale)
        );
    }

    #[test]
    fn legacy_header_is_hex_hmac_of_the_body_keyed_by_the_secret_string() {
        let s = SigningSecret::parse(SECRET).unwrap();
        let mut m = <HmacSha256 as Mac>::new_from_slice(SECRET.as_bytes()).unwrap();
        m.update(BODY);
        let want = format!("sha256={}", hex::encode(m.finalize().into_bytes()));
        assert_eq!(legacy_signature(&s, BODY), want);
        assert_eq!(want.len(), "sha256=".len() + 64);
    }

    #[test]
    fn secrets_parse_strictly_and_generate_fresh() {
        assert_eq!(SigningSecret::parse("MfKQ9r8G"), Err(SecretError::Prefix));
        assert_eq!(SigningSecret::parse("whsec_%%%"), Err(SecretError::Base64));
        assert_eq!(
            SigningSecret::parse("whsec_AAAA"),
            Err(SecretError::TooShort)
        );
        let a = SigningSecret::generate().unwrap();
        assert_ne!(a, SigningSecret::generate().unwrap());
        assert_eq!(SigningSecret::parse(&a.expose()).unwrap(), a);
        assert_eq!(format!("{a:?}"), "SigningSecret(..)");
    }

    #[test]
    fn canonical_json_sorts_keys_and_drops_whitespace() {
        let v = json!({"b": [1, {"z": null, "a": "x\"y"}], "a": true, "c": 1.5});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":true,"b":[1,{"a":"x\"y","z":null}],"c":1.5}"#
        );
    }
}
