//! Audit events: parsing client input into validated [`Event`]s.
use chrono::{DateTime, Duration, NaiveDateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::tenant::TenantId;
use super::validation::{FieldError, has_control};

/// Most events one `POST /events` may carry.
pub const MAX_BATCH: usize = 500;
/// Largest accepted `raw_data`, serialized.
pub const MAX_RAW_DATA_BYTES: usize = 64 * 1024;
/// How far in the future an event time may lie (clock skew allowance).
pub const MAX_FUTURE_SKEW_MINUTES: i64 = 5;
/// How far in the past an event time may lie by default (`VIGIL_EVENT_MAX_AGE_DAYS`):
/// year 1 or 1970 is a client's zero value, not an audit event, and would skew every
/// time series it lands in.
pub const DEFAULT_MAX_AGE_DAYS: i64 = 3650;
const MAX_CLIENT_ID: usize = 128;
const MAX_USER: usize = 256;
const MAX_SOURCE: usize = 128;

/// The event types the rules understand; others are stored and counted only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KnownType {
    LoginSuccess,
    LoginFailed,
    MfaChallenge,
    MfaFailed,
    MfaSuccess,
    PullRequestOpened,
    PullRequestMerged,
    PermissionChanged,
    ApiTokenCreated,
    ApiTokenRevoked,
    DeploymentStarted,
    DeploymentSucceeded,
    DeploymentFailed,
    StorageBucketCreated,
    StorageBucketPermissionChanged,
}

impl KnownType {
    pub const ALL: [KnownType; 15] = [
        KnownType::LoginSuccess,
        KnownType::LoginFailed,
        KnownType::MfaChallenge,
        KnownType::MfaFailed,
        KnownType::MfaSuccess,
        KnownType::PullRequestOpened,
        KnownType::PullRequestMerged,
        KnownType::PermissionChanged,
        KnownType::ApiTokenCreated,
        KnownType::ApiTokenRevoked,
        KnownType::DeploymentStarted,
        KnownType::DeploymentSucceeded,
        KnownType::DeploymentFailed,
        KnownType::StorageBucketCreated,
        KnownType::StorageBucketPermissionChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            KnownType::LoginSuccess => "login_success",
            KnownType::LoginFailed => "login_failed",
            KnownType::MfaChallenge => "mfa_challenge",
            KnownType::MfaFailed => "mfa_failed",
            KnownType::MfaSuccess => "mfa_success",
            KnownType::PullRequestOpened => "pull_request_opened",
            KnownType::PullRequestMerged => "pull_request_merged",
            KnownType::PermissionChanged => "permission_changed",
            KnownType::ApiTokenCreated => "api_token_created",
            KnownType::ApiTokenRevoked => "api_token_revoked",
            KnownType::DeploymentStarted => "deployment_started",
            KnownType::DeploymentSucceeded => "deployment_succeeded",
            KnownType::DeploymentFailed => "deployment_failed",
            KnownType::StorageBucketCreated => "storage_bucket_created",
            KnownType::StorageBucketPermissionChanged => "storage_bucket_permission_changed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// A validated event type name: `[a-z0-9_.]{1,64}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EventType(String);

impl EventType {
    pub fn parse(s: &str) -> Result<Self, String> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err("must match [a-z0-9_.]{1,64}".to_string())
        }
    }

    pub fn known(&self) -> Option<KnownType> {
        KnownType::parse(&self.0)
    }
}

validated_string!(EventType, String);

/// A stored audit event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    /// The `id` the client sent, kept so it can find the event by it again.
    #[serde(default)]
    pub client_id: Option<String>,
    pub event_type: EventType,
    pub timestamp: DateTime<Utc>,
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default)]
    pub raw_data: Map<String, Value>,
    pub received_at: DateTime<Utc>,
}

impl Event {
    pub fn known_type(&self) -> Option<KnownType> {
        self.event_type.known()
    }

    /// A string field of `raw_data` under any of `names`, first match wins.
    pub fn raw_str(&self, names: &[&str]) -> Option<&str> {
        names
            .iter()
            .find_map(|n| self.raw_data.get(*n).and_then(Value::as_str))
    }

    pub fn raw(&self, name: &str) -> Option<&Value> {
        self.raw_data.get(name)
    }
}

