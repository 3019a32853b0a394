//! One contract suite for the ports, run against both adapter families: embedded
//! (SQLite, with a manual clock) and AWS (DynamoDB, SQS, EventBridge on moto).
//!
//! The AWS family needs `VIGIL_MOTO_URL` (e.g. `http://127.0.0.1:5000`). Without it
//! those tests print a skip line and pass, unless `VIGIL_REQUIRE_MOTO=1`, when they fail.
//! Every AWS test creates its own table, queues or bus, so tests run in parallel.
mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use support::moto_sdk;
use vigil_shared::adapters::aws::{DynamoStore, EventBridgeBus, SqsQueue, provision};
use vigil_shared::adapters::embedded::{EmbeddedBus, EmbeddedDb, EmbeddedQueue, EmbeddedStore};
use vigil_shared::governance::Kind;
use vigil_shared::ports::{
    Clock, Condition, DomainEvent, EventBus, Index, IndexKey, Item, ItemStore, KeyRange,
    ManualClock, OutMessage, Query, Queue, QueueError, QueueName, StoreError, SystemClock, WriteOp,
};

/// Receives after which a message is dead, in both families.
const MAX_RECEIVES: u32 = provision::MAX_RECEIVE_COUNT;

// ---------------------------------------------------------------------------------------
// Families

/// How a family lets time pass: a manual clock moves at once, SQS needs real sleeps.
enum Time {
    Manual(Arc<ManualClock>),
    Real,
}

struct Env {
    time: Time,
    clock: Arc<dyn Clock>,
    /// The embedded family's database file lives here while the test runs.
    _dir: Option<tempfile::TempDir>,
}

impl Env {
    fn now(&self) -> i64 {
        self.clock.now().timestamp()
    }

    /// Lets `d` pass, plus some slack for real services.
    async fn pass(&self, d: Duration) {
        match &self.time {
            Time::Manual(clock) => {
                clock.advance(chrono::Duration::from_std(d).expect("duration in range"))
            }
            Time::Real => tokio::time::sleep(d + Duration::from_millis(400)).await,
        }
    }
}

fn embedded_env() -> (EmbeddedDb, Env) {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    // A file, so reads go through the pool of read-only connections.
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = EmbeddedDb::open(&dir.path().join("contract.db"), clock.clone()).expect("database");
    let env = Env {
        time: Time::Manual(clock.clone()),
        clock,
        _dir: Some(dir),
    };
    (db, env)
}

async fn embedded_store(_test: &str) -> Option<(Box<dyn ItemStore>, Env)> {
    let (db, env) = embedded_env();
    Some((Box::new(EmbeddedStore::new(db)), env))
}

async fn embedded_queue(_test: &str) -> Option<(Box<dyn Queue>, Env)> {
    let (db, env) = embedded_env();
    Some((Box::new(EmbeddedQueue::new(db, MAX_RECEIVES)), env))
}

async fn embedded_bus(_test: &str) -> Option<(Box<dyn EventBus>, Env)> {
    let (db, env) = embedded_env();
    Some((Box::new(EmbeddedBus::new(db)), env))
}

fn unique_name() -> String {
    format!("vigil-test-{}", uuid::Uuid::new_v4().simple())
}

fn real_env() -> Env {
    Env {
        time: Time::Real,
        clock: Arc::new(SystemClock),
        _dir: None,
    }
}

async fn aws_store(test: &str) -> Option<(Box<dyn ItemStore>, Env)> {
    let config = moto_sdk(&format!("aws::{test}")).await?;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = unique_name();
    provision::create_table(&client, &table)
        .await
        .expect("create table on moto");
    Some((Box::new(DynamoStore::new(client, table)), real_env()))
}

async fn aws_queue(test: &str) -> Option<(Box<dyn Queue>, Env)> {
    let config = moto_sdk(&format!("aws::{test}")).await?;
    let client = aws_sdk_sqs::Client::new(&config);
    let urls = provision::create_queues(&client, &unique_name())
        .await
        .expect("create queues on moto");
    Some((Box::new(SqsQueue::new(client, urls)), real_env()))
}

async fn aws_bus(test: &str) -> Option<(Box<dyn EventBus>, Env)> {
    let config = moto_sdk(&format!("aws::{test}")).await?;
    let client = aws_sdk_eventbridge::Client::new(&config);
    let name = unique_name();
    provision::create_bus(&client, &name)
        .await
        .expect("create event bus on moto");
    Some((Box::new(EventBridgeBus::new(client, name)), real_env()))
}

/// Instantiates every contract test for one family: `mod $family { async fn test() }`.
macro_rules! family {
    ($family:ident: store = $store:path, queue = $queue:path, bus = $bus:path) => {
        mod $family {
            family!(@tests $store;
                store_round_trip,
                store_conditions,
                store_atomic_batch,
                store_add,
                store_rejects_bad_batches,
                store_query_ranges,
                store_pagination,
                store_ttl,
                store_ttl_conditions,
                store_exist,
                store_count,
                store_put_all,
                store_skip,
                store_drift_mapping,
                rate_window_shared,
                breaker_shared,
                store_governance_gate_and_failures
            );
            family!(@tests $queue;
                queue_send_receive_ack,
                queue_delay,
                queue_visibility,
                queue_retry_after,
                queue_dead_letters_and_redrive,
                queue_ack_all
            );
            family!(@tests $bus; bus_publish);
        }
    };
    (@tests $make:path; $($test:ident),+) => {
        $(
            #[tokio::test]
            async fn $test() {
                let Some((subject, env)) = $make(stringify!($test)).await else {
                    return;
                };
                super::$test(&*subject, &env).await;
            }
        )+
    };
}

family!(embedded: store = super::embedded_store, queue = super::embedded_queue, bus = super::embedded_bus);
family!(aws: store = super::aws_store, queue = super::aws_queue, bus = super::aws_bus);

// ---------------------------------------------------------------------------------------
// Store

fn full_item(env: &Env) -> Item {
    Item {
        pk: "T#1".into(),
        sk: "ALERT#0001".into(),
        gsi1: Some(IndexKey::new("G1#a", "2024-05-01")),
        gsi2: Some(IndexKey::new("G2#b", "high#0001")),
        gsi3: Some(IndexKey::new("G3#c", "open")),
        gsi4: Some(IndexKey::new("G4#d", "4")),
        gsi5: Some(IndexKey::new("G5#e", "5")),
        gsi6: Some(IndexKey::new("G6#f", "6")),
        ttl: Some(env.now() + 3600),
        version: 3,
        count: 42,
        data: json!({"title": "root login", "tags": ["a", "b"], "score": 9.5, "nested": {"x": null}}),
    }
}

