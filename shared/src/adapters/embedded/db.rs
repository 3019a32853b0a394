//! One SQLite database file holds the embedded store, queues and bus, so a local run
//! needs no services. WAL mode keeps committed writes across a process crash. One
//! thread owns the only writing connection; reads use a pool of read-only connections,
//! so neither kind waits behind the other, and no SQLite call runs on a runtime thread.
use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{Semaphore, oneshot};

use crate::ports::Clock;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    g1pk TEXT, g1sk TEXT,
    g2pk TEXT, g2sk TEXT,
    g3pk TEXT, g3sk TEXT,
    g4pk TEXT, g4sk TEXT,
    g5pk TEXT, g5sk TEXT,
    g6pk TEXT, g6sk TEXT,
    ttl INTEGER,
    version INTEGER NOT NULL,
    count INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_gsi1 ON items (g1pk, g1sk, pk, sk) WHERE g1pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_gsi2 ON items (g2pk, g2sk, pk, sk) WHERE g2pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_gsi3 ON items (g3pk, g3sk, pk, sk) WHERE g3pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_ttl ON items (ttl) WHERE ttl IS NOT NULL;

CREATE TABLE IF NOT EXISTS queue_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    msg_id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    visible_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT,
    dead INTEGER NOT NULL DEFAULT 0,
    sent_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_ready ON queue_messages (queue, dead, visible_at, seq);
CREATE INDEX IF NOT EXISTS queue_receipt ON queue_messages (receipt) WHERE receipt IS NOT NULL;

CREATE TABLE IF NOT EXISTS bus_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    tenant TEXT NOT NULL,
    detail_type TEXT NOT NULL,
    time TEXT NOT NULL,
    detail TEXT NOT NULL,
    request_id TEXT
);
";

/// How each embedded adapter reports failure through its port's error `$port`:
/// `Unavailable`, from an [`EmbeddedError`] (by `?`) and from a raw SQLite error
/// (by `map_err(sql_err)`), each with its own message.
macro_rules! unavailable_on_failure {
    ($port:ident) => {
        impl From<$crate::adapters::embedded::EmbeddedError> for $port {
            fn from(e: $crate::adapters::embedded::EmbeddedError) -> Self {
                $port::Unavailable(e.to_string())
            }
        }

        fn sql_err(e: ::rusqlite::Error) -> $port {
            $port::Unavailable(e.to_string())
        }
    };
}
pub(super) use unavailable_on_failure;

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error("cannot open the embedded database at {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("embedded database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The group commit that held this write failed, so the write did not happen.
    #[error("embedded database commit failed: {0}")]
    Commit(String),
    /// The writer thread or a reader task stopped before answering (a panic in the
    /// statement, or the database is shutting down).
    #[error("embedded database stopped before answering")]
    Stopped,
}

/// Databases created before bus events carried a request id lack its column.
fn add_bus_request_id(conn: &Connection) -> Result<(), rusqlite::Error> {
    let has: bool = conn.query_row(
        "SELECT COUNT(*) > 0 FROM pragma_table_info('bus_events') WHERE name = 'request_id'",
        [],
        |r| r.get(0),
    )?;
    if !has {
        conn.execute_batch("ALTER TABLE bus_events ADD COLUMN request_id TEXT")?;
    }
    Ok(())
}

/// Secondary indexes 4 to 6, which databases created before them lack (with their
/// columns). Items written before keep no keys in them until written again.
const LATER_INDEXES: &str = "
CREATE INDEX IF NOT EXISTS items_gsi4 ON items (g4pk, g4sk, pk, sk) WHERE g4pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_gsi5 ON items (g5pk, g5sk, pk, sk) WHERE g5pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_gsi6 ON items (g6pk, g6sk, pk, sk) WHERE g6pk IS NOT NULL;
";

fn add_item_indexes(conn: &Connection) -> Result<(), rusqlite::Error> {
    for n in 4..=6 {
        let has: bool = conn.query_row(
            "SELECT COUNT(*) > 0 FROM pragma_table_info('items') WHERE name = ?1",
            [format!("g{n}pk")],
            |r| r.get(0),
        )?;
        if !has {
            conn.execute_batch(&format!(
                "ALTER TABLE items ADD COLUMN g{n}pk TEXT; ALTER TABLE items ADD COLUMN g{n}sk TEXT;"
            ))?;
        }
    }
    conn.execute_batch(LATER_INDEXES)
}

