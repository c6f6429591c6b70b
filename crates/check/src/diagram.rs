//! Mermaid flowcharts of the phase graph, for code review.
//!
//! Layout is left to Mermaid's top-down ranking, which already places
//! workers in `depends_on` order and evaluators after what they check. Ids
//! are generated (`n0`, `n1`, …) and every label is quoted and escaped, so
//! any id or text in a spec renders.

use std::fmt::Write;

use loopc_ir::{CompositionKind, Spec};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use crate::graph::{number, Flow, LoopBounds, Phase, PhaseGraph};

/// Longest label line shown; the full text stays in `--format json`.
const MAX_LABEL_CHARS: usize = 60;

/// Escape text for a quoted Mermaid label: entity codes for the characters
/// that end a label, start markup, or that Mermaid's style rewriting eats
/// (`:` followed by `#…;`). Control characters become spaces.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '#' => out.push_str("#35;"),
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '`' => out.push_str("#96;"),
            '&' => out.push_str("#amp;"),
            '|' => out.push_str("#124;"),
            ':' => out.push_str("#58;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Cut a label line to [`MAX_LABEL_CHARS`], marking the cut.
fn clip(text: &str) -> String {
    if text.chars().count() <= MAX_LABEL_CHARS {
        return text.to_owned();
    }
    text.chars().take(MAX_LABEL_CHARS - 1).collect::<String>() + "…"
}

/// Lines of a node label, clipped, escaped and joined with `<br/>`.
fn label(lines: &[String]) -> String {
    lines
        .iter()
        .filter(|l| !l.is_empty())
        .map(|l| escape(&clip(l)))
        .collect::<Vec<_>>()
        .join("<br/>")
}

/// An edge, with a quoted label when there is text for one.
fn edge(from: &str, arrow: &str, text: &str, to: &str) -> String {
    if text.trim().is_empty() {
        format!("{from} {arrow} {to}")
    } else {
        format!("{from} {arrow}|\"{}\"| {to}", escape(&clip(text)))
    }
}

/// Termination rules, one per line: alternatives start with `or`, parts
/// of a conjunction with `and`.
fn rule_label(rule: &str) -> String {
    let mut lines = Vec::new();
    for (i, alternative) in rule.split(" or ").enumerate() {
        for (j, part) in alternative.split(" and ").enumerate() {
            let joiner = if j > 0 {
                "and "
            } else if i > 0 {
                "or "
            } else {
                ""
            };
            lines.push(escape(&clip(&format!("{joiner}{part}"))));
        }
    }
    lines.join("<br/>")
}

/// A comment line may not carry line breaks or Mermaid directives (`%%{…}%%`).
fn comment(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() || matches!(c, '%' | '{' | '}') { ' ' } else { c })
        .collect()
}

/// The Mermaid source of a spec's phase graph.
pub fn mermaid(spec: &Spec, graph: &PhaseGraph) -> String {
    let g = &graph.graph;
    let mut out = String::from("flowchart TD\n");
    let title = format!(
        "{} {}",
        spec.loop_name.as_ref().map_or("loop", |n| n.as_str()),
        spec.version.as_ref().map_or("", |v| v.as_str())
    );
    let _ = writeln!(out, "  %% {}", comment(title.trim()));

    let inputs: Vec<_> = g.node_indices().filter(|&n| matches!(g[n], Phase::Input { .. })).collect();
    if !inputs.is_empty() {
        out.push_str("  subgraph inputs[\"inputs\"]\n    direction LR\n");
        write_nodes(&mut out, graph, &inputs);
        out.push_str("  end\n  style inputs fill:#f7fbff,stroke:#5b8def\n");
    }
    let children: Vec<_> = g.node_indices().filter(|&n| matches!(g[n], Phase::Child { .. })).collect();
    if !children.is_empty() {
        let _ = writeln!(
            out,
            "  subgraph composition[\"{}\"]",
            escape(&format!("composition: {}", composition_kind(spec)))
        );
        write_nodes(&mut out, graph, &children);
        out.push_str("  end\n  style composition fill:#f6f8fb,stroke:#51627a\n");
    }
    for n in g
        .node_indices()
        .filter(|n| !inputs.contains(n) && !children.contains(n) && !is_idle(g, *n))
    {
        let _ = writeln!(out, "  {}", node_line(graph, n));
    }

    write_edges(&mut out, g);
    out.push_str(CLASS_DEFS);
    out
}

/// Node styles by the class [`node_line`] gives each phase.
const CLASS_DEFS: &str = concat!(
    "  classDef input fill:#eef6ff,stroke:#5b8def\n",
    "  classDef memory fill:#f4f0ff,stroke:#8a6de9\n",
    "  classDef worker fill:#fff7e6,stroke:#e0a100\n",
    "  classDef evaluator fill:#e9f9ee,stroke:#2e9d57\n",
    "  classDef optimizer fill:#f5f5f5,stroke:#777\n",
    "  classDef decide fill:#fff,stroke:#333\n",
    "  classDef success fill:#d9f7e3,stroke:#1f8a4c\n",
    "  classDef halt fill:#fde2e1,stroke:#c9372c\n",
    "  classDef escalate fill:#fff0d6,stroke:#d97706\n",
    "  classDef child fill:#eef2f7,stroke:#51627a\n",
);

/// The generated Mermaid id of a node; spec ids may not be valid ones.
fn node_id(n: NodeIndex) -> String {
    format!("n{}", n.index())
}

/// An optimizer that nothing feeds and that refines nothing is left out.
fn is_idle(g: &DiGraph<Phase, Flow>, n: NodeIndex) -> bool {
    matches!(g[n], Phase::Optimizer { .. }) && g.neighbors_undirected(n).next().is_none()
}