async fn put(store: &dyn ItemStore, item: Item, condition: Condition) -> Result<(), StoreError> {
    store.write(vec![WriteOp::put(item, condition)]).await
}

fn delete(pk: &str, sk: &str, condition: Condition) -> WriteOp {
    WriteOp::Delete {
        pk: pk.into(),
        sk: sk.into(),
        condition,
    }
}

fn assert_condition_failed(result: Result<(), StoreError>, op: usize) {
    match result {
        Err(StoreError::ConditionFailed { op: got }) => assert_eq!(got, op, "failing op index"),
        other => panic!("expected ConditionFailed {{ op: {op} }}, got {other:?}"),
    }
}

async fn store_round_trip(store: &dyn ItemStore, env: &Env) {
    let item = full_item(env);
    put(store, item.clone(), Condition::None).await.unwrap();
    assert_eq!(
        store.get("T#1", "ALERT#0001").await.unwrap(),
        Some(item.clone())
    );
    assert_eq!(store.get("T#1", "ALERT#0002").await.unwrap(), None);
    assert_eq!(store.get("T#2", "ALERT#0001").await.unwrap(), None);

    // A put replaces the whole item: dropped fields are gone.
    let mut plain = Item::new("T#1", "ALERT#0001", json!("just a string"));
    plain.version = 4;
    put(store, plain.clone(), Condition::None).await.unwrap();
    let got = store.get("T#1", "ALERT#0001").await.unwrap().unwrap();
    assert_eq!(got, plain);
    assert_eq!((got.gsi1, got.ttl, got.count), (None, None, 0));

    // Every index sees the full item.
    put(store, item.clone(), Condition::None).await.unwrap();
    for (index, key) in [
        (Index::Gsi1, "G1#a"),
        (Index::Gsi2, "G2#b"),
        (Index::Gsi3, "G3#c"),
    ] {
        let page = store.query(&Query::new(index, key)).await.unwrap();
        assert_eq!(page.items, vec![item.clone()], "{index:?}");
    }
}

async fn store_conditions(store: &dyn ItemStore, _env: &Env) {
    let item = |version: u64, title: &str| {
        let mut i = Item::new("T#1", "A#1", json!({"title": title}));
        i.version = version;
        i
    };
    // NotExists: only the first create wins.
    put(store, item(1, "first"), Condition::NotExists)
        .await
        .unwrap();
    assert_condition_failed(put(store, item(1, "second"), Condition::NotExists).await, 0);
    assert_eq!(
        store.get("T#1", "A#1").await.unwrap().unwrap().data,
        json!({"title": "first"})
    );

    // Exists: fails on a missing item, holds on a present one.
    let mut other = item(1, "x");
    other.sk = "A#2".into();
    assert_condition_failed(put(store, other, Condition::Exists).await, 0);
    assert_eq!(store.get("T#1", "A#2").await.unwrap(), None);
    put(store, item(1, "replaced"), Condition::Exists)
        .await
        .unwrap();

    // Version: optimistic concurrency.
    put(store, item(2, "v2"), Condition::Version(1))
        .await
        .unwrap();
    assert_condition_failed(put(store, item(3, "stale"), Condition::Version(1)).await, 0);
    let mut missing = item(1, "x");
    missing.sk = "A#3".into();
    assert_condition_failed(put(store, missing, Condition::Version(1)).await, 0);
    let got = store.get("T#1", "A#1").await.unwrap().unwrap();
    assert_eq!((got.version, got.data), (2, json!({"title": "v2"})));

    // Conditional deletes.
    assert_condition_failed(
        store
            .write(vec![delete("T#1", "A#1", Condition::Version(1))])
            .await,
        0,
    );
    assert_condition_failed(
        store
            .write(vec![delete("T#1", "A#9", Condition::Exists)])
            .await,
        0,
    );
    store
        .write(vec![delete("T#1", "A#9", Condition::None)])
        .await
        .unwrap();
    store
        .write(vec![delete("T#1", "A#1", Condition::Version(2))])
        .await
        .unwrap();
    assert_eq!(store.get("T#1", "A#1").await.unwrap(), None);
    store
        .write(vec![delete("T#1", "A#1", Condition::NotExists)])
        .await
        .unwrap();
}

async fn store_atomic_batch(store: &dyn ItemStore, _env: &Env) {
    let existing = Item::new("T#1", "A#1", json!({"n": 1}));
    put(store, existing.clone(), Condition::None).await.unwrap();

    // Op 2 fails: nothing at all is written.
    let batch = vec![
        WriteOp::put(Item::new("T#1", "A#2", json!({})), Condition::NotExists),
        WriteOp::add("T#1", "COUNTER", 5),
        WriteOp::put(
            Item::new("T#1", "A#1", json!({"n": 2})),
            Condition::NotExists,
        ),
        delete("T#1", "A#3", Condition::None),
    ];
    assert_condition_failed(store.write(batch).await, 2);
    assert_eq!(store.get("T#1", "A#2").await.unwrap(), None);
    assert_eq!(store.get("T#1", "COUNTER").await.unwrap(), None);
    assert_eq!(
        store.get("T#1", "A#1").await.unwrap(),
        Some(existing.clone())
    );

    // The first failing op is reported when several fail.
    let batch = vec![
        WriteOp::put(Item::new("T#1", "A#4", json!({})), Condition::None),
        WriteOp::put(Item::new("T#1", "A#5", json!({})), Condition::Exists),
        WriteOp::put(Item::new("T#1", "A#1", json!({})), Condition::Version(7)),
    ];
    assert_condition_failed(store.write(batch).await, 1);
    assert_eq!(store.get("T#1", "A#4").await.unwrap(), None);

    // A batch whose conditions all hold writes everything.
    let mut bumped = Item::new("T#1", "A#1", json!({"n": 2}));
    bumped.version = 2;
    let batch = vec![
        WriteOp::put(
            Item::new("T#1", "A#2", json!({"new": true})),
            Condition::NotExists,
        ),
        WriteOp::add("T#1", "COUNTER", 5),
        WriteOp::put(bumped.clone(), Condition::Version(1)),
        delete("T#1", "A#3", Condition::None),
    ];
    store.write(batch).await.unwrap();
    assert_eq!(store.get("T#1", "A#1").await.unwrap(), Some(bumped));
    assert_eq!(
        store.get("T#1", "A#2").await.unwrap().unwrap().data,
        json!({"new": true})
    );
    assert_eq!(store.get("T#1", "COUNTER").await.unwrap().unwrap().count, 5);
    store
        .write(vec![
            delete("T#1", "A#1", Condition::Exists),
            delete("T#1", "A#2", Condition::Version(1)),
        ])
        .await
        .unwrap();
    assert_eq!(store.get("T#1", "A#1").await.unwrap(), None);
    assert_eq!(store.get("T#1", "A#2").await.unwrap(), None);
}

