//! Logs and metrics. In Lambda: one JSON object per line with the keys AWS Lambda
//! Powertools users query on (level, message, timestamp, service, cold_start,
//! function_name, function_request_id, xray_trace_id, correlation_id), and metrics as
//! CloudWatch embedded-metric-format lines flushed after every invocation. Locally:
//! readable text, and metrics for whichever recorder the caller installs (`vigil serve`
//! renders Prometheus text at `/metrics`).
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::OnceLock;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

/// Metric names, one per thing a stage counts or times; the same in EMF and Prometheus.
pub mod metric {
    /// Events `POST /events` put on the ingest queue.
    pub const EVENTS_ACCEPTED: &str = "vigil_events_accepted_total";
    /// Events ingest stored for the first time (redeliveries are not counted).
    pub const EVENTS_STORED: &str = "vigil_events_stored_total";
    pub const FINDINGS_CREATED: &str = "vigil_findings_created_total";
    pub const FINDINGS_ESCALATED: &str = "vigil_findings_escalated_total";
    /// Seconds the rules engine spent on one event and its window.
    pub const RULE_EVALUATION_SECONDS: &str = "vigil_rule_evaluation_seconds";
    /// Seconds one enrichment took (model call included).
    pub const ENRICHMENT_SECONDS: &str = "vigil_enrichment_seconds";
    /// Enrichments that fell back to the heuristic because the model failed.
    pub const ENRICHMENT_FALLBACKS: &str = "vigil_enrichment_fallbacks_total";
    pub const WEBHOOK_ATTEMPTS: &str = "vigil_webhook_attempts_total";
    /// Attempts that did not end in a 2xx.
    pub const WEBHOOK_FAILURES: &str = "vigil_webhook_failures_total";
    /// Messages a stage gave up on (label `stage`).
    pub const MESSAGES_DEAD_LETTERED: &str = "vigil_messages_dead_lettered_total";
    /// Circuit breakers that opened or closed.
    pub const BREAKER_TRANSITIONS: &str = "vigil_breaker_transitions_total";
    /// Calls a breaker refused (the model call fell back; the webhook attempt waited).
    pub const BREAKER_REFUSALS: &str = "vigil_breaker_refusals_total";
    /// Requests and ingest charges the rate limits refused.
    pub const RATE_LIMITED: &str = "vigil_rate_limited_total";
    /// Model tokens used (prompt and completion).
    pub const LLM_TOKENS: &str = "vigil_llm_tokens_total";
}

/// Adds `n` to the counter `name` (a [`metric`]).
pub fn count(name: &'static str, n: usize) {
    metrics::counter!(name).increment(u64::try_from(n).unwrap_or(u64::MAX));
}

/// [`count`] with a `stage` label.
pub fn count_in(name: &'static str, stage: &'static str, n: usize) {
    metrics::counter!(name, "stage" => stage).increment(u64::try_from(n).unwrap_or(u64::MAX));
}

/// Records how long something took in the histogram `name`.
pub fn seconds(name: &'static str, took: std::time::Duration) {
    metrics::histogram!(name).record(took.as_secs_f64());
}

/// Installs the global subscriber once; later calls are no-ops. JSON here is the
/// Powertools shape without the Lambda keys (see [`init_lambda`]). The filter is
/// `RUST_LOG` when set, else `default_level` (a server says what it does; a one-shot
/// command only warns, so its own output stays readable).
pub fn init(format: LogFormat, default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Json => registry
            .with(PowertoolsLayer::new(Lambda::default(), std::io::stderr))
            .try_init(),
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .compact()
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
}

/// What the Lambda runtime says about this function (its documented environment).
#[derive(Debug, Clone, Default)]
pub struct Lambda {
    pub service: String,
    pub function_name: Option<String>,
    pub memory_size: Option<String>,
    pub version: Option<String>,
}

impl Lambda {
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let function_name = var("AWS_LAMBDA_FUNCTION_NAME");
        Self {
            service: var("POWERTOOLS_SERVICE_NAME").unwrap_or_else(|| "vigil".into()),
            function_name,
            memory_size: var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
            version: var("AWS_LAMBDA_FUNCTION_VERSION"),
        }
    }
}

static EMF: OnceLock<&'static metrics_cloudwatch_embedded::Collector> = OnceLock::new();

/// Logs as Powertools JSON and metrics as EMF; each Lambda `main` calls this first.
pub fn init_lambda() {
    let lambda = Lambda::from_env();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let mut emf = metrics_cloudwatch_embedded::Builder::new().cloudwatch_namespace("Vigil");
    if let Some(name) = &lambda.function_name {
        emf = emf.with_dimension("function_name", name.clone());
    }
    if let Ok(collector) = emf.init() {
        let _ = EMF.set(collector);
    }
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(PowertoolsLayer::new(lambda, std::io::stdout))
        .try_init();
}

/// Writes the metrics recorded since the last flush as one EMF document on stdout,
/// where CloudWatch Logs picks it up; a no-op outside Lambda. Called at the end of every
/// invocation, so the figures are never more than one invocation late.
pub fn flush_metrics() {
    if let Some(collector) = EMF.get() {
        if let Err(e) = collector.flush(std::io::stdout()) {
            tracing::warn!(error = %e, "cannot write metrics");
        }
    }
}

/// A span's fields, kept for the lines logged inside it.
struct SpanFields(Map<String, Value>);

struct Collect<'a>(&'a mut Map<String, Value>);

impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(
            field.name().to_string(),
            Value::String(format!("{value:?}")),
        );
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().to_string(), Value::String(value.to_string()));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
}

/// Span fields renamed to the keys Powertools logs them under.
const RENAMED: &[(&str, &str)] = &[
    ("requestId", "function_request_id"),
    ("xrayTraceId", "xray_trace_id"),
    ("request_id", "correlation_id"),
];

