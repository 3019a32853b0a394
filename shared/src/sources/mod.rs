//! Real log sources normalized into Vigil events: AWS CloudTrail, GitHub (webhooks and
//! the organization audit-log stream) and Okta (event hooks and System Log records).
//!
//! Each mapping turns one source record into a [`NormalizedRecord`]: a native event type
//! (or `other` when no mapping covers the record), the event time, who acted, the fields
//! the rules read under their native names, and the provenance every normalized event
//! keeps: which source, the record's own event name, which mapping produced it and the
//! original record, bounded in size. [`NormalizedRecord::into_event`] makes the stored
//! [`Event`]; its id derives from the record's own id (or a digest of the record), so a
//! record sent twice is stored once.
pub mod cloudtrail;
pub mod country;
pub mod github;
pub mod intake;
pub mod log_file;
pub mod okta;
pub mod source;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::domain::event::{Event, EventType, IdSource, TimeBounds, event_id};
use crate::domain::{FieldError, TenantId};
use crate::webhooks::signing::canonical_json;

pub use source::{Source, SourceKind, SourceSpec};

/// The event type of records no mapping covers: stored and counted, seen only by the
/// volume rule.
pub const OTHER: &str = "other";
/// Largest original record kept beside a normalized event, serialized. A larger one is
/// kept as its digest, size and first bytes.
pub const MAX_ORIGINAL_BYTES: usize = 16 * 1024;
/// Most records one request or queue message may carry.
pub const MAX_RECORDS: usize = 1000;
const MAX_USER: usize = 256;

/// Why one record could not be read; the index is added by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    pub field: String,
    pub message: String,
}

impl RecordError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_string(),
            message: message.into(),
        }
    }

    pub fn at(self, index: usize) -> FieldError {
        FieldError::new(self.field, self.message).at(index)
    }
}

/// When the event happened, as far as the record tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeOrigin {
    /// The record's own event time.
    Record,
    /// The record carries none (most GitHub webhook payloads): the delivery's receipt
    /// time stands in, and the event says so (`time_source: "received"`).
    Received,
}

/// One source record mapped onto Vigil's event model.
#[derive(Debug, Clone, PartialEq)]
pub struct NormalizedRecord {
    pub kind: SourceKind,
    /// A native type name, or [`OTHER`].
    pub event_type: &'static str,
    pub timestamp: DateTime<Utc>,
    pub time_origin: TimeOrigin,
    pub user: String,
    /// The record's own id (`eventID`, `uuid`, the delivery id, `_document_id`), or a
    /// digest of the record when it has none. Prefixed with the source kind.
    pub dedup_key: String,
    /// The record's own name for what happened (`ConsoleLogin`, `org.update_member`).
    pub event_name: String,
    /// Which mapping produced the event, e.g. `cloudtrail.console_login`.
    pub mapping: &'static str,
    /// Fields the rules read, under their native names (`country`, `new_role`, ...).
    pub fields: Map<String, Value>,
}

impl NormalizedRecord {
    pub fn is_mapped(&self) -> bool {
        self.event_type != OTHER
    }

    /// The stored event: provenance beside the rule fields, the original bounded.
    pub fn into_event(
        self,
        tenant: &TenantId,
        source_id: &str,
        original: &Value,
        received_at: DateTime<Utc>,
    ) -> Result<Event, RecordError> {
        let event_type =
            EventType::parse(self.event_type).map_err(|m| RecordError::new("event_type", m))?;
        let mut raw = self.fields;
        raw.insert("source_id".into(), json!(source_id));
        raw.insert("source_event".into(), json!(self.event_name));
        raw.insert("mapping".into(), json!(self.mapping));
        if self.time_origin == TimeOrigin::Received {
            raw.insert("time_source".into(), json!("received"));
        }
        raw.insert("original".into(), bounded_original(original));
        let client_id = self.dedup_key;
        Ok(Event {
            id: event_id(tenant, Some(&client_id), IdSource::Random, 0),
            client_id: Some(client_id),
            event_type,
            timestamp: self.timestamp,
            user: self.user,
            source: Some(self.kind.as_str().to_string()),
            raw_data: raw,
            received_at,
        })
    }
}

