use std::collections::HashMap;

use loopc_diagnostics::Diagnostic;
use loopc_ir::Sp;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use super::Rule;
use crate::registry::declare_rule;
use crate::Context;

declare_rule! {
    /// ## What it does
    /// Finds cycles in the order of workers — `depends_on`, and
    /// `inputs: from: workers.<id>`, which also orders a worker after the one
    /// it reads — and names the whole cycle, pointing at the dependency that
    /// closes it.
    ///
    /// ## Why
    /// `depends_on` orders the workers within one iteration. A cycle means
    /// no worker of it can ever start: the iteration deadlocks. (Loops across
    /// iterations are expressed with feedback channels, not `depends_on`.)
    ///
    /// ## Example
    /// ```yaml
    /// workers:
    ///   - id: planner
    ///     depends_on: [reviewer]
    ///   - id: reviewer
    ///     depends_on: [planner]    # L203: planner → reviewer → planner
    /// ```
    pub struct DependencyCycle { code: "L203", name: "dependency-cycle", group: "references", severity: Error, summary: "Workers depend on each other in a cycle through `depends_on`." }
}

impl Rule for DependencyCycle {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        let mut graph: DiGraph<&str, &Sp<String>> = DiGraph::new();
        let mut index: HashMap<&str, NodeIndex> = HashMap::new();
        for w in &cx.spec.workers {
            if let Some(id) = &w.id {
                index.entry(id.as_str()).or_insert_with(|| graph.add_node(id.as_str()));
            }
        }
        for w in &cx.spec.workers {
            let Some(from) = w.id.as_ref().and_then(|id| index.get(id.as_str())) else {
                continue;
            };
            // `inputs: from: workers.X` orders a worker after X too (semantics §2).
            let inputs = w.inputs.iter().filter(|i| i.starts_with("workers."));
            for dep in w.depends_on.iter().chain(inputs) {
                let target = dep.strip_prefix("workers.").unwrap_or(dep.as_str());
                if let Some(to) = index.get(target) {
                    if graph.find_edge(*from, *to).is_none() {
                        graph.add_edge(*from, *to, dep);
                    }
                }
            }
        }
        let mut components = tarjan_scc(&graph);
        // Report cycles in source order of their first worker.
        components.iter_mut().for_each(|c| c.sort());
        components.sort();
        for component in components {
            let cyclic = component.len() > 1 || graph.contains_edge(component[0], component[0]);
            if !cyclic {
                continue;
            }
            let path = cycle_path(&graph, &component);
            let names: Vec<&str> = path.iter().map(|&n| graph[n]).chain(std::iter::once(graph[path[0]])).collect();
            let edges: Vec<&Sp<String>> = path
                .iter()
                .enumerate()
                .map(|(i, &n)| {
                    let next = path[(i + 1) % path.len()];
                    graph[graph.find_edge(n, next).expect("cycle edges exist")]
                })
                .collect();
            let closing = edges[edges.len() - 1];
            let mut d = cx
                .report(&DependencyCycle, closing.span, format!("dependency cycle: {}", names.join(" → ")))
                .with_label(format!(
                    "`{}` depends on `{}`, closing the cycle",
                    names[names.len() - 2],
                    names[names.len() - 1]
                ))
                .with_help(
                    "`depends_on` orders workers within one iteration; to pass results back to an earlier worker, use a feedback channel",
                );
            for (i, edge) in edges[..edges.len() - 1].iter().enumerate() {
                d = d.with_secondary(edge.span, format!("`{}` depends on `{}`", names[i], names[i + 1]));
            }
            out.push(d);
        }
    }
}

/// A simple cycle inside a strongly connected component, from its first
/// node back to it: a depth-first walk that stays inside the component.
fn cycle_path(graph: &DiGraph<&str, &Sp<String>>, component: &[NodeIndex]) -> Vec<NodeIndex> {
    let start = component[0];
    if graph.contains_edge(start, start) {
        return vec![start];
    }
    let inside = |n: NodeIndex| component.contains(&n);
    let mut path = vec![start];
    let mut visited = vec![start];
    // Iterative DFS keeping the current path; the component guarantees a way back.
    let mut stack: Vec<Vec<NodeIndex>> = vec![successors(graph, start, &inside)];
    while let Some(frontier) = stack.last_mut() {
        let Some(next) = frontier.pop() else {
            stack.pop();
            path.pop();
            continue;
        };
        if next == start {
            return path;
        }
        if visited.contains(&next) {
            continue;
        }
        visited.push(next);
        path.push(next);
        stack.push(successors(graph, next, &inside));
    }
    component.to_vec()
}

fn successors(graph: &DiGraph<&str, &Sp<String>>, n: NodeIndex, inside: &impl Fn(NodeIndex) -> bool) -> Vec<NodeIndex> {
    // Reverse so that pop() visits neighbours in declaration order.
    let mut next: Vec<NodeIndex> = graph.neighbors(n).filter(|m| inside(*m)).collect();
    next.sort();
    next.dedup();
    next.reverse();
    next
}
