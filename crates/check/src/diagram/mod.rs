//! Mermaid flowcharts of the phase graph, for code review.
//!
//! Mermaid lays a flowchart out with dagre, which first breaks the loop's
//! cycles: a depth-first search from each node in the order they are
//! declared, following each node's edges in the order they are written,
//! turns round every edge that leads back to a node on the search path.
//! So the order of the output is the layout. The node each iteration starts
//! at is declared first, and the edges that act at the next iteration
//! (feedback, the loop back) are written after all others; then those are
//! the edges turned round, and everything that runs in an iteration —
//! composition children first — is ranked above the termination check, and
//! the exits below it. When an iteration starts at several nodes, a `start`
//! node fans out to them, so that the loop back is one edge to the node the
//! search starts from.
//!
//! Ids are generated (`n0`, `n1`, …) and every label is quoted and escaped,
//! so any id or text in a spec renders.

mod edges;
mod style;
mod text;
mod view;

use std::collections::HashSet;
use std::fmt::Write;

use loopc_ir::{CompositionKind, Spec};
use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;

use crate::graph::{number, Flow, LoopBounds, Phase, PhaseGraph};
pub use text::escape;
use text::{code_span, comment, label, longest_run};
use view::View;

/// Which way the flowchart runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Direction {
    /// Top to bottom (Mermaid `TD`).
    #[default]
    TopDown,
    /// Left to right (Mermaid `LR`): each step of an iteration a column.
    LeftRight,
}

/// What to draw and how.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub direction: Direction,
    /// Leave out the input nodes and the edges from them.
    pub hide_inputs: bool,
    /// Leave out the memory node and its reads and writes.
    pub hide_memory: bool,
    /// Draw the checks of the same workers as one node that lists them.
    pub merge_checks: bool,
    /// Leave the model of each worker and the type of each check out of
    /// their labels.
    pub short_labels: bool,
}

impl Options {
    /// A large loop at a pull request's width: no inputs, no memory, the
    /// checks of the same workers as one node, and labels without models.
    pub fn compact(direction: Direction) -> Self {
        Options {
            direction,
            hide_inputs: true,
            hide_memory: true,
            merge_checks: true,
            short_labels: true,
        }
    }
}

/// The id of the node that fans out to an iteration's first phases.
const START: &str = "start";

/// The Mermaid source of a spec's phase graph.
pub fn mermaid(spec: &Spec, graph: &PhaseGraph, options: &Options) -> String {
    let view = View::new(graph, *options);
    let g = &graph.graph;
    // The flowchart's direction, and the one across it for the inputs.
    let (along, across) = match options.direction {
        Direction::TopDown => ("TB", "LR"),
        Direction::LeftRight => ("LR", "TB"),
    };
    let mut out = format!("flowchart {}\n", if along == "TB" { "TD" } else { along });
    let _ = writeln!(out, "  %% {}", comment(&title(spec)));

    let starts = iteration_starts(graph);
    let mut declared = vec![false; g.node_count()];
    // The node declared first is where the search that breaks cycles
    // begins: the one node the loop goes back to.
    match starts.as_slice() {
        [] => {}
        [only] if !matches!(g[*only], Phase::Child { .. }) => {
            let _ = writeln!(out, "  {}", node_line(&view, *only));
            declared[only.index()] = true;
        }
        [_] => {}
        _ => {
            let _ = writeln!(out, "  {START}((\"start\")):::start");
        }
    }

    // Children run first in an iteration: their subgraph, the starts in it first.
    let mut children: Vec<NodeIndex> = g.node_indices().filter(|&n| matches!(g[n], Phase::Child { .. })).collect();
    let first: HashSet<NodeIndex> = starts.iter().copied().collect();
    children.sort_by_key(|n| !first.contains(n));
    if !children.is_empty() {
        let title = escape(&format!("composition: {}", composition_kind(spec)));
        let _ = writeln!(out, "  subgraph composition[\"{title}\"]\n    direction {along}");
        write_nodes(&mut out, &view, &children);
        let _ = writeln!(out, "  end\n  style composition {}", style::SUBGRAPH);
        children.iter().for_each(|n| declared[n.index()] = true);
    }
    let inputs: Vec<NodeIndex> = g
        .node_indices()
        .filter(|&n| matches!(g[n], Phase::Input { .. }) && view.has_node(n))
        .collect();
    if !inputs.is_empty() {
        let _ = writeln!(out, "  subgraph inputs[\"inputs\"]\n    direction {across}");
        write_nodes(&mut out, &view, &inputs);
        let _ = writeln!(out, "  end\n  style inputs {}", style::SUBGRAPH);
        inputs.iter().for_each(|n| declared[n.index()] = true);
    }
    for n in g.node_indices().filter(|&n| !declared[n.index()] && view.has_node(n)) {
        let _ = writeln!(out, "  {}", node_line(&view, n));
    }

    let fan_out = (starts.len() > 1).then_some(starts.as_slice());
    edges::write(&mut out, &view, fan_out);
    out.push_str(&style::class_defs());
    out
}

