//! `|shift(d)`: moves points (and windows with their points) `d` in time, as Kapacitor's
//! `ShiftNode`; `d` may be negative.

use klaxon_core::Timestamp;
use klaxon_tick::Node;

use crate::batch::Batch;
use crate::props::unknown_property;
use crate::{DefineError, Point};

/// A compiled `|shift()`.
#[derive(Debug)]
pub struct Shift {
    by: i64,
}

impl Shift {
    /// Compiles `|shift(5m)` or `|shift(-5m)`.
    pub fn compile(node: &Node) -> Result<Shift, DefineError> {
        node.expect_args(1, 1)?;
        let by = node.arg(0).as_duration()?;
        if let Some(p) = node.properties.first() {
            return Err(unknown_property("shift", p, &[]));
        }
        Ok(Shift { by })
    }

    /// `point` moved.
    pub fn point(&self, point: &Point) -> Point {
        let mut out = point.clone();
        out.time = Timestamp::from_nanos(out.time.as_nanos().saturating_add(self.by));
        out
    }

    /// `batch` and its points moved.
    pub fn batch(&self, batch: &Batch) -> Batch {
        Batch {
            name: batch.name.clone(),
            tags: batch.tags.clone(),
            time: Timestamp::from_nanos(batch.time.as_nanos().saturating_add(self.by)),
            points: batch.points.iter().map(|p| self.point(p)).collect(),
        }
    }
}
