//! A stream recording's tap on the live writes: every point written to the task's databases and
//! retention policies, of the measurements its `|from()` nodes select (all when one selects
//! none, as Kapacitor's fork), appended to the recording's file until it stops.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use klaxon_pipeline::Point;

use super::data::{self, DataWriter};
use crate::tasks::Dbrp;

/// One stream recording under way.
#[derive(Debug)]
pub struct StreamTap {
    /// The dbrps recorded (empty: every database, as the task reads).
    dbrps: Vec<Dbrp>,
    /// The measurements recorded (none, or an empty one: every measurement).
    measurements: Vec<String>,
    /// The file, until the tap is finished; the first write error, which ends the recording.
    out: Mutex<(Option<DataWriter>, Option<String>)>,
    points: AtomicU64,
}

impl StreamTap {
    pub(crate) fn new(
        dbrps: Vec<Dbrp>,
        measurements: Vec<String>,
        writer: DataWriter,
    ) -> StreamTap {
        let every = measurements.is_empty() || measurements.iter().any(String::is_empty);
        StreamTap {
            dbrps,
            measurements: if every { Vec::new() } else { measurements },
            out: Mutex::new((Some(writer), None)),
            points: AtomicU64::new(0),
        }
    }

    /// Appends the points of a write that the recorded task would read.
    pub(crate) fn record(&self, points: &[Point]) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let (writer, error) = &mut *out;
        let Some(file) = writer else { return };
        let mut n = 0;
        for point in points.iter().filter(|p| {
            (self.dbrps.is_empty()
                || self
                    .dbrps
                    .iter()
                    .any(|d| d.db == *p.database && d.rp == *p.retention_policy))
                && (self.measurements.is_empty() || self.measurements.contains(&p.name))
        }) {
            if let Err(e) = data::write_point(file, point) {
                *error = Some(format!("cannot write the recording: {e}"));
                *writer = None;
                break;
            }
            n += 1;
        }
        self.points.fetch_add(n, Ordering::Relaxed);
    }

    /// Closes the file; the points recorded, or why the recording failed.
    pub(crate) fn finish(&self) -> Result<u64, String> {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let (writer, error) = &mut *out;
        if let Some(error) = error.take() {
            return Err(error);
        }
        if let Some(file) = writer.take() {
            data::finish(file).map_err(|e| format!("cannot write the recording: {e}"))?;
        }
        Ok(self.points.load(Ordering::Relaxed))
    }
}
