//! Durable local queues in SQLite, with SQS semantics: visibility timeouts, receive
//! counts, and a dead-letter state once a message has been received too often.
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::db::{EmbeddedDb, unavailable_on_failure};
use crate::ports::queue::{
    DeadLetter, Delivery, MAX_MESSAGE_BYTES, OutMessage, Queue, QueueError, QueueName,
};

unavailable_on_failure!(QueueError);

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[derive(Clone)]
pub struct EmbeddedQueue {
    db: EmbeddedDb,
    /// Deliveries after which a message moves to the dead-letter state (SQS maxReceiveCount).
    max_receives: u32,
}

impl EmbeddedQueue {
    pub fn new(db: EmbeddedDb, max_receives: u32) -> Self {
        Self {
            db,
            max_receives: max_receives.max(1),
        }
    }

    /// Runs a statement on the message one receipt names, answering `UnknownReceipt`
    /// when it changed no row (the receipt is stale or the message gone).
    async fn on_receipt<F>(&self, statement: F) -> Result<(), QueueError>
    where
        F: FnOnce(&mut rusqlite::Connection) -> rusqlite::Result<usize> + Send + 'static,
    {
        self.db
            .write(move |c| match statement(c).map_err(sql_err)? {
                0 => Err(QueueError::UnknownReceipt),
                _ => Ok(()),
            })
            .await
    }

    /// Messages waiting or in flight (not dead) on `queue`.
    pub async fn depth(&self, queue: QueueName) -> Result<u64, QueueError> {
        self.db
            .read(move |c| {
                c.query_row(
                    "SELECT COUNT(*) FROM queue_messages WHERE queue = ?1 AND dead = 0",
                    [queue.as_str()],
                    |r| r.get::<_, i64>(0),
                )
                .map(|n| u64::try_from(n).unwrap_or_default())
                .map_err(sql_err)
            })
            .await
    }
}

#[async_trait]
impl Queue for EmbeddedQueue {
    async fn send(&self, queue: QueueName, messages: Vec<OutMessage>) -> Result<(), QueueError> {
        if let Some(m) = messages.iter().find(|m| m.body.len() > MAX_MESSAGE_BYTES) {
            return Err(QueueError::TooLarge(m.body.len()));
        }
        let now = self.db.now_ms();
        self.db
            .write(move |c| {
                {
                    let mut stmt = c
                        .prepare_cached(
                            "INSERT INTO queue_messages (queue, msg_id, body, visible_at, sent_at)
                             VALUES (?1, ?2, ?3, ?4, ?5)",
                        )
                        .map_err(sql_err)?;
                    for m in &messages {
                        let id = uuid::Uuid::now_v7().to_string();
                        stmt.execute(params![
                            queue.as_str(),
                            id,
                            m.body,
                            now + millis(m.delay),
                            now
                        ])
                        .map_err(sql_err)?;
                    }
                }
                Ok(())
            })
            .await
    }

    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<Delivery>, QueueError> {
        let now = self.db.now_ms();
        let max_receives = i64::from(self.max_receives);
        let limit = i64::try_from(max.clamp(1, 10_000)).unwrap_or(10);
        self.db
            .write(move |tx| {
                let mut out = Vec::new();
                {
                    let mut pick = tx
                        .prepare_cached(
                            "SELECT seq, msg_id, body, receive_count FROM queue_messages
                             WHERE queue = ?1 AND dead = 0 AND visible_at <= ?2
                             ORDER BY visible_at, seq LIMIT ?3",
                        )
                        .map_err(sql_err)?;
                    let rows = pick
                        .query_map(params![queue.as_str(), now, limit], |r| {
                            Ok((
                                r.get::<_, i64>(0)?,
                                r.get::<_, String>(1)?,
                                r.get::<_, String>(2)?,
                                r.get::<_, i64>(3)?,
                            ))
                        })
                        .map_err(sql_err)?
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(sql_err)?;
                    let mut kill = tx
                        .prepare_cached("UPDATE queue_messages SET dead = 1, receipt = NULL WHERE seq = ?1")
                        .map_err(sql_err)?;
                    let mut lease = tx
                        .prepare_cached(
                            "UPDATE queue_messages SET receive_count = ?2, visible_at = ?3, receipt = ?4 WHERE seq = ?1",
                        )
                        .map_err(sql_err)?;
                    for (seq, id, body, count) in rows {
                        if count >= max_receives {
                            kill.execute([seq]).map_err(sql_err)?;
                            continue;
                        }
                        let receipt = uuid::Uuid::new_v4().to_string();
                        lease
                            .execute(params![seq, count + 1, now + millis(visibility), receipt])
                            .map_err(sql_err)?;
                        out.push(Delivery {
                            id,
                            receipt,
                            body,
                            receive_count: u32::try_from(count + 1).unwrap_or(u32::MAX),
                        });
                    }
                }
                Ok(out)
            })
            .await
    }

