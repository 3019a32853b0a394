//! CloudTrail log files (`{"Records": [...]}`, as S3 holds them, gzip) read as a stream:
//! records are handed on in batches as they are parsed, so a large file is never one
//! JSON value in memory, only a batch of records at a time. Groundwork for the S3
//! `ObjectCreated` path (the object body's reader goes in here, through
//! [`flate2::read::MultiGzDecoder`]).
use std::cell::RefCell;
use std::fmt;
use std::io::Read;

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
