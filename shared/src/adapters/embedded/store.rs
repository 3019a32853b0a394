//! [`ItemStore`] over SQLite.
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params, types::Value as SqlValue};

use super::db::{EmbeddedDb, unavailable_on_failure};
use crate::ports::store::{
    Condition, Cursor, Index, IndexKey, Item, ItemStore, KeyRange, Page, Query, StoreError,
    WriteOp, cursor_for, validate_batch,
};

unavailable_on_failure!(StoreError);

#[derive(Clone)]
pub struct EmbeddedStore {
    db: EmbeddedDb,
}

impl EmbeddedStore {
    pub fn new(db: EmbeddedDb) -> Self {
        Self { db }
    }

    /// Deletes expired items, as DynamoDB's TTL sweeper does; returns how many.
    pub async fn purge_expired(&self) -> Result<usize, StoreError> {
        let now = self.db.clock.now().timestamp();
        self.db
            .write(move |c| {
                c.execute(
                    "DELETE FROM items WHERE ttl IS NOT NULL AND ttl <= ?1",
                    [now],
                )
                .map_err(sql_err)
            })
            .await
    }
}

/// Every column of an item: the six fixed ones, then each secondary index's pair.
const COLUMNS: &str = "pk, sk, ttl, version, count, data, g1pk, g1sk, g2pk, g2sk, g3pk, g3sk, g4pk, g4sk, g5pk, g5sk, g6pk, g6sk";
/// Where the index pairs start in [`COLUMNS`].
const FIRST_INDEX_COLUMN: usize = 6;

/// The upsert of a whole item, one parameter per column of [`COLUMNS`].
static PUT_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let marks = (1..=COLUMNS.split(", ").count())
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!("INSERT OR REPLACE INTO items ({COLUMNS}) VALUES ({marks})")
});

fn index_key(row: &Row<'_>, at: usize) -> rusqlite::Result<Option<IndexKey>> {
    let pk: Option<String> = row.get(at)?;
    let sk: Option<String> = row.get(at + 1)?;
    Ok(pk.zip(sk).map(|(pk, sk)| IndexKey { pk, sk }))
}

fn read_item(row: &Row<'_>) -> rusqlite::Result<(Item, String)> {
    let version: i64 = row.get(3)?;
    let mut item = Item::new(
        row.get::<_, String>(0)?,
        row.get::<_, String>(1)?,
        serde_json::Value::Null,
    );
    item.ttl = row.get(2)?;
    item.version = u64::try_from(version).unwrap_or_default();
    item.count = row.get(4)?;
    for (n, index) in Index::SECONDARY.into_iter().enumerate() {
        *index_slot(&mut item, index) = index_key(row, FIRST_INDEX_COLUMN + 2 * n)?;
    }
    Ok((item, row.get(5)?))
}

fn index_slot(item: &mut Item, index: Index) -> &mut Option<IndexKey> {
    match index {
        Index::Primary | Index::Gsi1 => &mut item.gsi1,
        Index::Gsi2 => &mut item.gsi2,
        Index::Gsi3 => &mut item.gsi3,
        Index::Gsi4 => &mut item.gsi4,
        Index::Gsi5 => &mut item.gsi5,
        Index::Gsi6 => &mut item.gsi6,
    }
}

fn finish(raw: (Item, String)) -> Result<Item, StoreError> {
    let (mut item, data) = raw;
    item.data = serde_json::from_str(&data).map_err(|e| StoreError::Malformed(e.to_string()))?;
    Ok(item)
}

/// The version of the live item at the key: an expired item not yet purged is absent,
/// to conditions as to reads (DynamoDB's sweeper is lazy too, and the DynamoDB adapter
/// writes its conditions the same way).
fn stored_version(c: &Connection, pk: &str, sk: &str, now: i64) -> rusqlite::Result<Option<i64>> {
    c.prepare_cached(
        "SELECT version FROM items WHERE pk = ?1 AND sk = ?2 AND (ttl IS NULL OR ttl > ?3)",
    )?
    .query_row(params![pk, sk, now], |r| r.get(0))
    .optional()
}

