use std::collections::{HashMap, HashSet};

use loopc_ir::{Composition, CompositionKind, Memory, Sp, Spec, Termination};
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use super::bounds::loop_bounds;
use super::{Flow, Phase, PhaseGraph};

/// Build the phase graph of one spec (semantics §2): nodes for inputs,
/// memory, workers, evaluators, the optimizer, the termination check and
/// its exits, and composition children; edges for data, checks, feedback,
/// refinement, termination and the next iteration.
pub fn build(spec: &Spec) -> PhaseGraph {
    // Node indices are the diagram's ids and edges are drawn in the order
    // they are added, so each step below keeps its place in the sequence.
    let mut b = Builder::with_phases(spec);

    // Data and order between workers, inputs and memory.
    b.link_worker_inputs(spec);
    b.link_memory_writers(spec);

    // Checks and measurements.
    let all_workers = b.workers_in_order();
    b.link_checks(spec, &all_workers);
    b.link_measurements(spec);

    // Feedback (next iteration) and the optimizer's refinements.
    b.link_feedback(spec);
    b.link_refinements(spec);

    // Termination exits.
    if let Some(t) = &spec.termination {
        b.add_exits(spec, t);
    }

    // Composition children run inside each parent iteration, before the parent's workers.
    let roots = b.root_workers(&all_workers);
    // The next iteration starts with the composition's first children when
    // there are any (children run before the parent's workers), else with
    // the workers that depend on no other worker.
    let first_children = spec.composition.as_ref().map(|c| b.add_composition(c, &roots)).unwrap_or_default();
    let starts = if first_children.is_empty() { roots } else { first_children };
    for start in starts {
        b.g.add_edge(b.decide, start, Flow::NextIteration);
    }

    b.finish(spec)
}

/// The graph while it is built, with the nodes that later edges look up by
/// the ids a spec uses for them (`workers.<id>`, `inputs.<name>`, …).
struct Builder<'s> {
    g: DiGraph<Phase, Flow>,
    /// Node pairs already linked: petgraph's contains_edge walks a node's
    /// edge list, which is quadratic for a worker that 17,000 workers read.
    linked: HashSet<(NodeIndex, NodeIndex)>,
    workers: HashMap<&'s str, NodeIndex>,
    evaluators: HashMap<&'s str, NodeIndex>,
    inputs: HashMap<&'s str, NodeIndex>,
    memory: Option<NodeIndex>,
    optimizer: Option<NodeIndex>,
    decide: NodeIndex,
}