/// Read-only connections a file database keeps beside its writer. WAL lets each read
/// its own snapshot while the writer commits, so reads wait neither on writes nor on
/// each other (up to this many at once).
pub const READERS: usize = 4;

/// The most queued writes one commit may carry. Each write runs in its own savepoint
/// (a failed one rolls back alone); the commit answers them all.
pub const MAX_GROUP: usize = 64;

/// A write handed to the writer thread. It runs inside a savepoint and answers whether
/// it succeeded, plus how to deliver its result once the commit is known.
type Job = Box<dyn FnOnce(&mut Connection) -> (bool, Deliver) + Send>;
/// Sends a write's result; given the commit's error, if the commit failed.
type Deliver = Box<dyn FnOnce(Option<&str>) + Send>;

/// The writer thread: takes every write queued so far (up to [`MAX_GROUP`]), runs each
/// in a savepoint of one transaction, commits once, then answers them. A write's caller
/// hears of it only after its commit, so what it wrote is durable and visible to every
/// reader by then.
fn run_writer(mut conn: Connection, jobs: &mpsc::Receiver<Job>, max_group: usize) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < max_group {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            // Dropping the jobs tells each caller the database stopped.
            tracing::error!(error = %e, "embedded writer cannot begin a transaction");
            continue;
        }
        let mut answers = Vec::with_capacity(group.len());
        for job in group {
            if let Some(deliver) = run_job(&mut conn, job) {
                answers.push(deliver);
            }
        }
        let failed = conn.execute_batch("COMMIT").err().map(|e| {
            // A failed COMMIT may leave the transaction open; nothing of it may stay.
            let _ = conn.execute_batch("ROLLBACK");
            e.to_string()
        });
        for deliver in answers {
            deliver(failed.as_deref());
        }
    }
}

/// Runs one write in its own savepoint, rolling it back alone when it fails or panics
/// (a panicking write's caller hears `Stopped`).
fn run_job(conn: &mut Connection, job: Job) -> Option<Deliver> {
    if let Err(e) = conn.execute_batch("SAVEPOINT job") {
        tracing::error!(error = %e, "embedded writer cannot open a savepoint");
        return None;
    }
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(conn)));
    let ok = matches!(ran, Ok((true, _)));
    let undo = if ok {
        "RELEASE job"
    } else {
        "ROLLBACK TO job; RELEASE job"
    };
    if let Err(e) = conn.execute_batch(undo) {
        tracing::error!(error = %e, "embedded writer cannot close a savepoint");
    }
    ran.ok().map(|(_, deliver)| deliver)
}

/// Idle read-only connections, and permits for them: a task holding a permit finds a
/// connection in `idle`.
struct Readers {
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

impl Readers {
    fn open(path: &Path, n: usize) -> Result<Self, EmbeddedError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let idle = (0..n)
            .map(|_| {
                let c = Connection::open_with_flags(path, flags).map_err(|source| {
                    EmbeddedError::Open {
                        path: path.display().to_string(),
                        source,
                    }
                })?;
                c.pragma_update(None, "busy_timeout", 5000)?;
                c.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
                Ok(c)
            })
            .collect::<Result<Vec<_>, EmbeddedError>>()?;
        Ok(Self {
            idle: Mutex::new(idle),
            permits: Arc::new(Semaphore::new(n)),
        })
    }

    fn take(&self) -> Option<Connection> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    fn give_back(&self, conn: Connection) {
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(conn);
    }
}