fn holds(condition: Condition, stored: Option<i64>) -> bool {
    match condition {
        Condition::None => true,
        Condition::NotExists => stored.is_none(),
        Condition::Exists => stored.is_some(),
        Condition::Version(v) => stored.is_some_and(|s| u64::try_from(s).ok() == Some(v)),
    }
}

fn apply(c: &Connection, op: &WriteOp) -> Result<(), StoreError> {
    match op {
        WriteOp::Put { item, .. } => {
            let data = serde_json::to_string(&item.data)
                .map_err(|e| StoreError::Malformed(e.to_string()))?;
            let mut values: Vec<SqlValue> = vec![
                item.pk.clone().into(),
                item.sk.clone().into(),
                item.ttl.into(),
                i64::try_from(item.version).unwrap_or(i64::MAX).into(),
                item.count.into(),
                data.into(),
            ];
            for index in Index::SECONDARY {
                let key = item.index_key(index);
                values.push(key.map(|k| k.pk.clone()).into());
                values.push(key.map(|k| k.sk.clone()).into());
            }
            c.prepare_cached(&PUT_SQL)
                .and_then(|mut s| s.execute(rusqlite::params_from_iter(values)))
                .map_err(sql_err)?;
        }
        WriteOp::Delete { pk, sk, .. } => {
            c.prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2")
                .and_then(|mut s| s.execute(params![pk, sk]))
                .map_err(sql_err)?;
        }
        WriteOp::Add { pk, sk, delta } => {
            c.prepare_cached(
                "INSERT INTO items (pk, sk, version, count, data) VALUES (?1, ?2, 1, ?3, 'null')
                 ON CONFLICT (pk, sk) DO UPDATE SET count = count + excluded.count",
            )
            .and_then(|mut s| s.execute(params![pk, sk, delta]))
            .map_err(sql_err)?;
        }
    }
    Ok(())
}

fn condition_of(op: &WriteOp) -> Condition {
    match op {
        WriteOp::Put { condition, .. } | WriteOp::Delete { condition, .. } => *condition,
        WriteOp::Add { .. } => Condition::None,
    }
}

/// Applies `ops` on the writer, whose savepoint makes them all-or-nothing.
fn write_all(tx: &Connection, ops: &[WriteOp], now: i64) -> Result<(), StoreError> {
    for (i, op) in ops.iter().enumerate() {
        let condition = condition_of(op);
        if condition != Condition::None {
            let (pk, sk) = op.key();
            let stored = stored_version(tx, pk, sk, now).map_err(sql_err)?;
            if !holds(condition, stored) {
                return Err(StoreError::ConditionFailed { op: i });
            }
        }
        apply(tx, op)?;
    }
    Ok(())
}

/// The index columns a query reads.
fn columns_of(index: Index) -> (&'static str, &'static str) {
    match index {
        Index::Primary => ("pk", "sk"),
        Index::Gsi1 => ("g1pk", "g1sk"),
        Index::Gsi2 => ("g2pk", "g2sk"),
        Index::Gsi3 => ("g3pk", "g3sk"),
        Index::Gsi4 => ("g4pk", "g4sk"),
        Index::Gsi5 => ("g5pk", "g5sk"),
        Index::Gsi6 => ("g6pk", "g6sk"),
    }
}

