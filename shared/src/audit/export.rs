//! Export files (NDJSON or CSV) and their offline verification: a signed checkpoint,
//! consistency proofs from earlier checkpoints to it, and each entry with its inclusion
//! proof, so a holder of the public key needs nothing else to check the range.
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use super::checkpoint::Checkpoint;
use super::entry::{AuditEntry, GENESIS_HASH, decode_hash, format_time};
use super::merkle::{Hash, verify_consistency, verify_inclusion};
use super::verify::{Break, BreakKind};

/// One line of an NDJSON export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    Checkpoint {
        checkpoint: Checkpoint,
    },
    Consistency {
        from_checkpoint: Checkpoint,
        proof: Vec<String>,
    },
    Entry {
        entry: AuditEntry,
        inclusion_proof: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Ndjson,
    Csv,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("line {line}: {reason}")]
    Parse { line: usize, reason: String },
    #[error("csv: {0}")]
    Csv(String),
}

pub const CSV_HEADER: [&str; 13] = [
    "type",
    "seq",
    "at",
    "actor",
    "action",
    "resource_type",
    "resource_id",
    "request_id",
    "outcome",
    "prev_hash",
    "hash",
    "proof",
    "json",
];

/// One NDJSON line (with its newline).
pub fn ndjson_line(r: &Record) -> String {
    let mut s = serde_json::to_string(r).unwrap_or_default();
    s.push('\n');
    s
}

/// The CSV header line.
pub fn csv_header() -> String {
    csv_row(&CSV_HEADER.map(String::from))
}

fn csv_row(fields: &[String]) -> String {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    let _ = w.write_record(fields);
    let _ = w.flush();
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

fn csv_fields(r: &Record) -> Vec<String> {
    let json = |v: &dyn erased::Json| v.json();
    match r {
        Record::Checkpoint { checkpoint } => {
            let mut f = vec![String::new(); CSV_HEADER.len()];
            f[0] = "checkpoint".into();
            f[1] = checkpoint.tree_size.to_string();
            f[2] = checkpoint.at.clone();
            f[10] = checkpoint.root_hash.clone();
            f[12] = json(checkpoint);
            f
        }
        Record::Consistency {
            from_checkpoint,
            proof,
        } => {
            let mut f = vec![String::new(); CSV_HEADER.len()];
            f[0] = "consistency".into();
            f[1] = from_checkpoint.tree_size.to_string();
            f[2] = from_checkpoint.at.clone();
            f[10] = from_checkpoint.root_hash.clone();
            f[11] = proof.join(";");
            f[12] = json(from_checkpoint);
            f
        }
        Record::Entry {
            entry: e,
            inclusion_proof,
        } => vec![
            "entry".into(),
            e.seq.to_string(),
            format_time(e.at),
            e.actor.to_string(),
            e.action.clone(),
            e.resource_type.clone(),
            e.resource_id.clone(),
            e.request_id.clone().unwrap_or_default(),
            e.outcome.as_str().into(),
            e.prev_hash.clone(),
            e.hash.clone(),
            inclusion_proof.join(";"),
            json(e),
        ],
    }
}

mod erased {
    pub trait Json {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap_or_default()
        }
    }
}

pub fn csv_line(r: &Record) -> String {
    csv_row(&csv_fields(r))
}

/// Renders a whole export.
pub fn render(records: &[Record], format: Format) -> String {
    match format {
        Format::Ndjson => records.iter().map(ndjson_line).collect(),
        Format::Csv => std::iter::once(csv_header())
            .chain(records.iter().map(csv_line))
            .collect(),
    }
}

/// Parses an export, guessing the format from its first byte.
pub fn parse(text: &str) -> Result<Vec<Record>, ExportError> {
    if text.trim_start().starts_with('{') {
        return text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l).map_err(|e| ExportError::Parse {
                    line: i + 1,
                    reason: e.to_string(),
                })
            })
            .collect();
    }
    let mut rdr = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let mut out = Vec::new();
    for (i, row) in rdr.records().enumerate() {
        let line = i + 2;
        let row = row.map_err(|e| ExportError::Csv(e.to_string()))?;
        let fields: Vec<String> = row.iter().map(String::from).collect();
        if fields.len() != CSV_HEADER.len() {
            return Err(ExportError::Parse {
                line,
                reason: format!("{} columns, expected {}", fields.len(), CSV_HEADER.len()),
            });
        }
        let bad = |reason: String| ExportError::Parse { line, reason };
        let rec = match fields[0].as_str() {
            "checkpoint" => Record::Checkpoint {
                checkpoint: serde_json::from_str(&fields[12]).map_err(|e| bad(e.to_string()))?,
            },
            "consistency" => Record::Consistency {
                from_checkpoint: serde_json::from_str(&fields[12])
                    .map_err(|e| bad(e.to_string()))?,
                proof: split_proof(&fields[11]),
            },
            "entry" => {
                let r = Record::Entry {
                    entry: serde_json::from_str(&fields[12]).map_err(|e| bad(e.to_string()))?,
                    inclusion_proof: split_proof(&fields[11]),
                };
                // The readable columns must say what the verified JSON says.
                if csv_fields(&r) != fields {
                    return Err(bad(
                        "the columns do not match the entry's JSON column".into()
                    ));
                }
                r
            }
            other => return Err(bad(format!("unknown row type '{other}'"))),
        };
        out.push(rec);
    }
    Ok(out)
}