/// The composition subgraph's title word.
fn composition_kind(spec: &Spec) -> &'static str {
    match spec.composition.as_ref().and_then(|c| c.kind.as_deref()) {
        Some(CompositionKind::Sequential) => "sequential",
        Some(CompositionKind::Parallel) => "parallel",
        Some(CompositionKind::Nested) => "nested",
        _ => "composition",
    }
}

/// Nodes inside a subgraph, one indentation level deeper.
fn write_nodes(out: &mut String, graph: &PhaseGraph, nodes: &[NodeIndex]) {
    for &n in nodes {
        let _ = writeln!(out, "    {}", node_line(graph, n));
    }
}

/// A node: its id, a shape that tells the kind of phase apart at a glance,
/// its label and its style class.
fn node_line(graph: &PhaseGraph, n: NodeIndex) -> String {
    let (open, close, text, class) = match &graph.graph[n] {
        Phase::Input { name } => ("([", "])", label(&[format!("input: {name}")]), "input"),
        Phase::Memory { memory_type } => ("[(", ")]", label(&[format!("memory ({memory_type})")]), "memory"),
        Phase::Worker { id, model } => (
            "[",
            "]",
            label(&[format!("worker: {id}"), model.clone().unwrap_or_default()]),
            "worker",
        ),
        Phase::Evaluator { id, evaluator_type } => ("{{", "}}", label(&[format!("check: {id}"), evaluator_type.clone()]), "evaluator"),
        Phase::Optimizer { strategy, max_steps } => (
            "[/",
            "/]",
            label(&[
                format!("optimizer: {strategy}"),
                max_steps.map_or_else(String::new, |s| format!("at most {s} step{}", if s == 1 { "" } else { "s" })),
            ]),
            "optimizer",
        ),
        Phase::Decide => ("{", "}", decide_label(&graph.bounds), "decide"),
        Phase::Success => ("([", "])", label(&["success".to_owned()]), "success"),
        Phase::Halt => ("([", "])", label(&["halt".to_owned()]), "halt"),
        Phase::Escalate => ("([", "])", label(&["escalate to a human".to_owned()]), "escalate"),
        Phase::Child { id, role, reference } => ("[[", "]]", label(&[format!("{role}: {id}"), reference.clone()]), "child"),
    };
    format!("{}{open}\"{text}\"{close}:::{class}", node_id(n))
}

/// The termination check shows what bounds the loop: iterations and spend.
fn decide_label(bounds: &LoopBounds) -> String {
    let iterations = bounds
        .max_iterations
        .map_or_else(|| "unbounded iterations".to_owned(), |i| format!("≤ {i} iterations"));
    let money = bounds.max_cost_usd.map_or_else(String::new, |c| format!(" · ≤ ${}", number(c)));
    label(&["terminate?".to_owned(), format!("{iterations}{money}")])
}

/// Every edge in graph order, then the memory edges of each worker.
fn write_edges(out: &mut String, g: &DiGraph<Phase, Flow>) {
    // Memory reads and writes of a worker are drawn as one edge, which keeps
    // the memory node beside the inputs instead of in the middle of the flow.
    let memory = g.node_indices().find(|&n| matches!(g[n], Phase::Memory { .. }));
    let mut memory_edges: Vec<(NodeIndex, bool, bool)> = Vec::new();
    for e in g.edge_references() {
        match e.weight() {
            Flow::Data if Some(e.source()) == memory => note_memory(&mut memory_edges, e.target(), true, false),
            Flow::Write => note_memory(&mut memory_edges, e.source(), false, true),
            flow => {
                let _ = writeln!(out, "  {}", flow_line(flow, &node_id(e.source()), &node_id(e.target())));
            }
        }
    }
    if let Some(m) = memory {
        for (worker, reads, writes) in memory_edges {
            let line = match (reads, writes) {
                (true, true) => edge(&node_id(m), "<-.->", "reads, writes", &node_id(worker)),
                (true, false) => edge(&node_id(m), "-.->", "reads", &node_id(worker)),
                _ => edge(&node_id(worker), "-.->", "writes", &node_id(m)),
            };
            let _ = writeln!(out, "  {line}");
        }
    }
}

/// One edge other than a memory read or write: thick for checks, dotted
/// for what acts at the next iteration (feedback, refinement, the loop
/// back), labelled with what flows along it.
fn flow_line(flow: &Flow, a: &str, b: &str) -> String {
    match flow {
        // Writes are gathered per worker by `write_edges`; only the match
        // needs them here.
        Flow::Data | Flow::Write => format!("{a} --> {b}"),
        Flow::Order => edge(a, "-->", "after", b),
        Flow::Check => format!("{a} ==> {b}"),
        Flow::Measure { metrics } => edge(a, "-->", &metrics.join(", "), b),
        Flow::Feedback { channel, when } => match when {
            Some(w) => edge(a, "-.->", &format!("{channel} when {w}"), b),
            None => edge(a, "-.->", channel, b),
        },
        Flow::Refine => edge(a, "-.->", "refines", b),
        Flow::Terminate { rule } if !rule.trim().is_empty() => format!("{a} -->|\"{}\"| {b}", rule_label(rule)),
        Flow::Terminate { .. } => format!("{a} --> {b}"),
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

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn labels_cannot_break_out() {
        assert_eq!(
            escape("a \"b\" <c> #d `e` |f| & g\nh"),
            "a #quot;b#quot; #lt;c#gt; #35;d #96;e#96; #124;f#124; #amp; g h"
        );
    }
}