async fn store_add(store: &dyn ItemStore, _env: &Env) {
    // Creates the item at zero, then adds.
    store
        .write(vec![WriteOp::add("T#1", "C#1", 3)])
        .await
        .unwrap();
    let created = store.get("T#1", "C#1").await.unwrap().unwrap();
    assert_eq!(created, {
        let mut i = Item::new("T#1", "C#1", serde_json::Value::Null);
        i.count = 3;
        i
    });
    store
        .write(vec![WriteOp::add("T#1", "C#1", 4)])
        .await
        .unwrap();
    store
        .write(vec![WriteOp::add("T#1", "C#1", -10)])
        .await
        .unwrap();
    let got = store.get("T#1", "C#1").await.unwrap().unwrap();
    assert_eq!((got.count, got.version), (-3, 1));

    // On an existing item only the counter moves.
    let mut item = Item::new("T#1", "C#2", json!({"keep": 1}));
    item.version = 5;
    item.count = 10;
    item.gsi1 = Some(IndexKey::new("G", "S"));
    put(store, item.clone(), Condition::None).await.unwrap();
    store
        .write(vec![
            WriteOp::add("T#1", "C#2", 2),
            WriteOp::add("T#1", "C#3", 1),
        ])
        .await
        .unwrap();
    item.count = 12;
    assert_eq!(store.get("T#1", "C#2").await.unwrap(), Some(item));
    assert_eq!(store.get("T#1", "C#3").await.unwrap().unwrap().count, 1);
}

async fn store_rejects_bad_batches(store: &dyn ItemStore, _env: &Env) {
    let dup = vec![
        WriteOp::put(Item::new("T#1", "A#1", json!(1)), Condition::None),
        WriteOp::add("T#1", "A#1", 1),
    ];
    assert!(matches!(
        store.write(dup).await,
        Err(StoreError::InvalidBatch(_))
    ));
    assert!(matches!(
        store.write(vec![]).await,
        Err(StoreError::InvalidBatch(_))
    ));
    let too_many = (0..101)
        .map(|i| WriteOp::add("T#1", format!("C#{i}"), 1))
        .collect();
    assert!(matches!(
        store.write(too_many).await,
        Err(StoreError::InvalidBatch(_))
    ));
    assert_eq!(store.get("T#1", "A#1").await.unwrap(), None);
    assert_eq!(store.get("T#1", "C#0").await.unwrap(), None);

    // The limit itself is fine.
    let hundred = (0..100)
        .map(|i| WriteOp::add("T#1", format!("C#{i:03}"), 1))
        .collect();
    store.write(hundred).await.unwrap();
    let page = store
        .query(&Query::new(Index::Primary, "T#1").limit(1000))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 100);
}

fn keys(items: &[Item]) -> Vec<String> {
    items.iter().map(|i| i.sk.clone()).collect()
}

async fn store_query_ranges(store: &dyn ItemStore, _env: &Env) {
    // Eight items under one partition; each GSI keys them differently.
    let sks = [
        "A#01", "A#02", "A#03", "A#04", "A#05", "B#01", "B#02", "B#03",
    ];
    let mut ops = Vec::new();
    for (i, sk) in sks.iter().enumerate() {
        let mut item = Item::new("T#1", *sk, json!({"i": i}));
        item.gsi1 = Some(IndexKey::new("G1#x", format!("2024-01-0{}", i + 1)));
        item.gsi2 = Some(IndexKey::new(
            if i % 2 == 0 { "G2#even" } else { "G2#odd" },
            format!("sev#{i}"),
        ));
        item.gsi3 = Some(IndexKey::new("G3#all", format!("{}#{sk}", 9 - i)));
        ops.push(WriteOp::put(item, Condition::None));
    }
    // Noise in other partitions.
    let mut noise = Item::new("T#2", "A#01", json!(null));
    noise.gsi1 = Some(IndexKey::new("G1#y", "2024-01-01"));
    ops.push(WriteOp::put(noise, Condition::None));
    store.write(ops).await.unwrap();

    let run = |q: Query| async move { keys(&store.query(&q).await.unwrap().items) };
    let primary = || Query::new(Index::Primary, "T#1");

    assert_eq!(run(primary()).await, sks.to_vec());
    assert_eq!(
        run(primary().range(KeyRange::Prefix("A#".into()))).await,
        ["A#01", "A#02", "A#03", "A#04", "A#05"]
    );
    assert_eq!(
        run(primary()
            .range(KeyRange::Prefix("B#".into()))
            .newest_first())
        .await,
        ["B#03", "B#02", "B#01"]
    );
    assert_eq!(
        run(primary().range(KeyRange::Between("A#02".into(), "B#01".into()))).await,
        ["A#02", "A#03", "A#04", "A#05", "B#01"]
    );
    assert_eq!(
        run(primary()
            .range(KeyRange::Between("A#02".into(), "A#04".into()))
            .newest_first())
        .await,
        ["A#04", "A#03", "A#02"]
    );
    assert!(
        run(primary().range(KeyRange::Prefix("C#".into())))
            .await
            .is_empty()
    );
    assert!(run(Query::new(Index::Primary, "T#3")).await.is_empty());
    // Degenerate ranges and keys: an empty prefix matches everything, reversed bounds
    // and empty keys match nothing.
    assert_eq!(
        run(primary().range(KeyRange::Prefix(String::new()))).await,
        sks.to_vec()
    );
    assert!(
        run(primary().range(KeyRange::Between("B#".into(), "A#".into())))
            .await
            .is_empty()
    );
    assert!(run(Query::new(Index::Primary, "")).await.is_empty());
    assert!(run(Query::new(Index::Gsi2, "")).await.is_empty());
    assert_eq!(store.get("", "A#01").await.unwrap(), None);
    assert_eq!(store.get("T#1", "").await.unwrap(), None);

    // GSI 1: dates.
    let g1 = || Query::new(Index::Gsi1, "G1#x");
    assert_eq!(run(g1()).await, sks.to_vec());
    assert_eq!(
        run(g1().range(KeyRange::Between("2024-01-03".into(), "2024-01-05".into()))).await,
        ["A#03", "A#04", "A#05"]
    );
    assert_eq!(
        run(g1()
            .range(KeyRange::Prefix("2024-01-0".into()))
            .newest_first()
            .limit(2))
        .await,
        ["B#03", "B#02"]
    );
    assert_eq!(run(Query::new(Index::Gsi1, "G1#y")).await, ["A#01"]);

    // GSI 2: two partitions.
    assert_eq!(
        run(Query::new(Index::Gsi2, "G2#even")).await,
        ["A#01", "A#03", "A#05", "B#02"]
    );
    assert_eq!(
        run(Query::new(Index::Gsi2, "G2#odd")
            .range(KeyRange::Prefix("sev#".into()))
            .newest_first())
        .await,
        ["B#03", "B#01", "A#04", "A#02"]
    );
    assert_eq!(
        run(Query::new(Index::Gsi2, "G2#odd")
            .range(KeyRange::Between("sev#2".into(), "sev#5".into())))
        .await,
        ["A#04", "B#01"]
    );

    // GSI 3: reverse order of the table.
    let g3 = || Query::new(Index::Gsi3, "G3#all");
    let mut reversed = sks.to_vec();
    reversed.reverse();
    assert_eq!(run(g3()).await, reversed);
    assert_eq!(run(g3().newest_first()).await, sks.to_vec());
    assert_eq!(
        run(g3().range(KeyRange::Prefix("4#".into()))).await,
        ["B#01"]
    );
    assert_eq!(
        run(g3()
            .range(KeyRange::Between("3#".into(), "5#~".into()))
            .newest_first())
        .await,
        ["A#05", "B#01", "B#02"]
    );
}

