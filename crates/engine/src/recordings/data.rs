//! The files recordings keep their data in, under `<data-dir>/replay/`.
//!
//! A stream recording (`<id>.srpl`) is Kapacitor's format: gzip of three lines per point, the
//! database, the retention policy and the point in line protocol with a nanosecond time, so
//! Kapacitor's own `.srpl` files (gzipped or not) replay here too. A batch recording
//! (`<id>.brpl`) is Klaxon's: gzip of one JSON object per line, each a batch with the index of
//! the `|query()` node it came from (Kapacitor's is a zip archive of its Go structures).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::sync::Arc;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use klaxon_core::{FieldValue, Precision, Timestamp};
use klaxon_influxdb::LinePoint;
use klaxon_pipeline::{Batch, Group, GroupId, Point};
use serde::{Deserialize, Serialize};

/// A recording file being written.
pub(crate) type DataWriter = GzEncoder<BufWriter<File>>;

/// Creates the file at `path` for writing, gzipped.
pub(crate) fn create(path: &Path) -> std::io::Result<DataWriter> {
    Ok(GzEncoder::new(
        BufWriter::new(File::create(path)?),
        Compression::fast(),
    ))
}

/// Finishes a file: the gzip trailer written and the data on disk.
pub(crate) fn finish(writer: DataWriter) -> std::io::Result<()> {
    let file = writer.finish()?.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()
}

/// Opens a recording file, gzipped (as written here and by Kapacitor's service) or plain (as in
/// Kapacitor's test data).
fn open(path: &Path) -> std::io::Result<Box<dyn BufRead>> {
    let mut file = File::open(path)?;
    let mut magic = [0u8; 2];
    let gzipped = file.read(&mut magic)? == 2 && magic == [0x1f, 0x8b];
    let file = File::open(path)?;
    Ok(if gzipped {
        Box::new(BufReader::new(GzDecoder::new(file)))
    } else {
        Box::new(BufReader::new(file))
    })
}

/// Appends `point` in the stream format.
pub(crate) fn write_point(out: &mut impl Write, point: &Point) -> std::io::Result<()> {
    let mut text = String::with_capacity(128);
    text.push_str(&point.database);
    text.push('\n');
    text.push_str(&point.retention_policy);
    text.push('\n');
    LinePoint {
        name: point.name.clone(),
        tags: point.tags.clone(),
        fields: point.fields.clone(),
        time: point.time.as_nanos(),
    }
    .write_to(&mut text, Precision::Nanoseconds);
    out.write_all(text.as_bytes())
}

/// A file that cannot be read back, with where.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A record in it is damaged.
    #[error("{path}: record {record}: {reason}")]
    Damaged {
        /// The file.
        path: String,
        /// The record, from 1.
        record: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Reads the points of a stream recording.
pub(crate) fn read_points(path: &Path) -> Result<Vec<Point>, DataError> {
    let name = path.display().to_string();
    let io = |source| DataError::Io {
        path: name.clone(),
        source,
    };
    let mut lines = open(path).map_err(io)?.lines();
    let mut points = Vec::new();
    let mut record = 0;
    while let Some(db) = lines.next() {
        let db = db.map_err(io)?;
        if db.is_empty() {
            continue;
        }
        record += 1;
        let damaged = |reason: String| DataError::Damaged {
            path: name.clone(),
            record,
            reason,
        };
        let rp = lines
            .next()
            .transpose()
            .map_err(io)?
            .ok_or_else(|| damaged("no retention policy line".into()))?;
        let line = lines
            .next()
            .transpose()
            .map_err(io)?
            .ok_or_else(|| damaged("no point line".into()))?;
        let parsed = klaxon_pipeline::ingest::parse(
            &line,
            &db,
            &rp,
            klaxon_pipeline::ingest::Precision::Nanoseconds,
            Timestamp::now(),
        )
        .map_err(|e| damaged(e.to_string()))?;
        points.extend(parsed);
    }
    Ok(points)
}

/// One batch as a batch recording keeps it.
#[derive(Debug, Serialize, Deserialize)]
struct RecordedBatch {
    /// The `|query()` node's index in the task.
    query: usize,
    name: String,
    tags: BTreeMap<String, String>,
    time: i64,
    group: String,
    keys: Vec<String>,
    points: Vec<RecordedPoint>,
}

#[derive(Debug, Serialize, Deserialize)]
struct RecordedPoint {
    time: i64,
    tags: BTreeMap<String, String>,
    fields: BTreeMap<String, RecordedField>,
}

/// A field with its type, which JSON numbers alone would lose.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RecordedField {
    Float(f64),
    Int(i64),
    Uint(u64),
    String(String),
    Bool(bool),
}