/// `FROM items WHERE ...` of a query (partition, key range, cursor, live items) and its
/// parameters; `with_cursor` false ignores the cursor.
fn from_where(
    q: &Query,
    now: i64,
    with_cursor: bool,
) -> Result<(String, Vec<SqlValue>), StoreError> {
    let (pcol, scol) = columns_of(q.index);
    let mut sql = format!("FROM items WHERE {pcol} = ?1 AND (ttl IS NULL OR ttl > ?2)");
    let mut args: Vec<SqlValue> = vec![q.pk.clone().into(), now.into()];
    // Appends a clause whose `$` placeholders take the next positional parameters.
    let mut bind = |sql: &mut String, clause: &str, values: Vec<String>| {
        let mut parts = clause.split('$');
        if let Some(head) = parts.next() {
            sql.push_str(head);
        }
        for (part, v) in parts.zip(values) {
            args.push(v.into());
            sql.push_str(&format!("?{}", args.len()));
            sql.push_str(part);
        }
    };
    match &q.range {
        KeyRange::All => {}
        KeyRange::Prefix(p) => bind(
            &mut sql,
            &format!(" AND {scol} >= $ AND {scol} <= $"),
            vec![p.clone(), format!("{p}\u{10FFFF}")],
        ),
        KeyRange::Between(a, b) => bind(
            &mut sql,
            &format!(" AND {scol} BETWEEN $ AND $"),
            vec![a.clone(), b.clone()],
        ),
    }
    let cmp = if q.forward { ">" } else { "<" };
    if let Some(after) = q.after.as_ref().filter(|_| with_cursor) {
        match (q.index, &after.index) {
            (Index::Primary, _) => bind(
                &mut sql,
                &format!(" AND sk {cmp} $"),
                vec![after.sk.clone()],
            ),
            (_, Some(ik)) => bind(
                &mut sql,
                &format!(" AND ({scol}, pk, sk) {cmp} ($, $, $)"),
                vec![ik.sk.clone(), after.pk.clone(), after.sk.clone()],
            ),
            (_, None) => return Err(StoreError::InvalidBatch("cursor lacks index key".into())),
        }
    }
    Ok((sql, args))
}

fn run_query(c: &Connection, q: &Query, now: i64) -> Result<Page, StoreError> {
    let (_, scol) = columns_of(q.index);
    let (from, args) = from_where(q, now, true)?;
    let mut sql = format!("SELECT {COLUMNS} {from}");
    let dir = if q.forward { "ASC" } else { "DESC" };
    let limit = q.limit.max(1);
    sql.push_str(&format!(
        " ORDER BY {scol} {dir}, pk {dir}, sk {dir} LIMIT {}",
        limit + 1
    ));
    let mut stmt = c.prepare_cached(&sql).map_err(sql_err)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args), read_item)
        .map_err(sql_err)?;
    let mut items = Vec::with_capacity(limit);
    let mut more = false;
    for row in rows {
        if items.len() == limit {
            more = true;
            break;
        }
        items.push(finish(row.map_err(sql_err)?)?);
    }
    let next = if more {
        items.last().map(|i| cursor_for(i, q.index))
    } else {
        None
    };
    Ok(Page { items, next })
}

