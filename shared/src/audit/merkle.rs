//! RFC 9162 (Certificate Transparency v2) Merkle tree hashing, inclusion and consistency
//! proofs, and their verification (sections 2.1.1 to 2.1.4).
use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// Hash of a leaf: SHA-256(0x00 || data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// Hash of an interior node: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// MTH of the empty list: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Largest power of two strictly smaller than `n` (n >= 2).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// MTH(D[n]) over leaf hashes.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        _ => Tree::new(leaves.to_vec()).root(),
    }
}

/// Every level of the tree, leaves first. RFC 9162's split at the largest power of two
/// is the same as pairing left to right and carrying an odd last node up unchanged.
#[derive(Debug, Clone)]
pub struct Tree {
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    pub fn new(leaves: Vec<Hash>) -> Self {
        let mut levels = vec![leaves];
        while levels.last().is_some_and(|l| l.len() > 1) {
            let below = levels.last().map(Vec::as_slice).unwrap_or_default();
            let up = below
                .chunks(2)
                .map(|c| match c {
                    [l, r] => node_hash(l, r),
                    [x] => *x,
                    _ => empty_root(),
                })
                .collect();
            levels.push(up);
        }
        Self { levels }
    }

    pub fn size(&self) -> usize {
        self.levels.first().map_or(0, Vec::len)
    }

    pub fn leaf(&self, m: usize) -> Option<Hash> {
        self.levels.first().and_then(|l| l.get(m).copied())
    }

    pub fn root(&self) -> Hash {
        self.levels
            .last()
            .and_then(|l| l.first().copied())
            .unwrap_or_else(empty_root)
    }

    /// PATH(m, D[n]) for the whole tree, bottom-up; None when `m` is out of range.
    pub fn inclusion_proof(&self, m: usize) -> Option<Vec<Hash>> {
        if m >= self.size() {
            return None;
        }
        let mut proof = Vec::new();
        let mut i = m;
        for level in &self.levels[..self.levels.len().saturating_sub(1)] {
            let sibling = i ^ 1;
            if let Some(h) = level.get(sibling) {
                proof.push(*h);
            }
            i >>= 1;
        }
        Some(proof)
    }
}

/// The roots of the perfect subtrees of a growing tree (largest first): appends in
/// O(log n) and gives MTH of the current size without keeping every leaf.
#[derive(Debug, Clone, Default)]
pub struct Frontier {
    /// (height, hash) of each perfect subtree, left to right.
    nodes: Vec<(u32, Hash)>,
    size: u64,
}

impl Frontier {
    pub fn push(&mut self, leaf: Hash) {
        let mut node = (0u32, leaf);
        while let Some(&(h, left)) = self.nodes.last() {
            if h != node.0 {
                break;
            }
            self.nodes.pop();
            node = (h + 1, node_hash(&left, &node.1));
        }
        self.nodes.push(node);
        self.size += 1;
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// MTH of the leaves pushed so far: the subtrees folded right to left.
    pub fn root(&self) -> Hash {
        let mut it = self.nodes.iter().rev();
        let Some(&(_, mut acc)) = it.next() else {
            return empty_root();
        };
        for (_, left) in it {
            acc = node_hash(left, &acc);
        }
        acc
    }
}

/// PATH(m, D[n]) straight from RFC 9162 2.1.3.1 (used to cross-check [`Tree`]).
pub fn inclusion_proof(leaves: &[Hash], m: usize) -> Option<Vec<Hash>> {
    let n = leaves.len();
    if m >= n {
        return None;
    }
    if n == 1 {
        return Some(Vec::new());
    }
    let k = split(n);
    let (mut path, sibling) = if m < k {
        (inclusion_proof(&leaves[..k], m)?, root(&leaves[k..]))
    } else {
        (inclusion_proof(&leaves[k..], m - k)?, root(&leaves[..k]))
    };
    path.push(sibling);
    Some(path)
}

/// PROOF(m, D[n]) of RFC 9162 2.1.4.1: the log of size `m` is a prefix of `leaves`.
/// None unless 0 < m <= n.
pub fn consistency_proof(leaves: &[Hash], m: usize) -> Option<Vec<Hash>> {
    if m == 0 || m > leaves.len() {
        return None;
    }
    Some(subproof(m, leaves, true))
}

fn subproof(m: usize, leaves: &[Hash], complete: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if complete {
            Vec::new()
        } else {
            vec![root(leaves)]
        };
    }
    let k = split(n);
    if m <= k {
        let mut p = subproof(m, &leaves[..k], complete);
        p.push(root(&leaves[k..]));
        p
    } else {
        let mut p = subproof(m - k, &leaves[k..], false);
        p.push(root(&leaves[..k]));
        p
    }
}

