//! Model tokens and their estimated cost per tenant, model and purpose, per UTC day,
//! from the `usage` object of each model answer. Counters are atomic adds, so every
//! instance adds to the same totals; a call made twice (a redelivered message) was
//! paid for twice and is counted twice.
use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::TenantId;
use crate::ports::store::{Index, ItemStore, KeyRange, Query, StoreError, WriteOp};

/// Token prices of the configured model, USD per million tokens
/// (`VIGIL_LLM_PRICE_INPUT_PER_MTOK`, `VIGIL_LLM_PRICE_OUTPUT_PER_MTOK`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prices {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
}

impl Default for Prices {
    /// gpt-4o-mini's list prices, the default model's.
    fn default() -> Self {
        Self {
            input_per_mtok: 0.15,
            output_per_mtok: 0.60,
        }
    }
}

/// The tokens one model answer reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// What a tenant used of one model for one purpose on one day (or a range's total).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Usage {
    pub model: String,
    pub purpose: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day: Option<NaiveDate>,
    pub calls: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub estimated_cost_usd: f64,
}

const METRICS: [&str; 4] = [
    "calls",
    "prompt_tokens",
    "completion_tokens",
    "cost_micro_usd",
];

fn pk(t: &TenantId) -> String {
    format!("{t}#USAGE")
}

/// Model names are free text; `#` separates the key's parts.
fn part(s: &str) -> String {
    s.replace('#', "_")
}

/// Adds one call's tokens; its cost is priced now, at the configured prices.
pub async fn record(
    store: &dyn ItemStore,
    tenant: &TenantId,
    model: &str,
    purpose: &str,
    tokens: Tokens,
    prices: Prices,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    // Price per million tokens is micro-dollars per token.
    let cost = tokens.prompt_tokens as f64 * prices.input_per_mtok
        + tokens.completion_tokens as f64 * prices.output_per_mtok;
    let values = [
        1,
        tokens.prompt_tokens,
        tokens.completion_tokens,
        cost.round() as u64,
    ];
    let day = now.date_naive();
    let ops = METRICS
        .iter()
        .zip(values)
        .map(|(metric, v)| {
            WriteOp::add(
                pk(tenant),
                format!("{day}#{}#{}#{metric}", part(model), part(purpose)),
                i64::try_from(v).unwrap_or(i64::MAX),
            )
        })
        .collect();
    store.write(ops).await
}

/// Usage per day, model and purpose in `[from, to]` (days, inclusive), oldest first.
pub async fn daily(
    store: &dyn ItemStore,
    tenant: &TenantId,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Usage>, StoreError> {
    let q = Query::new(Index::Primary, pk(tenant))
        .range(KeyRange::Between(
            format!("{from}#"),
            format!("{to}#\u{10FFFF}"),
        ))
        .limit(1000);
    let mut rows: BTreeMap<(NaiveDate, String, String), [u64; 4]> = BTreeMap::new();
    crate::repo::page::for_each_item(store, q, |item| {
        let malformed = || StoreError::Malformed(format!("usage key {}", item.sk));
        let mut parts = item.sk.splitn(4, '#');
        let (Some(day), Some(model), Some(purpose), Some(metric)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed());
        };
        let day: NaiveDate = day.parse().map_err(|_| malformed())?;
        if let Some(i) = METRICS.iter().position(|m| *m == metric) {
            rows.entry((day, model.to_string(), purpose.to_string()))
                .or_default()[i] = u64::try_from(item.count).unwrap_or(0);
        }
        Ok(())
    })
    .await?;
    Ok(rows
        .into_iter()
        .map(|((day, model, purpose), v)| Usage {
            model,
            purpose,
            day: Some(day),
            calls: v[0],
            prompt_tokens: v[1],
            completion_tokens: v[2],
            estimated_cost_usd: v[3] as f64 / 1e6,
        })
        .collect())
}

/// The days of `daily` summed per model and purpose.
pub fn totals(days: &[Usage]) -> Vec<Usage> {
    let mut sums: BTreeMap<(String, String), Usage> = BTreeMap::new();
    for d in days {
        let e = sums
            .entry((d.model.clone(), d.purpose.clone()))
            .or_insert_with(|| Usage {
                model: d.model.clone(),
                purpose: d.purpose.clone(),
                day: None,
                calls: 0,
                prompt_tokens: 0,
                completion_tokens: 0,
                estimated_cost_usd: 0.0,
            });
        e.calls += d.calls;
        e.prompt_tokens += d.prompt_tokens;
        e.completion_tokens += d.completion_tokens;
        e.estimated_cost_usd += d.estimated_cost_usd;
    }
    sums.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::embedded::{EmbeddedDb, EmbeddedStore};
    use crate::ports::ManualClock;
    use chrono::TimeZone;
    use std::sync::Arc;

    #[tokio::test]
    async fn adds_per_day_model_and_purpose_and_prices_tokens() {
        let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 23, 0, 0).unwrap();
        let db = EmbeddedDb::in_memory(Arc::new(ManualClock::new(t0))).unwrap();
        let store = EmbeddedStore::new(db);
        let acme = TenantId::parse("acme").unwrap();
        let tokens = Tokens {
            prompt_tokens: 1_000,
            completion_tokens: 100,
        };
        let p = Prices::default();
        record(&store, &acme, "gpt-4o-mini", "enrichment", tokens, p, t0)
            .await
            .unwrap();
        record(&store, &acme, "gpt-4o-mini", "enrichment", tokens, p, t0)
            .await
            .unwrap();
        let next_day = t0 + chrono::Duration::hours(2);
        record(
            &store,
            &acme,
            "gpt-4o-mini",
            "enrichment",
            tokens,
            p,
            next_day,
        )
        .await
        .unwrap();
        record(
            &store,
            &TenantId::parse("beta").unwrap(),
            "gpt-4o-mini",
            "enrichment",
            tokens,
            p,
            t0,
        )
        .await
        .unwrap();
        let days = daily(&store, &acme, t0.date_naive(), next_day.date_naive())
            .await
            .unwrap();
        assert_eq!(days.len(), 2);
        assert_eq!(days[0].calls, 2);
        assert_eq!(days[0].prompt_tokens, 2_000);
        // 2 × (1000 × 0.15 + 100 × 0.60) µ$ = 420 µ$.
        assert!((days[0].estimated_cost_usd - 0.000_42).abs() < 1e-12);
        let total = totals(&days);
        assert_eq!(total.len(), 1);
        assert_eq!(total[0].calls, 3);
        assert_eq!(total[0].completion_tokens, 300);
    }
}