/// Reads every page of `query` with `limit`, checking each page is full but the last.
async fn all_pages(store: &dyn ItemStore, query: Query, limit: usize) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .query(&query.clone().limit(limit).after(after))
            .await
            .unwrap();
        pages.push(keys(&page.items));
        match page.next {
            Some(next) => {
                assert_eq!(page.items.len(), limit, "a page with a next cursor is full");
                after = Some(next);
            }
            None => return pages,
        }
        assert!(pages.len() <= 100, "pagination does not end");
    }
}

async fn store_pagination(store: &dyn ItemStore, _env: &Env) {
    let mut ops = Vec::new();
    for i in 0..25 {
        let mut item = Item::new("T#1", format!("E#{i:03}"), json!({"i": i}));
        // GSI 1 sorts in the opposite order of the table; GSI 2 holds every other item.
        item.gsi1 = Some(IndexKey::new("G1", format!("{:03}", 100 - i)));
        if i % 2 == 0 {
            item.gsi2 = Some(IndexKey::new("G2", format!("{i:03}")));
        }
        ops.push(WriteOp::put(item, Condition::None));
    }
    store.write(ops).await.unwrap();
    let ascending: Vec<String> = (0..25).map(|i| format!("E#{i:03}")).collect();
    let descending: Vec<String> = ascending.iter().rev().cloned().collect();
    let sizes = |pages: &[Vec<String>]| pages.iter().map(Vec::len).collect::<Vec<_>>();

    let check = |pages: Vec<Vec<String>>, expected: &[String], what: &str| {
        let flat: Vec<String> = pages.concat();
        assert_eq!(flat, expected, "{what}: every item once, in order");
        pages
    };

    let pages = check(
        all_pages(store, Query::new(Index::Primary, "T#1"), 7).await,
        &ascending,
        "primary forward",
    );
    assert_eq!(sizes(&pages), [7, 7, 7, 4]);
    let pages = check(
        all_pages(store, Query::new(Index::Primary, "T#1").newest_first(), 7).await,
        &descending,
        "primary newest first",
    );
    assert_eq!(sizes(&pages), [7, 7, 7, 4]);
    check(
        all_pages(store, Query::new(Index::Gsi1, "G1"), 7).await,
        &descending,
        "gsi1 forward",
    );
    let pages = check(
        all_pages(store, Query::new(Index::Gsi1, "G1").newest_first(), 7).await,
        &ascending,
        "gsi1 newest first",
    );
    assert_eq!(sizes(&pages), [7, 7, 7, 4]);
    let evens: Vec<String> = ascending.iter().step_by(2).cloned().collect();
    let pages = check(
        all_pages(store, Query::new(Index::Gsi2, "G2"), 7).await,
        &evens,
        "gsi2 forward",
    );
    assert_eq!(sizes(&pages), [7, 6]);
    // Exactly one page's worth leaves no next cursor.
    let pages = all_pages(
        store,
        Query::new(Index::Primary, "T#1").range(KeyRange::Between("E#000".into(), "E#006".into())),
        7,
    )
    .await;
    assert_eq!(sizes(&pages), [7]);
    // A ranged, paginated query.
    check(
        all_pages(
            store,
            Query::new(Index::Primary, "T#1")
                .range(KeyRange::Prefix("E#01".into()))
                .newest_first(),
            3,
        )
        .await,
        &ascending[10..20].iter().rev().cloned().collect::<Vec<_>>(),
        "primary prefix newest first",
    );
}

async fn store_ttl(store: &dyn ItemStore, env: &Env) {
    let now = env.now();
    let mut ops = Vec::new();
    for i in 0..12 {
        let mut item = Item::new("T#1", format!("S#{i:02}"), json!(i));
        item.gsi1 = Some(IndexKey::new("G1", format!("{i:02}")));
        // Every item but each third is long expired; the rest live for an hour.
        item.ttl = Some(if i % 3 == 0 { now + 3600 } else { now - 3600 });
        ops.push(WriteOp::put(item, Condition::None));
    }
    let mut forever = Item::new("T#1", "S#99", json!("no ttl"));
    forever.gsi1 = Some(IndexKey::new("G1", "99"));
    ops.push(WriteOp::put(forever, Condition::None));
    store.write(ops).await.unwrap();

    assert_eq!(store.get("T#1", "S#01").await.unwrap(), None);
    assert!(store.get("T#1", "S#00").await.unwrap().is_some());
    assert!(store.get("T#1", "S#99").await.unwrap().is_some());
    let live = ["S#00", "S#03", "S#06", "S#09", "S#99"];
    // Expired items are skipped even when they fill whole pages underneath.
    for limit in [1, 2, 100] {
        for index in [(Index::Primary, "T#1"), (Index::Gsi1, "G1")] {
            let pages = all_pages(store, Query::new(index.0, index.1), limit).await;
            assert_eq!(pages.concat(), live, "{index:?} limit {limit}");
        }
    }

    // Items expire as time passes.
    env.pass(Duration::from_secs(2)).await;
    // Expiry has one-second resolution and, on moto, follows the real clock: a margin of
    // a whole second keeps a second boundary between the put and the read from
    // expiring the item early.
    let mut soon = Item::new("T#1", "S#50", json!("soon"));
    soon.ttl = Some(env.now() + 2);
    put(store, soon, Condition::None).await.unwrap();
    assert!(store.get("T#1", "S#50").await.unwrap().is_some());
    env.pass(Duration::from_secs(3)).await;
    assert_eq!(store.get("T#1", "S#50").await.unwrap(), None);
}