impl<'s> Builder<'s> {
    /// Every phase that does not depend on termination or composition, in
    /// the order that fixes their node indices: inputs, workers, evaluators,
    /// memory, the optimizer, the termination check.
    fn with_phases(spec: &'s Spec) -> Self {
        let mut g: DiGraph<Phase, Flow> = DiGraph::new();
        let inputs = add_inputs(&mut g, spec);
        let workers = add_workers(&mut g, spec);
        let evaluators = add_evaluators(&mut g, spec);
        let memory = drawn_memory(spec).map(|m| {
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
        Builder {
            g,
            linked: HashSet::new(),
            workers,
            evaluators,
            inputs,
            memory,
            optimizer,
            decide,
        }
    }

    /// Add an edge unless the pair is already linked (by any flow).
    fn link_once(&mut self, from: NodeIndex, to: NodeIndex, flow: Flow) {
        if self.linked.insert((from, to)) {
            self.g.add_edge(from, to, flow);
        }
    }

    /// A worker's `inputs` (data from inputs, memory and other workers) and
    /// its `depends_on` (order without data).
    fn link_worker_inputs(&mut self, spec: &'s Spec) {
        for w in &spec.workers {
            let Some(&node) = w.id.as_ref().and_then(|id| self.workers.get(id.as_str())) else {
                continue;
            };
            for from in &w.inputs {
                let source = if let Some(name) = from.strip_prefix("inputs.") {
                    self.inputs.get(name.split('.').next().unwrap_or(name)).copied()
                } else if from.starts_with("memory.") {
                    self.memory
                } else {
                    from.strip_prefix("workers.").and_then(|id| self.workers.get(id).copied())
                };
                if let Some(source) = source {
                    self.link_once(source, node, Flow::Data);
                }
            }
            for dep in &w.depends_on {
                if let Some(&source) = self.workers.get(dep.as_str()) {
                    self.link_once(source, node, Flow::Order);
                }
            }
        }
    }

    /// Memory's `allowed_writers`, `*` for every worker.
    fn link_memory_writers(&mut self, spec: &Spec) {
        let (Some(memory), Some(m)) = (self.memory, &spec.memory) else {
            return;
        };
        for writer in &m.allowed_writers {
            let targets: Vec<NodeIndex> = if writer.as_str() == "*" {
                self.workers.values().copied().collect()
            } else {
                self.workers.get(writer.as_str()).copied().into_iter().collect()
            };
            for w in targets {
                self.g.add_edge(w, memory, Flow::Write);
            }
        }
    }

    /// The worker nodes in the order they were added, so that `*` expands
    /// the same way on every run.
    fn workers_in_order(&self) -> Vec<NodeIndex> {
        let mut all: Vec<NodeIndex> = self.workers.values().copied().collect();
        all.sort();
        all
    }

    /// An evaluator's `runs_after`: the workers whose output it checks.
    fn link_checks(&mut self, spec: &Spec, all_workers: &[NodeIndex]) {
        for e in &spec.evaluators {
            let Some(&node) = e.id.as_ref().and_then(|id| self.evaluators.get(id.as_str())) else {
                continue;
            };
            for target in &e.runs_after {
                let checked: Vec<NodeIndex> = if target.as_str() == "*" {
                    all_workers.to_vec()
                } else {
                    self.workers.get(target.as_str()).copied().into_iter().collect()
                };
                for w in checked {
                    self.link_once(w, node, Flow::Check);
                }
            }
        }
    }

    /// One edge into the termination check per measured phase, naming all
    /// the metrics it is the source of.
    fn link_measurements(&mut self, spec: &Spec) {
        let mut measured: HashMap<NodeIndex, Vec<String>> = HashMap::new();
        for m in &spec.metrics {
            let (Some(name), Some(source)) = (&m.name, &m.source) else {
                continue;
            };
            if let Some(node) = self.worker_or_evaluator(source) {
                measured.entry(node).or_default().push(name.value.clone());
            }
        }
        let mut measured: Vec<(NodeIndex, Vec<String>)> = measured.into_iter().collect();
        measured.sort_by_key(|(n, _)| *n);
        for (node, metrics) in measured {
            self.g.add_edge(node, self.decide, Flow::Measure { metrics });
        }
    }

    /// The node an `evaluators.<id>` or `workers.<id>` reference names.
    fn worker_or_evaluator(&self, reference: &str) -> Option<NodeIndex> {
        if let Some(id) = reference.strip_prefix("evaluators.") {
            self.evaluators.get(id).copied()
        } else {
            reference.strip_prefix("workers.").and_then(|id| self.workers.get(id).copied())
        }
    }

    /// Feedback channels to a worker or to the optimizer; they are read at
    /// the next iteration, so these are the back edges of the loop.
    fn link_feedback(&mut self, spec: &Spec) {
        for f in &spec.feedback_channels {
            let (Some(source), Some(destination)) = (&f.source, &f.destination) else {
                continue;
            };
            let from = self.worker_or_evaluator(source);
            let to = if let Some(id) = destination.strip_prefix("workers.") {
                self.workers.get(id).copied()
            } else if destination.starts_with("optimization_strategy") {
                self.optimizer
            } else {
                None
            };
            if let (Some(from), Some(to)) = (from, to) {
                let channel = f.id.as_ref().map_or_else(String::new, |i| i.value.clone());
                self.g.add_edge(
                    from,
                    to,
                    Flow::Feedback {
                        channel,
                        when: f.when.as_ref().map(|w| w.value.clone()),
                    },
                );
            }
        }
    }

    /// The workers the optimizer rewrites: its primary and secondary targets.
    fn link_refinements(&mut self, spec: &Spec) {
        let (Some(optimizer), Some(o)) = (self.optimizer, &spec.optimization_strategy) else {
            return;
        };
        for target in o.refinement_target.iter().chain(&o.secondary_targets) {
            if let Some(&w) = target.strip_prefix("workers.").and_then(|id| self.workers.get(id)) {
                self.g.add_edge(optimizer, w, Flow::Refine);
            }
        }
    }

    /// The exits of the termination check: success when every success
    /// condition holds, and halt or escalate when any failure, stall or
    /// halting cost cap fires. Each exit gets one edge whose rule lists all
    /// the conditions that lead there.
    fn add_exits(&mut self, spec: &Spec, t: &Termination) {
        if let Some(rule) = success_rule(t) {
            let exit = self.g.add_node(Phase::Success);
            self.g.add_edge(self.decide, exit, Flow::Terminate { rule });
        }
        let mut halt = None;
        let mut escalate = None;
        for (rule, action) in stop_rules(spec, t) {
            let exit = match action {
                "escalate_human" => *escalate.get_or_insert_with(|| self.g.add_node(Phase::Escalate)),
                // A retried iteration does not leave the loop.
                "retry_iteration" => continue,
                _ => *halt.get_or_insert_with(|| self.g.add_node(Phase::Halt)),
            };
            match self.g.find_edge(self.decide, exit) {
                Some(e) => {
                    if let Flow::Terminate { rule: existing } = &mut self.g[e] {
                        existing.push_str(" or ");
                        existing.push_str(&rule);
                    }
                }
                None => {
                    self.g.add_edge(self.decide, exit, Flow::Terminate { rule });
                }
            }
        }
    }

    /// The workers no other worker feeds: where an iteration of the
    /// parent's own workers begins.
    fn root_workers(&self, all_workers: &[NodeIndex]) -> Vec<NodeIndex> {
        let g = &self.g;
        all_workers
            .iter()
            .copied()
            .filter(|&n| {
                g.neighbors_directed(n, petgraph::Direction::Incoming)
                    .all(|p| !matches!(g[p], Phase::Worker { .. }))
            })
            .collect()
    }

    /// Composition children, their adapters and their order, all feeding
    /// the parent's root workers. Returns the children an iteration starts
    /// with (empty when there are none), which take the parent's inputs.
    fn add_composition(&mut self, c: &'s Composition, roots: &[NodeIndex]) -> Vec<NodeIndex> {
        let (children, order) = self.add_children(c);
        self.link_adapters(c, &children);
        let sequential = matches!(c.kind.as_deref(), Some(CompositionKind::Sequential));
        // The children whose results reach the parent's workers.
        let feeding: Vec<NodeIndex> = match c.kind.as_deref() {
            Some(CompositionKind::Sequential) => order.last().map(|(n, _)| *n).into_iter().collect(),
            Some(CompositionKind::Nested) => order.iter().filter(|(_, r)| *r == "outer").map(|(n, _)| *n).collect(),
            _ => order.iter().map(|(n, _)| *n).collect(),
        };
        if sequential {
            for pair in order.windows(2) {
                self.link_once(pair[0].0, pair[1].0, Flow::Order);
            }
        }
        for &child in &feeding {
            for &root in roots {
                self.g.add_edge(child, root, Flow::Data);
            }
        }
        let first: Vec<NodeIndex> = if sequential {
            order.first().map(|(n, _)| *n).into_iter().collect()
        } else {
            feeding
        };
        if !first.is_empty() {
            // The children take the parent's inputs.
            let g = &self.g;
            let inputs: Vec<NodeIndex> = g.node_indices().filter(|&n| matches!(g[n], Phase::Input { .. })).collect();
            for &child in &first {
                for &input in &inputs {
                    self.g.add_edge(input, child, Flow::Data);
                }
            }
        }
        first
    }

    /// A node per child with an id: the first child of an id is the one
    /// adapters name; all of them, with their roles, in spec order.
    fn add_children(&mut self, c: &'s Composition) -> (HashMap<&'s str, NodeIndex>, Vec<(NodeIndex, &'s str)>) {
        let mut children: HashMap<&str, NodeIndex> = HashMap::new();
        let mut order = Vec::new();
        for child in &c.children {
            let Some(id) = &child.id else { continue };
            let node = self.g.add_node(Phase::Child {
                id: id.value.clone(),
                role: child.role().to_owned(),
                reference: child.reference.as_ref().map_or_else(String::new, |r| r.value.clone()),
            });
            children.entry(id.as_str()).or_insert(node);
            order.push((node, child.role()));
        }
        (children, order)
    }

    /// Adapters between children (`children.<id>.…` on both ends).
    fn link_adapters(&mut self, c: &Composition, children: &HashMap<&str, NodeIndex>) {
        let child_of = |path: &Option<Sp<String>>| {
            path.as_ref()
                .and_then(|p| p.strip_prefix("children."))
                .and_then(|rest| rest.split('.').next())
                .and_then(|id| children.get(id).copied())
        };
        for a in &c.adapters {
            if let (Some(from), Some(to)) = (child_of(&a.from), child_of(&a.to)) {
                // Always drawn, but recorded so that sequential order does
                // not repeat the link.
                self.linked.insert((from, to));
                self.g.add_edge(
                    from,
                    to,
                    Flow::Adapter {
                        from: a.from.as_ref().map_or_else(String::new, |s| s.value.clone()),
                        to: a.to.as_ref().map_or_else(String::new, |s| s.value.clone()),
                    },
                );
            }
        }
    }

    /// The finished graph with its cycles (each sorted, then in order) and
    /// the bounds the runtime enforces on them.
    fn finish(self, spec: &Spec) -> PhaseGraph {
        let g = self.g;
        let mut cycles: Vec<Vec<NodeIndex>> = tarjan_scc(&g)
            .into_iter()
            .filter(|c| c.len() > 1 || g.contains_edge(c[0], c[0]))
            .collect();
        cycles.iter_mut().for_each(|c| c.sort());
        cycles.sort();
        let bounds = loop_bounds(spec);
        PhaseGraph {
            graph: g,
            decide: self.decide,
            cycles,
            bounds,
        }
    }
}

/// A node per input field, by field name.
fn add_inputs<'s>(g: &mut DiGraph<Phase, Flow>, spec: &'s Spec) -> HashMap<&'s str, NodeIndex> {
    let mut inputs = HashMap::new();
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
    inputs
}

/// A node per worker id (the first worker of a repeated id), labelled with
/// its `provider/model` when both are given.
fn add_workers<'s>(g: &mut DiGraph<Phase, Flow>, spec: &'s Spec) -> HashMap<&'s str, NodeIndex> {
    let mut workers = HashMap::new();
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
    workers
}

