//! The audit ledger against both store families (embedded SQLite and DynamoDB on moto):
//! tampering with stored items is detected and located, concurrent appenders keep one
//! chain, and our proofs pass an independent RFC 9162 verifier written in Python.
//!
//! The moto family needs `VIGIL_MOTO_URL`; without it those tests print a skip line and
//! pass, unless `VIGIL_REQUIRE_MOTO=1`.
mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use vigil_shared::retry::Contention;

use chrono::Utc;
use serde_json::{Value, json};
use vigil_shared::adapters::aws::{DynamoStore, provision};
use vigil_shared::adapters::embedded::{EmbeddedDb, EmbeddedStore};
use vigil_shared::audit::ledger as audit_ledger;
use vigil_shared::audit::{
    self, Actor, AuditDraft, AuditEntry, BreakKind, CheckpointSigner, GENESIS_HASH, Report,
};
use vigil_shared::domain::TenantId;
use vigil_shared::ports::{
    Condition, Item, ItemStore, ManualClock, Page, Query, StoreError, WriteOp,
};
use vigil_shared::repo::audit as ledger;
use vigil_shared::repo::storage_keys::audit as k;

type Store = Arc<dyn ItemStore>;

async fn embedded(_test: &str) -> Option<Store> {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let db = EmbeddedDb::in_memory(clock).expect("in-memory database");
    Some(Arc::new(EmbeddedStore::new(db)))
}

async fn moto(test: &str) -> Option<Store> {
    let config = support::moto_sdk(&format!("moto::{test}")).await?;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = format!("vigil-audit-{}", uuid::Uuid::new_v4().simple());
    provision::create_table(&client, &table)
        .await
        .expect("create table on moto");
    Some(Arc::new(Watched::new(
        Arc::new(DynamoStore::new(client, table)),
        true,
    )))
}

/// A store that counts the writes that lost a race (to show the concurrency test really
/// contends) and, when `one_at_a_time`, makes its writes one at a time.
///
/// moto's TransactWriteItems is not isolated between its server threads: a cancelled
/// transaction restores a snapshot of the whole table taken when it began, erasing what
/// other requests committed meanwhile (DynamoDB itself isolates transactions). So against
/// moto the write calls themselves go one at a time; reads, prepares and the lost
/// conditional races they cause stay concurrent.
struct Watched {
    inner: Store,
    one_at_a_time: Option<tokio::sync::Mutex<()>>,
    lost: AtomicUsize,
}

impl Watched {
    fn new(inner: Store, one_at_a_time: bool) -> Self {
        Self {
            inner,
            one_at_a_time: one_at_a_time.then(|| tokio::sync::Mutex::new(())),
            lost: AtomicUsize::new(0),
        }
    }
}

#[async_trait::async_trait]
impl ItemStore for Watched {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        self.inner.get(pk, sk).await
    }
    async fn query(&self, q: &Query) -> Result<Page, StoreError> {
        self.inner.query(q).await
    }
    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        let _one = match &self.one_at_a_time {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        let r = self.inner.write(ops).await;
        if r.as_ref().is_err_and(Contention::is_contention) {
            self.lost.fetch_add(1, Ordering::Relaxed);
        }
        r
    }
}

fn tenant() -> TenantId {
    TenantId::parse("acme").unwrap()
}

fn draft(i: u64) -> AuditDraft {
    AuditDraft::new(
        Actor::key(&format!("key{}", i % 3)),
        if i % 2 == 0 {
            "finding.update"
        } else {
            "api_key.create"
        },
        "finding",
        format!("f{i}"),
    )
    .request_id(Some(format!("req-{i}")))
    .before(&json!({"status": "open", "n": i}))
    .after(&json!({"status": "resolved", "n": i, "note": "ünïcode ✓ \"quoted\"\n"}))
}

/// A ledger of `n` entries.
async fn seed(store: &dyn ItemStore, n: u64) {
    for i in 1..=n {
        audit::append(store, &tenant(), &draft(i), Utc::now())
            .await
            .unwrap();
    }
}

async fn verify(store: &dyn ItemStore) -> Report {
    audit_ledger::verify_range(store, &tenant(), None, None, None)
        .await
        .unwrap()
}