/// Conditions see what reads see: an expired item the sweeper has not yet deleted (moto
/// never sweeps, DynamoDB can take days, the embedded store purges on a timer) is absent.
async fn store_ttl_conditions(store: &dyn ItemStore, env: &Env) {
    let now = env.now();
    let stale = |sk: &str| {
        let mut i = Item::new("T#t", sk, json!({"old": true}));
        i.ttl = Some(now - 3600);
        i
    };
    store
        .put_all(vec![stale("gone-1"), stale("gone-2"), stale("gone-3")])
        .await
        .unwrap();
    assert_eq!(store.get("T#t", "gone-1").await.unwrap(), None);

    // Exists and a version read before expiry do not hold on it.
    assert_condition_failed(put(store, stale("gone-1"), Condition::Exists).await, 0);
    assert_condition_failed(put(store, stale("gone-1"), Condition::Version(1)).await, 0);
    assert_condition_failed(
        store
            .write(vec![delete("T#t", "gone-1", Condition::Exists)])
            .await,
        0,
    );

    // Not-exists holds, alone and inside a transaction, and the new item replaces it.
    let fresh = |sk: &str| Item::new("T#t", sk, json!({"new": true}));
    put(store, fresh("gone-1"), Condition::NotExists)
        .await
        .unwrap();
    let got = store.get("T#t", "gone-1").await.unwrap().unwrap();
    assert_eq!((got.data, got.ttl), (json!({"new": true}), None));
    store
        .write(vec![
            WriteOp::put(fresh("gone-2"), Condition::NotExists),
            WriteOp::put(fresh("other"), Condition::NotExists),
        ])
        .await
        .unwrap();
    assert!(store.get("T#t", "gone-2").await.unwrap().is_some());

    // A live item with a ttl is still there for every condition.
    let mut live = Item::new("T#t", "live", json!({}));
    live.ttl = Some(now + 3600);
    put(store, live.clone(), Condition::NotExists)
        .await
        .unwrap();
    assert_condition_failed(put(store, live.clone(), Condition::NotExists).await, 0);
    live.version = 2;
    put(store, live, Condition::Version(1)).await.unwrap();
    store
        .write(vec![
            delete("T#t", "live", Condition::Exists),
            delete("T#t", "gone-3", Condition::None),
        ])
        .await
        .unwrap();
    assert_eq!(store.get("T#t", "live").await.unwrap(), None);
}

// ---------------------------------------------------------------------------------------
// Queue

const VISIBILITY: Duration = Duration::from_secs(1);
const LONG: Duration = Duration::from_secs(60);

async fn store_exist(store: &dyn ItemStore, env: &Env) {
    let mut live = Item::new("T#x", "a", json!({}));
    live.ttl = Some(env.now() + 3600);
    let mut expired = Item::new("T#x", "c", json!({}));
    expired.ttl = Some(env.now() - 10);
    store
        .put_all(vec![live, Item::new("T#y", "b", json!({})), expired])
        .await
        .unwrap();
    assert!(store.exist(&[]).await.unwrap().is_empty());
    let k = |pk: &str, sk: &str| (pk.to_string(), sk.to_string());
    // Answers in the order asked, repeats included; expired items do not exist.
    let keys = vec![
        k("T#x", "a"),
        k("T#x", "b"),
        k("T#y", "b"),
        k("T#x", "c"),
        k("T#x", "a"),
    ];
    assert_eq!(
        store.exist(&keys).await.unwrap(),
        [true, false, true, false, true]
    );
    // More keys than one lookup carries in either family.
    let many: Vec<(String, String)> = (0..450)
        .map(|i| k("T#x", &format!("{i:04}")))
        .chain([k("T#y", "b")])
        .collect();
    let got = store.exist(&many).await.unwrap();
    assert_eq!(got.len(), 451);
    assert_eq!(got.iter().filter(|b| **b).count(), 1);
    assert!(got[450]);
}

async fn store_count(store: &dyn ItemStore, _env: &Env) {
    let items: Vec<Item> = (0..130)
        .map(|i| {
            let mut item = Item::new("T#c", format!("{i:04}"), json!({ "i": i }));
            item.gsi1 = (i % 2 == 0).then(|| IndexKey::new("G#even", format!("{i:04}")));
            item
        })
        .collect();
    store.put_all(items).await.unwrap();
    let q = Query::new(Index::Primary, "T#c");
    assert_eq!(store.count(&q).await.unwrap(), 130);
    // Limit and cursor are ignored; the key range and the index are not.
    let page = store.query(&q.clone().limit(10)).await.unwrap();
    assert_eq!(
        store
            .count(&q.clone().limit(10).after(page.next))
            .await
            .unwrap(),
        130
    );
    let ranged = q
        .clone()
        .range(KeyRange::Between("0010".into(), "0019".into()));
    assert_eq!(store.count(&ranged).await.unwrap(), 10);
    assert_eq!(
        store
            .count(&q.clone().range(KeyRange::Prefix("012".into())))
            .await
            .unwrap(),
        10
    );
    assert_eq!(
        store
            .count(&Query::new(Index::Gsi1, "G#even"))
            .await
            .unwrap(),
        65
    );
    assert_eq!(
        store
            .count(&Query::new(Index::Primary, "T#none"))
            .await
            .unwrap(),
        0
    );
}

async fn store_put_all(store: &dyn ItemStore, _env: &Env) {
    store.put_all(vec![]).await.unwrap();
    let mut items: Vec<Item> = (0..260)
        .map(|i| Item::new("T#p", format!("{i:04}"), json!({ "v": 1 })))
        .collect();
    items[7].gsi1 = Some(IndexKey::new("G#p", "x"));
    store.put_all(items).await.unwrap();
    assert_eq!(
        store
            .count(&Query::new(Index::Primary, "T#p"))
            .await
            .unwrap(),
        260
    );
    let seven = store.get("T#p", "0007").await.unwrap().unwrap();
    assert_eq!(seven.gsi1, Some(IndexKey::new("G#p", "x")));
    // Unconditional: a second put replaces the item.
    store
        .put_all(vec![Item::new("T#p", "0007", json!({ "v": 2 }))])
        .await
        .unwrap();
    let seven = store.get("T#p", "0007").await.unwrap().unwrap();
    assert_eq!(seven.data, json!({ "v": 2 }));
    assert_eq!(seven.gsi1, None);
}