#[async_trait]
impl ItemStore for EmbeddedStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let (pk, sk) = (pk.to_string(), sk.to_string());
        let now = self.db.clock.now().timestamp();
        self.db
            .read(move |c| {
                let raw = c
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM items WHERE pk = ?1 AND sk = ?2 AND (ttl IS NULL OR ttl > ?3)"
                    ))
                    .and_then(|mut s| s.query_row(params![pk, sk, now], read_item).optional())
                    .map_err(sql_err)?;
                raw.map(finish).transpose()
            })
            .await
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        let q = query.clone();
        let now = self.db.clock.now().timestamp();
        self.db.read(move |c| run_query(c, &q, now)).await
    }

    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        validate_batch(&ops)?;
        let now = self.db.clock.now().timestamp();
        self.db.write(move |c| write_all(c, &ops, now)).await
    }

    async fn exist(&self, keys: &[(String, String)]) -> Result<Vec<bool>, StoreError> {
        let keys = keys.to_vec();
        let now = self.db.clock.now().timestamp();
        self.db.read(move |c| exist_all(c, &keys, now)).await
    }

    async fn count(&self, query: &Query) -> Result<u64, StoreError> {
        let (from, args) = from_where(query, self.db.clock.now().timestamp(), false)?;
        self.db
            .read(move |c| {
                c.prepare_cached(&format!("SELECT COUNT(*) {from}"))
                    .and_then(|mut s| {
                        s.query_row(rusqlite::params_from_iter(args), |r| r.get::<_, i64>(0))
                    })
                    .map(|n| u64::try_from(n).unwrap_or_default())
                    .map_err(sql_err)
            })
            .await
    }

    async fn skip(&self, query: &Query, n: usize) -> Result<Option<Cursor>, StoreError> {
        let Some(offset) = n.checked_sub(1) else {
            return Ok(None);
        };
        let (_, scol) = columns_of(query.index);
        let (from, args) = from_where(query, self.db.clock.now().timestamp(), false)?;
        let dir = if query.forward { "ASC" } else { "DESC" };
        // Walks the index only: no item is read or decoded.
        let sql = format!(
            "SELECT pk, sk, {scol} {from} ORDER BY {scol} {dir}, pk {dir}, sk {dir} LIMIT 1 OFFSET {offset}"
        );
        let (index, partition) = (query.index, query.pk.clone());
        self.db
            .read(move |c| {
                c.prepare_cached(&sql)
                    .and_then(|mut s| {
                        s.query_row(rusqlite::params_from_iter(args), |r| {
                            let (pk, sk): (String, String) = (r.get(0)?, r.get(1)?);
                            let index_sk: String = r.get(2)?;
                            Ok(Cursor {
                                index: (index != Index::Primary)
                                    .then(|| IndexKey::new(partition, index_sk)),
                                pk,
                                sk,
                            })
                        })
                        .optional()
                    })
                    .map_err(sql_err)
            })
            .await
    }

    async fn put_all(&self, items: Vec<Item>) -> Result<(), StoreError> {
        if items.is_empty() {
            return Ok(());
        }
        let ops: Vec<WriteOp> = items
            .into_iter()
            .map(|i| WriteOp::put(i, Condition::None))
            .collect();
        // One savepoint for every item: no condition to check, so no size limit either.
        let now = self.db.clock.now().timestamp();
        self.db.write(move |c| write_all(c, &ops, now)).await
    }
}

/// Keys looked up per statement: two parameters each, well under SQLite's limit.
const EXIST_CHUNK: usize = 400;

/// Which of `keys` hold a live item, one statement per [`EXIST_CHUNK`] keys.
fn exist_all(c: &Connection, keys: &[(String, String)], now: i64) -> Result<Vec<bool>, StoreError> {
    let mut out = vec![false; keys.len()];
    for (n, chunk) in keys.chunks(EXIST_CHUNK).enumerate() {
        let values = (0..chunk.len())
            .map(|i| format!("({}, ?{}, ?{})", i, 2 * i + 2, 2 * i + 3))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "WITH k(i, pk, sk) AS (VALUES {values})
             SELECT k.i FROM k JOIN items ON items.pk = k.pk AND items.sk = k.sk
             WHERE items.ttl IS NULL OR items.ttl > ?1"
        );
        let mut args: Vec<SqlValue> = Vec::with_capacity(1 + 2 * chunk.len());
        args.push(now.into());
        for (pk, sk) in chunk {
            args.push(pk.clone().into());
            args.push(sk.clone().into());
        }
        let mut stmt = c.prepare_cached(&sql).map_err(sql_err)?;
        let found = stmt
            .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, i64>(0))
            .map_err(sql_err)?;
        for i in found {
            let i = usize::try_from(i.map_err(sql_err)?).unwrap_or(usize::MAX);
            if let Some(slot) = out.get_mut(n * EXIST_CHUNK + i) {
                *slot = true;
            }
        }
    }
    Ok(out)
}
