//! API keys: `vk_<tenant>_<key id>_<secret>`. Only a SHA-256 of the secret is stored;
//! the secret has 190 bits of entropy, so a slow hash adds nothing.
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::tenant::TenantId;

/// What a key may do, in order: viewer reads; analyst also ingests, triages and
/// registers models and prompts; approver also decides (approves, rejects, retires)
/// model and prompt versions; admin also manages keys, webhooks and checkpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Analyst,
    Approver,
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "viewer" => Some(Self::Viewer),
            "analyst" => Some(Self::Analyst),
            "approver" => Some(Self::Approver),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Analyst => "analyst",
            Self::Approver => "approver",
            Self::Admin => "admin",
        }
    }

    /// Roles are ordered: each can do what the ones below it can.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

/// A key as presented by a client, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedKey {
    pub tenant: TenantId,
    pub key_id: String,
    secret: String,
}

impl PresentedKey {
    pub fn parse(s: &str) -> Option<Self> {
        let rest = s.strip_prefix("vk_")?;
        let mut parts = rest.rsplitn(3, '_');
        let secret = parts.next()?;
        let key_id = parts.next()?;
        let tenant = TenantId::parse(parts.next()?).ok()?;
        let alnum = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_alphanumeric());
        (alnum(secret) && alnum(key_id)).then(|| Self {
            tenant,
            key_id: key_id.to_string(),
            secret: secret.to_string(),
        })
    }

    /// Constant-time comparison with a stored hash.
    pub fn matches(&self, stored_hash: &str) -> bool {
        hash_secret(&self.secret)
            .as_bytes()
            .ct_eq(stored_hash.as_bytes())
            .into()
    }
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A freshly minted key: `plaintext` is shown once, `hash` is stored.
pub struct NewKey {
    pub key_id: String,
    pub plaintext: String,
    pub hash: String,
}

fn random_alnum(len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rngs::OsRng;
    (0..len)
        .map(|_| char::from(CHARS[rng.gen_range(0..CHARS.len())]))
        .collect()
}

pub fn mint_key(tenant: &TenantId) -> NewKey {
    let key_id = random_alnum(12);
    let secret = random_alnum(32);
    NewKey {
        plaintext: format!("vk_{tenant}_{key_id}_{secret}"),
        hash: hash_secret(&secret),
        key_id,
    }
}

/// The stored record of a key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub id: String,
    pub tenant: TenantId,
    pub role: Role,
    pub name: Option<String>,
    /// Hex SHA-256 of the secret; never shown.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hash: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[serde(default)]
    pub revoked: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_keys_parse_and_match_only_their_hash() {
        let t = TenantId::parse("acme-1").unwrap();
        let k = mint_key(&t);
        let p = PresentedKey::parse(&k.plaintext).unwrap();
        assert_eq!(p.tenant, t);
        assert_eq!(p.key_id, k.key_id);
        assert!(p.matches(&k.hash));
        assert!(!p.matches(&mint_key(&t).hash));
    }

    #[test]
    fn malformed_keys_are_rejected() {
        for bad in [
            "",
            "vk_",
            "vk_demo_abc",
            "xx_demo_a_b",
            "vk_Demo_a_b",
            "vk_demo_a_b!c",
        ] {
            assert!(PresentedKey::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Admin.allows(Role::Analyst));
        assert!(!Role::Viewer.allows(Role::Analyst));
        // An approver decides approvals and does what analysts do, but no admin work;
        // an admin may decide too.
        assert!(Role::Approver.allows(Role::Analyst));
        assert!(!Role::Approver.allows(Role::Admin));
        assert!(Role::Admin.allows(Role::Approver));
        assert!(!Role::Analyst.allows(Role::Approver));
        for r in [Role::Viewer, Role::Analyst, Role::Approver, Role::Admin] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
    }
}
