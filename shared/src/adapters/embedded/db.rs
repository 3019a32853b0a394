//! One SQLite database file holds the embedded store, queues and bus, so a local run
//! needs no services. WAL mode keeps committed writes across a process crash.
use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use crate::ports::Clock;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    g1pk TEXT, g1sk TEXT,
    g2pk TEXT, g2sk TEXT,
    g3pk TEXT, g3sk TEXT,
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

/// A shared handle on the embedded database.
#[derive(Clone)]
pub struct EmbeddedDb {
    conn: Arc<Mutex<Connection>>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl EmbeddedDb {
    /// Opens (creating if needed) the database file at `path`.
    pub fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<Self, EmbeddedError> {
        let conn = Connection::open(path).map_err(|source| EmbeddedError::Open {
            path: path.display().to_string(),
            source,
        })?;
        Self::init(conn, clock)
    }

    /// A private in-memory database, for tests and benchmarks.
    pub fn in_memory(clock: Arc<dyn Clock>) -> Result<Self, EmbeddedError> {
        Self::init(Connection::open_in_memory()?, clock)
    }

    fn init(conn: Connection, clock: Arc<dyn Clock>) -> Result<Self, EmbeddedError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "busy_timeout", 5000)?;
        conn.execute_batch(SCHEMA)?;
        add_bus_request_id(&conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            clock,
        })
    }

    /// Runs `f` on the connection. SQLite calls here take microseconds, so they run in
    /// place: handing each one to the blocking pool cost more in thread wake-ups than the
    /// work itself (measured with `vigil bench`).
    pub async fn call<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<EmbeddedError> + Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    {
        let mut guard = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }
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
        let db = EmbeddedDb::init(conn, Arc::new(SystemClock)).unwrap();
        let guard = db.conn.lock().unwrap();
        let old: Option<String> = guard
            .query_row(
                "SELECT request_id FROM bus_events WHERE id = 'e1'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(old, None);
        // Opening again finds the column and leaves it be.
        add_bus_request_id(&guard).unwrap();
    }
}
