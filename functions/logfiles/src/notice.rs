//! What a log-files queue message says was written: the objects to read. Three shapes
//! reach the queue in real deployments:
//!
//! - an S3 event notification (`{"Records": [{"eventSource": "aws:s3", ...}]}`), sent
//!   by the bucket straight to the queue; its object keys are URL-encoded (`+` for a
//!   space);
//! - the same, or CloudTrail's own notification (`{"s3Bucket": ..., "s3ObjectKey":
//!   [...]}`, keys as they are), wrapped in an SNS envelope when a topic fans out to the
//!   queue without raw message delivery;
//! - S3's `s3:TestEvent`, sent once when a notification is configured.
use percent_encoding::percent_decode_str;
use serde_json::Value;
use vigil_shared::ports::ObjectRef;

/// A message of the log-files queue, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// S3 testing the notification: nothing to read.
    Test,
    /// Objects written, in the notification's order (those that are no log files, such
    /// as CloudTrail's digest files, already left out).
    Objects(Vec<ObjectRef>),
}

/// Reads `message`, or says why it is none of the shapes above.
pub fn parse(message: &Value) -> Result<Notice, String> {
    parse_at(message, 0)
}

fn parse_at(message: &Value, depth: u8) -> Result<Notice, String> {
    let s = |k: &str| message.get(k).and_then(Value::as_str);
    if s("Event") == Some("s3:TestEvent") {
        return Ok(Notice::Test);
    }
    if s("Type") == Some("Notification") && depth == 0 {
        let inner = s("Message").ok_or("an SNS notification without a string Message")?;
        let inner: Value = serde_json::from_str(inner)
            .map_err(|e| format!("Message: the SNS message is not JSON: {e}"))?;
        return parse_at(&inner, depth + 1);
    }
    if let Some(bucket) = s("s3Bucket") {
        let keys = message
            .get("s3ObjectKey")
            .and_then(Value::as_array)
            .ok_or("s3ObjectKey: must be an array of object keys")?;
        let objects = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let key = k
                    .as_str()
                    .ok_or(format!("s3ObjectKey[{i}]: must be a string"))?;
                object(bucket, key.to_string(), None)
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Notice::Objects(objects.into_iter().flatten().collect()));
    }
    let records = message
        .get("Records")
        .and_then(Value::as_array)
        .ok_or("not an S3 event notification: needs a Records array (or s3Bucket and s3ObjectKey, or an SNS envelope)")?;
    let mut objects = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let at = |f: &str| format!("Records[{i}].{f}");
        let field = |path: &[&str]| {
            path.iter()
                .try_fold(r, |v, k| v.get(*k))
                .and_then(Value::as_str)
        };
        if field(&["eventSource"]) != Some("aws:s3") {
            return Err(format!("{}: must be aws:s3", at("eventSource")));
        }
        let name = field(&["eventName"]).ok_or_else(|| format!("{}: missing", at("eventName")))?;
        // Removals, restores and the like say nothing new was written.
        if !name.starts_with("ObjectCreated:") {
            continue;
        }
        let bucket = field(&["s3", "bucket", "name"])
            .ok_or_else(|| format!("{}: missing", at("s3.bucket.name")))?;
        let raw_key = field(&["s3", "object", "key"])
            .ok_or_else(|| format!("{}: missing", at("s3.object.key")))?;
        // Form encoding: `+` is a space, a literal plus arrives as %2B.
        let key = percent_decode_str(&raw_key.replace('+', " "))
            .decode_utf8()
            .map_err(|e| format!("{}: not UTF-8 once decoded: {e}", at("s3.object.key")))?
            .into_owned();
        let version = field(&["s3", "object", "versionId"]).map(str::to_string);
        objects.extend(object(bucket, key, version)?);
    }
    Ok(Notice::Objects(objects))
}

