//! Rules engine throughput on one core for a mixed, realistic stream: every event is
//! evaluated with the same user's events within an hour either side, as the rules stage
//! reads them from the store.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vigil_local::generator::{GeneratorOptions, generate_events};
use vigil_shared::domain::event::{IdSource, TimeBounds, parse_event};
use vigil_shared::domain::{Event, TenantId};
use vigil_shared::rules::{RuleContext, RulesConfig, USER_LOOKAROUND, evaluate};

const EVENTS: usize = 20_000;

fn stream() -> Vec<Event> {
    let end = DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z")
        .map(|t| t.to_utc())
        .unwrap_or_else(|_| Utc::now());
    let tenant = TenantId::parse("bench").expect("valid tenant");
    generate_events(&GeneratorOptions {
        count: EVENTS,
        seed: 3,
        days: 7,
        end,
    })
    .iter()
    .enumerate()
    .map(|(i, v)| {
        parse_event(v, &tenant, IdSource::Random, i, TimeBounds::at(end))
            .expect("generated events are valid")
    })
    .collect()
}

fn bench(c: &mut Criterion) {
    let events = stream();
    let mut by_user: HashMap<&str, Vec<Event>> = HashMap::new();
    for e in &events {
        by_user.entry(e.user.as_str()).or_default().push(e.clone());
    }
    for list in by_user.values_mut() {
        list.sort_by(|a, b| (a.timestamp, &a.id).cmp(&(b.timestamp, &b.id)));
    }
    let config = RulesConfig::default();
    let mut group = c.benchmark_group("rules");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.sample_size(20);
    group.bench_function("mixed_stream", |b| {
        b.iter(|| {
            let mut matches = 0usize;
            for e in &events {
                let list = &by_user[e.user.as_str()];
                let lo = list.partition_point(|x| x.timestamp < e.timestamp - USER_LOOKAROUND);
                let hi = list.partition_point(|x| x.timestamp <= e.timestamp + USER_LOOKAROUND);
                let ctx = RuleContext {
                    event: e,
                    user_events: &list[lo..hi],
                    config: &config,
                };
                matches += evaluate(&ctx).len();
            }
            matches
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
