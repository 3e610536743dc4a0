//! `|union(other, ...)`: the messages of several parents as one stream, with `.rename('name')`
//! for their measurement. Kapacitor's `UnionNode` buffers each parent to merge them in time
//! order; here every parent is fed by the same ordered stream in one pass, so messages are passed
//! on as they arrive, which is that order.

use klaxon_tick::Node;

use crate::DefineError;
use crate::batch::Message;
use crate::props::unknown_property;

/// A compiled `|union()`.
#[derive(Debug)]
pub struct Union {
    rename: Option<String>,
}

impl Union {
    /// Compiles `|union(...)` and `.rename()`.
    pub fn compile(node: &Node) -> Result<Union, DefineError> {
        if node.others.is_empty() {
            return Err(DefineError::new(
                node.span,
                "|union() needs the nodes to merge: a|union(b, c), with b and c variables holding nodes",
            ));
        }
        node.expect_args(0, 0)?;
        let mut rename = None;
        for p in &node.properties {
            match p.name.as_str() {
                "rename" => {
                    p.expect_args(1, 1)?;
                    rename = Some(p.arg(0).as_str()?.to_owned());
                }
                _ => return Err(unknown_property("union", p, &["rename"])),
            }
        }
        Ok(Union { rename })
    }

    /// `message` renamed, when the node renames.
    pub fn apply(&self, message: &Message) -> Option<Message> {
        let name = self.rename.as_ref()?;
        let mut out = message.clone();
        match &mut out {
            Message::Point(p) => p.name.clone_from(name),
            Message::Batch(b) => {
                b.name.clone_from(name);
                for p in &mut b.points {
                    p.name.clone_from(name);
                }
            }
        }
        Some(out)
    }
}