async fn store_skip(store: &dyn ItemStore, _env: &Env) {
    let items: Vec<Item> = (0..40)
        .map(|i| {
            let mut item = Item::new(format!("T#s{}", i % 3), format!("{i:04}"), json!({}));
            item.gsi2 = Some(IndexKey::new("G#s", format!("{:04}", i / 2)));
            item
        })
        .collect();
    store.put_all(items).await.unwrap();
    for q in [
        Query::new(Index::Primary, "T#s1"),
        Query::new(Index::Primary, "T#s1").newest_first(),
        Query::new(Index::Gsi2, "G#s"),
        Query::new(Index::Gsi2, "G#s").newest_first(),
        Query::new(Index::Gsi2, "G#s").range(KeyRange::Between("0005".into(), "0012".into())),
    ] {
        let all = keys(&store.query(&q.clone().limit(100)).await.unwrap().items);
        for n in 1..=all.len() + 1 {
            let after = store.skip(&q, n).await.unwrap();
            if n > all.len() {
                assert!(after.is_none(), "nothing past the end");
                continue;
            }
            let rest = store
                .query(&q.clone().limit(100).after(after))
                .await
                .unwrap();
            assert_eq!(keys(&rest.items), all[n..], "after {n} of {q:?}");
        }
    }
}

async fn queue_ack_all(queue: &dyn Queue, env: &Env) {
    let q = QueueName::Reclassify;
    queue
        .send(
            q,
            (0..15).map(|i| OutMessage::new(format!("m{i}"))).collect(),
        )
        .await
        .unwrap();
    let mut got = Vec::new();
    while got.len() < 15 {
        let more = queue.receive(q, 10, VISIBILITY).await.unwrap();
        assert!(!more.is_empty(), "all 15 messages arrive");
        got.extend(more);
    }
    queue.ack_all(q, &[]).await.unwrap();
    let receipts: Vec<&str> = got.iter().map(|d| d.receipt.as_str()).collect();
    queue.ack_all(q, &receipts).await.unwrap();
    env.pass(VISIBILITY).await;
    assert!(
        queue.receive(q, 10, VISIBILITY).await.unwrap().is_empty(),
        "acked messages are gone"
    );
    assert!(matches!(
        queue.ack_all(q, &["no-such-receipt"]).await,
        Err(QueueError::UnknownReceipt)
    ));
}

async fn queue_send_receive_ack(queue: &dyn Queue, env: &Env) {
    let q = QueueName::Ingest;
    let bodies: Vec<String> = (0..12).map(|i| format!("{{\"n\":{i}}}")).collect();
    queue
        .send(q, bodies.iter().map(OutMessage::new).collect())
        .await
        .unwrap();
    queue.send(q, vec![]).await.unwrap();

    let got = queue.receive(q, 20, VISIBILITY).await.unwrap();
    assert_eq!(got.len(), 12);
    assert!(got.iter().all(|d| d.receive_count == 1));
    let received: BTreeSet<&str> = got.iter().map(|d| d.body.as_str()).collect();
    assert_eq!(received, bodies.iter().map(String::as_str).collect());
    let ids: BTreeSet<&str> = got.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids.len(), 12, "message ids are distinct");

    // In flight: nothing else to receive; other queues are separate.
    assert!(queue.receive(q, 10, VISIBILITY).await.unwrap().is_empty());
    assert!(
        queue
            .receive(QueueName::Rules, 10, VISIBILITY)
            .await
            .unwrap()
            .is_empty()
    );

    for d in &got {
        queue.ack(q, &d.receipt).await.unwrap();
    }
    env.pass(VISIBILITY).await;
    assert!(queue.receive(q, 10, VISIBILITY).await.unwrap().is_empty());

    // max limits a receive.
    queue
        .send(
            q,
            (0..3).map(|i| OutMessage::new(format!("m{i}"))).collect(),
        )
        .await
        .unwrap();
    let first = queue.receive(q, 2, LONG).await.unwrap();
    assert_eq!(first.len(), 2);
    let rest = queue.receive(q, 2, LONG).await.unwrap();
    assert_eq!(rest.len(), 1);

    // A receipt that was never handed out is refused.
    assert!(matches!(
        queue.ack(q, "no-such-receipt").await,
        Err(QueueError::UnknownReceipt)
    ));
    assert!(matches!(
        queue
            .retry_after(q, "no-such-receipt", Duration::ZERO)
            .await,
        Err(QueueError::UnknownReceipt)
    ));

    // Oversized bodies are refused before anything is sent.
    let huge = "x".repeat(vigil_shared::ports::queue::MAX_MESSAGE_BYTES + 1);
    assert!(matches!(
        queue
            .send(
                QueueName::Webhook,
                vec![OutMessage::new("ok"), OutMessage::new(huge)]
            )
            .await,
        Err(QueueError::TooLarge(_))
    ));
    assert!(
        queue
            .receive(QueueName::Webhook, 10, LONG)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn queue_delay(queue: &dyn Queue, env: &Env) {
    let q = QueueName::Enrich;
    let mut delayed = OutMessage::new("later");
    delayed.delay = Duration::from_secs(2);
    queue
        .send(q, vec![delayed, OutMessage::new("now")])
        .await
        .unwrap();
    let got = queue.receive(q, 10, LONG).await.unwrap();
    assert_eq!(
        got.iter().map(|d| d.body.as_str()).collect::<Vec<_>>(),
        ["now"]
    );
    env.pass(Duration::from_secs(2)).await;
    let got = queue.receive(q, 10, LONG).await.unwrap();
    assert_eq!(
        got.iter().map(|d| d.body.as_str()).collect::<Vec<_>>(),
        ["later"]
    );
}

async fn queue_visibility(queue: &dyn Queue, env: &Env) {
    let q = QueueName::Rules;
    queue.send(q, vec![OutMessage::new("work")]).await.unwrap();
    let first = queue.receive(q, 10, VISIBILITY).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].receive_count, 1);
    assert!(queue.receive(q, 10, VISIBILITY).await.unwrap().is_empty());

    // Not acked: it comes back once the visibility timeout has passed.
    env.pass(VISIBILITY).await;
    let second = queue.receive(q, 10, LONG).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].id, first[0].id);
    assert_eq!(second[0].body, "work");
    assert_eq!(second[0].receive_count, 2);
    queue.ack(q, &second[0].receipt).await.unwrap();
    env.pass(VISIBILITY).await;
    assert!(queue.receive(q, 10, LONG).await.unwrap().is_empty());
}

async fn queue_retry_after(queue: &dyn Queue, env: &Env) {
    let q = QueueName::Webhook;
    queue.send(q, vec![OutMessage::new("call")]).await.unwrap();
    let first = queue.receive(q, 1, LONG).await.unwrap();
    assert_eq!(first.len(), 1);

    // Shortened from LONG to one second.
    queue
        .retry_after(q, &first[0].receipt, Duration::from_secs(1))
        .await
        .unwrap();
    assert!(queue.receive(q, 1, LONG).await.unwrap().is_empty());
    env.pass(Duration::from_secs(1)).await;
    let second = queue.receive(q, 1, LONG).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(
        (second[0].id.as_str(), second[0].receive_count),
        (first[0].id.as_str(), 2)
    );

    // Zero makes it visible at once.
    queue
        .retry_after(q, &second[0].receipt, Duration::ZERO)
        .await
        .unwrap();
    let third = queue.receive(q, 1, LONG).await.unwrap();
    assert_eq!(third.len(), 1);
    assert_eq!(third[0].receive_count, 3);
    queue.ack(q, &third[0].receipt).await.unwrap();
}