async fn raw(store: &dyn ItemStore, seq: u64) -> vigil_shared::ports::Item {
    store
        .get(&k::ledger_pk(&tenant()), &k::entry_sk(seq))
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("entry {seq} stored"))
}

async fn put_raw(store: &dyn ItemStore, item: vigil_shared::ports::Item) {
    store
        .write(vec![WriteOp::put(item, Condition::None)])
        .await
        .unwrap();
}

async fn delete_raw(store: &dyn ItemStore, seq: u64) {
    store
        .write(vec![WriteOp::Delete {
            pk: k::ledger_pk(&tenant()),
            sk: k::entry_sk(seq),
            condition: Condition::None,
        }])
        .await
        .unwrap();
}

fn entry_of(item: &vigil_shared::ports::Item) -> AuditEntry {
    serde_json::from_value(item.data.clone()).unwrap()
}

/// Stores `e` at the key of `seq` (re-hashed first when `rehash`).
async fn store_entry(store: &dyn ItemStore, seq: u64, mut e: AuditEntry, rehash: bool) {
    if rehash {
        e.hash = hex::encode(e.compute_hash());
    }
    let mut item = raw(store, seq).await;
    item.data = serde_json::to_value(&e).unwrap();
    put_raw(store, item).await;
}

fn assert_break(r: &Report, kind: BreakKind, seq: u64) {
    let b = r
        .first_break
        .as_ref()
        .unwrap_or_else(|| panic!("expected a {kind:?} break at {seq}, the log verified"));
    assert!(!r.ok);
    assert_eq!((b.kind, b.seq), (kind, seq), "{}", b.detail);
}

// ---------------------------------------------------------------------------------------
// Tests, run for each family

async fn intact_log_verifies(store: Store) {
    seed(store.as_ref(), 12).await;
    let r = verify(store.as_ref()).await;
    assert!(r.ok, "{:?}", r.first_break);
    assert_eq!((r.entries_checked, r.to), (12, 12));
    let signer = CheckpointSigner::generate();
    let cp = audit_ledger::create_checkpoint(store.as_ref(), &tenant(), &signer, Utc::now())
        .await
        .unwrap();
    assert_eq!(cp.tree_size, 12);
    assert_eq!(Some(cp.root_hash.clone()), r.root_hash);
    seed(store.as_ref(), 3).await;
    let r = audit_ledger::verify_range(
        store.as_ref(),
        &tenant(),
        None,
        None,
        Some(&signer.verifying_key()),
    )
    .await
    .unwrap();
    assert!(r.ok, "{:?}", r.first_break);
    assert_eq!(r.checkpoints_checked, 1);
    // A sub-range verifies on its own.
    let r = audit_ledger::verify_range(store.as_ref(), &tenant(), Some(4), Some(9), None)
        .await
        .unwrap();
    assert!(r.ok && r.from == 4 && r.to == 9 && r.entries_checked == 6);
}

async fn changed_resource_id_is_located(store: Store) {
    seed(store.as_ref(), 10).await;
    let mut e = entry_of(&raw(store.as_ref(), 5).await);
    e.resource_id = "someone-else".into();
    store_entry(store.as_ref(), 5, e, false).await;
    assert_break(&verify(store.as_ref()).await, BreakKind::Modified, 5);
    // A broken log is never signed.
    let signer = CheckpointSigner::generate();
    let refused =
        audit_ledger::create_checkpoint(store.as_ref(), &tenant(), &signer, Utc::now()).await;
    assert!(
        matches!(refused, Err(audit::AuditError::Broken(ref b)) if b.seq == 5),
        "{refused:?}"
    );
}

async fn changed_field_with_recomputed_hash_is_located(store: Store) {
    seed(store.as_ref(), 10).await;
    let mut e = entry_of(&raw(store.as_ref(), 6).await);
    e.after = Some(json!({"status": "open"}));
    store_entry(store.as_ref(), 6, e, true).await;
    // Entry 7 still links to the original hash of 6.
    assert_break(&verify(store.as_ref()).await, BreakKind::Modified, 6);
}

