//! The log-files stage. CloudTrail delivers its log files to S3 (`{"Records": [...]}`,
//! gzip, one every few minutes per account and region); the bucket notifies Vigil's
//! log-files queue of each new object, and this stage streams the object from S3,
//! gunzips and parses it in bounded batches ([`LogFileBatches`]), normalizes each batch
//! with the CloudTrail mappings and puts the events on the ingest queue for the
//! deployment's CloudTrail source (`VIGIL_CLOUDTRAIL_SOURCE_ID`, as for the EventBridge
//! rule: no object names its tenant).
//!
//! Redelivery is safe: an event's id derives from the record's `eventID` (or a digest
//! of a record without one), so a file read again stores nothing twice, and dropped
//! records are counted once by their keys. A file that is no log file, or records that
//! cannot be read, are recorded against the source with the object's name and the
//! records' indices in the file (`GET /sources/{id}`), and the message goes to the
//! queue's dead-letter queue; the records that could be read are ingested regardless.
pub mod notice;

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;
use vigil_shared::config::Config;
use vigil_shared::domain::FieldError;
use vigil_shared::ports::{ObjectError, ObjectRef, ObjectStore};
use vigil_shared::runtime::{
    BuildError, Disposition, HandlerError, MessageMeta, Stage, StageMessage, StagePorts,
    StageResult,
};
use vigil_shared::sources::intake::SourceIntake;
use vigil_shared::sources::log_file::{LogFileBatches, StreamError};
use vigil_shared::sources::{self, Source, SourceKind};

pub use notice::Notice;

/// Records normalized and forwarded at a time: an ingest send of this many events stays
/// well under SQS's limits, and memory holds two such batches.
pub const BATCH_RECORDS: usize = 500;
/// Record errors named in a dead-letter reason; the rest are counted.
const MAX_NAMED_ERRORS: usize = 10;

/// A message of the log-files queue, as received.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct LogFileMessage(pub Value);

impl StageMessage for LogFileMessage {
    /// Notifications name no tenant: theirs is the CloudTrail source's.
    fn tenant(&self) -> Option<&str> {
        None
    }

    fn request_id(&self) -> Option<&str> {
        None
    }
}

pub struct LogFilesStage {
    /// Source lookups, dead-letter records and forwarding onto the ingest queue.
    pub intake: SourceIntake,
    /// The source the log files belong to (`VIGIL_CLOUDTRAIL_SOURCE_ID`).
    pub cloudtrail_source_id: Option<String>,
    pub objects: Arc<dyn ObjectStore>,
    /// The bucket CloudTrail writes to (`VIGIL_CLOUDTRAIL_BUCKET`); notifications of
    /// other buckets are refused. `None` accepts any the function's role may read.
    pub bucket: Option<String>,
}

/// The log-files stage over `ports` and `objects`.
pub fn stage(
    ports: &StagePorts,
    config: &Config,
    objects: Arc<dyn ObjectStore>,
) -> Result<LogFilesStage, BuildError> {
    Ok(LogFilesStage {
        intake: SourceIntake::new(ports, config.event_max_age),
        cloudtrail_source_id: config.cloudtrail_source_id.clone(),
        objects,
        bucket: config.cloudtrail_bucket.clone(),
    })
}

/// What reading one file came to.
#[derive(Debug, Default)]
struct FileReport {
    records: usize,
    events: usize,
    dropped: usize,
    errors: Vec<FieldError>,
    error_count: usize,
}

impl FileReport {
    fn problem(&self, object: &ObjectRef) -> Option<String> {
        if self.error_count == 0 {
            return None;
        }
        let more = self.error_count - self.errors.len();
        let more = if more > 0 {
            format!("; and {more} more")
        } else {
            String::new()
        };
        Some(format!(
            "{object}: {} of {} records could not be read: {}{more}",
            self.error_count,
            self.records,
            FieldError::describe(&self.errors)
        ))
    }
}

impl LogFilesStage {
    /// Reads one log file through, forwarding as it goes. `Ok(Some(reason))`: the file
    /// (or some of its records) cannot be used, which reading it again will not change.
    async fn read_file(
        &self,
        source: &Source,
        object: &ObjectRef,
    ) -> Result<Option<String>, HandlerError> {
        let body = match self.objects.open(object).await {
            Ok(b) => b,
            Err(e @ ObjectError::Unavailable(_)) => {
                return Err(HandlerError::other("cannot open the log file", e));
            }
            Err(e) => return Ok(Some(e.to_string())),
        };
        let bounds = self.intake.bounds();
        let mut batches = LogFileBatches::open(body, BATCH_RECORDS);
        let mut report = FileReport::default();
        while let Some((first, records)) = batches.next().await {
            let (n, errors) =
                sources::normalize_cloudtrail_file_batch(&records, first, source, bounds);
            self.intake.forward(source, &n).await?;
            report.records += records.len();
            report.events += n.events.len();
            report.dropped += n.dropped.len();
            report.error_count += errors.len();
            let room = MAX_NAMED_ERRORS.saturating_sub(report.errors.len());
            report.errors.extend(errors.into_iter().take(room));
        }
        match batches.finish().await {
            Ok(_) => {}
            Err(e @ StreamError::Read(_)) => {
                return Err(HandlerError::other("cannot read the log file", e));
            }
            Err(e @ StreamError::NotALogFile(_)) => {
                return Ok(Some(format!(
                    "{object}: {e} (after {} records)",
                    report.records
                )));
            }
        }
        tracing::info!(
            object = %object,
            records = report.records,
            events = report.events,
            dropped = report.dropped,
            unreadable = report.error_count,
            "log file read"
        );
        Ok(report.problem(object))
    }
}

#[async_trait]
impl Stage for LogFilesStage {
    const NAME: &'static str = "logfiles";
    type Message = LogFileMessage;

    async fn handle(&self, msg: LogFileMessage, meta: &MessageMeta) -> StageResult {
        let objects = match notice::parse(&msg.0) {
            Ok(Notice::Test) => return Ok(Disposition::Done),
            Ok(Notice::Objects(o)) => o,
            Err(reason) => return Ok(Disposition::DeadLetter { reason }),
        };
        if objects.is_empty() {
            return Ok(Disposition::Done);
        }
        let Some(source_id) = self.cloudtrail_source_id.as_deref() else {
            return Ok(Disposition::DeadLetter {
                reason: "a CloudTrail log file, but VIGIL_CLOUDTRAIL_SOURCE_ID is not set".into(),
            });
        };
        let Some(source) = self.intake.source(source_id).await? else {
            return Ok(Disposition::DeadLetter {
                reason: format!("no source {source_id}"),
            });
        };
        if source.spec.kind != SourceKind::Cloudtrail {
            return Ok(Disposition::DeadLetter {
                reason: format!("{source_id} is not a cloudtrail source"),
            });
        }
        let mut problems = Vec::new();
        for object in &objects {
            match &self.bucket {
                Some(bucket) if &object.bucket != bucket => {
                    problems.push(format!("{object}: not in the CloudTrail bucket {bucket}"));
                    continue;
                }
                _ => {}
            }
            if let Some(problem) = self.read_file(&source, object).await? {
                problems.push(problem);
            }
        }
        if problems.is_empty() {
            return Ok(Disposition::Done);
        }
        self.intake
            .dead(&source, meta, problems.join("; "), &msg.0.to_string())
            .await
    }
}
