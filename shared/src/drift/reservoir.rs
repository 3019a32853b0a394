//! A bounded uniform sample that does not depend on arrival order: bottom-k by a hash of
//! (row id, feature). Each value's key is fixed by its row, so the k smallest keys of
//! any union are the same whichever order or batching the rows came in, and merging the
//! samples of two windows gives exactly the sample of their union.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// Values kept per feature and window unless configured otherwise.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// SplitMix64's finaliser: spreads a 64-bit input over all output bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The first 8 bytes of SHA-256 of `s`.
pub fn hash_str(s: &str) -> u64 {
    let d = Sha256::digest(s.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_be_bytes(b)
}

/// The sampling key of one value: its row's hash combined with its feature's, so each
/// feature samples its own rows.
pub fn key(row_hash: u64, feature_hash: u64) -> u64 {
    mix(row_hash ^ mix(feature_hash))
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reservoir {
    /// (key, value), ascending by key then value, at most the capacity.
    entries: Vec<(u64, f64)>,
}

impl Reservoir {
    /// A sample of `entries` (in any order), keeping the `cap` smallest keys.
    pub fn from_entries(mut entries: Vec<(u64, f64)>, cap: usize) -> Self {
        entries.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        // One key is one (row, feature): a repeat is the same value seen twice.
        entries.dedup_by_key(|e| e.0);
        entries.truncate(cap);
        Self { entries }
    }

    /// The sample of the union of `self` and `other`.
    pub fn merge(&mut self, other: &Reservoir, cap: usize) {
        let mut all = std::mem::take(&mut self.entries);
        all.extend_from_slice(&other.entries);
        *self = Self::from_entries(all, cap);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn values(&self) -> Vec<f64> {
        self.entries.iter().map(|e| e.1).collect()
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * 16);
        for (k, v) in &self.entries {
            out.extend_from_slice(&k.to_le_bytes());
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    fn from_bytes(b: &[u8]) -> Option<Self> {
        if b.len() % 16 != 0 {
            return None;
        }
        let entries = b
            .chunks_exact(16)
            .map(|c| {
                let mut k = [0u8; 8];
                let mut v = [0u8; 8];
                k.copy_from_slice(&c[..8]);
                v.copy_from_slice(&c[8..]);
                (u64::from_le_bytes(k), f64::from_le_bytes(v))
            })
            .collect();
        Some(Self { entries })
    }
}

/// Stored packed (16 bytes a value, base64): 10,000 values fit one DynamoDB item.
impl Serialize for Reservoir {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(self.to_bytes()))
    }
}

impl<'de> Deserialize<'de> for Reservoir {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let bytes = STANDARD
            .decode(s.as_bytes())
            .map_err(serde::de::Error::custom)?;
        Self::from_bytes(&bytes).ok_or_else(|| serde::de::Error::custom("reservoir length"))
    }
}

/// Plain values stored packed (8 bytes each, base64), for reference samples.
pub mod packed_values {
    use super::*;

    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        let s = String::deserialize(d)?;
        let bytes = STANDARD
            .decode(s.as_bytes())
            .map_err(serde::de::Error::custom)?;
        if bytes.len() % 8 != 0 {
            return Err(serde::de::Error::custom("packed values length"));
        }
        Ok(bytes
            .chunks_exact(8)
            .map(|c| {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                f64::from_le_bytes(b)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(rows: std::ops::Range<u32>) -> Vec<(u64, f64)> {
        let f = hash_str("age");
        rows.map(|r| (key(hash_str(&format!("row-{r}")), f), f64::from(r)))
            .collect()
    }

    #[test]
    fn any_order_and_batching_gives_the_same_sample() {
        let whole = Reservoir::from_entries(entries(0..5_000), 100);
        let mut reversed = entries(0..5_000);
        reversed.reverse();
        assert_eq!(Reservoir::from_entries(reversed, 100), whole);
        let mut merged = Reservoir::from_entries(entries(3_000..5_000), 100);
        merged.merge(&Reservoir::from_entries(entries(0..3_000), 100), 100);
        // Redelivering a batch changes nothing either.
        merged.merge(&Reservoir::from_entries(entries(0..3_000), 100), 100);
        assert_eq!(merged, whole);
        assert_eq!(whole.len(), 100);
    }

    #[test]
    fn the_sample_is_spread_over_the_rows_and_survives_storage() {
        let r = Reservoir::from_entries(entries(0..10_000), 1_000);
        let low = r.values().iter().filter(|v| **v < 5_000.0).count();
        // A uniform sample of 1,000 has about 500 below the median (±5 sd ≈ ±80).
        assert!((420..=580).contains(&low), "{low}");
        let json = serde_json::to_string(&r).unwrap();
        let back: Reservoir = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
    }
}
