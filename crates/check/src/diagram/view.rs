//! What the diagram shows of the phase graph: every phase, or, for a loop
//! too large to read at a pull request's width, less of it: no inputs, no
//! memory, and the checks of the same workers drawn as one node.

use std::collections::HashMap;

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use petgraph::Direction::Incoming;

use super::Options;
use crate::graph::{Flow, Phase, PhaseGraph};

/// The phase graph as drawn.
pub(super) struct View<'g> {
    pub graph: &'g PhaseGraph,
    pub options: Options,
    /// The node each phase is drawn as (itself, or the first check of its
    /// group), by node index; `None` when it is left out.
    drawn_as: Vec<Option<NodeIndex>>,
    /// The checks each merged node stands for, when it stands for several.
    members: HashMap<NodeIndex, Vec<NodeIndex>>,
}

impl<'g> View<'g> {
    pub fn new(graph: &'g PhaseGraph, options: Options) -> Self {
        let g = &graph.graph;
        let mut drawn_as: Vec<Option<NodeIndex>> = g
            .node_indices()
            .map(|n| {
                let shown = match g[n] {
                    Phase::Input { .. } => !options.hide_inputs,
                    Phase::Memory { .. } => !options.hide_memory,
                    // An optimizer that nothing feeds and that refines nothing.
                    Phase::Optimizer { .. } => g.neighbors_undirected(n).next().is_some(),
                    _ => true,
                };
                shown.then_some(n)
            })
            .collect();
        let mut members: HashMap<NodeIndex, Vec<NodeIndex>> = HashMap::new();
        if options.merge_checks {
            let mut first_of: HashMap<Vec<NodeIndex>, NodeIndex> = HashMap::new();
            for n in g.node_indices().filter(|&n| matches!(g[n], Phase::Evaluator { .. })) {
                let mut checked: Vec<NodeIndex> = g
                    .edges_directed(n, Incoming)
                    .filter(|e| matches!(e.weight(), Flow::Check))
                    .map(|e| e.source())
                    .collect();
                checked.sort();
                let first = *first_of.entry(checked).or_insert(n);
                drawn_as[n.index()] = Some(first);
                members.entry(first).or_default().push(n);
            }
            members.retain(|_, m| m.len() > 1);
        }
        View {
            graph,
            options,
            drawn_as,
            members,
        }
    }

    /// The node a phase is drawn as, if it is drawn.
    pub fn drawn(&self, n: NodeIndex) -> Option<NodeIndex> {
        self.drawn_as[n.index()]
    }

    /// Whether the phase has a node of its own in the diagram.
    pub fn has_node(&self, n: NodeIndex) -> bool {
        self.drawn(n) == Some(n)
    }

    /// The checks a merged node stands for (empty for any other node).
    pub fn members(&self, n: NodeIndex) -> &[NodeIndex] {
        self.members.get(&n).map_or(&[], Vec::as_slice)
    }

    /// The phases a node stands for: the checks of a merged node, or itself.
    pub fn members_or_self(&self, n: NodeIndex) -> Vec<NodeIndex> {
        match self.members(n) {
            [] => vec![n],
            all => all.to_vec(),
        }
    }
}
