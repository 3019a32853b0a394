//! `vigil bench --aws`: generated events through the HTTP API and every stage over the
//! AWS adapters on an emulator endpoint (moto), counting every request the SDK sends,
//! then pricing them per million events with the arithmetic shown.
//!
//! The requests are counted by an SDK interceptor, so they are exactly what the
//! adapters send (retries included). DynamoDB request units are estimated from the
//! request and response bodies as DynamoDB sizes items; Lambda time is modelled from
//! the request counts (see [`super::pricing`]), since an emulator's latency says
//! nothing about AWS's.
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use serde_json::Value;
use vigil_api::{AppState, router};
use vigil_shared::adapters::aws::{DynamoStore, EventBridgeBus, SqsQueue, provision};
use vigil_shared::config::Config;
use vigil_shared::domain::{Role, TenantId};
use vigil_shared::enrich::Enricher;
use vigil_shared::ports::{Clock, QueueName, SystemClock};
use vigil_shared::runtime::{StagePorts, Worker};
use vigil_shared::service::{Origin, api_keys};

use super::Stages;
use super::bench::BenchError;
use super::generator::{GeneratorOptions, generate_events};
use super::pricing::*;

fn setup<E: std::fmt::Display>(e: E) -> BenchError {
    BenchError::Setup(e.to_string())
}

/// Who is running while a request is sent: `api` or one stage's queue name.
type Phase = &'static str;

#[derive(Debug, Default, Clone)]
struct OpCount {
    requests: u64,
    /// Read request units, doubled (eventually consistent reads cost half a unit).
    rru_x2: u64,
    wru: u64,
    /// Entries a PutEvents call carried (EventBridge bills per entry).
    entries: u64,
}

#[derive(Debug)]
struct Meter {
    phase: Mutex<Phase>,
    ops: Mutex<BTreeMap<(Phase, String), OpCount>>,
}

impl Meter {
    fn set_phase(&self, p: Phase) {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner()) = p;
    }

    fn snapshot(&self) -> BTreeMap<(Phase, String), OpCount> {
        self.ops.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The request body of the attempt in flight, kept for the response hook.
#[derive(Debug, Clone)]
struct SentBody(Option<Value>);

impl Storable for SentBody {
    type Storer = StoreReplace<Self>;
}

#[derive(Debug, Clone)]
struct Counting(Arc<Meter>);

fn json_of(bytes: Option<&[u8]>) -> Option<Value> {
    bytes.and_then(|b| serde_json::from_slice(b).ok())
}

impl Intercept for Counting {
    fn name(&self) -> &'static str {
        "VigilRequestMeter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let body = json_of(context.request().body().bytes());
        cfg.interceptor_state().store_put(SentBody(body));
        Ok(())
    }

    fn read_after_transmit(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(meta) = cfg.load::<Metadata>() else {
            return Ok(());
        };
        let op = format!("{}.{}", meta.service(), meta.name());
        let sent = cfg.load::<SentBody>().and_then(|s| s.0.clone());
        let answer = json_of(context.response().body().bytes());
        let phase = *self.0.phase.lock().unwrap_or_else(|e| e.into_inner());
        let mut ops = self.0.ops.lock().unwrap_or_else(|e| e.into_inner());
        let c = ops.entry((phase, op)).or_default();
        c.requests += 1;
        let (wru, rru_x2) = dynamodb_units(meta.name(), sent.as_ref(), answer.as_ref());
        c.wru += wru;
        c.rru_x2 += rru_x2;
        if meta.name() == "PutEvents" {
            c.entries += sent
                .as_ref()
                .and_then(|s| s.get("Entries"))
                .and_then(Value::as_array)
                .map_or(0, |e| e.len() as u64);
        }
        Ok(())
    }
}

/// An item's size as DynamoDB counts it: attribute names plus values.
fn item_size(item: &Value) -> u64 {
    fn value_size(v: &Value) -> u64 {
        let Some((kind, inner)) = v.as_object().and_then(|o| o.iter().next()) else {
            return 1;
        };
        match (kind.as_str(), inner) {
            ("S" | "B", Value::String(s)) => s.len() as u64,
            ("N", Value::String(s)) => s.len().div_ceil(2) as u64 + 1,
            ("M", Value::Object(m)) => {
                3 + m
                    .iter()
                    .map(|(k, v)| k.len() as u64 + value_size(v) + 1)
                    .sum::<u64>()
            }
            ("L", Value::Array(l)) => 3 + l.iter().map(|v| value_size(v) + 1).sum::<u64>(),
            _ => 1,
        }
    }
    item.as_object().map_or(0, |m| {
        m.iter().map(|(k, v)| k.len() as u64 + value_size(v)).sum()
    })
}