/// The diagram as a Markdown snippet for a pull-request comment: a heading
/// naming the loop, then the Mermaid source in a ```` ```mermaid ```` block,
/// which GitHub and GitLab render.
pub fn markdown(spec: &Spec, graph: &PhaseGraph, options: &Options) -> String {
    let source = mermaid(spec, graph, options);
    // Labels escape backticks and the comment drops them; a longer fence
    // keeps the block closed whatever the source holds.
    let fence = "`".repeat(longest_run(&source, '`').max(2) + 1);
    format!(
        "#### Phase graph of {}\n\n{fence}mermaid\n{source}{fence}\n",
        code_span(&title(spec))
    )
}

/// `name version`, as the spec gives them.
fn title(spec: &Spec) -> String {
    let name = spec.loop_name.as_ref().map_or("loop", |n| n.as_str());
    match spec.version.as_ref() {
        Some(v) if !v.trim().is_empty() => format!("{name} {}", v.as_str()),
        _ => name.to_owned(),
    }
}

/// Where the next iteration starts: the targets of the loop-back edges.
fn iteration_starts(graph: &PhaseGraph) -> Vec<NodeIndex> {
    let mut starts: Vec<NodeIndex> = graph
        .graph
        .edges(graph.decide)
        .filter(|e| matches!(e.weight(), Flow::NextIteration))
        .map(|e| e.target())
        .collect();
    // petgraph lists a node's edges newest first.
    starts.reverse();
    starts
}

