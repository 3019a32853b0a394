//! CloudTrail log files, records per second, in one run: a gzip file of 5,000 records
//! read the way the log-files stage reads S3 objects (streamed: gunzip and parse on a
//! blocking thread, batches of 500 normalized as they arrive), beside the baseline
//! measured in the same run, the whole file inflated and parsed in memory and then
//! normalized; and the whole stage (streaming, normalizing and forwarding onto the
//! embedded ingest queue) beside that baseline. Interleaved; printed with the ratios;
//! nothing is asserted. Run: `cargo bench -p vigil-local --bench logfiles`
//! (`VIGIL_BENCH_ROUNDS`, default 20).
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vigil_shared::adapters::embedded::{EmbeddedDb, EmbeddedQueue, EmbeddedStore};
use vigil_shared::domain::TenantId;
use vigil_shared::domain::event::TimeBounds;
use vigil_shared::ports::objects::MemoryObjectStore;
use vigil_shared::ports::{Clock, ItemStore, Queue, QueueName, SystemClock};
use vigil_shared::repo::sources as repo;
use vigil_shared::runtime::{MessageMeta, Stage};
use vigil_shared::sources::intake::SourceIntake;
use vigil_shared::sources::log_file::LogFileBatches;
use vigil_shared::sources::{Source, SourceKind, normalize_cloudtrail_file_batch};

type Failure = Box<dyn std::error::Error + Send + Sync>;

const RECORDS: usize = 5_000;
const SOURCE: &str = "src_bench_0190f0c5a1b27c3d8e9f00112233aa02";

fn file(now: chrono::DateTime<chrono::Utc>) -> Result<Vec<u8>, Failure> {
    let records: Vec<Value> = (0..RECORDS)
        .map(|i| {
            json!({
                "eventVersion": "1.08",
                "userIdentity": {"type": "IAMUser", "principalId": "EXAMPLE", "accountId": "123456789012",
                                 "arn": format!("arn:aws:iam::123456789012:user/user{}", i % 50),
                                 "userName": format!("user{}", i % 50)},
                "eventTime": (now - chrono::Duration::seconds(i as i64)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "eventSource": if i % 3 == 0 { "signin.amazonaws.com" } else { "s3.amazonaws.com" },
                "eventName": if i % 3 == 0 { "ConsoleLogin" } else { "GetObject" },
                "awsRegion": "us-east-1",
                "sourceIPAddress": "192.0.2.0",
                "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
                "requestParameters": {"bucketName": "data", "key": format!("k/{i}")},
                "responseElements": if i % 3 == 0 { json!({"ConsoleLogin": "Failure"}) } else { Value::Null },
                "additionalEventData": {"MFAUsed": "No"},
                "eventID": format!("bench-{i:06}"),
                "eventType": "AwsApiCall",
                "recipientAccountId": "123456789012",
            })
        })
        .collect();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(json!({"Records": records}).to_string().as_bytes())?;
    Ok(enc.finish()?)
}

fn in_memory(bytes: &[u8], source: &Source, bounds: TimeBounds) -> Result<usize, Failure> {
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut text)?;
    let v: Value = serde_json::from_slice(&text)?;
    let records = v["Records"].as_array().ok_or("no Records")?;
    let (n, errors) = normalize_cloudtrail_file_batch(records, 0, source, bounds);
    Ok(n.events.len() + errors.len())
}

async fn streamed(bytes: &[u8], source: &Source, bounds: TimeBounds) -> Result<usize, Failure> {
    let mut b = LogFileBatches::open(std::io::Cursor::new(bytes.to_vec()), 500);
    let mut n = 0;
    while let Some((first, records)) = b.next().await {
        let (out, errors) = normalize_cloudtrail_file_batch(&records, first, source, bounds);
        n += out.events.len() + errors.len();
    }
    b.finish().await?;
    Ok(n)
}

fn rate(records: usize, spent: Duration) -> f64 {
    records as f64 / spent.as_secs_f64()
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let rounds: usize = std::env::var("VIGIL_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir()?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let now = clock.now();
    let db = EmbeddedDb::open(&dir.path().join("vigil.db"), clock.clone())?;
    let store = Arc::new(EmbeddedStore::new(db.clone()));
    let queue = Arc::new(EmbeddedQueue::new(db, 5));
    let tenant = TenantId::parse("bench")?;
    let source = vigil_testkit::fixtures::source(SOURCE, &tenant, SourceKind::Cloudtrail, now);
    store.write(vec![repo::create_op(&source)?]).await?;
    let bytes = file(now)?;
    let objects = Arc::new(MemoryObjectStore::default());
    objects.put("bench", "AWSLogs/f.json.gz", bytes.clone());
    let stage = vigil_logfiles::LogFilesStage {
        intake: SourceIntake {
            store: store.clone(),
            queue: queue.clone(),
            clock: clock.clone(),
            max_age: chrono::Duration::days(3650),
        },
        cloudtrail_source_id: Some(SOURCE.into()),
        objects,
        bucket: Some("bench".into()),
    };
    let notice = vigil_logfiles::LogFileMessage(json!({"Records": [{
        "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "bench"}, "object": {"key": "AWSLogs/f.json.gz"}}}]}));
    let bounds = TimeBounds {
        now,
        max_age: chrono::Duration::days(3650),
    };
    println!(
        "log file: {RECORDS} records, {} KiB gzip; {rounds} rounds",
        bytes.len() / 1024
    );
    let (mut base, mut stream, mut whole) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for round in 0..rounds {
        let t = Instant::now();
        let n = in_memory(&bytes, &source, bounds)?;
        base += t.elapsed();
        assert_eq!(n, RECORDS);
        let t = Instant::now();
        let n = streamed(&bytes, &source, bounds).await?;
        stream += t.elapsed();
        assert_eq!(n, RECORDS);
        let t = Instant::now();
        let meta = MessageMeta::new(format!("m{round}"), 1);
        stage.handle(notice.clone(), &meta).await?;
        whole += t.elapsed();
        // Keep the queue from growing across rounds.
        let got = queue
            .receive(QueueName::Ingest, 10_000, Duration::from_secs(600))
            .await?;
        let receipts: Vec<&str> = got.iter().map(|d| d.receipt.as_str()).collect();
        queue.ack_all(QueueName::Ingest, &receipts).await?;
    }
    let records = RECORDS * rounds;
    let (b, s, w) = (
        rate(records, base),
        rate(records, stream),
        rate(records, whole),
    );
    println!("baseline, whole file in memory:    {b:>10.0} records/s");
    println!(
        "streamed in batches of 500:        {s:>10.0} records/s  ({:.2}x the baseline)",
        s / b
    );
    println!(
        "stage, streamed and forwarded:     {w:>10.0} records/s  ({:.2}x the baseline)",
        w / b
    );
    Ok(())
}
