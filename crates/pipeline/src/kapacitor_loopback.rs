//! `|kapacitorLoopback()` (`.database()`, `.retentionPolicy()`, `.measurement()`, `.tag()`):
//! writes each point, or each point of a window, back into this server's own ingest under the
//! given database and retention policy, as Kapacitor's `KapacitorLoopbackNode`. It is a leaf:
//! it passes nothing on. The engine takes the points ([`crate::Context::loopback`]) and writes
//! them once the write that produced them is through.

use klaxon_tick::Node;

use crate::batch::Message;
use crate::props::{string, unknown_property};
use crate::{DefineError, Point};

/// A compiled `|kapacitorLoopback()`.
#[derive(Debug)]
pub struct KapacitorLoopback {
    database: String,
    retention_policy: String,
    measurement: Option<String>,
    tags: Vec<(String, String)>,
}

impl KapacitorLoopback {
    const PROPERTIES: &'static [&'static str] =
        &["database", "retentionPolicy", "measurement", "tag"];

    /// Compiles `|kapacitorLoopback()`; `.database()` and `.retentionPolicy()` are required,
    /// as Kapacitor's `validate`.
    pub fn compile(node: &Node) -> Result<KapacitorLoopback, DefineError> {
        node.expect_args(0, 0)?;
        let (mut database, mut retention_policy, mut measurement) = (None, None, None);
        let mut tags = Vec::new();
        for p in &node.properties {
            match p.name.as_str() {
                "database" => database = Some(string(p)?),
                "retentionPolicy" => retention_policy = Some(string(p)?),
                "measurement" => measurement = Some(string(p)?),
                "tag" => {
                    p.expect_args(2, 2)?;
                    tags.push((p.arg(0).as_str()?.to_owned(), p.arg(1).as_str()?.to_owned()));
                }
                _ => return Err(unknown_property("kapacitorLoopback", p, Self::PROPERTIES)),
            }
        }
        let missing = |what: &str, example: &str| {
            DefineError::new(
                node.span,
                format!("|kapacitorLoopback() must specify a {what}, e.g. .{what}('{example}')"),
            )
        };
        Ok(KapacitorLoopback {
            database: database
                .filter(|d| !d.is_empty())
                .ok_or_else(|| missing("database", "telegraf"))?,
            retention_policy: retention_policy
                .filter(|r| !r.is_empty())
                .ok_or_else(|| missing("retentionPolicy", "autogen"))?,
            measurement: measurement.filter(|m| !m.is_empty()),
            tags,
        })
    }

    /// The database and retention policy it writes to.
    pub fn target(&self) -> (&str, &str) {
        (&self.database, &self.retention_policy)
    }

    /// The points to write back for `message`: each with the node's database, retention
    /// policy, measurement and tags (a window's points under the window's measurement).
    pub fn points(&self, message: &Message) -> Vec<Point> {
        let rewrite = |point: &Point, name: &str| {
            let mut out = point.clone();
            out.database = self.database.as_str().into();
            out.retention_policy = self.retention_policy.as_str().into();
            out.name = self.measurement.clone().unwrap_or_else(|| name.to_owned());
            for (k, v) in &self.tags {
                out.tags.insert(k.clone(), v.clone());
            }
            out
        };
        match message {
            Message::Point(point) => vec![rewrite(point, &point.name)],
            Message::Batch(batch) => batch
                .points
                .iter()
                .map(|p| rewrite(p, &batch.name))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(script: &str) -> Result<KapacitorLoopback, DefineError> {
        let program = klaxon_tick::compile_script(script).expect("the script compiles");
        KapacitorLoopback::compile(&program.nodes[2])
    }

    #[test]
    fn points_go_back_renamed_and_tagged() {
        let n = node(
            "stream|from()|kapacitorLoopback().database('db2').retentionPolicy('rp2')\
             .measurement('m2').tag('k', 'v')",
        )
        .unwrap();
        assert_eq!(n.target(), ("db2", "rp2"));
        let point = Point::new("db", "rp", "cpu", 5).tag("host", "a");
        let out = n.points(&Message::Point(point));
        assert_eq!(
            (
                &*out[0].database,
                &*out[0].retention_policy,
                out[0].name.as_str()
            ),
            ("db2", "rp2", "m2")
        );
        assert_eq!(out[0].tags["k"], "v");
        assert_eq!(out[0].tags["host"], "a");
        assert_eq!(out[0].time.as_nanos(), 5);
    }

    #[test]
    fn database_and_retention_policy_are_required() {
        let err = node("stream|from()|kapacitorLoopback().database('db2')").unwrap_err();
        assert_eq!(
            err.message,
            "|kapacitorLoopback() must specify a retentionPolicy, e.g. .retentionPolicy('autogen')"
        );
    }
}