    async fn ack(&self, queue: QueueName, receipt: &str) -> Result<(), QueueError> {
        let receipt = receipt.to_string();
        self.on_receipt(move |c| {
            c.execute(
                "DELETE FROM queue_messages WHERE queue = ?1 AND receipt = ?2",
                params![queue.as_str(), receipt],
            )
        })
        .await
    }

    async fn ack_all(&self, queue: QueueName, receipts: &[&str]) -> Result<(), QueueError> {
        let receipts: Vec<String> = receipts.iter().map(|r| r.to_string()).collect();
        // Acks every known receipt in one commit, then reports a stale one as `ack` would.
        let missing = self
            .db
            .write(move |c| {
                let mut stmt = c
                    .prepare_cached("DELETE FROM queue_messages WHERE queue = ?1 AND receipt = ?2")
                    .map_err(sql_err)?;
                let mut missing = 0;
                for r in &receipts {
                    if stmt.execute(params![queue.as_str(), r]).map_err(sql_err)? == 0 {
                        missing += 1;
                    }
                }
                Ok::<_, QueueError>(missing)
            })
            .await?;
        match missing {
            0 => Ok(()),
            _ => Err(QueueError::UnknownReceipt),
        }
    }

    async fn retry_after(
        &self,
        queue: QueueName,
        receipt: &str,
        delay: Duration,
    ) -> Result<(), QueueError> {
        let receipt = receipt.to_string();
        let at = self.db.now_ms() + millis(delay);
        self.on_receipt(move |c| {
            c.execute(
                "UPDATE queue_messages SET visible_at = ?3 WHERE queue = ?1 AND receipt = ?2 AND dead = 0",
                params![queue.as_str(), receipt, at],
            )
        })
        .await
    }

    async fn dead_letters(
        &self,
        queue: QueueName,
        max: usize,
    ) -> Result<Vec<DeadLetter>, QueueError> {
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        self.db
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT msg_id, body, receive_count FROM queue_messages
                         WHERE queue = ?1 AND dead = 1 ORDER BY seq LIMIT ?2",
                    )
                    .map_err(sql_err)?;
                let rows = stmt
                    .query_map(params![queue.as_str(), limit], |r| {
                        Ok(DeadLetter {
                            id: r.get(0)?,
                            body: r.get(1)?,
                            receive_count: u32::try_from(r.get::<_, i64>(2)?).unwrap_or(u32::MAX),
                        })
                    })
                    .map_err(sql_err)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(sql_err)
            })
            .await
    }

    async fn redrive(&self, queue: QueueName) -> Result<usize, QueueError> {
        let now = self.db.now_ms();
        self.db
            .write(move |c| {
                c.execute(
                    "UPDATE queue_messages SET dead = 0, receive_count = 0, receipt = NULL, visible_at = ?2
                     WHERE queue = ?1 AND dead = 1",
                    params![queue.as_str(), now],
                )
                .map_err(sql_err)
            })
            .await
    }
}

/// Reads one message by id; used by tests that inspect queue state.
pub async fn message_receive_count(
    queue: &EmbeddedQueue,
    msg_id: &str,
) -> Result<Option<u32>, QueueError> {
    let id = msg_id.to_string();
    queue
        .db
        .read(move |c| {
            c.query_row(
                "SELECT receive_count FROM queue_messages WHERE msg_id = ?1",
                [id],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map(|n| n.map(|n| u32::try_from(n).unwrap_or(u32::MAX)))
            .map_err(sql_err)
        })
        .await
}