/// The generated Mermaid id of a node; spec ids may not be valid ones.
fn node_id(n: NodeIndex) -> String {
    format!("n{}", n.index())
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
fn write_nodes(out: &mut String, view: &View<'_>, nodes: &[NodeIndex]) {
    for &n in nodes {
        let _ = writeln!(out, "    {}", node_line(view, n));
    }
}

/// A node: its id, a shape that tells the kind of phase apart at a glance,
/// its label and its style class.
fn node_line(view: &View<'_>, n: NodeIndex) -> String {
    let graph = view.graph;
    let short = view.options.short_labels;
    let detail = |text: &Option<String>| text.clone().filter(|_| !short).unwrap_or_default();
    let (open, close, text, class) = match &graph.graph[n] {
        Phase::Input { name } => ("([", "])", label(&[format!("input: {name}")]), "input"),
        Phase::Memory { memory_type } => ("[(", ")]", label(&[format!("memory ({memory_type})")]), "memory"),
        Phase::Worker { id, model } => ("[", "]", label(&[format!("worker: {id}"), detail(model)]), "worker"),
        Phase::Evaluator { .. } if !view.members(n).is_empty() => ("{{", "}}", checks_label(view, n), "evaluator"),
        Phase::Evaluator { id, evaluator_type } => (
            "{{",
            "}}",
            label(&[format!("check: {id}"), detail(&Some(evaluator_type.clone()))]),
            "evaluator",
        ),
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

/// The label of a node that stands for several checks: their ids, one a
/// line, and their type when they share one.
fn checks_label(view: &View<'_>, n: NodeIndex) -> String {
    let g = &view.graph.graph;
    let mut lines = vec!["checks:".to_owned()];
    let mut types: Vec<&str> = Vec::new();
    for &m in view.members(n) {
        if let Phase::Evaluator { id, evaluator_type } = &g[m] {
            lines.push(id.clone());
            types.push(evaluator_type);
        }
    }
    types.sort_unstable();
    types.dedup();
    if let [only] = types.as_slice() {
        if !view.options.short_labels {
            lines.push((*only).to_owned());
        }
    }
    label(&lines)
}

/// The termination check shows what bounds the loop: iterations and spend.
fn decide_label(bounds: &LoopBounds) -> String {
    let iterations = bounds
        .max_iterations
        .map_or_else(|| "unbounded iterations".to_owned(), |i| format!("≤ {i} iterations"));
    let money = bounds.max_cost_usd.map_or_else(String::new, |c| format!(" · ≤ ${}", number(c)));
    label(&["terminate?".to_owned(), format!("{iterations}{money}")])
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{markdown, mermaid, Direction, Options};
    use crate::{Checker, Limits};

    /// A loop whose iteration runs composition children, then one worker.
    fn composed(kind: &str) -> String {
        format!(
            "loop_name: composed\nversion: \"1\"\nobjective: x\n\
             inputs:\n  schema:\n    task: {{type: string, required: true}}\n\
             workers:\n  - id: lead\n    role: r\n    inputs: [{{from: inputs.task}}]\n    outputs: {{name: o, format: text}}\n\
             evaluators:\n  - id: gate\n    type: deterministic\n    runs_after: [lead]\n\
             feedback_channels:\n  - id: back\n    source: evaluators.gate\n    destination: workers.lead\n\
             metrics:\n  - name: m\n    source: evaluators.gate\n\
             termination_conditions:\n  success:\n    - {{metric: m, operator: gte, value: 1}}\n  failure:\n    - {{type: max_iterations, value: 3, action: halt}}\n\
             composition:\n  type: {kind}\n  children:\n    - {{id: first, ref: a.yaml, role: stage}}\n    - {{id: second, ref: b.yaml, role: stage}}\n"
        )
    }

    fn draw(yaml: &str, options: &Options) -> String {
        let analysis = Checker::new(Limits::default()).analyse(Path::new("composed.yaml"), yaml.as_bytes());
        let (spec, _, graph) = analysis.spec.expect("the spec parses");
        mermaid(&spec, &graph, options)
    }

    fn is_edge(line: &str) -> bool {
        ["-->", "==>", "-.->", "~~~"].iter().any(|a| line.contains(a))
    }

    /// The vertex lines (not edges, subgraphs, styles or comments), in order.
    fn vertices(text: &str) -> Vec<&str> {
        text.lines()
            .map(str::trim)
            .filter(|l| (l.starts_with('n') || l.starts_with("start")) && !is_edge(l))
            .collect()
    }

    fn edges(text: &str) -> Vec<&str> {
        text.lines().map(str::trim).filter(|l| is_edge(l)).collect()
    }

    /// Mermaid's layout breaks cycles by a depth-first search from the first
    /// vertex, along edges in the order written: so the node the loop goes
    /// back to comes first, and what acts at the next iteration comes last.
    #[test]
    fn a_sequential_iteration_starts_at_its_first_child() {
        let text = draw(&composed("sequential"), &Options::default());
        let vertices = vertices(&text);
        assert!(vertices[0].contains("stage#58; first"), "{text}");
        let edges = edges(&text);
        let back = edges.iter().position(|e| e.contains("next iteration")).expect("a loop back");
        let feedback = edges.iter().position(|e| e.contains("\"back\"")).expect("the feedback edge");
        let child = vertices[0].split('[').next().unwrap();
        assert!(
            edges[back].ends_with(&format!(" {child}")),
            "the loop goes back to the first child: {text}"
        );
        assert_eq!(back, edges.len() - 1, "the loop back is written last: {text}");
        assert_eq!(feedback, edges.len() - 2, "feedback after every edge within an iteration: {text}");
    }

    #[test]
    fn a_parallel_iteration_fans_out_from_one_start() {
        for direction in [Direction::TopDown, Direction::LeftRight] {
            let text = draw(
                &composed("parallel"),
                &Options {
                    direction,
                    ..Options::default()
                },
            );
            assert!(vertices(&text)[0].starts_with("start((\"start\"))"), "{text}");
            let edges = edges(&text);
            let fan: Vec<&&str> = edges.iter().filter(|e| e.starts_with("start -->")).collect();
            assert_eq!(fan.len(), 2, "start leads to both children: {text}");
            assert!(edges.last().unwrap().ends_with("-.->|\"next iteration\"| start"), "{text}");
            let first_line = text.lines().next().unwrap();
            assert_eq!(
                first_line,
                if direction == Direction::TopDown {
                    "flowchart TD"
                } else {
                    "flowchart LR"
                }
            );
        }
    }

    #[test]
    fn compact_leaves_out_inputs_and_models() {
        let whole = draw(&composed("sequential"), &Options::default());
        let compact = draw(&composed("sequential"), &Options::compact(Direction::TopDown));
        assert!(whole.contains("input#58; task") && whole.contains("deterministic"), "{whole}");
        assert!(
            !compact.contains("input#58; task") && !compact.contains("deterministic"),
            "{compact}"
        );
        assert!(compact.contains("check#58; gate"), "{compact}");
    }

    #[test]
    fn markdown_is_a_fenced_block_under_a_heading() {
        let yaml = composed("sequential");
        let analysis = Checker::new(Limits::default()).analyse(Path::new("composed.yaml"), yaml.as_bytes());
        let (spec, _, graph) = analysis.spec.unwrap();
        let text = markdown(&spec, &graph, &Options::default());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "#### Phase graph of `composed 1`");
        assert_eq!((lines[1], lines[2], lines[3]), ("", "```mermaid", "flowchart TD"));
        assert_eq!(*lines.last().unwrap(), "```");
        assert_eq!(text.lines().filter(|l| l.starts_with("```")).count(), 2);
    }
}
