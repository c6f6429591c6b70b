//! The phase graph of a loop (semantics §2–§6): what runs, what checks it,
//! where feedback goes, how the loop ends — as a petgraph graph, with the
//! cycles and the bounds that the runtime enforces on them.

pub mod bounds;
mod build;

pub use bounds::{Bound, BoundKind, LoopBounds};
pub use build::{build, number};

use petgraph::graph::{DiGraph, NodeIndex};
use serde::Serialize;

/// A phase of the loop.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Phase {
    Input {
        name: String,
    },
    Memory {
        memory_type: String,
    },
    Worker {
        id: String,
        model: Option<String>,
    },
    Evaluator {
        id: String,
        evaluator_type: String,
    },
    Optimizer {
        strategy: String,
        max_steps: Option<i64>,
    },
    /// The termination check at the end of each iteration.
    Decide,
    Success,
    Halt,
    Escalate,
    /// A composition child: a whole loop of its own.
    Child {
        id: String,
        role: String,
        reference: String,
    },
}

impl Phase {
    /// Stable id for tools (`worker:planner`, `exit:success`).
    pub fn key(&self) -> String {
        match self {
            Phase::Input { name } => format!("input:{name}"),
            Phase::Memory { .. } => "memory".into(),
            Phase::Worker { id, .. } => format!("worker:{id}"),
            Phase::Evaluator { id, .. } => format!("evaluator:{id}"),
            Phase::Optimizer { .. } => "optimizer".into(),
            Phase::Decide => "decide".into(),
            Phase::Success => "exit:success".into(),
            Phase::Halt => "exit:halt".into(),
            Phase::Escalate => "exit:escalate".into(),
            Phase::Child { id, .. } => format!("child:{id}"),
        }
    }
}

/// How one phase leads to another.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Flow {
    /// Data within an iteration: inputs, memory reads, worker outputs.
    Data,
    /// Ordering without data (`depends_on`).
    Order,
    /// A worker's output checked by an evaluator (`runs_after`).
    Check,
    /// Results feeding the termination check (metrics).
    Measure { metrics: Vec<String> },
    /// Feedback, delivered at the next iteration (a back edge).
    Feedback { channel: String, when: Option<String> },
    /// The optimizer changing a worker (`refinement_target`).
    Refine,
    /// A termination rule firing.
    Terminate { rule: String },
    /// The loop going round again.
    NextIteration,
    /// Memory writes.
    Write,
    /// Composition hand-offs between children (adapters), and children into the parent.
    Adapter { from: String, to: String },
}

/// The phase graph with the analysis results.
#[derive(Debug)]
pub struct PhaseGraph {
    pub graph: DiGraph<Phase, Flow>,
    pub decide: NodeIndex,
    /// Strongly connected components with a cycle, as node lists.
    pub cycles: Vec<Vec<NodeIndex>>,
    pub bounds: LoopBounds,
}

impl PhaseGraph {
    /// No phases at all (the front end alone does not build the graph).
    pub fn empty() -> Self {
        let mut graph = DiGraph::new();
        let decide = graph.add_node(Phase::Decide);
        PhaseGraph {
            graph,
            decide,
            cycles: Vec::new(),
            bounds: LoopBounds::default(),
        }
    }

    pub fn find(&self, key: &str) -> Option<NodeIndex> {
        self.graph.node_indices().find(|&n| self.graph[n].key() == key)
    }

    /// The graph for other tools (`loopc diagram --format json`).
    pub fn to_json(&self) -> serde_json::Value {
        let nodes: Vec<serde_json::Value> = self
            .graph
            .node_indices()
            .map(|n| {
                let mut v = serde_json::to_value(&self.graph[n]).expect("phase serializes");
                v["id"] = self.graph[n].key().into();
                v
            })
            .collect();
        let edges: Vec<serde_json::Value> = self
            .graph
            .edge_indices()
            .map(|e| {
                let (a, b) = self.graph.edge_endpoints(e).expect("edge");
                let mut v = serde_json::to_value(&self.graph[e]).expect("flow serializes");
                v["from"] = self.graph[a].key().into();
                v["to"] = self.graph[b].key().into();
                v
            })
            .collect();
        let cycles: Vec<Vec<String>> = self
            .cycles
            .iter()
            .map(|c| c.iter().map(|&n| self.graph[n].key()).collect())
            .collect();
        serde_json::json!({ "nodes": nodes, "edges": edges, "cycles": cycles, "bounds": self.bounds })
    }
}
