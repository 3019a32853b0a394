//! CloudTrail log files (`{"Records": [...]}`, as S3 holds them, gzip) read as a stream:
//! records are handed on in batches as they are parsed, so a large file is never one
//! JSON value in memory, only a batch of records at a time: [`for_each_batch`] over any
//! reader, and [`LogFileBatches`] over an object body as S3 streams it (gzip or plain,
//! told by the first bytes), parsed on a blocking thread while the caller forwards the
//! batches already read.
use std::cell::RefCell;
use std::fmt;
use std::io::{BufRead, Read};

use tokio::io::AsyncRead;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// Why a log file could not be read through.
#[derive(Debug, thiserror::Error)]
pub enum LogFileError<E: std::error::Error + 'static> {
    #[error("the log file is not {{\"Records\": [...]}} JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// The batch handler refused a batch; reading stopped there.
    #[error(transparent)]
    Batch(E),
}

struct Batches<'a, F, E> {
    size: usize,
    each: &'a RefCell<F>,
    failed: &'a RefCell<Option<E>>,
    count: &'a RefCell<usize>,
}

impl<'a, F, E> Batches<'a, F, E>
where
    F: FnMut(Vec<Value>) -> Result<(), E>,
{
    fn flush<X: serde::de::Error>(&self, buf: &mut Vec<Value>) -> Result<(), X> {
        if buf.is_empty() {
            return Ok(());
        }
        *self.count.borrow_mut() += buf.len();
        let batch = std::mem::take(buf);
        (self.each.borrow_mut())(batch).map_err(|e| {
            *self.failed.borrow_mut() = Some(e);
            X::custom("batch refused")
        })
    }
}

struct RecordsSeq<'a, F, E>(&'a Batches<'a, F, E>);

impl<'de, F, E> Visitor<'de> for RecordsSeq<'_, F, E>
where
    F: FnMut(Vec<Value>) -> Result<(), E>,
{
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut buf = Vec::with_capacity(self.0.size.min(1024));
        while let Some(r) = seq.next_element::<Value>()? {
            buf.push(r);
            if buf.len() >= self.0.size {
                self.0.flush(&mut buf)?;
            }
        }
        self.0.flush(&mut buf)
    }
}

impl<'de, F, E> DeserializeSeed<'de> for RecordsSeq<'_, F, E>
where
    F: FnMut(Vec<Value>) -> Result<(), E>,
{
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

struct FileMap<'a, F, E>(&'a Batches<'a, F, E>);

impl<'de, F, E> Visitor<'de> for FileMap<'_, F, E>
where
    F: FnMut(Vec<Value>) -> Result<(), E>,
{
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a CloudTrail log file object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut seen = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "Records" && !seen {
                map.next_value_seed(RecordsSeq(self.0))?;
                seen = true;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(seen)
    }
}

/// Reads a log file from `reader`, calling `each` with at most `batch` records at a
/// time, in order; returns how many records there were. A file without `Records` is an
/// error; so is anything after the object but whitespace.
pub fn for_each_batch<R, F, E>(reader: R, batch: usize, each: F) -> Result<usize, LogFileError<E>>
where
    R: Read,
    F: FnMut(Vec<Value>) -> Result<(), E>,
    E: std::error::Error + 'static,
{
    let each = RefCell::new(each);
    let failed = RefCell::new(None);
    let count = RefCell::new(0);
    let b = Batches {
        size: batch.max(1),
        each: &each,
        failed: &failed,
        count: &count,
    };
    let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::new(reader));
    let read = de.deserialize_map(FileMap(&b)).and_then(|seen| {
        de.end()?;
        Ok(seen)
    });
    if let Some(e) = failed.into_inner() {
        return Err(LogFileError::Batch(e));
    }
    match read {
        Ok(true) => Ok(count.into_inner()),
        Ok(false) => Err(LogFileError::Json(serde::de::Error::custom(
            "no \"Records\" array",
        ))),
        Err(e) => Err(LogFileError::Json(e)),
    }
}

/// The first bytes of every gzip member.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The batch consumer went away (it stopped reading early).
#[derive(Debug, thiserror::Error)]
#[error("the reader of the batches stopped")]
pub struct Closed;

/// Why a streamed log file could not be read through.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The bytes are not a (gzip) CloudTrail log file: reading it again gives the same.
    #[error("not a CloudTrail log file: {0}")]
    NotALogFile(String),
    /// Reading the body failed (the connection, the store): worth another try.
    #[error("reading the log file failed: {0}")]
    Read(String),
}

impl StreamError {
    fn of_json(e: &serde_json::Error) -> Self {
        use std::io::ErrorKind::{InvalidData, InvalidInput, UnexpectedEof};
        // A corrupt or cut-short gzip stream surfaces as an I/O error of these kinds
        // from the decoder (the body itself ended cleanly); any other I/O error is the
        // body's transport.
        match e.io_error_kind() {
            Some(InvalidData | InvalidInput | UnexpectedEof) | None => {
                Self::NotALogFile(e.to_string())
            }
            Some(_) => Self::Read(e.to_string()),
        }
    }
}

/// A log file's records, in batches, as a blocking thread parses them from `body`; at
/// most one batch waits beside the one being parsed, so memory stays bounded however
/// large the file.
pub struct LogFileBatches {
    rx: mpsc::Receiver<Vec<Value>>,
    reader: JoinHandle<Result<usize, StreamError>>,
    next_index: usize,
}

