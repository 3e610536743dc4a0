//! A task's pipeline as SVG, laid out here from its edges: each node in the layer of its
//! longest path from a source, layers top to bottom, nodes of a layer side by side; each node
//! shows its counters while the task runs.

use std::collections::BTreeMap;

use klaxon_engine::tasks::TaskInfo;

use super::esc;

const NODE_W: f64 = 150.0;
const NODE_H: f64 = 44.0;
const GAP_X: f64 = 30.0;
const GAP_Y: f64 = 40.0;
const MARGIN: f64 = 10.0;

/// The node IDs of `edges` with their layer and place in it, in the order they appear.
fn layout(edges: &[(String, String)]) -> Vec<(String, usize, usize)> {
    let mut nodes: Vec<String> = Vec::new();
    for (parent, child) in edges {
        for node in [parent, child] {
            if !nodes.contains(node) {
                nodes.push(node.clone());
            }
        }
    }
    let mut layer: BTreeMap<&str, usize> = nodes.iter().map(|n| (n.as_str(), 0)).collect();
    // Longest path by relaxation; a pipeline is acyclic, and the bound stops a cycle anyway.
    for _ in 0..nodes.len() {
        let mut changed = false;
        for (parent, child) in edges {
            let want = layer[parent.as_str()] + 1;
            if layer[child.as_str()] < want {
                layer.insert(child.as_str(), want);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut filled: BTreeMap<usize, usize> = BTreeMap::new();
    nodes
        .iter()
        .map(|n| {
            let l = layer[n.as_str()];
            let slot = filled.entry(l).or_default();
            *slot += 1;
            (n.clone(), l, *slot - 1)
        })
        .collect()
}

/// The graph of `info` as an inline SVG figure.
pub fn svg(info: &TaskInfo) -> String {
    let placed = layout(&info.edges);
    if placed.is_empty() {
        return "<p class=\"empty\">No pipeline to draw.</p>".to_owned();
    }
    let layers = placed.iter().map(|(_, l, _)| l + 1).max().unwrap_or(1);
    let widest = placed.iter().map(|(_, _, s)| s + 1).max().unwrap_or(1);
    let width = MARGIN * 2.0 + widest as f64 * (NODE_W + GAP_X) - GAP_X;
    let height = MARGIN * 2.0 + layers as f64 * (NODE_H + GAP_Y) - GAP_Y;
    let at = |layer: usize, slot: usize| {
        (
            MARGIN + slot as f64 * (NODE_W + GAP_X),
            MARGIN + layer as f64 * (NODE_H + GAP_Y),
        )
    };
    let position: BTreeMap<&str, (f64, f64)> = placed
        .iter()
        .map(|(n, l, s)| (n.as_str(), at(*l, *s)))
        .collect();
    let mut out = format!(
        "<figure class=\"graph\"><svg viewBox=\"0 0 {width} {height}\" width=\"{width}\" \
         role=\"img\" aria-labelledby=\"graph-caption\" xmlns=\"http://www.w3.org/2000/svg\">\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" \
         markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\"><path d=\"M0,0L10,5L0,10z\"/>\
         </marker></defs>"
    );
    for (parent, child) in &info.edges {
        let (px, py) = position[parent.as_str()];
        let (cx, cy) = position[child.as_str()];
        out.push_str(&format!(
            "<line class=\"edge\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" \
             marker-end=\"url(#arrow)\"/>",
            px + NODE_W / 2.0,
            py + NODE_H,
            cx + NODE_W / 2.0,
            cy
        ));
    }
    let stats = info.stats.as_ref();
    for (node, _, _) in &placed {
        let (x, y) = position[node.as_str()];
        let counters = stats
            .and_then(|s| s.nodes.iter().find(|n| n.id == *node))
            .map(|n| {
                format!(
                    "in {} · out {}{}",
                    n.collected,
                    n.processed,
                    if n.errors > 0 {
                        format!(" · err {}", n.errors)
                    } else {
                        String::new()
                    }
                )
            })
            .unwrap_or_default();
        out.push_str(&format!(
            "<g class=\"node\" data-node=\"{id}\"><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{NODE_W}\" \
             height=\"{NODE_H}\" rx=\"6\"/><text x=\"{tx:.1}\" y=\"{ty1:.1}\" class=\"name\">{id}</text>\
             <text x=\"{tx:.1}\" y=\"{ty2:.1}\" class=\"counters\">{counters}</text></g>",
            id = esc(node),
            tx = x + NODE_W / 2.0,
            ty1 = y + 18.0,
            ty2 = y + 35.0,
        ));
    }
    out.push_str(&format!(
        "</svg><figcaption id=\"graph-caption\">The pipeline of {}: {} nodes{}.</figcaption>\
         </figure>",
        esc(&info.record.id),
        placed.len(),
        if stats.is_some() {
            ", with the points in and out of each"
        } else {
            " (counters appear while it runs)"
        }
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edges(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn nodes_go_in_the_layer_of_their_longest_path() {
        // stream -> from -> alert, and from -> window -> alert: the alert is below the window.
        let placed = layout(&edges(&[
            ("stream0", "from1"),
            ("from1", "alert3"),
            ("from1", "window2"),
            ("window2", "alert3"),
        ]));
        let find = |id: &str| {
            placed
                .iter()
                .find(|(n, _, _)| n == id)
                .map(|(_, l, s)| (*l, *s))
                .unwrap()
        };
        assert_eq!(find("stream0"), (0, 0));
        assert_eq!(find("from1"), (1, 0));
        assert_eq!(find("window2"), (2, 0));
        assert_eq!(find("alert3"), (3, 0));
        let wide = layout(&edges(&[("a", "b"), ("a", "c")]));
        assert_eq!(wide[2], ("c".to_owned(), 1, 1));
    }
}