async fn queue_dead_letters_and_redrive(queue: &dyn Queue, env: &Env) {
    let q = QueueName::Reclassify;
    queue
        .send(q, vec![OutMessage::new("poison")])
        .await
        .unwrap();
    assert!(queue.dead_letters(q, 10).await.unwrap().is_empty());
    for attempt in 1..=MAX_RECEIVES {
        let got = queue.receive(q, 10, VISIBILITY).await.unwrap();
        assert_eq!(got.len(), 1, "receive {attempt}");
        assert_eq!(got[0].receive_count, attempt);
        env.pass(VISIBILITY).await;
    }
    // One receive too many: the message is dead instead of delivered.
    assert!(queue.receive(q, 10, VISIBILITY).await.unwrap().is_empty());
    let dead = queue.dead_letters(q, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "poison");
    assert_eq!(dead[0].receive_count, MAX_RECEIVES);
    assert!(
        queue
            .dead_letters(QueueName::Ingest, 10)
            .await
            .unwrap()
            .is_empty()
    );

    assert_eq!(queue.redrive(q).await.unwrap(), 1);
    assert!(queue.dead_letters(q, 10).await.unwrap().is_empty());
    let back = queue.receive(q, 10, LONG).await.unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].body, "poison");
    assert_eq!(back[0].receive_count, 1);
    queue.ack(q, &back[0].receipt).await.unwrap();
    assert_eq!(queue.redrive(q).await.unwrap(), 0);
}

// ---------------------------------------------------------------------------------------
// Bus

async fn bus_publish(bus: &dyn EventBus, _env: &Env) {
    let events: Vec<DomainEvent> = (0..12)
        .map(|i| DomainEvent {
            id: format!("evt-{i}"),
            tenant: "t1".into(),
            detail_type: "alert.opened".into(),
            time: chrono::Utc::now(),
            detail: json!({"alert": i, "severity": "high"}),
            request_id: None,
        })
        .collect();
    bus.publish(&events).await.unwrap();
    bus.publish(&[]).await.unwrap();
    // Re-publishing the same events is accepted.
    bus.publish(&events[..1]).await.unwrap();
}

/// The model drift repo on each adapter: a model and its due schedule, a frozen
/// baseline with its samples, a fold whose redelivery fails on its marker (op 1) and
/// adds nothing, and a check found by id and in the model's history.
async fn store_drift_mapping(store: &dyn ItemStore, env: &Env) {
    use vigil_shared::domain::TenantId;
    use vigil_shared::drift::check::{ExecutionStatus, Trigger};
    use vigil_shared::drift::model::ModelSpec;
    use vigil_shared::repo::drift as repo;
    use vigil_shared::service::Origin;
    use vigil_shared::service::drift::{self as service, CheckInput, CheckRun};

    let tenant = TenantId::parse(&format!(
        "t{}",
        &uuid::Uuid::new_v4().simple().to_string()[..20]
    ))
    .unwrap();
    let origin = Origin::key(tenant.clone(), "k1", None);
    let now = env.clock.now();
    let spec = ModelSpec::from_json(&json!({
        "model_id": "m", "model_version": "1", "schedule_interval": "hourly",
        "features": [{"name": "x", "type": "numeric"}, {"name": "c", "type": "categorical"}],
    }))
    .unwrap();
    service::create_model(store, &origin, spec, now)
        .await
        .unwrap();
    let got = repo::get_model(store, &tenant, "m").await.unwrap().unwrap();
    assert_eq!(got.version, 1);
    assert_eq!(got.model.spec.features.len(), 2);
    let sched = repo::get_schedule(store, &tenant, "m")
        .await
        .unwrap()
        .unwrap();
    let next = sched.state.next_run.unwrap();
    // Due once its time has come, across tenants.
    let due = store
        .query(&repo::due_query(next))
        .await
        .unwrap()
        .items
        .iter()
        .filter(|i| i.pk == sched_pk(&tenant))
        .count();
    assert_eq!(due, 1);

    let values: Vec<f64> = (0..200).map(f64::from).collect();
    let cats: Vec<&str> = (0..200)
        .map(|i| if i % 3 == 0 { "a" } else { "b" })
        .collect();
    let (_, b) = service::put_baseline(
        store,
        &origin,
        "m",
        &json!({"baseline_data": {"x": values, "c": cats}}),
        now,
    )
    .await
    .unwrap();
    let stored = repo::get_baseline(store, &tenant, &got.model.uid, 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, b);
    let samples = repo::get_samples(store, &tenant, &got.model.uid, &b)
        .await
        .unwrap();
    assert_eq!(samples["x"].len(), 200);

    let rows: Vec<serde_json::Value> = (0..50)
        // One slot: a single transaction per request (moto's concurrent transactions are
        // not isolated from each other; DynamoDB's are).
        .map(|i| json!({"observation_id": format!("o{i}"), "features": {"x": i * 2}}))
        .collect();
    let body = json!({"rows": rows});
    let first = service::observe(store, &tenant, "m", &body, "batch1", now, 100)
        .await
        .unwrap();
    assert_eq!(first.folded, 1);
    let again = service::observe(store, &tenant, "m", &body, "batch1", now, 100)
        .await
        .unwrap();
    assert_eq!(again.folded, 0, "a redelivery folds nothing");

    let run = CheckRun {
        origin: &origin,
        check_id: "dc_contract".into(),
        trigger: Trigger::Manual,
        input: CheckInput::Observations {
            from: None,
            to: None,
        },
        final_attempt: true,
        reservoir_cap: 100,
    };
    let model = repo::get_model(store, &tenant, "m").await.unwrap().unwrap();
    let c = service::run_check(store, &model, &run, now).await.unwrap();
    assert_eq!(c.status, ExecutionStatus::Completed);
    assert_eq!(c.metrics["features"]["x"]["n_cur"], 50);
    assert_eq!(c.metrics["features"]["c"]["n_cur"], 0);
    let by_id = repo::get_check(store, &tenant, "dc_contract")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_id.check, c);
    let hist = store
        .query(&repo::checks_query(&tenant, &model.model.uid, None, None))
        .await
        .unwrap();
    assert_eq!(hist.items.len(), 1);
    // Running the same check id again answers the stored record.
    let twice = service::run_check(store, &model, &run, now).await.unwrap();
    assert_eq!(twice, c);
}