/// The object to read, or `None` for what CloudTrail writes beside its log files:
/// digest files (hashes of the log files, no records) and folder markers.
fn object(bucket: &str, key: String, version: Option<String>) -> Result<Option<ObjectRef>, String> {
    if bucket.is_empty() || key.is_empty() {
        return Err("an object with an empty bucket or key".into());
    }
    if key.ends_with('/') || key.contains("/CloudTrail-Digest/") {
        return Ok(None);
    }
    Ok(Some(ObjectRef {
        bucket: bucket.to_string(),
        key,
        version,
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(bucket: &str, key: &str, version: Option<&str>) -> ObjectRef {
        ObjectRef {
            bucket: bucket.into(),
            key: key.into(),
            version: version.map(Into::into),
        }
    }

    /// The shape of AWS's documented event message (S3 User Guide, "Event message
    /// structure"), for a CloudTrail log file.
    fn s3_event(key: &str, name: &str) -> Value {
        json!({"Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventTime": "2026-12-03T11:55:00.000Z",
            "eventName": name,
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "vigil-cloudtrail",
                "bucket": {"name": "trail-bucket", "arn": "arn:aws:s3:::trail-bucket"},
                "object": {"key": key, "size": 1024, "versionId": "v1", "sequencer": "0A1B2C3D4E5F678901"}
            }
        }]})
    }

    #[test]
    fn an_s3_notification_names_its_objects_with_keys_decoded() {
        let key = "AWSLogs/o-abc/123456789012/CloudTrail/us-east-1/2026/12/03/123456789012_CloudTrail_us-east-1_20261203T1155Z_a+b%2Bc.json.gz";
        let n = parse(&s3_event(key, "ObjectCreated:Put")).unwrap();
        assert_eq!(
            n,
            Notice::Objects(vec![obj(
                "trail-bucket",
                "AWSLogs/o-abc/123456789012/CloudTrail/us-east-1/2026/12/03/123456789012_CloudTrail_us-east-1_20261203T1155Z_a b+c.json.gz",
                Some("v1"),
            )])
        );
        let removed = parse(&s3_event("x.json.gz", "ObjectRemoved:Delete")).unwrap();
        assert_eq!(removed, Notice::Objects(vec![]));
        let digest = "AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2026/12/03/d.json.gz";
        assert_eq!(
            parse(&s3_event(digest, "ObjectCreated:Put")).unwrap(),
            Notice::Objects(vec![])
        );
    }

    #[test]
    fn the_test_event_sns_envelopes_and_cloudtrail_notifications() {
        let test = json!({"Service": "Amazon S3", "Event": "s3:TestEvent",
            "Time": "2026-12-03T11:55:00.000Z", "Bucket": "trail-bucket",
            "RequestId": "r", "HostId": "h"});
        assert_eq!(parse(&test).unwrap(), Notice::Test);
        let wrapped = json!({"Type": "Notification", "MessageId": "m",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:trail",
            "Message": s3_event("k.json.gz", "ObjectCreated:CompleteMultipartUpload").to_string()});
        assert_eq!(
            parse(&wrapped).unwrap(),
            Notice::Objects(vec![obj("trail-bucket", "k.json.gz", Some("v1"))])
        );
        // CloudTrail's own SNS notification: keys as they are.
        let trail = json!({"Type": "Notification", "Message": json!({
            "s3Bucket": "trail-bucket",
            "s3ObjectKey": ["AWSLogs/1/CloudTrail/us-east-1/2026/12/03/a+b.json.gz"]}).to_string()});
        assert_eq!(
            parse(&trail).unwrap(),
            Notice::Objects(vec![obj(
                "trail-bucket",
                "AWSLogs/1/CloudTrail/us-east-1/2026/12/03/a+b.json.gz",
                None
            )])
        );
    }

    #[test]
    fn other_messages_say_what_is_wrong() {
        let cases = [
            (json!({"hello": 1}), "Records"),
            (
                json!({"Records": [{"eventSource": "aws:sqs"}]}),
                "Records[0].eventSource",
            ),
            (
                json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}}}]}),
                "Records[0].s3.object.key",
            ),
            (json!({"Type": "Notification", "Message": "{"}), "Message"),
            (json!({"s3Bucket": "b", "s3ObjectKey": "k"}), "s3ObjectKey"),
            (
                json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": "b"}, "object": {"key": "%FF"}}}]}),
                "UTF-8",
            ),
        ];
        for (message, says) in cases {
            let e = parse(&message).unwrap_err();
            assert!(e.contains(says), "{message}: {e}");
        }
        // An envelope inside an envelope is not followed.
        let inner = json!({"Type": "Notification", "Message": "{}"}).to_string();
        assert!(parse(&json!({"Type": "Notification", "Message": inner})).is_err());
    }
}