/// Appends the batch `batch` of query node `query`.
pub(crate) fn write_batch(
    out: &mut impl Write,
    query: usize,
    batch: &Batch,
    group: &Group,
) -> std::io::Result<()> {
    let recorded = RecordedBatch {
        query,
        name: batch.name.clone(),
        tags: batch.tags.clone(),
        time: batch.time.as_nanos(),
        group: group.id.as_str().to_owned(),
        keys: group.keys.to_vec(),
        points: batch
            .points
            .iter()
            .map(|p| RecordedPoint {
                time: p.time.as_nanos(),
                tags: p.tags.clone(),
                fields: p
                    .fields
                    .iter()
                    .map(|(k, v)| {
                        let field = match v {
                            FieldValue::Float(f) => RecordedField::Float(*f),
                            FieldValue::Int(i) => RecordedField::Int(*i),
                            FieldValue::UInt(u) => RecordedField::Uint(*u),
                            FieldValue::String(s) => RecordedField::String(s.clone()),
                            FieldValue::Bool(b) => RecordedField::Bool(*b),
                        };
                        (k.clone(), field)
                    })
                    .collect(),
            })
            .collect(),
    };
    let mut line = serde_json::to_vec(&recorded).map_err(std::io::Error::other)?;
    line.push(b'\n');
    out.write_all(&line)
}

/// Reads the batches of a batch recording, each with its query node's index.
pub(crate) fn read_batches(path: &Path) -> Result<Vec<(usize, Batch, Group)>, DataError> {
    let name = path.display().to_string();
    let io = |source| DataError::Io {
        path: name.clone(),
        source,
    };
    let mut batches = Vec::new();
    for (n, line) in open(path).map_err(io)?.lines().enumerate() {
        let line = line.map_err(io)?;
        if line.is_empty() {
            continue;
        }
        let recorded: RecordedBatch =
            serde_json::from_str(&line).map_err(|e| DataError::Damaged {
                path: name.clone(),
                record: n + 1,
                reason: e.to_string(),
            })?;
        let points = recorded
            .points
            .into_iter()
            .map(|p| Point {
                database: Arc::from(""),
                retention_policy: Arc::from(""),
                name: recorded.name.clone(),
                tags: p.tags,
                fields: p
                    .fields
                    .into_iter()
                    .map(|(k, v)| {
                        let value = match v {
                            RecordedField::Float(f) => FieldValue::Float(f),
                            RecordedField::Int(i) => FieldValue::Int(i),
                            RecordedField::Uint(u) => FieldValue::UInt(u),
                            RecordedField::String(s) => FieldValue::String(s),
                            RecordedField::Bool(b) => FieldValue::Bool(b),
                        };
                        (k, value)
                    })
                    .collect(),
                time: Timestamp::from_nanos(p.time),
            })
            .collect();
        let batch = Batch {
            name: recorded.name,
            tags: recorded.tags,
            time: Timestamp::from_nanos(recorded.time),
            points,
        };
        let group = Group {
            id: GroupId::from(recorded.group),
            keys: Arc::from(recorded.keys),
        };
        batches.push((recorded.query, batch, group));
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_records_read_back_with_their_types_and_dbrps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.srpl");
        let mut out = create(&path).unwrap();
        let point = Point::new("telegraf", "autogen", "cpu", 1_500_000_000_123)
            .tag("host", "server A")
            .field("usage", FieldValue::Float(5.5))
            .field("count", FieldValue::Int(3))
            .field("text", FieldValue::String("a \"b\"".into()));
        write_point(&mut out, &point).unwrap();
        write_point(&mut out, &point).unwrap();
        finish(out).unwrap();
        let points = read_points(&path).unwrap();
        assert_eq!(points, vec![point.clone(), point]);
    }

    #[test]
    fn kapacitors_plain_test_data_reads_too() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.srpl");
        std::fs::write(
            &path,
            "dbname\nrpname\ncpu,host=a value=97.1 1000000000\ndbname\nrpname\ncpu,host=a value=92.6 2000000000\n",
        )
        .unwrap();
        let points = read_points(&path).unwrap();
        assert_eq!(points.len(), 2);
        assert_eq!(&*points[1].database, "dbname");
        assert_eq!(points[1].time.as_nanos(), 2_000_000_000);
    }

    #[test]
    fn a_damaged_stream_record_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.srpl");
        std::fs::write(&path, "db\nrp\ncpu value= 1\n").unwrap();
        let err = read_points(&path).unwrap_err().to_string();
        assert!(err.contains("bad.srpl: record 1:"), "{err}");
        std::fs::write(&path, "db\nrp\n").unwrap();
        let err = read_points(&path).unwrap_err().to_string();
        assert!(err.ends_with("record 1: no point line"), "{err}");
    }

    #[test]
    fn batches_read_back_with_groups_and_field_types() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.brpl");
        let point = Point::new("", "", "cpu", 10)
            .tag("cpu", "cpu0")
            .field("mean", FieldValue::Float(2.0))
            .field("n", FieldValue::UInt(4));
        let batch = Batch {
            name: "cpu".into(),
            tags: [("cpu".to_owned(), "cpu0".to_owned())].into(),
            time: Timestamp::from_nanos(60),
            points: vec![point],
        };
        let group = Group {
            id: GroupId("cpu=cpu0".into()),
            keys: Arc::from(vec!["cpu".to_owned()]),
        };
        let mut out = create(&path).unwrap();
        write_batch(&mut out, 1, &batch, &group).unwrap();
        finish(out).unwrap();
        let read = read_batches(&path).unwrap();
        assert_eq!(read, vec![(1, batch, group)]);
    }
}