/// Sortable timestamp key: fixed width, so string order is time order.
pub fn time_key(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// How ids are minted for events that arrive without a client id.
#[derive(Debug, Clone, Copy)]
pub enum IdSource<'a> {
    /// Ids derive from the request's Idempotency-Key, so a retry yields the same ids.
    Idempotency(&'a str),
    Random,
}

fn digest_id(prefix: &str, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    format!("{prefix}{}", &hex::encode(h.finalize())[..26])
}

/// The stored id of an event: a client id maps to the same id every time it is sent.
pub fn event_id(
    tenant: &TenantId,
    client_id: Option<&str>,
    ids: IdSource<'_>,
    index: usize,
) -> String {
    match (client_id, ids) {
        (Some(cid), _) => digest_id("ev_", &[tenant.as_str(), "client", cid]),
        (None, IdSource::Idempotency(key)) => {
            digest_id("ev_", &[tenant.as_str(), "idem", key, &index.to_string()])
        }
        (None, IdSource::Random) => format!("ev_{}", uuid::Uuid::now_v7().simple()),
    }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.to_utc());
    }
    // ISO 8601 without an offset, as the seed's generator writes it, is read as UTC.
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(|n| n.and_utc())
}

fn opt_string(
    obj: &Map<String, Value>,
    field: &str,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match obj.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if has_control(s) => {
            errors.push(FieldError::new(
                field,
                "must not contain control characters",
            ));
            None
        }
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= max => Some(s.clone()),
        Some(Value::String(_)) => {
            errors.push(FieldError::new(
                field,
                format!("must be 1-{max} characters"),
            ));
            None
        }
        Some(_) => {
            errors.push(FieldError::new(field, "must be a string"));
            None
        }
    }
}

/// The times an event may carry, judged against the receiving clock.
#[derive(Debug, Clone, Copy)]
pub struct TimeBounds {
    pub now: DateTime<Utc>,
    /// Oldest accepted age.
    pub max_age: Duration,
}

impl TimeBounds {
    /// The default bounds at `now`.
    pub fn at(now: DateTime<Utc>) -> Self {
        Self {
            now,
            max_age: Duration::days(DEFAULT_MAX_AGE_DAYS),
        }
    }

    pub fn check(&self, t: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
        if t > self.now + Duration::minutes(MAX_FUTURE_SKEW_MINUTES) {
            return Err(format!(
                "is more than {MAX_FUTURE_SKEW_MINUTES} minutes in the future"
            ));
        }
        if t < self.now - self.max_age {
            return Err(format!(
                "is more than {} days in the past",
                self.max_age.num_days()
            ));
        }
        Ok(t)
    }
}

/// Parses one event object; `bounds` say how far in the future or past its time may be.
pub fn parse_event(
    value: &Value,
    tenant: &TenantId,
    ids: IdSource<'_>,
    index: usize,
    bounds: TimeBounds,
) -> Result<Event, Vec<FieldError>> {
    let now = bounds.now;
    let Some(obj) = value.as_object() else {
        return Err(vec![FieldError::new(
            "",
            "each event must be a JSON object",
        )]);
    };
    let mut errors = Vec::new();
    let event_type = match obj.get("event_type") {
        None | Some(Value::Null) => {
            errors.push(FieldError::new("event_type", "is required"));
            None
        }
        Some(Value::String(s)) => EventType::parse(s)
            .map_err(|m| errors.push(FieldError::new("event_type", m)))
            .ok(),
        Some(_) => {
            errors.push(FieldError::new("event_type", "must be a string"));
            None
        }
    };
    let timestamp = match obj.get("timestamp") {
        None | Some(Value::Null) => {
            errors.push(FieldError::new("timestamp", "is required"));
            None
        }
        Some(Value::String(s)) => match parse_time(s).map(|t| bounds.check(t)) {
            Some(Ok(t)) => Some(t),
            Some(Err(m)) => {
                errors.push(FieldError::new("timestamp", m));
                None
            }
            None => {
                errors.push(FieldError::new(
                    "timestamp",
                    "must be an RFC 3339 date-time",
                ));
                None
            }
        },
        Some(_) => {
            errors.push(FieldError::new("timestamp", "must be an RFC 3339 string"));
            None
        }
    };
    let user = opt_string(obj, "user", MAX_USER, &mut errors);
    if user.is_none() && !errors.iter().any(|e| e.field == "user") {
        errors.push(FieldError::new("user", "is required"));
    }
    let client_id = opt_string(obj, "id", MAX_CLIENT_ID, &mut errors);
    let source = opt_string(obj, "source", MAX_SOURCE, &mut errors);
    let raw_data = match obj.get("raw_data") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => {
            let size = serde_json::to_vec(m).map(|v| v.len()).unwrap_or(usize::MAX);
            if size > MAX_RAW_DATA_BYTES {
                errors.push(FieldError::new(
                    "raw_data",
                    format!("is {size} bytes, at most {MAX_RAW_DATA_BYTES}"),
                ));
            }
            m.clone()
        }
        Some(_) => {
            errors.push(FieldError::new("raw_data", "must be an object"));
            Map::new()
        }
    };
    match (event_type, timestamp, user) {
        (Some(event_type), Some(timestamp), Some(user)) if errors.is_empty() => Ok(Event {
            id: event_id(tenant, client_id.as_deref(), ids, index),
            client_id,
            event_type,
            timestamp,
            user,
            source,
            raw_data,
            received_at: now,
        }),
        _ => Err(errors),
    }
}