/// The original record as kept: whole up to [`MAX_ORIGINAL_BYTES`], else its digest,
/// size and a prefix (cut on a character boundary).
pub fn bounded_original(original: &Value) -> Value {
    let text = original.to_string();
    if text.len() <= MAX_ORIGINAL_BYTES {
        return original.clone();
    }
    json!({
        "truncated": true,
        "bytes": text.len(),
        "sha256": hex::encode(Sha256::digest(text.as_bytes())),
        "prefix": prefix_on_char(&text, MAX_ORIGINAL_BYTES / 2),
    })
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub fn prefix_on_char(s: &str, max: usize) -> &str {
    let mut cut = s.len().min(max);
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    &s[..cut]
}

/// The dedup key of a record without an id of its own: a digest of its canonical JSON,
/// so the same record sent twice (in any key order) maps to one event.
pub fn digest_key(kind: SourceKind, record: &Value) -> String {
    let digest = hex::encode(Sha256::digest(canonical_json(record).as_bytes()));
    format!("{}:sha256:{}", kind.as_str(), &digest[..40])
}

/// The dedup key of a record with an id of its own, or of its digest.
pub fn dedup_key(kind: SourceKind, own_id: Option<&str>, record: &Value) -> String {
    match own_id
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.len() <= 100)
    {
        Some(id) if !crate::domain::validation::has_control(id) => {
            format!("{}:{id}", kind.as_str())
        }
        _ => digest_key(kind, record),
    }
}

/// Parses a record's ISO 8601 time. An impossible date (February 30th, hour 25) is an
/// error, never re-dated; a time without an offset is UTC.
pub fn parse_iso_time(field: &str, s: &str) -> Result<DateTime<Utc>, RecordError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.to_utc());
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(|n| n.and_utc())
        .ok_or_else(|| RecordError::new(field, format!("'{s}' is not a valid ISO 8601 date-time")))
}

/// Parses an epoch-milliseconds time (GitHub's audit log), refusing what no clock can
/// have written.
pub fn parse_epoch_millis(field: &str, v: &Value) -> Result<DateTime<Utc>, RecordError> {
    let ms = match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
    .ok_or_else(|| RecordError::new(field, "must be epoch milliseconds (an integer)"))?;
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| RecordError::new(field, format!("{ms} is not a representable time")))
}

/// Checks an event time against the receiving clock as native events are checked.
pub fn check_time(
    field: &str,
    t: DateTime<Utc>,
    bounds: TimeBounds,
) -> Result<DateTime<Utc>, RecordError> {
    bounds.check(t).map_err(|m| RecordError::new(field, m))
}

/// A string at a path of nested objects.
pub fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(v, path)?.as_str()
}

/// The value at a path of nested objects.
pub fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, key| cur.get(*key))
}

/// A user name as stored: trimmed, without control characters, bounded.
pub fn clean_user(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty() && s.len() <= MAX_USER && !crate::domain::validation::has_control(s))
        .then(|| s.to_string())
}

/// Inserts `country` (ISO 3166-1 alpha-2) and `country_name` when the value names a
/// known country; an unknown one is kept as `country_raw` only, so no rule matches a
/// guess.
pub fn put_country(fields: &mut Map<String, Value>, given: Option<&str>) {
    let Some(given) = given.map(str::trim).filter(|s| !s.is_empty()) else {
        return;
    };
    match country::lookup(given) {
        Some(c) => {
            fields.insert("country".into(), json!(c.code));
            fields.insert("country_name".into(), json!(c.name));
        }
        None => {
            fields.insert("country_raw".into(), json!(given));
        }
    }
}

/// The records of a body: one object, an array, or an object holding the array under
/// `key` (`Records` for CloudTrail log files).
pub fn records_of<'a>(body: &'a Value, key: Option<&str>) -> Result<Vec<&'a Value>, FieldError> {
    let items: Vec<&Value> = match body {
        Value::Array(a) => a.iter().collect(),
        Value::Object(o) => match key.and_then(|k| o.get(k)) {
            Some(Value::Array(a)) => a.iter().collect(),
            Some(_) => {
                return Err(FieldError::new(
                    key.unwrap_or_default(),
                    "must be an array of records",
                ));
            }
            None => vec![body],
        },
        _ => {
            return Err(FieldError::new(
                "body",
                "must be a record object, an array of records or {\"Records\": [...]}",
            ));
        }
    };
    if items.len() > MAX_RECORDS {
        return Err(FieldError::new(
            "body",
            format!("{} records, at most {MAX_RECORDS} per request", items.len()),
        ));
    }
    Ok(items)
}

