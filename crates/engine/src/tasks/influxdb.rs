//! InfluxDB for running tasks: the write buffers of their `|influxDBOut()` nodes, one per node,
//! made when the task starts (an unknown cluster refuses the start) and flushed when it stops.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use klaxon_influxdb::{
    Clusters, Destination, LinePoint, Precision, Writer, WriterOptions, WriterStats, quote_ident,
};
use klaxon_pipeline::{InfluxDbWrite, Task};

use super::TaskError;

/// At most this many buffers of points wait per node while InfluxDB is unavailable.
const PENDING_BUFFERS: usize = 100;
/// And never fewer than this many points.
const MIN_PENDING: usize = 100_000;

/// The writers of one running task, by node ID.
#[derive(Debug, Default)]
pub(super) struct TaskWriters {
    writers: HashMap<String, NodeWriter>,
}

#[derive(Debug)]
struct NodeWriter {
    writer: Writer,
    precision: Precision,
}

impl TaskWriters {
    /// Starts a writer for each `|influxDBOut()` of `task`. Without a tokio runtime (the
    /// engine's unit tests) a task with such nodes cannot start.
    pub(super) fn start(task: &Task, clusters: &Clusters) -> Result<TaskWriters, TaskError> {
        let mut writers = HashMap::new();
        for (node, settings) in task.influxdb_outputs() {
            let client = clusters
                .get(&settings.cluster)
                .map_err(|source| TaskError::InfluxDb {
                    node: node.to_owned(),
                    source: Box::new(source),
                })?
                .clone();
            let runtime =
                tokio::runtime::Handle::try_current().map_err(|_| TaskError::InfluxDb {
                    node: node.to_owned(),
                    source: Box::new(klaxon_influxdb::InfluxError::Unavailable {
                        cluster: client.name().to_owned(),
                        message: "no runtime to write from".to_owned(),
                    }),
                })?;
            let precision = settings.precision;
            let create = settings.create.then(|| {
                let mut statement = format!("CREATE DATABASE {}", quote_ident(&settings.database));
                if !settings.retention_policy.is_empty() {
                    statement.push_str(" WITH NAME ");
                    statement.push_str(&quote_ident(&settings.retention_policy));
                }
                statement
            });
            let options = WriterOptions {
                buffer: settings.buffer,
                flush_interval: Duration::from_nanos(
                    u64::try_from(settings.flush_interval).unwrap_or(1),
                ),
                max_pending: settings
                    .buffer
                    .saturating_mul(PENDING_BUFFERS)
                    .max(MIN_PENDING),
                create,
                label: format!("{}:{node}", task.id()),
            };
            let writer = Writer::spawn(client, options, &runtime);
            writers.insert(node.to_owned(), NodeWriter { writer, precision });
        }
        Ok(TaskWriters { writers })
    }

    /// Queues the points of `write` on its node's writer.
    pub(super) fn enqueue(&self, write: InfluxDbWrite) {
        let Some(node) = self.writers.get(&write.node) else {
            return;
        };
        let destination = Destination {
            database: write.database,
            retention_policy: write.retention_policy,
            precision: node.precision,
        };
        let points = write.points.into_iter().map(|p| LinePoint {
            name: p.name,
            tags: p.tags,
            fields: p.fields,
            time: p.time.as_nanos(),
        });
        node.writer.enqueue(&destination, points);
    }

    /// The counters of node `node`'s writer.
    pub(super) fn stats(&self, node: &str) -> Option<Arc<WriterStats>> {
        self.writers.get(node).map(|w| w.writer.stats())
    }
}