/// RFC 9162 2.1.3.2: is `leaf` at `index` in the tree of `size` leaves with `root`?
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    expected_root: &Hash,
) -> bool {
    if index >= size {
        return false;
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && r == *expected_root
}

/// RFC 9162 2.1.4.2: does the tree of `second` leaves (root `second_root`) extend the one
/// of `first` leaves (root `first_root`)?
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> bool {
    if first > second {
        return false;
    }
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    if first == 0 {
        return proof.is_empty();
    }
    if proof.is_empty() {
        return false;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let (mut fnode, mut snode) = (first - 1, second - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let mut fr = path[0];
    let mut sr = path[0];
    for c in &path[1..] {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    fr == *first_root && sr == *second_root && snode == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    /// MTH exactly as RFC 9162 2.1.1 defines it, recursively.
    fn mth(d: &[Hash]) -> Hash {
        match d.len() {
            0 => empty_root(),
            1 => d[0],
            n => {
                let k = split(n);
                node_hash(&mth(&d[..k]), &mth(&d[k..]))
            }
        }
    }

    #[test]
    fn known_answers() {
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        // Leaf hash of the empty string, as in the CT test vectors.
        assert_eq!(
            hex::encode(leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }

    #[test]
    fn tree_matches_the_recursive_definition() {
        for n in 1..70 {
            let d = leaves(n);
            let t = Tree::new(d.clone());
            assert_eq!(t.root(), mth(&d), "n={n}");
            for m in 0..n {
                assert_eq!(t.inclusion_proof(m), inclusion_proof(&d, m), "n={n} m={m}");
            }
        }
    }

    #[test]
    fn frontier_roots_match() {
        let d = leaves(100);
        let mut f = Frontier::default();
        for (i, l) in d.iter().enumerate() {
            f.push(*l);
            assert_eq!(f.root(), mth(&d[..=i]), "size {}", i + 1);
        }
    }

    #[test]
    fn proofs_verify_and_tampered_ones_do_not() {
        for n in 1..40usize {
            let d = leaves(n);
            let r = root(&d);
            for m in 0..n {
                let p = inclusion_proof(&d, m).unwrap();
                assert!(verify_inclusion(m as u64, n as u64, &d[m], &p, &r));
                assert!(!verify_inclusion(
                    m as u64,
                    n as u64,
                    &leaf_hash(b"x"),
                    &p,
                    &r
                ));
                if let Some(first) = p.first() {
                    let mut bad = p.clone();
                    bad[0] = node_hash(first, first);
                    assert!(!verify_inclusion(m as u64, n as u64, &d[m], &bad, &r));
                }
            }
            for m in 1..=n {
                let p = consistency_proof(&d, m).unwrap();
                let old = root(&d[..m]);
                assert!(
                    verify_consistency(m as u64, n as u64, &old, &r, &p),
                    "m={m} n={n}"
                );
                if m < n {
                    assert!(!verify_consistency(
                        m as u64,
                        n as u64,
                        &leaf_hash(b"x"),
                        &r,
                        &p
                    ));
                    let mut other = d.clone();
                    other[m - 1] = leaf_hash(b"changed");
                    assert!(!verify_consistency(
                        m as u64,
                        n as u64,
                        &root(&other[..m]),
                        &r,
                        &p
                    ));
                }
            }
        }
    }
}