impl LogFileBatches {
    /// Starts reading `body` (on the current Tokio runtime's blocking pool).
    pub fn open<R>(body: R, batch: usize) -> Self
    where
        R: AsyncRead + Send + Unpin + 'static,
    {
        let (tx, rx) = mpsc::channel(1);
        let reader = tokio::task::spawn_blocking(move || {
            let mut r = std::io::BufReader::new(tokio_util::io::SyncIoBridge::new(body));
            let gzip = r
                .fill_buf()
                .map_err(|e| StreamError::Read(e.to_string()))?
                .starts_with(&GZIP_MAGIC);
            let send = |b: Vec<Value>| tx.blocking_send(b).map_err(|_| Closed);
            let read = if gzip {
                for_each_batch(flate2::read::MultiGzDecoder::new(r), batch, send)
            } else {
                for_each_batch(r, batch, send)
            };
            read.map_err(|e| match e {
                LogFileError::Json(e) => StreamError::of_json(&e),
                LogFileError::Batch(Closed) => StreamError::Read(Closed.to_string()),
            })
        });
        Self {
            rx,
            reader,
            next_index: 0,
        }
    }

    /// The next batch and its first record's index in the file; `None` after the last
    /// (then [`Self::finish`] says whether the file was read through).
    pub async fn next(&mut self) -> Option<(usize, Vec<Value>)> {
        let batch = self.rx.recv().await?;
        let first = self.next_index;
        self.next_index += batch.len();
        Some((first, batch))
    }

    /// How many records the file held, or why it could not be read to its end.
    /// Dropping the batches instead stops the reader at its next batch.
    pub async fn finish(mut self) -> Result<usize, StreamError> {
        // Batches not taken are not wanted: let the reader run to its end or stop.
        self.rx.close();
        match self.reader.await {
            Ok(read) => read,
            Err(e) => Err(StreamError::Read(format!("the reader thread failed: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use serde_json::json;

    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("full")]
    struct Full;

    fn gz(v: &Value) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(v.to_string().as_bytes()).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn records_come_in_bounded_batches_from_a_gzip_stream() {
        let records: Vec<Value> = (0..2501)
            .map(|i| json!({"eventID": format!("e{i}")}))
            .collect();
        let file = gz(&json!({"Records": records, "digest": {"x": [1, 2]}}));
        let mut sizes = Vec::new();
        let mut ids = Vec::new();
        let n = for_each_batch(flate2::read::MultiGzDecoder::new(&file[..]), 1000, |b| {
            sizes.push(b.len());
            ids.extend(
                b.into_iter()
                    .map(|r| r["eventID"].as_str().unwrap().to_string()),
            );
            Ok::<(), Full>(())
        })
        .unwrap();
        assert_eq!(n, 2501);
        assert_eq!(sizes, [1000, 1000, 501]);
        assert_eq!(ids[2500], "e2500");
    }

    #[tokio::test]
    async fn an_async_body_streams_gzip_or_plain_and_bad_bytes_are_not_log_files() {
        let records: Vec<Value> = (0..25).map(|i| json!({"eventID": i})).collect();
        let file = json!({"Records": records});
        for bytes in [gz(&file), file.to_string().into_bytes()] {
            let mut b = LogFileBatches::open(std::io::Cursor::new(bytes), 10);
            let mut firsts = Vec::new();
            while let Some((first, batch)) = b.next().await {
                assert_eq!(batch[0]["eventID"], first);
                firsts.push(first);
            }
            assert_eq!(firsts, [0, 10, 20]);
            assert_eq!(b.finish().await.unwrap(), 25);
        }
        let mut truncated = gz(&file);
        truncated.truncate(truncated.len() / 2);
        for bad in [
            truncated,
            b"<html>".to_vec(),
            Vec::new(),
            vec![0x1f, 0x8b, 0, 0],
        ] {
            let mut b = LogFileBatches::open(std::io::Cursor::new(bad), 10);
            while b.next().await.is_some() {}
            let e = b.finish().await.unwrap_err();
            assert!(matches!(e, StreamError::NotALogFile(_)), "{e:?}");
        }
        // A consumer that stops early ends the reader.
        let mut b = LogFileBatches::open(std::io::Cursor::new(gz(&file)), 1);
        assert!(b.next().await.is_some());
        assert!(b.finish().await.is_err());
    }

    #[test]
    fn a_refused_batch_stops_the_read_and_bad_files_are_errors() {
        let file = json!({"Records": [{}, {}, {}]}).to_string();
        let mut calls = 0;
        let r = for_each_batch(file.as_bytes(), 1, |_| {
            calls += 1;
            if calls == 2 { Err(Full) } else { Ok(()) }
        });
        assert!(matches!(r, Err(LogFileError::Batch(Full))));
        assert_eq!(calls, 2);
        let ok = |_: Vec<Value>| Ok::<(), Full>(());
        assert!(matches!(
            for_each_batch(&b"{}"[..], 10, ok),
            Err(LogFileError::Json(_))
        ));
        assert!(matches!(
            for_each_batch(&b"{\"Records\": 3}"[..], 10, ok),
            Err(LogFileError::Json(_))
        ));
        assert!(matches!(
            for_each_batch(&b"{\"Records\": []} x"[..], 10, ok),
            Err(LogFileError::Json(_))
        ));
        assert_eq!(
            for_each_batch(&b"{\"Records\": []}"[..], 10, ok).unwrap(),
            0
        );
    }
}