fn sched_pk(t: &vigil_shared::domain::TenantId) -> String {
    vigil_shared::repo::storage_keys::drift::model_pk(t, "m")
}

// ---------------------------------------------------------------------------------------
// Resilience state kept in the store: what every Lambda instance shares.

async fn rate_window_shared(store: &dyn ItemStore, env: &Env) {
    use vigil_shared::domain::TenantId;
    use vigil_shared::resilience::rate_limit::{Bucket, Limit, charge_stored};
    let t0 = env.clock.now();
    let at = |s: i64| t0 + chrono::Duration::seconds(s);
    let bucket = Bucket::Key(
        TenantId::parse("acme").unwrap(),
        format!("k-{}", unique_name()),
    );
    let limit = Limit {
        limit: 3,
        window_seconds: 10,
    };
    for _ in 0..3 {
        assert!(
            charge_stored(store, &bucket, limit, 1, at(0))
                .await
                .unwrap()
                .allowed
        );
    }
    let refused = charge_stored(store, &bucket, limit, 1, at(0))
        .await
        .unwrap();
    assert!(!refused.allowed);
    assert!(refused.retry_after_seconds >= 1);
    // Two windows on, the whole budget is back.
    assert!(
        charge_stored(store, &bucket, limit, 3, at(25))
            .await
            .unwrap()
            .allowed
    );
    // Concurrent charges from many callers never let more than the limit through.
    let burst = Bucket::Tenant(
        TenantId::parse(&format!(
            "b{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        ))
        .unwrap(),
    );
    let tries = (0..8).map(|_| charge_stored(store, &burst, limit, 1, at(40)));
    let allowed = futures::future::join_all(tries)
        .await
        .into_iter()
        .filter(|d| d.as_ref().unwrap().allowed)
        .count();
    assert_eq!(allowed, 3);
}

async fn breaker_shared(store: &dyn ItemStore, env: &Env) {
    use vigil_shared::domain::TenantId;
    use vigil_shared::resilience::breaker::{
        Admission, BreakerKey, BreakerSettings, BreakerState, Breakers,
    };
    let t0 = env.clock.now();
    let tenant = TenantId::parse(&format!(
        "t{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    ))
    .unwrap();
    let key = BreakerKey::webhook(&tenant, "ep");
    let b = Breakers::new(BreakerSettings::default());
    for _ in 0..5 {
        b.record(store, &key, Some("HTTP 500"), t0).await.unwrap();
    }
    assert!(!b.admit(store, &key, t0).await.unwrap().allowed());
    // Of many instances asking at once after the cool-down, exactly one gets the trial.
    let later = t0 + chrono::Duration::seconds(30);
    let asks = (0..6).map(|_| b.admit(store, &key, later));
    let trials = futures::future::join_all(asks)
        .await
        .into_iter()
        .filter(|a| *a.as_ref().unwrap() == Admission::Trial)
        .count();
    assert_eq!(trials, 1);
    b.record(store, &key, None, later).await.unwrap();
    let listed = Breakers::list(store, &tenant).await.unwrap();
    let mine: Vec<_> = listed.iter().filter(|x| x.name == "webhook#ep").collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].state, BreakerState::Closed);
}

// ---------------------------------------------------------------------------------------
// Access patterns of the governance registries and failure counters

/// The gate's reads (the newest approved version per purpose on GSI4, the newest version
/// per purpose on GSI3), the transitions' conditional writes and the failure counters
/// (a TTL'd marker plus an add in one write) behave alike in both families.
async fn store_governance_gate_and_failures(store: &dyn ItemStore, env: &Env) {
    use vigil_shared::domain::TenantId;
    use vigil_shared::governance::registry::{Action, PromptSpec, Spec};
    use vigil_shared::governance::{Blocked, FailureClass, GateError, approved_prompt, failures};
    use vigil_shared::service::{Origin, governance};

    let tenant =
        TenantId::parse(&format!("t{}", &unique_name()[..8].to_lowercase())).expect("tenant");
    let author = Origin::key(tenant.clone(), "author", None);
    let approver = Origin::key(tenant.clone(), "approver", None);
    let blocked = |r: Result<_, GateError>| match r {
        Err(GateError::Blocked(b)) => b,
        other => panic!("expected a block, got {other:?}"),
    };
    assert!(matches!(
        blocked(approved_prompt(store, &tenant, "enrichment").await),
        Blocked::Missing { .. }
    ));
    let mut ids = Vec::new();
    for v in ["1", "2"] {
        let spec = Spec::Prompt(PromptSpec::new("p", v, "", "{{finding}}", "enrichment"));
        let reg = governance::register(store, &author, spec, true, env.clock.now())
            .await
            .expect("register");
        ids.push(reg.record.id);
    }
    assert!(matches!(
        blocked(approved_prompt(store, &tenant, "enrichment").await),
        Blocked::NotApproved { ref id, .. } if *id == ids[1]
    ));
    for id in &ids {
        env.pass(Duration::from_millis(10)).await;
        governance::act(
            store,
            &approver,
            Kind::Prompt,
            id,
            Action::Approve,
            None,
            env.clock.now(),
        )
        .await
        .expect("approve");
    }
    let got = approved_prompt(store, &tenant, "enrichment")
        .await
        .expect("approved");
    assert_eq!(got.id, ids[1], "the most recently approved");
    governance::act(
        store,
        &approver,
        Kind::Prompt,
        &ids[1],
        Action::Retire,
        None,
        env.clock.now(),
    )
    .await
    .expect("retire");
    let got = approved_prompt(store, &tenant, "enrichment")
        .await
        .expect("approved");
    assert_eq!(
        got.id, ids[0],
        "a retired version leaves the approved index"
    );
    governance::act(
        store,
        &approver,
        Kind::Prompt,
        &ids[0],
        Action::Retire,
        None,
        env.clock.now(),
    )
    .await
    .expect("retire");
    assert!(matches!(
        blocked(approved_prompt(store, &tenant, "enrichment").await),
        Blocked::Retired { ref id, .. } if *id == ids[1]
    ));

    for _ in 0..3 {
        failures::count_message(
            store,
            &tenant,
            "rules",
            "m-1",
            FailureClass::InfraError,
            env.clock.now(),
        )
        .await
        .expect("count");
    }
    failures::count(store, &tenant, FailureClass::ValidationError, "api")
        .await
        .expect("count");
    failures::count(store, &tenant, FailureClass::ValidationError, "api")
        .await
        .expect("count");
    let counts = failures::counts(store, &tenant).await.expect("counts");
    assert_eq!(counts["INFRA_ERROR"], 1, "one message, however often");
    assert_eq!(counts["VALIDATION_ERROR"], 2);
    assert_eq!(counts["HIGH_RISK"], 0);
}