/// Formats every event as one Powertools-style JSON line: the standard keys first, then
/// the fields of the spans it is in (outermost first) and its own.
pub struct PowertoolsLayer<W> {
    lambda: Lambda,
    writer: W,
    /// The first invocation's request id: lines of that invocation are the cold start.
    first_request: OnceLock<String>,
}

impl<W> PowertoolsLayer<W> {
    pub fn new(lambda: Lambda, writer: W) -> Self {
        Self {
            lambda,
            writer,
            first_request: OnceLock::new(),
        }
    }
}

impl<S, W> tracing_subscriber::Layer<S> for PowertoolsLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'a> MakeWriter<'a> + 'static,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let mut fields = Map::new();
        attrs.record(&mut Collect(&mut fields));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(fields));
        }
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: Context<'_, S>,
    ) {
        if let Some(span) = ctx.span(id) {
            let mut ext = span.extensions_mut();
            if let Some(SpanFields(fields)) = ext.get_mut::<SpanFields>() {
                values.record(&mut Collect(fields));
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut context = Map::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(SpanFields(fields)) = span.extensions().get::<SpanFields>() {
                    context.extend(fields.clone());
                }
            }
        }
        let mut own = Map::new();
        event.record(&mut Collect(&mut own));
        let message = own
            .remove("message")
            .unwrap_or_else(|| Value::String(event.metadata().name().to_string()));
        context.extend(own);
        for (from, to) in RENAMED {
            if let Some(v) = context.remove(*from) {
                context.insert((*to).to_string(), v);
            }
        }
        let mut line: BTreeMap<&str, Value> = BTreeMap::new();
        line.insert("level", Value::from(event.metadata().level().as_str()));
        line.insert("message", message);
        line.insert(
            "timestamp",
            Value::from(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        );
        line.insert("service", Value::from(self.lambda.service.clone()));
        line.insert("target", Value::from(event.metadata().target()));
        if let Some(name) = &self.lambda.function_name {
            line.insert("function_name", Value::from(name.clone()));
        }
        if let Some(m) = &self.lambda.memory_size {
            line.insert("function_memory_size", Value::from(m.clone()));
        }
        if let Some(v) = &self.lambda.version {
            line.insert("function_version", Value::from(v.clone()));
        }
        if let Some(Value::String(id)) = context.get("function_request_id") {
            let first = self.first_request.get_or_init(|| id.clone());
            line.insert("cold_start", Value::from(first == id));
        }
        let mut out: Map<String, Value> =
            line.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        for (k, v) in context {
            out.entry(k).or_insert(v);
        }
        let mut bytes = serde_json::to_vec(&Value::Object(out)).unwrap_or_default();
        bytes.push(b'\n');
        let _ = self.writer.make_writer().write_all(&bytes);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    fn lines(buf: &Buffer) -> Vec<Value> {
        String::from_utf8(buf.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn lines_carry_the_powertools_keys() {
        let buf = Buffer::default();
        let lambda = Lambda {
            service: "vigil".into(),
            function_name: Some("vigil-api".into()),
            memory_size: Some("256".into()),
            version: Some("$LATEST".into()),
        };
        let subscriber =
            tracing_subscriber::registry().with(PowertoolsLayer::new(lambda, buf.clone()));
        tracing::subscriber::with_default(subscriber, || {
            for invocation in ["inv-1", "inv-2"] {
                let lambda_span = tracing::info_span!(
                    "Lambda runtime invoke",
                    requestId = invocation,
                    xrayTraceId = "Root=1-abc"
                );
                let _l = lambda_span.enter();
                let req = tracing::info_span!(
                    "request",
                    request_id = "req-9",
                    tenant = tracing::field::Empty
                );
                let _r = req.enter();
                req.record("tenant", "acme");
                tracing::info!(status = 202u64, "request");
            }
        });
        let got = lines(&buf);
        assert_eq!(got.len(), 2);
        let first = &got[0];
        for (k, v) in [
            ("level", "INFO"),
            ("message", "request"),
            ("service", "vigil"),
            ("function_name", "vigil-api"),
            ("function_request_id", "inv-1"),
            ("xray_trace_id", "Root=1-abc"),
            ("correlation_id", "req-9"),
            ("tenant", "acme"),
        ] {
            assert_eq!(first[k], v, "{k}: {first}");
        }
        assert_eq!(first["status"], 202);
        assert_eq!(first["cold_start"], true);
        assert_eq!(got[1]["cold_start"], false);
        assert!(chrono::DateTime::parse_from_rfc3339(first["timestamp"].as_str().unwrap()).is_ok());
    }

    #[test]
    fn emf_documents_name_their_metrics() {
        let collector = metrics_cloudwatch_embedded::Builder::new()
            .cloudwatch_namespace("Vigil")
            .with_dimension("function_name", "vigil-ingest")
            .with_timestamp(1_764_633_600_000)
            .init()
            .unwrap();
        metrics::counter!(metric::EVENTS_STORED).increment(3);
        let mut out = Vec::new();
        collector.flush(&mut out).unwrap();
        let doc: Value =
            serde_json::from_slice(out.split(|b| *b == b'\n').next().unwrap()).unwrap();
        let aws = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(aws["Namespace"], "Vigil");
        assert_eq!(aws["Dimensions"], serde_json::json!([["function_name"]]));
        assert_eq!(aws["Metrics"][0]["Name"], metric::EVENTS_STORED);
        assert_eq!(doc[metric::EVENTS_STORED], 3);
        assert_eq!(doc["function_name"], "vigil-ingest");
        assert_eq!(doc["_aws"]["Timestamp"], 1_764_633_600_000u64);
    }
}