/// What a batch of records became: events to ingest and the dedup keys of the records
/// dropped as unmapped (a source may be set to drop them), which
/// [`crate::repo::sources::count_dropped`] counts once per record.
#[derive(Debug, Default)]
pub struct Normalized {
    pub events: Vec<Event>,
    pub dropped: Vec<String>,
}

/// Most bytes a gzip body or log file may inflate to.
pub const MAX_INFLATED_BYTES: usize = 64 * 1024 * 1024;

/// Inflates a gzip body (a CloudTrail log file, a `Content-Encoding: gzip` push), at most
/// `limit` bytes: a larger one is refused rather than read into memory.
pub fn gunzip(bytes: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut out = Vec::new();
    let mut reader = flate2::read::MultiGzDecoder::new(bytes).take(limit as u64 + 1);
    reader
        .read_to_end(&mut out)
        .map_err(|e| format!("is not valid gzip: {e}"))?;
    if out.len() > limit {
        return Err(format!("inflates to more than {limit} bytes"));
    }
    Ok(out)
}

/// Normalizes records with `map`, collecting every bad record's error with its index:
/// either all records are usable or none is taken.
pub fn normalize_all<'a, F>(
    records: &[&'a Value],
    source: &Source,
    received_at: DateTime<Utc>,
    map: F,
) -> Result<Normalized, Vec<FieldError>>
where
    F: FnMut(&'a Value) -> Result<NormalizedRecord, RecordError>,
{
    let (out, errors) = normalize_each(records, 0, source, received_at, map);
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Every record `map` can read, and the errors of those it cannot, indexed from
/// `first_index` (a log file is read in batches; its errors name the record's place in
/// the file).
pub fn normalize_each<'a, F>(
    records: &[&'a Value],
    first_index: usize,
    source: &Source,
    received_at: DateTime<Utc>,
    mut map: F,
) -> (Normalized, Vec<FieldError>)
where
    F: FnMut(&'a Value) -> Result<NormalizedRecord, RecordError>,
{
    let mut out = Normalized::default();
    let mut errors = Vec::new();
    for (i, r) in records.iter().enumerate() {
        match map(r).and_then(|n| {
            if !n.is_mapped() && source.spec.drop_unmapped {
                return Ok(Err(n.dedup_key));
            }
            n.into_event(&source.tenant, &source.id, r, received_at)
                .map(Ok)
        }) {
            Ok(Ok(e)) => out.events.push(e),
            Ok(Err(key)) => out.dropped.push(key),
            Err(e) => errors.push(e.at(first_index + i)),
        }
    }
    (out, errors)
}

/// Records of a CloudTrail log file, `first_index` being the first one's place in the
/// file: what they became, and which could not be read.
pub fn normalize_cloudtrail_file_batch(
    records: &[Value],
    first_index: usize,
    source: &Source,
    bounds: TimeBounds,
) -> (Normalized, Vec<FieldError>) {
    let refs: Vec<&Value> = records.iter().collect();
    normalize_each(&refs, first_index, source, bounds.now, |r| {
        cloudtrail::map(r, bounds)
    })
}

/// A CloudTrail body: one record, an array, a log file's `{"Records": [...]}`, or
/// EventBridge events wrapping records.
pub fn normalize_cloudtrail(
    body: &Value,
    source: &Source,
    bounds: TimeBounds,
) -> Result<Normalized, Vec<FieldError>> {
    let records = records_of(body, Some("Records")).map_err(|e| vec![e])?;
    normalize_all(&records, source, bounds.now, |r| cloudtrail::map(r, bounds))
}

/// An Okta body: an event hook delivery (`data.events`), System Log records (an
/// array) or one LogEvent.
pub fn normalize_okta(
    body: &Value,
    source: &Source,
    bounds: TimeBounds,
) -> Result<Normalized, Vec<FieldError>> {
    let records = okta::events_of(body).map_err(|e| vec![e])?;
    normalize_all(&records, source, bounds.now, |r| okta::map(r, bounds))
}

/// GitHub audit-log records (the NDJSON stream's lines).
pub fn normalize_github_audit(
    records: &[Value],
    source: &Source,
    bounds: TimeBounds,
) -> Result<Normalized, Vec<FieldError>> {
    if records.len() > MAX_RECORDS {
        return Err(vec![FieldError::new(
            "body",
            format!(
                "{} records, at most {MAX_RECORDS} per request",
                records.len()
            ),
        )]);
    }
    let refs: Vec<&Value> = records.iter().collect();
    normalize_all(&refs, source, bounds.now, |r| github::map_audit(r, bounds))
}

/// One GitHub webhook delivery (received at `bounds.now`).
pub fn normalize_github_webhook(
    payload: &Value,
    event: &str,
    delivery: &str,
    source: &Source,
    bounds: TimeBounds,
) -> Result<Normalized, Vec<FieldError>> {
    let d = github::Delivery {
        event,
        id: delivery,
        received_at: bounds.now,
    };
    normalize_all(&[payload], source, bounds.now, |p| {
        github::map_webhook(p, &d, bounds)
    })
    .map_err(|errs| {
        // One payload: its errors have no index.
        errs.into_iter()
            .map(|mut e| {
                e.index = None;
                e
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_inflates_within_its_limit() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&[b'a'; 1000]).unwrap();
        let gz = enc.finish().unwrap();
        assert_eq!(gunzip(&gz, 1000).unwrap().len(), 1000);
        assert!(gunzip(&gz, 999).unwrap_err().contains("more than"));
        assert!(gunzip(b"not gzip", 1000).is_err());
    }

    #[test]
    fn impossible_dates_are_rejected_not_redated() {
        assert!(parse_iso_time("eventTime", "2023-02-30T10:00:00Z").is_err());
        assert!(parse_iso_time("eventTime", "2023-02-28T25:00:00Z").is_err());
        assert!(parse_iso_time("eventTime", "2023-13-01T00:00:00Z").is_err());
        assert_eq!(
            parse_iso_time("eventTime", "2023-07-19T21:44:40Z")
                .unwrap()
                .to_rfc3339(),
            "2023-07-19T21:44:40+00:00"
        );
        assert!(parse_epoch_millis("@timestamp", &json!(i64::MAX)).is_err());
        assert!(parse_epoch_millis("@timestamp", &json!("soon")).is_err());
    }

    #[test]
    fn epoch_milliseconds_keep_their_milliseconds() {
        let t = parse_epoch_millis("@timestamp", &json!(1606929874512_i64)).unwrap();
        assert_eq!(t.to_rfc3339(), "2020-12-02T17:24:34.512+00:00");
    }

    #[test]
    fn records_without_an_id_dedup_by_digest_in_any_key_order() {
        let a = json!({"eventName": "X", "eventTime": "2023-01-01T00:00:00Z"});
        let b: Value =
            serde_json::from_str(r#"{"eventTime":"2023-01-01T00:00:00Z","eventName":"X"}"#)
                .unwrap();
        let c = json!({"eventName": "Y", "eventTime": "2023-01-01T00:00:00Z"});
        let k = dedup_key(SourceKind::Cloudtrail, None, &a);
        assert!(k.starts_with("cloudtrail:sha256:"));
        assert_eq!(k, dedup_key(SourceKind::Cloudtrail, Some(""), &b));
        assert_ne!(k, dedup_key(SourceKind::Cloudtrail, None, &c));
        assert_eq!(
            dedup_key(SourceKind::Okta, Some("abc"), &a),
            "okta:abc".to_string()
        );
    }

    #[test]
    fn large_originals_are_kept_as_digest_and_prefix() {
        let small = json!({"a": 1});
        assert_eq!(bounded_original(&small), small);
        let big = json!({"blob": "é".repeat(MAX_ORIGINAL_BYTES)});
        let kept = bounded_original(&big);
        assert_eq!(kept["truncated"], json!(true));
        assert!(kept.to_string().len() < MAX_ORIGINAL_BYTES);
        assert_eq!(kept["sha256"].as_str().unwrap().len(), 64);
    }

    #[test]
    fn countries_keep_code_and_name_and_unknown_ones_match_nothing() {
        let mut f = Map::new();
        put_country(&mut f, Some("United States"));
        assert_eq!(f["country"], json!("US"));
        assert_eq!(f["country_name"], json!("United States"));
        let mut g = Map::new();
        put_country(&mut g, Some("Atlantis"));
        assert!(g.get("country").is_none());
        assert_eq!(g["country_raw"], json!("Atlantis"));
    }
}