/// Parses a request body holding one event or an array of up to [`MAX_BATCH`].
/// Either every event is valid or the errors of all invalid ones are returned.
pub fn parse_batch(
    body: &Value,
    tenant: &TenantId,
    ids: IdSource<'_>,
    bounds: TimeBounds,
) -> Result<Vec<Event>, Vec<FieldError>> {
    let (items, batched): (Vec<&Value>, bool) = match body {
        Value::Array(a) => (a.iter().collect(), true),
        Value::Object(_) => (vec![body], false),
        _ => {
            return Err(vec![FieldError::new(
                "",
                "body must be an event object or an array of events",
            )]);
        }
    };
    if items.is_empty() {
        return Err(vec![FieldError::new("", "the array holds no events")]);
    }
    if items.len() > MAX_BATCH {
        return Err(vec![FieldError::new(
            "",
            format!("{} events, at most {MAX_BATCH} per request", items.len()),
        )]);
    }
    let mut events = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        match parse_event(item, tenant, ids, i, bounds) {
            Ok(e) => events.push(e),
            Err(errs) if batched => errors.extend(errs.into_iter().map(|e| e.at(i))),
            Err(errs) => errors.extend(errs),
        }
    }
    if errors.is_empty() {
        Ok(events)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tenant() -> TenantId {
        TenantId::parse("demo").unwrap()
    }

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z")
            .unwrap()
            .to_utc()
    }

    fn now() -> TimeBounds {
        TimeBounds::at(at())
    }

    #[test]
    fn parses_a_valid_event_and_reads_naive_time_as_utc() {
        let e = parse_event(
            &json!({"event_type":"login_failed","timestamp":"2026-11-25T10:00:00","user":"alice","raw_data":{"ip":"1.2.3.4"}}),
            &tenant(),
            IdSource::Random,
            0,
            now(),
        )
        .unwrap();
        assert_eq!(e.timestamp.to_rfc3339(), "2026-11-25T10:00:00+00:00");
        assert_eq!(e.known_type(), Some(KnownType::LoginFailed));
        assert!(e.id.starts_with("ev_"));
    }

    #[test]
    fn client_id_maps_to_a_stable_tenant_scoped_id() {
        let body =
            json!({"id":"abc","event_type":"x","timestamp":"2026-11-25T10:00:00Z","user":"u"});
        let a = parse_event(&body, &tenant(), IdSource::Random, 0, now()).unwrap();
        let b = parse_event(&body, &tenant(), IdSource::Random, 3, now()).unwrap();
        let other = TenantId::parse("other").unwrap();
        let c = parse_event(&body, &other, IdSource::Random, 0, now()).unwrap();
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
    }

    #[test]
    fn idempotency_key_ids_are_stable_per_index() {
        let body = json!({"event_type":"x","timestamp":"2026-11-25T10:00:00Z","user":"u"});
        let ids = IdSource::Idempotency("k1");
        let a = parse_event(&body, &tenant(), ids, 0, now()).unwrap();
        let b = parse_event(&body, &tenant(), ids, 0, now()).unwrap();
        let c = parse_event(&body, &tenant(), ids, 1, now()).unwrap();
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
    }

    #[test]
    fn reports_every_bad_field_with_its_index() {
        let body = json!([
            {"event_type":"ok","timestamp":"2026-11-25T10:00:00Z","user":"u"},
            {"event_type":"Bad Type","timestamp":"yesterday","raw_data":[1]},
            {"event_type":"ok","timestamp":"2026-11-25T12:06:00Z","user":"u"}
        ]);
        let errs = parse_batch(&body, &tenant(), IdSource::Random, now()).unwrap_err();
        let fields: Vec<(Option<usize>, &str)> =
            errs.iter().map(|e| (e.index, e.field.as_str())).collect();
        assert_eq!(
            fields,
            vec![
                (Some(1), "event_type"),
                (Some(1), "timestamp"),
                (Some(1), "user"),
                (Some(1), "raw_data"),
                (Some(2), "timestamp"),
            ]
        );
    }

    #[test]
    fn five_minutes_of_skew_is_accepted() {
        let body = json!({"event_type":"x","timestamp":"2026-11-25T12:05:00Z","user":"u"});
        assert!(parse_event(&body, &tenant(), IdSource::Random, 0, now()).is_ok());
    }

    #[test]
    fn rejects_oversized_batches_and_raw_data() {
        let one = json!({"event_type":"x","timestamp":"2026-11-25T10:00:00Z","user":"u"});
        let big = Value::Array(vec![one; MAX_BATCH + 1]);
        assert!(parse_batch(&big, &tenant(), IdSource::Random, now()).is_err());
        let raw = json!({"event_type":"x","timestamp":"2026-11-25T10:00:00Z","user":"u","raw_data":{"blob":"x".repeat(MAX_RAW_DATA_BYTES)}});
        let errs = parse_event(&raw, &tenant(), IdSource::Random, 0, now()).unwrap_err();
        assert_eq!(errs[0].field, "raw_data");
    }

    #[test]
    fn time_keys_sort_chronologically() {
        let a = time_key(at());
        let b = time_key(at() + Duration::milliseconds(5));
        assert!(a < b);
        assert_eq!(a, "2026-11-25T12:00:00.000Z");
    }

    #[test]
    fn keeps_the_client_id() {
        let body =
            json!({"id":"okta-1","event_type":"x","timestamp":"2026-11-25T10:00:00Z","user":"u"});
        let e = parse_event(&body, &tenant(), IdSource::Random, 0, now()).unwrap();
        assert_eq!(e.client_id.as_deref(), Some("okta-1"));
        assert_eq!(
            e.id,
            event_id(&tenant(), Some("okta-1"), IdSource::Random, 9)
        );
    }

    #[test]
    fn refuses_control_characters_in_ids_and_user_names() {
        for (field, body) in [
            (
                "user",
                json!({"event_type":"x","timestamp":"2026-11-25T10:00:00Z","user":"al\u{0}ice"}),
            ),
            (
                "id",
                json!({"id":"a\nb","event_type":"x","timestamp":"2026-11-25T10:00:00Z","user":"u"}),
            ),
            (
                "source",
                json!({"source":"ok\u{7f}","event_type":"x","timestamp":"2026-11-25T10:00:00Z","user":"u"}),
            ),
        ] {
            let errs = parse_event(&body, &tenant(), IdSource::Random, 0, now()).unwrap_err();
            assert_eq!(errs[0].field, field, "{body}");
            assert!(errs[0].message.contains("control"), "{errs:?}");
        }
    }

    #[test]
    fn bounds_event_time_in_the_past() {
        for old in [
            "0001-01-01T00:00:00Z",
            "1900-01-01T00:00:00Z",
            "1970-01-01T00:00:00Z",
        ] {
            let body = json!({"event_type":"x","timestamp":old,"user":"u"});
            let errs = parse_event(&body, &tenant(), IdSource::Random, 0, now()).unwrap_err();
            assert_eq!(errs[0].field, "timestamp");
            assert!(
                errs[0].message.contains("3650 days in the past"),
                "{errs:?}"
            );
        }
        let nine_years = json!({"event_type":"x","timestamp":"2017-11-25T12:00:00Z","user":"u"});
        assert!(parse_event(&nine_years, &tenant(), IdSource::Random, 0, now()).is_ok());
        let short = TimeBounds {
            max_age: Duration::days(1),
            ..now()
        };
        let two_days = json!({"event_type":"x","timestamp":"2026-11-23T12:00:00Z","user":"u"});
        assert!(parse_event(&two_days, &tenant(), IdSource::Random, 0, short).is_err());
    }
}