/// A shared handle on the embedded database: one writer thread that owns the only
/// writing connection, and (for a file) a pool of read-only connections.
#[derive(Clone)]
pub struct EmbeddedDb {
    writer: mpsc::Sender<Job>,
    /// None for an in-memory database, which no second connection can see: its reads
    /// go through the writer.
    readers: Option<Arc<Readers>>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl EmbeddedDb {
    /// Opens (creating if needed) the database file at `path`.
    pub fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<Self, EmbeddedError> {
        Self::open_with(path, clock, MAX_GROUP)
    }

    /// [`open`](Self::open) with at most `max_group` writes per commit (1: one commit
    /// per write), for measuring what group commit buys.
    pub fn open_with(
        path: &Path,
        clock: Arc<dyn Clock>,
        max_group: usize,
    ) -> Result<Self, EmbeddedError> {
        let conn = Connection::open(path).map_err(|source| EmbeddedError::Open {
            path: path.display().to_string(),
            source,
        })?;
        prepare(&conn)?;
        // Readers open after the writer made the file WAL, so they share its log.
        let readers = Readers::open(path, READERS)?;
        Ok(Self::start(conn, Some(Arc::new(readers)), clock, max_group))
    }

    /// A private in-memory database, for tests and benchmarks.
    pub fn in_memory(clock: Arc<dyn Clock>) -> Result<Self, EmbeddedError> {
        let conn = Connection::open_in_memory()?;
        prepare(&conn)?;
        Ok(Self::start(conn, None, clock, MAX_GROUP))
    }

    fn start(
        conn: Connection,
        readers: Option<Arc<Readers>>,
        clock: Arc<dyn Clock>,
        max_group: usize,
    ) -> Self {
        let (writer, jobs) = mpsc::channel::<Job>();
        let max_group = max_group.max(1);
        // The thread ends, closing the connection, when the last handle is dropped.
        std::thread::Builder::new()
            .name("vigil-sqlite-writer".into())
            .spawn(move || run_writer(conn, &jobs, max_group))
            .map(drop)
            .unwrap_or_else(|e| tracing::error!(error = %e, "cannot start the embedded writer"));
        Self {
            writer,
            readers,
            clock,
        }
    }

    /// Runs the write `f` on the writer connection, inside a savepoint of the writer's
    /// next commit: what `f` did is undone alone when it returns an error. Answers once
    /// that commit is durable. `f` must not open a transaction of its own.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<EmbeddedError> + Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T, E>>();
        let job: Job = Box::new(move |c| {
            let result = f(c);
            let ok = result.is_ok();
            let deliver: Deliver = Box::new(move |commit_failed| {
                let result = match (result, commit_failed) {
                    (Ok(_), Some(e)) => Err(E::from(EmbeddedError::Commit(e.to_string()))),
                    (r, _) => r,
                };
                // The caller may have gone (its request was cancelled); the write stands.
                let _ = tx.send(result);
            });
            (ok, deliver)
        });
        self.writer
            .send(job)
            .map_err(|_| E::from(EmbeddedError::Stopped))?;
        rx.await.map_err(|_| E::from(EmbeddedError::Stopped))?
    }

    /// Runs the read `f` on a pooled read-only connection, on the blocking pool so no
    /// runtime thread waits on SQLite. It sees every write that has answered.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<EmbeddedError> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        let Some(readers) = &self.readers else {
            return self.write(move |c| f(c)).await;
        };
        let permit = Arc::clone(&readers.permits)
            .acquire_owned()
            .await
            .map_err(|_| E::from(EmbeddedError::Stopped))?;
        let readers = Arc::clone(readers);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let conn = readers.take().ok_or(E::from(EmbeddedError::Stopped))?;
            // Back to the pool even if `f` panics, so the pool never shrinks.
            let lease = Lease {
                conn: Some(conn),
                readers: &readers,
            };
            lease
                .conn
                .as_ref()
                .map_or(Err(E::from(EmbeddedError::Stopped)), f)
        })
        .await
        .map_err(|_| E::from(EmbeddedError::Stopped))?
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }
}

struct Lease<'a> {
    conn: Option<Connection>,
    readers: &'a Readers,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            self.readers.give_back(c);
        }
    }
}

/// Statements each connection keeps prepared: more than the store, queue and bus use
/// (queries differ per index and bound), so none is prepared again per call.
const STATEMENT_CACHE: usize = 128;

