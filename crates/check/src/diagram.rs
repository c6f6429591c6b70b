//! Mermaid flowcharts of the phase graph, for code review.
//!
//! Layout is left to Mermaid's top-down ranking, which already places
//! workers in `depends_on` order and evaluators after what they check. Ids
//! are generated (`n0`, `n1`, …) and every label is quoted and escaped, so
//! any id or text in a spec renders.

use std::fmt::Write;

use loopc_ir::{CompositionKind, Spec};
use petgraph::visit::EdgeRef;

use crate::graph::{number, Flow, Phase, PhaseGraph};

/// Escape text for a quoted Mermaid label: entity codes for the characters
/// that end a label or start markup.
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
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Lines of a node label, escaped and joined with `<br/>`.
fn label(lines: &[String]) -> String {
    lines
        .iter()
        .filter(|l| !l.is_empty())
        .map(|l| escape(l))
        .collect::<Vec<_>>()
        .join("<br/>")
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
    let _ = writeln!(out, "  %% {}", title.trim().replace('\n', " "));
    let id = |n: petgraph::graph::NodeIndex| format!("n{}", n.index());

    let node_line = |n: petgraph::graph::NodeIndex| -> String {
        let phase = &g[n];
        let (open, close, text, class) = match phase {
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
                    max_steps.map_or_else(String::new, |s| format!("max {s} steps")),
                ]),
                "optimizer",
            ),
            Phase::Decide => {
                let b = &graph.bounds;
                let iterations = b
                    .max_iterations
                    .map_or_else(|| "no iteration bound".to_owned(), |i| format!("at most {i} iterations"));
                let money = b.max_cost_usd.map_or_else(String::new, |c| format!("cap ${}", number(c)));
                ("{", "}", label(&["terminate?".to_owned(), iterations, money]), "decide")
            }
            Phase::Success => ("([", "])", label(&["success".to_owned()]), "success"),
            Phase::Halt => ("([", "])", label(&["halt".to_owned()]), "halt"),
            Phase::Escalate => ("([", "])", label(&["escalate to a human".to_owned()]), "escalate"),
            Phase::Child { id, role, reference } => ("[[", "]]", label(&[format!("{role}: {id}"), reference.clone()]), "child"),
        };
        format!("{}{open}\"{text}\"{close}:::{class}", id(n))
    };

    let inputs: Vec<_> = g.node_indices().filter(|&n| matches!(g[n], Phase::Input { .. })).collect();
    if !inputs.is_empty() {
        out.push_str("  subgraph inputs[\"inputs\"]\n    direction LR\n");
        for &n in &inputs {
            let _ = writeln!(out, "    {}", node_line(n));
        }
        out.push_str("  end\n");
    }
    let children: Vec<_> = g.node_indices().filter(|&n| matches!(g[n], Phase::Child { .. })).collect();
    if !children.is_empty() {
        let kind = match spec.composition.as_ref().and_then(|c| c.kind.as_deref()) {
            Some(CompositionKind::Sequential) => "sequential",
            Some(CompositionKind::Parallel) => "parallel",
            Some(CompositionKind::Nested) => "nested",
            _ => "composition",
        };
        let _ = writeln!(out, "  subgraph composition[\"{}\"]", escape(&format!("composition: {kind}")));
        for &n in &children {
            let _ = writeln!(out, "    {}", node_line(n));
        }
        out.push_str("  end\n");
    }
    for n in g.node_indices().filter(|n| !inputs.contains(n) && !children.contains(n)) {
        let _ = writeln!(out, "  {}", node_line(n));
    }

    for e in g.edge_references() {
        let (a, b) = (id(e.source()), id(e.target()));
        let edge = match e.weight() {
            Flow::Data => format!("{a} --> {b}"),
            Flow::Order => format!("{a} -->|\"after\"| {b}"),
            Flow::Check => format!("{a} ==> {b}"),
            Flow::Measure { metrics } if metrics.is_empty() => format!("{a} --> {b}"),
            Flow::Measure { metrics } => format!("{a} -->|\"{}\"| {b}", escape(&metrics.join(", "))),
            Flow::Feedback { channel, when } => match when {
                Some(w) => format!("{a} -.->|\"{}\"| {b}", escape(&format!("{channel} when {w}"))),
                None => format!("{a} -.->|\"{}\"| {b}", escape(channel)),
            },
            Flow::Refine => format!("{a} -.->|\"refines\"| {b}"),
            Flow::Terminate { rule } => format!("{a} -->|\"{}\"| {b}", escape(rule)),
            Flow::NextIteration => format!("{a} -.->|\"next iteration\"| {b}"),
            Flow::Write => format!("{a} -.->|\"writes\"| {b}"),
            Flow::Adapter { to, .. } => format!("{a} -->|\"{}\"| {b}", escape(to.rsplit('.').next().unwrap_or(to))),
        };
        let _ = writeln!(out, "  {edge}");
    }
    out.push_str(concat!(
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
    ));
    out
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
