use std::collections::{HashMap, HashSet};

use loopc_ir::{CompositionKind, Spec};
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use super::bounds::loop_bounds;
use super::{Flow, Phase, PhaseGraph};

/// Build the phase graph of one spec (semantics §2): nodes for inputs,
/// memory, workers, evaluators, the optimizer, the termination check and
/// its exits, and composition children; edges for data, checks, feedback,
/// refinement, termination and the next iteration.
pub fn build(spec: &Spec) -> PhaseGraph {
    let mut g: DiGraph<Phase, Flow> = DiGraph::new();
    // Node pairs already linked: petgraph's contains_edge walks a node's
    // edge list, which is quadratic for a worker that 17,000 workers read.
    let mut linked: HashSet<(NodeIndex, NodeIndex)> = HashSet::new();
    let mut workers: HashMap<&str, NodeIndex> = HashMap::new();
    let mut evaluators: HashMap<&str, NodeIndex> = HashMap::new();
    let mut inputs: HashMap<&str, NodeIndex> = HashMap::new();

    if let Some(i) = &spec.inputs {
        for field in &i.fields {
            inputs.insert(
                field.name.as_str(),
                g.add_node(Phase::Input {
                    name: field.name.value.clone(),
                }),
            );
        }
    }
    for w in &spec.workers {
        let Some(id) = &w.id else { continue };
        let model = w
            .model
            .as_ref()
            .and_then(|m| Some(format!("{}/{}", m.provider.as_deref()?, m.name.as_deref()?)));
        workers.entry(id.as_str()).or_insert_with(|| {
            g.add_node(Phase::Worker {
                id: id.value.clone(),
                model,
            })
        });
    }
    for e in &spec.evaluators {
        let Some(id) = &e.id else { continue };
        let evaluator_type = e.kind.as_ref().map_or_else(String::new, |k| k.as_str().to_owned());
        evaluators.entry(id.as_str()).or_insert_with(|| {
            g.add_node(Phase::Evaluator {
                id: id.value.clone(),
                evaluator_type,
            })
        });
    }
    let memory = spec.memory.as_ref().filter(|m| {
        m.kind.as_deref().is_some_and(|k| k != "ephemeral")
            || spec.workers.iter().any(|w| w.inputs.iter().any(|i| i.starts_with("memory.")))
            || !m.allowed_writers.is_empty()
    });
    let memory = memory.map(|m| {
        g.add_node(Phase::Memory {
            memory_type: m.kind.as_ref().map_or_else(String::new, |k| k.value.clone()),
        })
    });
    let optimizer = spec.optimization_strategy.as_ref().map(|o| {
        g.add_node(Phase::Optimizer {
            strategy: o.kind.as_ref().map_or_else(String::new, |k| k.value.clone()),
            max_steps: o.max_steps.as_ref().map(|s| s.value),
        })
    });
    let decide = g.add_node(Phase::Decide);

    // Data and order between workers, inputs and memory.
    for w in &spec.workers {
        let Some(&node) = w.id.as_ref().and_then(|id| workers.get(id.as_str())) else {
            continue;
        };
        for from in &w.inputs {
            let source = if let Some(name) = from.strip_prefix("inputs.") {
                inputs.get(name.split('.').next().unwrap_or(name)).copied()
            } else if from.starts_with("memory.") {
                memory
            } else {
                from.strip_prefix("workers.").and_then(|id| workers.get(id).copied())
            };
            if let Some(source) = source {
                if linked.insert((source, node)) {
                    g.add_edge(source, node, Flow::Data);
                }
            }
        }
        for dep in &w.depends_on {
            if let Some(&source) = workers.get(dep.as_str()) {
                if linked.insert((source, node)) {
                    g.add_edge(source, node, Flow::Order);
                }
            }
        }
    }
    if let (Some(memory), Some(m)) = (memory, &spec.memory) {
        for writer in &m.allowed_writers {
            let targets: Vec<NodeIndex> = if writer.as_str() == "*" {
                workers.values().copied().collect()
            } else {
                workers.get(writer.as_str()).copied().into_iter().collect()
            };
            for w in targets {
                g.add_edge(w, memory, Flow::Write);
            }
        }
    }

    // Checks and measurements.
    let mut all_workers: Vec<(&str, NodeIndex)> = workers.iter().map(|(k, v)| (*k, *v)).collect();
    all_workers.sort_by_key(|(_, n)| *n);
    for e in &spec.evaluators {
        let Some(&node) = e.id.as_ref().and_then(|id| evaluators.get(id.as_str())) else {
            continue;
        };
        for target in &e.runs_after {
            let checked: Vec<NodeIndex> = if target.as_str() == "*" {
                all_workers.iter().map(|(_, n)| *n).collect()
            } else {
                workers.get(target.as_str()).copied().into_iter().collect()
            };
            for w in checked {
                if linked.insert((w, node)) {
                    g.add_edge(w, node, Flow::Check);
                }
            }
        }
    }
    let mut measured: HashMap<NodeIndex, Vec<String>> = HashMap::new();
    for m in &spec.metrics {
        let (Some(name), Some(source)) = (&m.name, &m.source) else {
            continue;
        };
        let node = if let Some(id) = source.strip_prefix("evaluators.") {
            evaluators.get(id).copied()
        } else {
            source.strip_prefix("workers.").and_then(|id| workers.get(id).copied())
        };
        if let Some(node) = node {
            measured.entry(node).or_default().push(name.value.clone());
        }
    }
    let mut measured: Vec<(NodeIndex, Vec<String>)> = measured.into_iter().collect();
    measured.sort_by_key(|(n, _)| *n);
    for (node, metrics) in measured {
        g.add_edge(node, decide, Flow::Measure { metrics });
    }

    // Feedback (next iteration) and the optimizer's refinements.
    for f in &spec.feedback_channels {
        let (Some(source), Some(destination)) = (&f.source, &f.destination) else {
            continue;
        };
        let from = if let Some(id) = source.strip_prefix("evaluators.") {
            evaluators.get(id).copied()
        } else {
            source.strip_prefix("workers.").and_then(|id| workers.get(id).copied())
        };
        let to = if let Some(id) = destination.strip_prefix("workers.") {
            workers.get(id).copied()
        } else if destination.starts_with("optimization_strategy") {
            optimizer
        } else {
            None
        };
        if let (Some(from), Some(to)) = (from, to) {
            let channel = f.id.as_ref().map_or_else(String::new, |i| i.value.clone());
            g.add_edge(
                from,
                to,
                Flow::Feedback {
                    channel,
                    when: f.when.as_ref().map(|w| w.value.clone()),
                },
            );
        }
    }
    if let (Some(optimizer), Some(o)) = (optimizer, &spec.optimization_strategy) {
        for target in o.refinement_target.iter().chain(&o.secondary_targets) {
            if let Some(&w) = target.strip_prefix("workers.").and_then(|id| workers.get(id)) {
                g.add_edge(optimizer, w, Flow::Refine);
            }
        }
    }

    // Termination exits.
    if let Some(t) = &spec.termination {
        let success: Vec<String> = t
            .success
            .iter()
            .filter_map(|c| {
                let consecutive = c
                    .consecutive
                    .as_ref()
                    .map(|n| n.value)
                    .filter(|n| *n > 1)
                    .map_or_else(String::new, |n| format!(" ×{n}"));
                Some(format!(
                    "{} {} {}{consecutive}",
                    c.metric.as_deref()?,
                    c.operator.as_deref()?,
                    number(c.value.as_ref()?.value)
                ))
            })
            .collect();
        if !success.is_empty() {
            let exit = g.add_node(Phase::Success);
            g.add_edge(
                decide,
                exit,
                Flow::Terminate {
                    rule: success.join(" and "),
                },
            );
        }
        let mut exits: Vec<(String, &str)> = Vec::new();
        for c in &t.failure {
            let Some(kind) = &c.kind else { continue };
            let value = c.value.as_ref().map_or_else(String::new, |v| format!(" {}", number(v.value)));
            exits.push((
                format!("{}{value}", kind.as_str()),
                c.action.as_deref().map_or("halt", String::as_str),
            ));
        }
        for c in &t.stall {
            let Some(metric) = &c.metric else { continue };
            let window = c.window_iterations.as_ref().map_or(0, |w| w.value);
            let min = c.min_improvement.as_ref().map_or(0.0, |m| m.value);
            exits.push((
                format!("stall: {} gains < {} over {window}", metric.as_str(), number(min)),
                c.action.as_deref().map_or("halt", String::as_str),
            ));
        }
        if let Some(c) = &spec.cost_limits {
            if let (Some(cap), Some("halt")) = (&c.cumulative_usd, c.on_exceed_action.as_deref().map(String::as_str)) {
                exits.push((format!("spend > ${}", number(cap.value)), "halt"));
            }
        }
        let mut halt = None;
        let mut escalate = None;
        for (rule, action) in exits {
            let exit = match action {
                "escalate_human" => *escalate.get_or_insert_with(|| g.add_node(Phase::Escalate)),
                "retry_iteration" => continue,
                _ => *halt.get_or_insert_with(|| g.add_node(Phase::Halt)),
            };
            match g.find_edge(decide, exit) {
                Some(e) => {
                    if let Flow::Terminate { rule: existing } = &mut g[e] {
                        existing.push_str(" or ");
                        existing.push_str(&rule);
                    }
                }
                None => {
                    g.add_edge(decide, exit, Flow::Terminate { rule });
                }
            }
        }
    }

    // Composition children run inside each parent iteration, before the parent's workers.
    let roots: Vec<NodeIndex> = all_workers
        .iter()
        .map(|(_, n)| *n)
        .filter(|&n| {
            g.neighbors_directed(n, petgraph::Direction::Incoming)
                .all(|p| !matches!(g[p], Phase::Worker { .. }))
        })
        .collect();
    // The next iteration starts with the composition's first children when
    // there are any (children run before the parent's workers), else with
    // the workers that depend on no other worker.
    let mut starts = roots.clone();
    if let Some(c) = &spec.composition {
        let mut children: HashMap<&str, NodeIndex> = HashMap::new();
        let mut order = Vec::new();
        for child in &c.children {
            let Some(id) = &child.id else { continue };
            let node = g.add_node(Phase::Child {
                id: id.value.clone(),
                role: child.role().to_owned(),
                reference: child.reference.as_ref().map_or_else(String::new, |r| r.value.clone()),
            });
            children.entry(id.as_str()).or_insert(node);
            order.push((node, child.role()));
        }
        for a in &c.adapters {
            let child_of = |path: &Option<loopc_ir::Sp<String>>| {
                path.as_ref()
                    .and_then(|p| p.strip_prefix("children."))
                    .and_then(|rest| rest.split('.').next())
                    .and_then(|id| children.get(id).copied())
            };
            if let (Some(from), Some(to)) = (child_of(&a.from), child_of(&a.to)) {
                linked.insert((from, to));
                g.add_edge(
                    from,
                    to,
                    Flow::Adapter {
                        from: a.from.as_ref().map_or_else(String::new, |s| s.value.clone()),
                        to: a.to.as_ref().map_or_else(String::new, |s| s.value.clone()),
                    },
                );
            }
        }
        let feeding: Vec<NodeIndex> = match c.kind.as_deref() {
            Some(CompositionKind::Sequential) => order.last().map(|(n, _)| *n).into_iter().collect(),
            Some(CompositionKind::Nested) => order.iter().filter(|(_, r)| *r == "outer").map(|(n, _)| *n).collect(),
            _ => order.iter().map(|(n, _)| *n).collect(),
        };
        if matches!(c.kind.as_deref(), Some(CompositionKind::Sequential)) {
            for pair in order.windows(2) {
                if linked.insert((pair[0].0, pair[1].0)) {
                    g.add_edge(pair[0].0, pair[1].0, Flow::Order);
                }
            }
        }
        for &child in &feeding {
            for &root in &roots {
                g.add_edge(child, root, Flow::Data);
            }
        }
        let first: Vec<NodeIndex> = match c.kind.as_deref() {
            Some(CompositionKind::Sequential) => order.first().map(|(n, _)| *n).into_iter().collect(),
            _ => feeding,
        };
        if !first.is_empty() {
            // The children take the parent's inputs.
            let inputs: Vec<NodeIndex> = g.node_indices().filter(|&n| matches!(g[n], Phase::Input { .. })).collect();
            for &child in &first {
                for &input in &inputs {
                    g.add_edge(input, child, Flow::Data);
                }
            }
            starts = first;
        }
    }

    for start in starts {
        g.add_edge(decide, start, Flow::NextIteration);
    }

    let mut cycles: Vec<Vec<NodeIndex>> = tarjan_scc(&g)
        .into_iter()
        .filter(|c| c.len() > 1 || g.contains_edge(c[0], c[0]))
        .collect();
    cycles.iter_mut().for_each(|c| c.sort());
    cycles.sort();
    let bounds = loop_bounds(spec);
    PhaseGraph {
        graph: g,
        decide,
        cycles,
        bounds,
    }
}

/// Numbers as people write them: `5`, `0.85`.
pub fn number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}