fn split_proof(s: &str) -> Vec<String> {
    s.split(';')
        .filter(|x| !x.is_empty())
        .map(String::from)
        .collect()
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OfflineReport {
    pub ok: bool,
    pub tenant: Option<String>,
    pub tree_size: u64,
    pub root_hash: String,
    pub public_key: String,
    pub entries_checked: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    pub consistency_proofs_checked: u64,
    pub first_break: Option<Break>,
}

fn proof_hashes(p: &[String]) -> Option<Vec<Hash>> {
    p.iter().map(|h| decode_hash(h)).collect()
}

/// Checks an export with nothing but its content (and, ideally, a trusted public key).
pub fn verify_offline(records: &[Record], trusted: Option<&VerifyingKey>) -> OfflineReport {
    let mut report = OfflineReport {
        ok: false,
        tenant: None,
        tree_size: 0,
        root_hash: String::new(),
        public_key: String::new(),
        entries_checked: 0,
        first_seq: None,
        last_seq: None,
        consistency_proofs_checked: 0,
        first_break: None,
    };
    let fail = |mut r: OfflineReport, kind, seq, detail: String| {
        r.first_break = Some(Break { kind, seq, detail });
        r
    };
    let cps: Vec<&Checkpoint> = records
        .iter()
        .filter_map(|r| match r {
            Record::Checkpoint { checkpoint } => Some(checkpoint),
            _ => None,
        })
        .collect();
    let [cp] = cps.as_slice() else {
        return fail(
            report,
            BreakKind::BadCheckpoint,
            0,
            format!("an export holds one checkpoint; this one has {}", cps.len()),
        );
    };
    report.tenant = Some(cp.tenant.to_string());
    report.tree_size = cp.tree_size;
    report.root_hash = cp.root_hash.clone();
    report.public_key = cp.public_key.clone();
    let (Ok(()), Some(root)) = (cp.verify(trusted), cp.root()) else {
        return fail(
            report,
            BreakKind::BadCheckpoint,
            cp.tree_size,
            "the checkpoint's signature does not verify (or is not by the trusted key)".into(),
        );
    };
    let mut prev: Option<AuditEntry> = None;
    for r in records {
        match r {
            Record::Checkpoint { .. } => {}
            Record::Consistency {
                from_checkpoint: old,
                proof,
            } => {
                let ok = old.verify(trusted).is_ok()
                    && old.tenant == cp.tenant
                    && match (old.root(), proof_hashes(proof)) {
                        (Some(old_root), Some(p)) => {
                            verify_consistency(old.tree_size, cp.tree_size, &old_root, &root, &p)
                        }
                        _ => false,
                    };
                if !ok {
                    return fail(
                        report,
                        BreakKind::Modified,
                        old.tree_size,
                        format!(
                            "the log of size {} signed at {} is not a prefix of the exported one",
                            old.tree_size, old.at
                        ),
                    );
                }
                report.consistency_proofs_checked += 1;
            }
            Record::Entry {
                entry: e,
                inclusion_proof,
            } => {
                let seq = e.seq;
                if let Some(p) = &prev {
                    if seq != p.seq + 1 {
                        let kind = if seq > p.seq + 1 {
                            BreakKind::Deleted
                        } else {
                            BreakKind::Reordered
                        };
                        return fail(
                            report,
                            kind,
                            p.seq + 1,
                            format!("entry {seq} follows entry {}", p.seq),
                        );
                    }
                }
                if e.tenant != cp.tenant {
                    return fail(
                        report,
                        BreakKind::Inserted,
                        seq,
                        "entry of another tenant".into(),
                    );
                }
                let leaf = e.compute_hash();
                if e.stored_hash() != Some(leaf) {
                    return fail(
                        report,
                        BreakKind::Modified,
                        seq,
                        format!("entry {seq} does not match its hash"),
                    );
                }
                let linked = match &prev {
                    Some(p) => e.prev_hash == p.hash,
                    None => seq != 1 || e.prev_hash == GENESIS_HASH,
                };
                if !linked {
                    return fail(
                        report,
                        BreakKind::Modified,
                        seq,
                        format!("entry {seq} does not link to entry {}", seq - 1),
                    );
                }
                let included = seq >= 1
                    && proof_hashes(inclusion_proof)
                        .is_some_and(|p| verify_inclusion(seq - 1, cp.tree_size, &leaf, &p, &root));
                if !included {
                    return fail(
                        report,
                        BreakKind::Inserted,
                        seq,
                        format!(
                            "entry {seq} is not in the signed tree of size {}",
                            cp.tree_size
                        ),
                    );
                }
                report.first_seq.get_or_insert(seq);
                report.last_seq = Some(seq);
                report.entries_checked += 1;
                prev = Some(e.clone());
            }
        }
    }
    report.ok = true;
    report
}