/// The writer connection's settings and the schema. WAL with synchronous=NORMAL keeps
/// every committed write across a process crash (a power cut may lose the last ones).
fn prepare(conn: &Connection) -> Result<(), EmbeddedError> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "busy_timeout", 5000)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.execute_batch(SCHEMA)?;
    add_bus_request_id(conn)?;
    add_item_indexes(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::SystemClock;

    #[test]
    fn a_database_from_before_bus_request_ids_gains_the_column() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE bus_events (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT NOT NULL UNIQUE,
                tenant TEXT NOT NULL,
                detail_type TEXT NOT NULL,
                time TEXT NOT NULL,
                detail TEXT NOT NULL
            );
            INSERT INTO bus_events (id, tenant, detail_type, time, detail)
            VALUES ('e1', 't1', 'x', '2026-11-25T10:00:00Z', '{}');",
        )
        .unwrap();
        prepare(&conn).unwrap();
        let old: Option<String> = conn
            .query_row(
                "SELECT request_id FROM bus_events WHERE id = 'e1'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(old, None);
        // Opening again finds the column and leaves it be.
        add_bus_request_id(&conn).unwrap();
    }

    fn count(c: &Connection) -> Result<i64, EmbeddedError> {
        Ok(c.query_row("SELECT COUNT(*) FROM bus_events", [], |r| r.get(0))?)
    }

    fn insert(c: &Connection, id: &str) -> Result<(), EmbeddedError> {
        c.execute(
            "INSERT INTO bus_events (id, tenant, detail_type, time, detail) VALUES (?1, 't', 'x', 't', '{}')",
            [id],
        )?;
        Ok(())
    }

    #[tokio::test]
    async fn a_pooled_reader_sees_a_write_once_it_answered() {
        let dir = tempfile::tempdir().unwrap();
        let db = EmbeddedDb::open(&dir.path().join("db"), Arc::new(SystemClock)).unwrap();
        assert!(db.readers.is_some());
        for i in 0..20 {
            db.write(move |c| insert(c, &format!("e{i}")))
                .await
                .unwrap();
            assert_eq!(db.read(count).await.unwrap(), i + 1);
        }
    }

    #[tokio::test]
    async fn readers_refuse_to_write() {
        let dir = tempfile::tempdir().unwrap();
        let db = EmbeddedDb::open(&dir.path().join("db"), Arc::new(SystemClock)).unwrap();
        assert!(db.read(|c| insert(c, "e1")).await.is_err());
    }

    #[tokio::test]
    async fn a_failed_or_panicking_write_in_a_group_is_undone_alone() {
        let dir = tempfile::tempdir().unwrap();
        let db = EmbeddedDb::open(&dir.path().join("db"), Arc::new(SystemClock)).unwrap();
        // Queued together, so they likely share one commit; each outcome is its own.
        let ok = db.write(|c| insert(c, "a"));
        let failed = db.write(|c| {
            insert(c, "b")?;
            insert(c, "a")
        });
        let panicked = db.write(|c| -> Result<(), EmbeddedError> {
            insert(c, "c")?;
            panic!("a bug in a statement")
        });
        let later = db.write(|c| insert(c, "d"));
        let (ok, failed, panicked, later) = tokio::join!(ok, failed, panicked, later);
        ok.unwrap();
        assert!(matches!(failed, Err(EmbeddedError::Sqlite(_))));
        assert!(matches!(panicked, Err(EmbeddedError::Stopped)));
        later.unwrap();
        let ids: Vec<String> = db
            .read(|c| -> Result<Vec<String>, EmbeddedError> {
                let mut s = c.prepare("SELECT id FROM bus_events ORDER BY id")?;
                let rows = s.query_map([], |r| r.get(0))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await
            .unwrap();
        assert_eq!(ids, ["a", "d"]);
    }

    #[tokio::test]
    async fn one_write_per_commit_works_too() {
        let dir = tempfile::tempdir().unwrap();
        let db = EmbeddedDb::open_with(&dir.path().join("db"), Arc::new(SystemClock), 1).unwrap();
        let writes = (0..10).map(|i| db.write(move |c| insert(c, &format!("e{i}"))));
        for r in futures::future::join_all(writes).await {
            r.unwrap();
        }
        assert_eq!(db.read(count).await.unwrap(), 10);
    }
}