/// A node per evaluator id (the first evaluator of a repeated id).
fn add_evaluators<'s>(g: &mut DiGraph<Phase, Flow>, spec: &'s Spec) -> HashMap<&'s str, NodeIndex> {
    let mut evaluators = HashMap::new();
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
    evaluators
}

/// The memory section when it matters to the flow: memory that is not
/// `ephemeral`, that a worker reads, or that a worker may write. Ephemeral
/// memory that nobody touches is left out of the graph.
fn drawn_memory(spec: &Spec) -> Option<&Memory> {
    spec.memory.as_ref().filter(|m| {
        m.kind.as_deref().is_some_and(|k| k != "ephemeral")
            || spec.workers.iter().any(|w| w.inputs.iter().any(|i| i.starts_with("memory.")))
            || !m.allowed_writers.is_empty()
    })
}

/// The success exit's rule: every complete success condition
/// (`metric op value`, with `×n` when it must hold n times running), joined
/// by `and`; `None` when there is no complete condition.
fn success_rule(t: &Termination) -> Option<String> {
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
    if success.is_empty() {
        None
    } else {
        Some(success.join(" and "))
    }
}

/// Every rule that stops the loop without success, with its action
/// (`halt` when none is given): failure conditions, stalls, and a
/// cumulative cost cap whose action is to halt.
fn stop_rules<'t>(spec: &Spec, t: &'t Termination) -> Vec<(String, &'t str)> {
    let mut rules: Vec<(String, &str)> = Vec::new();
    for c in &t.failure {
        let Some(kind) = &c.kind else { continue };
        let value = c.value.as_ref().map_or_else(String::new, |v| format!(" {}", number(v.value)));
        rules.push((
            format!("{}{value}", kind.as_str()),
            c.action.as_deref().map_or("halt", String::as_str),
        ));
    }
    for c in &t.stall {
        let Some(metric) = &c.metric else { continue };
        let window = c.window_iterations.as_ref().map_or(0, |w| w.value);
        let min = c.min_improvement.as_ref().map_or(0.0, |m| m.value);
        rules.push((
            format!("stall: {} gains < {} over {window}", metric.as_str(), number(min)),
            c.action.as_deref().map_or("halt", String::as_str),
        ));
    }
    if let Some(c) = &spec.cost_limits {
        if let (Some(cap), Some("halt")) = (&c.cumulative_usd, c.on_exceed_action.as_deref().map(String::as_str)) {
            rules.push((format!("spend > ${}", number(cap.value)), "halt"));
        }
    }
    rules
}

/// Numbers as people write them: `5`, `0.85`.
pub fn number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}
