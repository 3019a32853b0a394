//! What the log-files tests share: the sample's object, log files built from the
//! CloudTrail golden corpus, and SQS records carrying notifications.
#![allow(dead_code)]
use std::io::Write;

use serde_json::{Value, json};

/// The bucket and (decoded) key the sample `events/logfiles-sqs.json` notifies of.
pub const BUCKET: &str = "vigil-prod-trail-123456789012-us-east-1";
pub const KEY: &str = "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/26/123456789012_CloudTrail_us-east-1_20261126T1155Z_Sample+File01.json.gz";
/// The deployment's CloudTrail source.
pub const SOURCE: &str = "src_demo_0190f0c5a1b27c3d8e9f00112233aa02";

pub fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-11-26T12:00:00Z")
        .unwrap()
        .to_utc()
}

/// Every CloudTrail record of the golden corpus (single records and the log-file
/// example), in a stable order.
pub fn corpus() -> Vec<Value> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/tests/fixtures/sources/cloudtrail");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for p in names {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        let stem = p.file_stem().unwrap().to_string_lossy().to_string();
        if stem.starts_with("eventbridge_") {
            continue;
        }
        match v.get("Records").and_then(Value::as_array) {
            Some(records) => out.extend(records.iter().cloned()),
            None => out.push(v),
        }
    }
    out
}

/// `n` failed console logins by seven users, a second apart from 11:00.
pub fn failed_logins(n: usize) -> Vec<Value> {
    let base = chrono::DateTime::parse_from_rfc3339("2026-11-26T11:00:00Z").unwrap();
    (0..n)
        .map(|i| {
            json!({
                "eventVersion": "1.08",
                "userIdentity": {"type": "IAMUser", "principalId": "EXAMPLE", "accountId": "123456789012",
                                 "userName": format!("user{}", i % 7)},
                "eventTime": (base + chrono::Duration::seconds(i as i64)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "eventSource": "signin.amazonaws.com",
                "eventName": "ConsoleLogin",
                "awsRegion": "us-east-1",
                "sourceIPAddress": "192.0.2.0",
                "responseElements": {"ConsoleLogin": "Failure"},
                "additionalEventData": {"MFAUsed": "No"},
                "eventID": format!("bulk-{i:05}"),
                "eventType": "AwsConsoleSignIn",
                "recipientAccountId": "123456789012",
            })
        })
        .collect()
}

/// A log file of `records`, gzip, as CloudTrail writes it.
pub fn gz_file(records: &[Value]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(json!({"Records": records}).to_string().as_bytes())
        .unwrap();
    enc.finish().unwrap()
}

/// An S3 notification of `key` in `bucket` (the key URL-encoded as S3 does).
pub fn notification(bucket: &str, key: &str) -> Value {
    let mut n: Value = serde_json::from_str(
        vigil_testkit::sample("logfiles-sqs.json")["Records"][0]["body"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let encoded: String = key
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                (b as char).to_string()
            }
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    n["Records"][0]["s3"]["bucket"]["name"] = json!(bucket);
    n["Records"][0]["s3"]["object"]["key"] = json!(encoded);
    n
}

/// The sample's SQS record with its own message id and `body`.
pub fn record(id: &str, body: &Value) -> Value {
    let mut r = vigil_testkit::sample("logfiles-sqs.json")["Records"][0].clone();
    r["messageId"] = json!(id);
    r["body"] = json!(body.to_string());
    r
}

pub fn sqs_event(records: Vec<Value>) -> aws_lambda_events::sqs::SqsEvent {
    serde_json::from_value(json!({ "Records": records })).unwrap()
}
