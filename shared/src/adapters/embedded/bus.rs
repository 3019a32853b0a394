//! The local event bus: domain events are appended to a table that local consumers
//! (the webhook fan-out) read in order.
use async_trait::async_trait;
use rusqlite::params;

use super::db::{EmbeddedDb, unavailable_on_failure};
use crate::ports::bus::{BusError, DomainEvent, EventBus};

unavailable_on_failure!(BusError);

#[derive(Clone)]
pub struct EmbeddedBus {
    db: EmbeddedDb,
}

impl EmbeddedBus {
    pub fn new(db: EmbeddedDb) -> Self {
        Self { db }
    }

    /// Events after position `after` in publication order, with their positions.
    pub async fn read_after(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, DomainEvent)>, BusError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.db
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT seq, id, tenant, detail_type, time, detail, request_id FROM bus_events
                         WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                    )
                    .map_err(sql_err)?;
                let rows = stmt
                    .query_map(params![after, limit], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, String>(4)?,
                            r.get::<_, String>(5)?,
                            r.get::<_, Option<String>>(6)?,
                        ))
                    })
                    .map_err(sql_err)?;
                let mut out = Vec::new();
                for row in rows {
                    let (seq, id, tenant, detail_type, time, detail, request_id) =
                        row.map_err(sql_err)?;
                    let time = chrono::DateTime::parse_from_rfc3339(&time)
                        .map_err(|e| BusError::Unavailable(e.to_string()))?
                        .to_utc();
                    let detail = serde_json::from_str(&detail)
                        .map_err(|e| BusError::Unavailable(e.to_string()))?;
                    out.push((
                        seq,
                        DomainEvent {
                            id,
                            tenant,
                            detail_type,
                            time,
                            detail,
                            request_id,
                        },
                    ));
                }
                Ok(out)
            })
            .await
    }
}

#[async_trait]
impl EventBus for EmbeddedBus {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), BusError> {
        let events = events.to_vec();
        self.db
            .write(move |c| {
                // A re-published event (same id) is stored once.
                let mut stmt = c
                    .prepare_cached(
                            "INSERT OR IGNORE INTO bus_events (id, tenant, detail_type, time, detail, request_id)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        )
                        .map_err(sql_err)?;
                    for e in &events {
                        stmt.execute(params![
                            e.id,
                            e.tenant,
                            e.detail_type,
                            e.time.to_rfc3339(),
                            e.detail.to_string(),
                            e.request_id
                        ])
                        .map_err(sql_err)?;
                    }
                Ok(())
            })
            .await
    }
}