async fn changed_tail_with_fixed_head_is_caught_by_the_checkpoint(store: Store) {
    seed(store.as_ref(), 8).await;
    let signer = CheckpointSigner::generate();
    audit_ledger::create_checkpoint(store.as_ref(), &tenant(), &signer, Utc::now())
        .await
        .unwrap();
    seed(store.as_ref(), 4).await;
    audit_ledger::create_checkpoint(store.as_ref(), &tenant(), &signer, Utc::now())
        .await
        .unwrap();
    // The attacker re-hashes the last entry and updates the head to match: the chain
    // alone cannot tell, the signed root can (and bounds it to entries 9..12).
    let mut e = entry_of(&raw(store.as_ref(), 12).await);
    e.actor = Actor::key("innocent");
    e.hash = hex::encode(e.compute_hash());
    store_entry(store.as_ref(), 12, e.clone(), false).await;
    let mut head = store
        .get(&k::ledger_pk(&tenant()), k::HEAD_SK)
        .await
        .unwrap()
        .unwrap();
    head.data["hash"] = Value::String(e.hash.clone());
    put_raw(store.as_ref(), head).await;
    let r = verify(store.as_ref()).await;
    assert_break(&r, BreakKind::Modified, 9);
    assert!(r.first_break.unwrap().detail.contains("9..12"));
}

async fn deleted_entry_is_located(store: Store) {
    seed(store.as_ref(), 10).await;
    delete_raw(store.as_ref(), 4).await;
    assert_break(&verify(store.as_ref()).await, BreakKind::Deleted, 4);
}

async fn deleted_and_renumbered_entries_are_located(store: Store) {
    seed(store.as_ref(), 8).await;
    // Remove 4 and shift 5..8 down one place, keeping their (now wrong) sequence numbers.
    for seq in 5..=8 {
        let item = raw(store.as_ref(), seq).await;
        let mut moved = item.clone();
        moved.sk = k::entry_sk(seq - 1);
        put_raw(store.as_ref(), moved).await;
    }
    delete_raw(store.as_ref(), 8).await;
    assert_break(&verify(store.as_ref()).await, BreakKind::Deleted, 4);
}

async fn inserted_entry_is_located(store: Store) {
    seed(store.as_ref(), 8).await;
    // Shift 5..8 up one place and forge a well-formed entry 5 linking to 4.
    for seq in (5..=8).rev() {
        let mut moved = raw(store.as_ref(), seq).await;
        moved.sk = k::entry_sk(seq + 1);
        put_raw(store.as_ref(), moved).await;
    }
    let four = entry_of(&raw(store.as_ref(), 4).await);
    let forged = AuditEntry::seal(&tenant(), &draft(99), 5, Utc::now(), &four.hash);
    store_entry(store.as_ref(), 5, forged, false).await;
    assert_break(&verify(store.as_ref()).await, BreakKind::Inserted, 5);
}

async fn entry_appended_behind_the_ledger_is_located(store: Store) {
    seed(store.as_ref(), 6).await;
    let six = entry_of(&raw(store.as_ref(), 6).await);
    let forged = AuditEntry::seal(&tenant(), &draft(7), 7, Utc::now(), &six.hash);
    let mut item = raw(store.as_ref(), 6).await;
    item.sk = k::entry_sk(7);
    item.data = serde_json::to_value(&forged).unwrap();
    put_raw(store.as_ref(), item).await;
    assert_break(&verify(store.as_ref()).await, BreakKind::Inserted, 7);
}

async fn reordered_entries_are_located(store: Store) {
    seed(store.as_ref(), 8).await;
    let a = raw(store.as_ref(), 3).await;
    let b = raw(store.as_ref(), 4).await;
    let (mut a2, mut b2) = (a.clone(), b.clone());
    a2.data = b.data.clone();
    b2.data = a.data.clone();
    put_raw(store.as_ref(), a2).await;
    put_raw(store.as_ref(), b2).await;
    assert_break(&verify(store.as_ref()).await, BreakKind::Reordered, 3);
}