/// Write units of putting `item`: one per KB, again for every index it is projected to
/// (the table's GSIs project all attributes).
fn put_units(item: &Value) -> u64 {
    let indexes = ["g1pk", "g2pk", "g3pk"]
        .iter()
        .filter(|k| item.get(**k).is_some())
        .count() as u64;
    item_size(item).div_ceil(1024).max(1) * (1 + indexes)
}

/// Doubled read units of reading `items` in one request.
fn read_units_x2(items: &[&Value], consistent: bool) -> u64 {
    let bytes: u64 = items.iter().map(|i| item_size(i)).sum();
    let per_4k = bytes.div_ceil(4096).max(1);
    if consistent { 2 * per_4k } else { per_4k }
}

/// (write units, doubled read units) of one DynamoDB call.
fn dynamodb_units(op: &str, sent: Option<&Value>, answer: Option<&Value>) -> (u64, u64) {
    let null = Value::Null;
    let sent = sent.unwrap_or(&null);
    let answer = answer.unwrap_or(&null);
    let consistent = sent.get("ConsistentRead").and_then(Value::as_bool) == Some(true);
    let list = |v: &Value| -> Vec<Value> { v.as_array().cloned().unwrap_or_default() };
    match op {
        "PutItem" => (put_units(&sent["Item"]), 0),
        "UpdateItem" | "DeleteItem" => (1, 0),
        "TransactWriteItems" => {
            let units = list(&sent["TransactItems"])
                .iter()
                .map(|t| match t.get("Put") {
                    Some(p) => put_units(&p["Item"]),
                    None => 1,
                })
                .sum::<u64>();
            // Transactions cost twice the units of the same writes.
            (2 * units, 0)
        }
        "BatchWriteItem" => {
            let units = sent["RequestItems"]
                .as_object()
                .into_iter()
                .flat_map(|m| m.values())
                .flat_map(list)
                .map(|r| match r.get("PutRequest") {
                    Some(p) => put_units(&p["Item"]),
                    None => 1,
                })
                .sum();
            (units, 0)
        }
        "GetItem" => {
            let items: Vec<&Value> = answer.get("Item").into_iter().collect();
            (0, read_units_x2(&items, consistent))
        }
        "Query" => {
            let items = list(&answer["Items"]);
            let items: Vec<&Value> = items.iter().collect();
            let consistent = consistent && sent.get("IndexName").is_none();
            (0, read_units_x2(&items, consistent))
        }
        "BatchGetItem" => {
            let units = answer["Responses"]
                .as_object()
                .into_iter()
                .flat_map(|m| m.values())
                .flat_map(list)
                .map(|i| read_units_x2(&[&i], consistent))
                .sum();
            (0, units)
        }
        _ => (0, 0),
    }
}

/// Assumed in-Lambda latency of one call of `op` (`Service.Operation`).
fn call_ms(op: &str) -> f64 {
    match op.rsplit('.').next().unwrap_or_default() {
        "GetItem" | "BatchGetItem" => MS_GET,
        "PutItem" | "UpdateItem" | "DeleteItem" => MS_WRITE,
        "TransactWriteItems" | "BatchWriteItem" => MS_TRANSACT,
        "Query" => MS_QUERY,
        "SendMessage" | "SendMessageBatch" => MS_SEND,
        "PutEvents" => MS_PUT_EVENTS,
        // Receives and deletes are the event source mapping's, outside the function.
        _ => 0.0,
    }
}

