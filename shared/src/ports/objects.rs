//! The object-store port: the bytes of one stored object, read as a stream. On AWS it is
//! S3, where CloudTrail delivers its log files; the log-files stage reads each file it
//! is notified of through it, never holding a whole file in memory.
use async_trait::async_trait;
use tokio::io::AsyncRead;

/// An object's bytes as they arrive.
pub type ObjectBody = Box<dyn AsyncRead + Send + Unpin>;

/// Where an object is: a bucket, a key (already URL-decoded) and, when the notification
/// named one, the version that was created (so an overwrite in between is not read
/// instead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub bucket: String,
    pub key: String,
    pub version: Option<String>,
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)?;
        if let Some(v) = &self.version {
            write!(f, " (version {v})")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// The object (or that version of it) is not there: deleted since the notification,
    /// or never readable by this function. Retrying does not help.
    #[error("{0} does not exist")]
    NotFound(ObjectRef),
    /// Access was refused: the function's role may not read the bucket. A deployment
    /// error, not a transient one; it is reported with the object.
    #[error("{object}: access denied: {message}")]
    Denied { object: ObjectRef, message: String },
    /// The store could not be reached or failed mid-read; worth retrying.
    #[error("object store unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// Opens `object` for reading.
    async fn open(&self, object: &ObjectRef) -> Result<ObjectBody, ObjectError>;
}

/// No object store: `vigil serve` has no S3, so log files arrive through
/// `POST /sources/cloudtrail` (gzip accepted) instead of bucket notifications.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObjectStore;

#[async_trait]
impl ObjectStore for NoObjectStore {
    async fn open(&self, object: &ObjectRef) -> Result<ObjectBody, ObjectError> {
        Err(ObjectError::Denied {
            object: object.clone(),
            message: "this deployment reads no object store (S3 log files are read on AWS; \
                      locally, POST the file to /sources/cloudtrail)"
                .into(),
        })
    }
}

/// Objects held in memory, for tests of the stages that read them.
#[derive(Debug, Default)]
pub struct MemoryObjectStore {
    objects: std::sync::Mutex<std::collections::HashMap<(String, String), Vec<u8>>>,
}

impl MemoryObjectStore {
    pub fn put(&self, bucket: &str, key: &str, bytes: Vec<u8>) {
        self.objects
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert((bucket.to_string(), key.to_string()), bytes);
    }
}

#[async_trait]
impl ObjectStore for MemoryObjectStore {
    async fn open(&self, object: &ObjectRef) -> Result<ObjectBody, ObjectError> {
        let bytes = self
            .objects
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&(object.bucket.clone(), object.key.clone()))
            .cloned()
            .ok_or_else(|| ObjectError::NotFound(object.clone()))?;
        Ok(Box::new(std::io::Cursor::new(bytes)))
    }
}