async fn truncated_tail_is_located(store: Store) {
    seed(store.as_ref(), 10).await;
    for seq in 8..=10 {
        delete_raw(store.as_ref(), seq).await;
    }
    assert_break(&verify(store.as_ref()).await, BreakKind::Truncated, 8);
}

async fn truncated_tail_with_rewound_head_is_caught_by_the_checkpoint(store: Store) {
    seed(store.as_ref(), 10).await;
    let signer = CheckpointSigner::generate();
    audit_ledger::create_checkpoint(store.as_ref(), &tenant(), &signer, Utc::now())
        .await
        .unwrap();
    let seven = entry_of(&raw(store.as_ref(), 7).await);
    for seq in 8..=10 {
        delete_raw(store.as_ref(), seq).await;
    }
    let mut head = store
        .get(&k::ledger_pk(&tenant()), k::HEAD_SK)
        .await
        .unwrap()
        .unwrap();
    head.data["seq"] = json!(7);
    head.data["hash"] = json!(seven.hash);
    put_raw(store.as_ref(), head).await;
    assert_break(&verify(store.as_ref()).await, BreakKind::Truncated, 8);
}

async fn concurrent_appenders_lose_nothing(store: Store) {
    const WRITERS: u64 = 8;
    const EACH: u64 = 6;
    let counting = Arc::new(Watched::new(store, false));
    let store: Store = counting.clone();
    let mut set = tokio::task::JoinSet::new();
    // Every writer prepares its first entry on the same head before any writes, so at
    // least WRITERS - 1 of them lose that race for certain; then all append freely.
    let barrier = Arc::new(tokio::sync::Barrier::new(WRITERS as usize));
    for w in 0..WRITERS {
        let store = Arc::clone(&store);
        let barrier = Arc::clone(&barrier);
        set.spawn(async move {
            for i in 0..EACH {
                let d = AuditDraft::new(
                    Actor::system(&format!("writer-{w}")),
                    "test.append",
                    "thing",
                    format!("{w}-{i}"),
                );
                if i == 0 {
                    let p = audit::prepare(store.as_ref(), &tenant(), &d, Utc::now())
                        .await
                        .unwrap();
                    barrier.wait().await;
                    match store.write(p.ops).await {
                        Ok(()) => continue,
                        Err(e) => assert!(e.is_contention(), "{e}"),
                    }
                }
                audit::append(store.as_ref(), &tenant(), &d, Utc::now())
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    let r = verify(store.as_ref()).await;
    assert!(r.ok, "{:?}", r.first_break);
    assert_eq!(r.entries_checked, WRITERS * EACH);
    let entries = ledger::read_range(store.as_ref(), &tenant(), 1, u64::MAX / 2)
        .await
        .unwrap();
    let mut ids: Vec<String> = entries
        .iter()
        .map(|s| s.entry.as_ref().unwrap().resource_id.clone())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len() as u64,
        WRITERS * EACH,
        "every append is in the chain once"
    );
    let stats = ledger::stats(store.as_ref(), &tenant()).await.unwrap();
    assert_eq!(stats.chain_length, WRITERS * EACH);
    assert!(counting.lost.load(Ordering::Relaxed) >= (WRITERS - 1) as usize);
    assert_eq!(stats.by_action["test.append"], (WRITERS * EACH) as i64);
}

async fn action_and_entry_commit_together(store: Store) {
    seed(store.as_ref(), 2).await;
    // An action whose own condition fails writes no entry either.
    let d = draft(3);
    let p = audit::prepare(store.as_ref(), &tenant(), &d, Utc::now())
        .await
        .unwrap();
    let mut ops = vec![WriteOp::put(
        vigil_shared::ports::Item::new("acme#THING", "x", json!({})),
        Condition::Exists,
    )];
    ops.extend(p.ops);
    assert!(store.write(ops).await.is_err());
    let h = ledger::head(store.as_ref(), &tenant())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(h.seq, 2);
    assert!(verify(store.as_ref()).await.ok);
    // A stale prepare loses to a newer append and is retryable.
    let stale = audit::prepare(store.as_ref(), &tenant(), &draft(4), Utc::now())
        .await
        .unwrap();
    seed(store.as_ref(), 1).await;
    let err = store.write(stale.ops).await.unwrap_err();
    assert!(err.is_contention(), "{err}");
    assert!(verify(store.as_ref()).await.ok);
}

macro_rules! family {
    ($family:ident, $make:path, [$($test:ident),* $(,)?]) => {
        mod $family {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    if let Some(store) = $make(stringify!($test)).await {
                        super::$test(store).await;
                    }
                }
            )*
        }
    };
}

macro_rules! families {
    ($($test:ident),* $(,)?) => {
        family!(embedded, super::embedded, [$($test),*]);
        family!(moto, super::moto, [$($test),*]);
    };
}

families!(
    intact_log_verifies,
    changed_resource_id_is_located,
    changed_field_with_recomputed_hash_is_located,
    changed_tail_with_fixed_head_is_caught_by_the_checkpoint,
    deleted_entry_is_located,
    deleted_and_renumbered_entries_are_located,
    inserted_entry_is_located,
    entry_appended_behind_the_ledger_is_located,
    reordered_entries_are_located,
    truncated_tail_is_located,
    truncated_tail_with_rewound_head_is_caught_by_the_checkpoint,
    concurrent_appenders_lose_nothing,
    action_and_entry_commit_together,
);

// ---------------------------------------------------------------------------------------
// Independent verification of our proofs (Python, hashlib only)

fn python() -> (PathBuf, PathBuf) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let py = match std::env::var("VIGIL_VENV") {
        Ok(v) if !v.trim().is_empty() => {
            let venv = PathBuf::from(v.trim());
            let venv = if venv.is_absolute() {
                venv
            } else {
                root.join(venv)
            };
            venv.join("bin").join("python")
        }
        _ => PathBuf::from("python3"),
    };
    (py, root.join("tests").join("rfc9162_verify.py"))
}