pub async fn run(n: usize, days: u32, endpoint: &str) -> Result<String, BenchError> {
    let meter = Arc::new(Meter {
        phase: Mutex::new("api"),
        ops: Mutex::new(BTreeMap::new()),
    });
    let sdk = provision::sdk_config(Some(endpoint)).await;
    let name = format!(
        "vigil-bench-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    eprintln!("provisioning {name} on {endpoint}...");
    provision::create_table(&aws_sdk_dynamodb::Client::new(&sdk), &name)
        .await
        .map_err(setup)?;
    let queue_urls = provision::create_queues(&aws_sdk_sqs::Client::new(&sdk), &name)
        .await
        .map_err(setup)?;
    provision::create_bus(&aws_sdk_eventbridge::Client::new(&sdk), &name)
        .await
        .map_err(setup)?;
    let counting = Counting(Arc::clone(&meter));
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(counting.clone())
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&sdk)
            .interceptor(counting.clone())
            .build(),
    );
    let eventbridge = aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::config::Builder::from(&sdk)
            .interceptor(counting)
            .build(),
    );
    let store = Arc::new(DynamoStore::new(dynamodb, &name));
    let queue = Arc::new(SqsQueue::new(sqs, queue_urls));
    let bus = Arc::new(EventBridgeBus::new(eventbridge, &name));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let config = Config::from_lookup(&|k| match k {
        "VIGIL_LLM_URL" => None,
        // Benchmarks measure throughput, not the budgets that would cap it.
        "VIGIL_RATE_LIMIT_KEY_REQUESTS"
        | "VIGIL_RATE_LIMIT_TENANT_REQUESTS"
        | "VIGIL_RATE_LIMIT_INGEST_EVENTS" => Some("1000000000000".into()),
        other => std::env::var(other).ok(),
    })
    .map_err(setup)?;
    let ports = StagePorts {
        store: store.clone(),
        queue: queue.clone(),
        bus: Some(bus),
        clock: Arc::clone(&clock),
    };
    let stages = Stages::build(&ports, &config, Enricher::heuristic()).map_err(setup)?;

    let tenant = TenantId::parse("bench").map_err(setup)?;
    let (_, key) = api_keys::create(
        store.as_ref(),
        &Origin::system(tenant.clone(), "apikeys"),
        Role::Admin,
        None,
        clock.now(),
    )
    .await
    .map_err(setup)?;
    let state = AppState::new(
        store.clone(),
        queue.clone(),
        Arc::clone(&clock),
        Enricher::heuristic(),
        &config,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(setup)?;
    let addr = listener.local_addr().map_err(setup)?;
    let server = tokio::spawn(async move { axum::serve(listener, router(state)).await });

    let events = generate_events(&GeneratorOptions {
        count: n,
        seed: 42,
        days,
        end: clock.now() - chrono::Duration::minutes(1),
    });
    // Only what the pipeline does per event is priced, not the key created above.
    meter.ops.lock().unwrap_or_else(|e| e.into_inner()).clear();
    meter.set_phase("api");
    let http = reqwest::Client::new();
    let mut posts = 0u64;
    eprintln!("posting {n} events in batches of 500...");
    for batch in events.chunks(500) {
        let r = http
            .post(format!("http://{addr}/events"))
            .bearer_auth(&key)
            .json(batch)
            .send()
            .await
            .map_err(|e| BenchError::Http(e.to_string()))?;
        if r.status().as_u16() != 202 {
            return Err(BenchError::Http(format!(
                "POST /events answered {}",
                r.status()
            )));
        }
        posts += 1;
    }
    server.abort();

    // One Lambda invocation per delivery batch: the template's batch size is 10.
    let mut invocations: BTreeMap<Phase, u64> = BTreeMap::from([("api", posts)]);
    let workers: Vec<Worker> = [QueueName::Ingest, QueueName::Rules, QueueName::Enrich]
        .into_iter()
        .map(|q| {
            let stage = match q {
                QueueName::Ingest => stages.ingest.clone() as _,
                QueueName::Rules => stages.rules.clone() as _,
                _ => stages.enrich.clone() as _,
            };
            let mut w = Worker::new(queue.clone(), q, stage).with_clock(Arc::clone(&clock));
            w.batch = 10;
            // moto applies concurrent transactions without isolation.
            w.concurrency = 1;
            w
        })
        .collect();
    eprintln!("running every stage until the queues are empty...");
    let mut idle_rounds = 0;
    while idle_rounds < 2 {
        let mut received = 0;
        for w in &workers {
            meter.set_phase(w.name.as_str());
            let s = w.poll_once().await.map_err(setup)?;
            if s.failed > 0 {
                return Err(BenchError::Setup(format!("{} failed a message", w.name)));
            }
            if s.received > 0 {
                *invocations.entry(w.name.as_str()).or_default() += 1;
            }
            received += s.received;
        }
        idle_rounds = if received == 0 { idle_rounds + 1 } else { 0 };
    }
    let findings = vigil_shared::repo::stats::total_findings(store.as_ref(), &tenant)
        .await
        .map_err(setup)?;
    Ok(report(n, days, findings, &meter.snapshot(), &invocations))
}

