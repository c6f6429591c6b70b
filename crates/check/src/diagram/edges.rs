//! The edges of the diagram, in the order that gives Mermaid's layout its
//! shape (see the module above): everything that happens within an
//! iteration first, then memory, then feedback and the loop back.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use petgraph::graph::{EdgeReference, NodeIndex};
use petgraph::visit::EdgeRef;

use super::text::{edge, rule_label};
use super::view::View;
use super::{node_id, START};
use crate::graph::{Flow, Phase};

/// Write every edge between drawn nodes: edges of merged checks become
/// edges of their node, written once, and their measurements one edge
/// naming all the metrics. With `fan_out`, the loop goes back to the `start` node and
/// that node leads to each of the phases an iteration starts at.
pub(super) fn write(out: &mut String, view: &View<'_>, fan_out: Option<&[NodeIndex]>) {
    let g = &view.graph.graph;
    // Memory reads and writes of a worker are drawn as one edge, which keeps
    // the memory node beside the inputs instead of in the middle of the flow.
    let memory = g.node_indices().find(|&n| matches!(g[n], Phase::Memory { .. }) && view.has_node(n));
    let mut memory_edges: Vec<(NodeIndex, bool, bool)> = Vec::new();
    let drawn = |e: &EdgeReference<'_, Flow>| Some((view.drawn(e.source())?, view.drawn(e.target())?));
    let mut measured: HashMap<(NodeIndex, NodeIndex), Vec<String>> = HashMap::new();
    for e in g.edge_references() {
        if let (Some(pair), Flow::Measure { metrics }) = (drawn(&e), e.weight()) {
            let all = measured.entry(pair).or_default();
            for m in metrics {
                if !all.contains(m) {
                    all.push(m.clone());
                }
            }
        }
    }
    let mut written: HashSet<String> = HashSet::new();
    let mut now: Vec<String> = Vec::new();
    let mut later: Vec<String> = Vec::new();
    if let Some(starts) = fan_out {
        now.extend(starts.iter().map(|&s| format!("{START} --> {}", node_id(s))));
    }
    for e in g.edge_references() {
        let Some((from, to)) = drawn(&e) else { continue };
        let (a, b) = (node_id(from), node_id(to));
        match e.weight() {
            Flow::Data if Some(from) == memory => note_memory(&mut memory_edges, to, true, false),
            Flow::Write => note_memory(&mut memory_edges, from, false, true),
            Flow::Measure { .. } => {
                let metrics = measured.get(&(from, to)).cloned().unwrap_or_default();
                now.push(flow_line(&Flow::Measure { metrics }, &a, &b));
            }
            flow @ Flow::Feedback { .. } => later.push(flow_line(flow, &a, &b)),
            Flow::NextIteration if fan_out.is_some() => {}
            flow @ Flow::NextIteration => later.push(flow_line(flow, &a, &b)),
            flow => now.push(flow_line(flow, &a, &b)),
        }
    }
    now.extend(leaves(view, memory).map(|n| format!("{} ~~~ {}", node_id(n), node_id(view.graph.decide))));
    if let Some(m) = memory {
        now.extend(
            memory_edges
                .into_iter()
                .map(|(worker, reads, writes)| memory_line(m, worker, reads, writes)),
        );
    }
    if fan_out.is_some() {
        later.push(flow_line(&Flow::NextIteration, &node_id(view.graph.decide), START));
    }
    for text in now.into_iter().chain(later) {
        if !view.options.merge_checks || written.insert(text.clone()) {
            let _ = writeln!(out, "  {text}");
        }
    }
}

/// Workers, children and checks that lead to nothing else in the iteration
/// (no data, order, check or measurement goes out of them). Mermaid would
/// rank them beside the termination check or below it; an invisible link
/// (`~~~`) to the check ranks them above it, where they run.
fn leaves<'v>(view: &'v View<'_>, memory: Option<NodeIndex>) -> impl Iterator<Item = NodeIndex> + 'v {
    let g = &view.graph.graph;
    g.node_indices()
        .filter(|&n| view.has_node(n) && matches!(g[n], Phase::Worker { .. } | Phase::Child { .. } | Phase::Evaluator { .. }))
        .filter(move |&n| {
            !view.members_or_self(n).iter().any(|&m| {
                g.edges(m).any(|e| {
                    let within = matches!(
                        e.weight(),
                        Flow::Data | Flow::Order | Flow::Check | Flow::Measure { .. } | Flow::Adapter { .. }
                    );
                    within && view.drawn(e.target()).is_some_and(|t| Some(t) != memory && t != n)
                })
            })
        })
}

/// A worker's one memory edge, dotted, its heads telling reads from
/// writes; unlabelled, since a label per worker crowds the labels of the
/// checks and feedback around the workers.
fn memory_line(memory: NodeIndex, worker: NodeIndex, reads: bool, writes: bool) -> String {
    let (m, w) = (node_id(memory), node_id(worker));
    match (reads, writes) {
        (true, true) => format!("{m} <-.-> {w}"),
        (true, false) => format!("{m} -.-> {w}"),
        _ => format!("{w} -.-> {m}"),
    }
}

/// One edge other than a memory read or write: thick for checks, dotted
/// for what acts at the next iteration (feedback, refinement, the loop
/// back), longer for the exits, labelled with what flows along it.
fn flow_line(flow: &Flow, a: &str, b: &str) -> String {
    match flow {
        // Writes are gathered per worker by `write`; only the match needs
        // them here.
        Flow::Data | Flow::Write => format!("{a} --> {b}"),
        Flow::Order => edge(a, "-->", "after", b),
        Flow::Check => format!("{a} ==> {b}"),
        Flow::Measure { metrics } => edge(a, "-->", &metrics.join(", "), b),
        Flow::Feedback { channel, when } => match when {
            Some(w) => edge(a, "-.->", &format!("{channel} when {w}"), b),
            None => edge(a, "-.->", channel, b),
        },
        Flow::Refine => edge(a, "-.->", "refines", b),
        // One rank longer than other edges: the exits' labels, often several
        // lines each, then sit where the edges have spread apart, not
        // side by side against the diamond.
        Flow::Terminate { rule } if !rule.trim().is_empty() => format!("{a} --->|\"{}\"| {b}", rule_label(rule)),
        Flow::Terminate { .. } => format!("{a} ---> {b}"),
        Flow::NextIteration => edge(a, "-.->", "next iteration", b),
        Flow::Adapter { from, to } => {
            let last = |path: &str| path.rsplit('.').find(|s| !s.is_empty()).unwrap_or("").to_owned();
            edge(a, "-->", &format!("{} → {}", last(from), last(to)), b)
        }
    }
}

/// Merge a memory read or write into the worker's one memory edge.
fn note_memory(edges: &mut Vec<(NodeIndex, bool, bool)>, worker: NodeIndex, reads: bool, writes: bool) {
    match edges.iter_mut().find(|(w, ..)| *w == worker) {
        Some(entry) => {
            entry.1 |= reads;
            entry.2 |= writes;
        }
        None => edges.push((worker, reads, writes)),
    }
}
