#!/usr/bin/env python3
"""Independent RFC 9162 verifier for Vigil's audit ledger, using only the standard library.

Reads a JSON document (path as the first argument, or stdin):
  {"entries": [entry, ...],                       # optional: full ledger entries, seq 1..n
   "inclusion": [{"seq", "tree_size", "leaf_hash", "root_hash", "proof": [hex]}],
   "consistency": [{"from", "to", "first_root", "second_root", "proof": [hex]}]}

For entries it recomputes each leaf hash from the canonical JSON (sorted keys, no
whitespace) of every field but "hash", checks the chain links and recomputes the Merkle
tree hash (MTH) of every prefix it needs. Inclusion and consistency proofs are checked
with the algorithms of RFC 9162 sections 2.1.3.2 and 2.1.4.2, and their roots against
the recomputed MTH when entries are given. Exits 0 and prints "ok N checks" when all
hold, else prints the first failure and exits 1.
"""
import hashlib
import json
import sys


def sha256(data):
    return hashlib.sha256(data).digest()


def leaf_hash(data):
    return sha256(b"\x00" + data)


def node_hash(left, right):
    return sha256(b"\x01" + left + right)


def mth(leaves):
    """RFC 9162 2.1.1, recursively."""
    n = len(leaves)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def verify_inclusion(index, size, leaf, proof, root):
    """RFC 9162 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not (fn & 1) and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_root, second_root, proof):
    """RFC 9162 2.1.4.2."""
    if first > second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not (fn & 1) and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def main():
    text = open(sys.argv[1], encoding="utf-8").read() if len(sys.argv) > 1 else sys.stdin.read()
    doc = json.loads(text)
    checks = 0
    leaves = []
    prev = "0" * 64
    for i, entry in enumerate(doc.get("entries", [])):
        seq = i + 1
        body = {k: v for k, v in entry.items() if k != "hash"}
        leaf = leaf_hash(canonical(body).encode("utf-8"))
        if entry.get("seq") != seq:
            return fail(f"entry {seq}: sequence {entry.get('seq')}")
        if leaf.hex() != entry.get("hash"):
            return fail(f"entry {seq}: hash does not match its canonical encoding")
        if entry.get("prev_hash") != prev:
            return fail(f"entry {seq}: prev_hash does not link to entry {seq - 1}")
        prev = entry["hash"]
        leaves.append(leaf)
        checks += 1
    for p in doc.get("inclusion", []):
        seq, size = p["seq"], p["tree_size"]
        leaf = bytes.fromhex(p["leaf_hash"])
        root = bytes.fromhex(p["root_hash"])
        proof = [bytes.fromhex(h) for h in p["proof"]]
        if leaves:
            if size > len(leaves) or leaf != leaves[seq - 1] or root != mth(leaves[:size]):
                return fail(f"inclusion seq={seq} size={size}: leaf or root differs from the entries")
        if not verify_inclusion(seq - 1, size, leaf, proof, root):
            return fail(f"inclusion seq={seq} size={size}: proof does not verify")
        checks += 1
    for p in doc.get("consistency", []):
        first, second = p["from"], p["to"]
        r1 = bytes.fromhex(p["first_root"])
        r2 = bytes.fromhex(p["second_root"])
        proof = [bytes.fromhex(h) for h in p["proof"]]
        if leaves:
            if second > len(leaves) or r1 != mth(leaves[:first]) or r2 != mth(leaves[:second]):
                return fail(f"consistency {first}->{second}: roots differ from the entries")
        if not verify_consistency(first, second, r1, r2, proof):
            return fail(f"consistency {first}->{second}: proof does not verify")
        checks += 1
    print(f"ok {checks} checks")
    return 0


def fail(message):
    print(f"FAIL {message}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