fn report(
    n: usize,
    days: u32,
    findings: i64,
    ops: &BTreeMap<(Phase, String), OpCount>,
    invocations: &BTreeMap<Phase, u64>,
) -> String {
    let per_k = 1000.0 / n as f64;
    let per_m = 1_000_000.0 / n as f64;
    let mut out = format!(
        "{n} generated events over {days} days through the HTTP API and every stage on the AWS adapters; {findings} findings\n\nrequests per 1,000 events, by function:\n"
    );
    let mut wru = 0u64;
    let mut rru_x2 = 0u64;
    let mut sqs_requests = 0u64;
    let mut bus_events = 0u64;
    let mut lambda_ms = 0.0;
    for ((phase, op), c) in ops {
        let _ = writeln!(
            out,
            "  {:<8} {:<38} {:>9.1}  (WRU {:.1}, RRU {:.1})",
            phase,
            op,
            c.requests as f64 * per_k,
            c.wru as f64 * per_k,
            c.rru_x2 as f64 / 2.0 * per_k
        );
        wru += c.wru;
        rru_x2 += c.rru_x2;
        if op.starts_with("SQS.") {
            sqs_requests += c.requests;
        }
        bus_events += c.entries;
        lambda_ms += c.requests as f64 * call_ms(op);
    }
    let lambda_calls: u64 = invocations.values().sum();
    let _ = writeln!(
        out,
        "  invocations per 1,000 events: {}",
        invocations
            .iter()
            .map(|(p, n)| format!("{p} {:.1}", *n as f64 * per_k))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let api = invocations.get("api").copied().unwrap_or_default() as f64;
    let rru = rru_x2 as f64 / 2.0;
    let gb_s = lambda_ms / 1000.0 * LAMBDA_GB;
    let cost = |units: f64, price_per_m: f64| units * per_m / 1e6 * price_per_m;
    let ddb_w = cost(wru as f64, DDB_PER_M_WRU);
    let ddb_r = cost(rru, DDB_PER_M_RRU);
    let sqs = cost(sqs_requests as f64, SQS_PER_M_REQUESTS);
    let eb = cost(bus_events as f64, EVENTBRIDGE_PER_M_EVENTS);
    let http_api = cost(api, HTTP_API_PER_M_REQUESTS);
    let lambda =
        gb_s * per_m * LAMBDA_PER_GB_S + cost(lambda_calls as f64, LAMBDA_PER_M_INVOCATIONS);
    let _ = writeln!(
        out,
        "\nper million events:\n  DynamoDB   {:>12.0} WRU x ${DDB_PER_M_WRU}/M + {:>10.0} RRU x ${DDB_PER_M_RRU}/M = ${:.3}\n  SQS        {:>12.0} requests x ${SQS_PER_M_REQUESTS}/M = ${sqs:.3}\n  EventBridge{:>12.0} events x ${EVENTBRIDGE_PER_M_EVENTS}/M = ${eb:.3}\n  HTTP API   {:>12.0} requests x ${HTTP_API_PER_M_REQUESTS}/M = ${http_api:.3}\n  Lambda     {:>12.0} invocations x ${LAMBDA_PER_M_INVOCATIONS}/M + {:.0} GB-s x ${LAMBDA_PER_GB_S}/GB-s = ${lambda:.3}\n  total      ${:.3} per million events",
        wru as f64 * per_m,
        rru * per_m,
        ddb_w + ddb_r,
        sqs_requests as f64 * per_m,
        bus_events as f64 * per_m,
        api * per_m,
        lambda_calls as f64 * per_m,
        gb_s * per_m,
        ddb_w + ddb_r + sqs + eb + http_api + lambda
    );
    let _ = write!(
        out,
        "\nassumed: us-east-1 list prices; DynamoDB on-demand, item sizes from the request and response bodies, every GSI projecting all attributes, transactions at twice the units; Lambda at {LAMBDA_GB} GB, its time modelled as get {MS_GET} ms, single write {MS_WRITE} ms, transaction or batch write {MS_TRANSACT} ms, query {MS_QUERY} ms, SQS send {MS_SEND} ms, PutEvents {MS_PUT_EVENTS} ms per call, run one after another (no overlap), plus nothing for CPU; the SQS event source's receives and deletes are billed as SQS requests but not as Lambda time; one delivery batch of up to 10 messages per invocation."
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn units_follow_item_sizes_indexes_and_transactions() {
        let small = json!({"pk": {"S": "t#x"}, "sk": {"S": "1"}, "d": {"S": "{}"}});
        assert_eq!(
            dynamodb_units("PutItem", Some(&json!({"Item": small})), None),
            (1, 0)
        );
        let big = json!({"pk": {"S": "x".repeat(3000)}, "g1pk": {"S": "a"}});
        assert_eq!(put_units(&big), 3 * 2);
        let tx = json!({"TransactItems": [{"Put": {"Item": small}}, {"Update": {}}]});
        assert_eq!(
            dynamodb_units("TransactWriteItems", Some(&tx), None),
            (4, 0)
        );
        let items: Vec<Value> = (0..3)
            .map(|_| json!({"d": {"S": "y".repeat(2000)}}))
            .collect();
        let answer = json!({"Items": items});
        // 6 KB read consistently: two units (doubled: 4); from an index, half.
        let q = json!({"ConsistentRead": true});
        assert_eq!(dynamodb_units("Query", Some(&q), Some(&answer)), (0, 4));
        let q = json!({"ConsistentRead": true, "IndexName": "gsi1"});
        assert_eq!(dynamodb_units("Query", Some(&q), Some(&answer)), (0, 2));
    }
}