fn run_python(doc: &Value) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("proofs.json");
    std::fs::write(&path, serde_json::to_vec(doc).unwrap()).unwrap();
    let (py, script) = python();
    let out = std::process::Command::new(&py)
        .arg(&script)
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", py.display()));
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[tokio::test]
async fn proofs_pass_the_independent_python_verifier() {
    let store = embedded("python").await.unwrap();
    seed(store.as_ref(), 21).await;
    let t = tenant();
    let entries: Vec<Value> = ledger::read_range(store.as_ref(), &t, 1, 21)
        .await
        .unwrap()
        .into_iter()
        .map(|s| serde_json::to_value(s.entry.unwrap()).unwrap())
        .collect();
    assert_eq!(entries[0]["prev_hash"], GENESIS_HASH);
    let mut inclusion = Vec::new();
    let mut consistency = Vec::new();
    for size in [1u64, 2, 3, 7, 8, 13, 16, 21] {
        for seq in 1..=size {
            let p = audit_ledger::inclusion_proof(store.as_ref(), &t, seq, Some(size))
                .await
                .unwrap();
            inclusion.push(serde_json::to_value(p).unwrap());
        }
        for from in 1..=size {
            let p = audit_ledger::consistency_proof(store.as_ref(), &t, from, Some(size))
                .await
                .unwrap();
            consistency.push(serde_json::to_value(p).unwrap());
        }
    }
    let n = entries.len() + inclusion.len() + consistency.len();
    let doc = json!({"entries": entries, "inclusion": inclusion, "consistency": consistency});
    let (ok, out) = run_python(&doc);
    assert!(ok, "python verifier: {out}");
    assert_eq!(out.trim(), format!("ok {n} checks"));

    // It is not a rubber stamp: a changed proof hash, root or entry field fails.
    let mut bad = doc.clone();
    bad["inclusion"][40]["proof"][0] = json!("00".repeat(32));
    assert!(!run_python(&bad).0, "tampered inclusion proof accepted");
    let mut bad = doc.clone();
    bad["consistency"][30]["proof"][0] = json!("11".repeat(32));
    bad["entries"] = json!([]);
    assert!(!run_python(&bad).0, "tampered consistency proof accepted");
    let mut bad = doc.clone();
    bad["entries"][5]["resource_id"] = json!("other");
    assert!(!run_python(&bad).0, "tampered entry accepted");
}
