//! IR → runtime plan (docs/semantics.md): resolve references, expand `*`,
//! order workers, compile `when`, apply the defaults the semantics choose.
//!
//! Run on specs that `loopc check` passed; what is still missing is
//! reported as an error rather than guessed.

mod safety;

use std::collections::{BTreeSet, HashMap};

use loopc_ir::{self as ir, when, Spec};
use loopc_plan::*;
use safety::safety_check;

pub(crate) fn text(t: &ir::Text) -> Option<String> {
    t.as_ref().map(|s| s.value.clone())
}

fn model(m: &Option<ir::Model>, owner: &str, errors: &mut Vec<String>) -> ModelRef {
    let m = m.as_ref();
    let provider = m.and_then(|m| text(&m.provider));
    let name = m.and_then(|m| text(&m.name));
    if provider.is_none() || name.is_none() {
        errors.push(format!("{owner} has no complete model (provider and name)"));
    }
    ModelRef {
        provider: provider.unwrap_or_default(),
        name: name.unwrap_or_default(),
        temperature: m.and_then(|m| m.temperature.as_ref().map(|t| t.value)),
        max_tokens: m.and_then(|m| m.max_tokens.as_ref().map(|t| t.value.max(0) as u64)),
    }
}

/// A word of a closed vocabulary; `default` when absent, an error when unknown
/// (the schema allows only these words, so this is an internal mismatch).
fn word<T: Copy>(t: &ir::Text, parse: fn(&str) -> Option<T>, default: T, what: &str, errors: &mut Vec<String>) -> T {
    match t.as_deref() {
        None => default,
        Some(text) => parse(text).unwrap_or_else(|| {
            errors.push(format!("{what} `{}` is not one loopc knows", text.as_str()));
            default
        }),
    }
}

fn action(a: &ir::Text) -> Action {
    match a.as_deref().map(String::as_str) {
        Some("escalate_human") => Action::EscalateHuman,
        Some("retry_iteration") => Action::RetryIteration,
        _ => Action::Halt,
    }
}

fn endpoint(path: &str) -> Option<Endpoint> {
    if let Some(id) = path.strip_prefix("workers.") {
        Some(Endpoint::Worker(id.to_owned()))
    } else if let Some(id) = path.strip_prefix("evaluators.") {
        Some(Endpoint::Evaluator(id.to_owned()))
    } else if path.starts_with("optimization_strategy") {
        Some(Endpoint::Optimizer)
    } else {
        None
    }
}

/// Lower a checked spec. `source` is the spec's path as given.
///
/// One helper per LSS section, called in the order of the sections: the
/// errors they report come out in that order.
pub(crate) fn to_plan(
    spec: &Spec,
    source: &str,
    spec_path: &std::path::Path,
    load_child: &mut crate::composition::LoadChild<'_>,
) -> Result<Plan, Vec<String>> {
    let mut errors = Vec::new();
    let worker_ids: Vec<String> = spec.workers.iter().filter_map(|w| text(&w.id)).collect();

    let inputs = inputs(spec.inputs.as_ref(), &mut errors);
    let memory = memory(spec.memory.as_ref(), &worker_ids, &mut errors);
    let (workers, groups) = workers(&spec.workers, &mut errors);
    let evaluators = spec
        .evaluators
        .iter()
        .filter_map(|e| evaluator(e, &worker_ids, &mut errors))
        .collect();
    let metrics = spec.metrics.iter().filter_map(|m| metric(m, &mut errors)).collect();
    let feedback = spec
        .feedback_channels
        .iter()
        .filter_map(|f| feedback_route(f, &mut errors))
        .collect();
    let termination = termination(spec.termination.as_ref());
    let optimizer = optimizer(spec.optimization_strategy.as_ref(), &mut errors);
    let budgets = budgets(spec.cost_limits.as_ref(), &mut errors);
    let safety = spec
        .safety_constraints
        .iter()
        .filter_map(|s| safety_check(s, &worker_ids, spec_path, &mut errors))
        .collect();

    let composition = spec
        .composition
        .as_ref()
        .and_then(|c| crate::composition::composition(c, &worker_ids, load_child, &mut errors));
    if !errors.is_empty() {
        return Err(errors);
    }
    // JSON cannot hold infinity; an absent cap was reported above.
    Ok(Plan {
        plan_version: PLAN_VERSION.into(),
        loop_name: text(&spec.loop_name).unwrap_or_default(),
        spec_version: text(&spec.version).unwrap_or_default(),
        objective: text(&spec.objective).unwrap_or_default(),
        source: source.to_owned(),
        // Set by the caller, which has the spec's bytes.
        spec_sha256: String::new(),
        inputs,
        memory,
        workers,
        groups,
        evaluators,
        metrics,
        feedback,
        termination,
        optimizer,
        budgets,
        safety,
        composition,
    })
}

/// The declared input fields, each with its validation bounds.
fn inputs(inputs: Option<&ir::Inputs>, errors: &mut Vec<String>) -> Vec<InputDecl> {
    inputs
        .iter()
        .flat_map(|i| &i.fields)
        .map(|f| InputDecl {
            name: f.name.value.clone(),
            kind: word(&f.kind, InputKind::parse, InputKind::String, "input type", errors),
            required: f.required.as_ref().is_some_and(|r| r.value),
            values: f.values.iter().map(|v| v.value.clone()).collect(),
            default: f.default.as_ref().map(|d| d.value.clone()),
            pattern: text(&f.pattern),
            minimum: f.minimum.as_ref().map(|m| m.value),
            maximum: f.maximum.as_ref().map(|m| m.value),
            min_length: f.min_length.as_ref().map(|m| m.value.max(0) as u64),
            max_length: f.max_length.as_ref().map(|m| m.value.max(0) as u64),
        })
        .collect()
}

/// Memory with `*` writers expanded; no `memory` section is an ephemeral
/// memory nobody may write.
fn memory(memory: Option<&ir::Memory>, worker_ids: &[String], errors: &mut Vec<String>) -> MemoryPlan {
    match memory {
        Some(m) => MemoryPlan {
            kind: word(&m.kind, MemoryKind::parse, MemoryKind::Ephemeral, "memory type", errors),
            allowed_writers: expand(&m.allowed_writers, worker_ids),
            max_entries: m.max_entries.as_ref().map(|n| n.value.max(0) as u64),
            read_policy: m
                .read_policy
                .iter()
                .map(|(w, keys)| ReadRule {
                    worker: w.value.clone(),
                    keys: keys.iter().map(|k| k.value.clone()).collect(),
                })
                .collect(),
        },
        None => MemoryPlan {
            kind: MemoryKind::Ephemeral,
            allowed_writers: Vec::new(),
            max_entries: None,
            read_policy: Vec::new(),
        },
    }
}

/// The workers with an id, in execution order, and their parallel groups
/// ([`levels`]). A dependency cycle is an error (and no groups).
fn workers(workers: &[ir::Worker], errors: &mut Vec<String>) -> (Vec<WorkerStep>, Vec<Vec<String>>) {
    let mut steps: Vec<WorkerStep> = workers.iter().filter_map(|w| Some(worker_step(w, text(&w.id)?, errors))).collect();
    let groups = match levels(&steps) {
        Ok(groups) => groups,
        Err(cycle) => {
            errors.push(format!("workers {cycle} depend on each other"));
            Vec::new()
        }
    };
    let order: HashMap<&str, usize> = groups.iter().flatten().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
    steps.sort_by_key(|w| order.get(w.id.as_str()).copied().unwrap_or(usize::MAX));
    (steps, groups)
}

/// One worker; its dependencies are the declared ones and the workers it
/// reads from.
fn worker_step(w: &ir::Worker, id: String, errors: &mut Vec<String>) -> WorkerStep {
    let bindings: Vec<Binding> = w.inputs.iter().filter_map(|from| binding(from)).collect();
    // A `workers.X` input implies ordering after X (semantics §2).
    let mut depends_on: BTreeSet<String> = w.depends_on.iter().map(|d| d.value.clone()).collect();
    depends_on.extend(bindings.iter().filter_map(|b| match b {
        Binding::Worker(x) => Some(x.clone()),
        _ => None,
    }));
    WorkerStep {
        model: model(&w.model, &format!("worker `{id}`"), errors),
        role: text(&w.role).unwrap_or_default(),
        inputs: bindings,
        depends_on: depends_on.into_iter().collect(),
        output_name: text(&w.output_name).unwrap_or_else(|| id.clone()),
        output_format: word(&w.output_format, OutputFormat::parse, OutputFormat::Text, "output format", errors),
        output_schema_ref: text(&w.output_schema_ref),
        tools: w.tools.iter().map(|t| t.value.clone()).collect(),
        timeout_seconds: w.timeout_seconds.as_ref().map(|t| t.value.max(1) as u64),
        retries: w.retries.as_ref().map_or(0, |r| r.value.clamp(0, 100) as u32),
        cost_budget_usd: w.cost_budget_usd.as_ref().map(|c| c.value),
        id,
    }
}

/// A worker input path (`inputs.…`, `memory.…`, `workers.…`); a path
/// without a dot binds nothing.
fn binding(from: &str) -> Option<Binding> {
    let (kind, rest) = from.split_once('.')?;
    Some(match kind {
        "inputs" => Binding::Input(rest.to_owned()),
        "memory" => Binding::Memory(rest.to_owned()),
        _ => Binding::Worker(rest.to_owned()),
    })
}

/// One evaluator with the defaults of its type; one without an id is
/// skipped, one of no known type is an error.
fn evaluator(e: &ir::Evaluator, worker_ids: &[String], errors: &mut Vec<String>) -> Option<EvaluatorStep> {
    let id = text(&e.id)?;
    let kind = match e.kind.as_deref() {
        Some(ir::EvaluatorKind::Deterministic) => EvaluatorKind::Deterministic {
            implementation: text(&e.implementation).unwrap_or_default(),
        },
        Some(ir::EvaluatorKind::LlmRubric) => {
            let rubric = e.rubric.as_ref();
            EvaluatorKind::LlmRubric {
                model: model(&e.model, &format!("evaluator `{id}`"), errors),
                dimensions: rubric
                    .map(|r| r.dimensions.iter().map(rubric_dimension).collect())
                    .unwrap_or_default(),
                pass_threshold: rubric.and_then(|r| r.pass_threshold.as_ref()).map_or(1.0, |t| t.value),
            }
        }
        Some(ir::EvaluatorKind::Human) => EvaluatorKind::Human {
            timeout_seconds: e.timeout_seconds.as_ref().map_or(86_400, |t| t.value.max(1) as u64),
            queue: text(&e.queue),
            instructions: text(&e.instructions),
        },
        _ => {
            errors.push(format!("evaluator `{id}` has no known type"));
            return None;
        }
    };
    Some(EvaluatorStep {
        runs_after: expand(&e.runs_after, worker_ids),
        aggregation: e
            .aggregation
            .as_ref()
            .map(|_| word(&e.aggregation, Aggregation::parse, Aggregation::Min, "aggregation", errors)),
        kind,
        id,
    })
}

/// A rubric dimension; weight 0 and scale 0..1 when not given.
fn rubric_dimension(d: &ir::RubricDimension) -> RubricDimension {
    RubricDimension {
        name: text(&d.name).unwrap_or_default(),
        weight: d.weight.as_ref().map_or(0.0, |w| w.value),
        scale: d.scale.as_ref().map_or((0.0, 1.0), |s| s.value),
        criteria: text(&d.criteria).unwrap_or_default(),
    }
}

/// A metric with a name and a `kind.id` source; others are skipped.
fn metric(m: &ir::Metric, errors: &mut Vec<String>) -> Option<MetricPlan> {
    let source = text(&m.source)?;
    let (kind, id) = source.split_once('.')?;
    Some(MetricPlan {
        name: text(&m.name)?,
        source: match kind {
            "evaluators" => MetricSource::Evaluator(id.to_owned()),
            "workers" => MetricSource::Worker(id.to_owned()),
            _ => MetricSource::Telemetry(id.to_owned()),
        },
        unit: word(&m.unit, MetricUnit::parse, MetricUnit::Ratio, "metric unit", errors),
        primary: m.primary.as_ref().is_some_and(|p| p.value),
        target: m.target.as_ref().map(|t| t.value),
    })
}

/// A feedback channel between two known endpoints, its `when` compiled;
/// a `when` that does not parse is an error.
fn feedback_route(f: &ir::FeedbackChannel, errors: &mut Vec<String>) -> Option<FeedbackRoute> {
    let id = text(&f.id)?;
    let source = endpoint(f.source.as_deref()?)?;
    let destination = endpoint(f.destination.as_deref()?)?;
    let when = match &f.when {
        None => None,
        Some(w) => match when::parse(w) {
            Ok(e) => Some(condition(&e)),
            Err(e) => {
                errors.push(format!("feedback channel `{id}`: `when` does not parse: {}", e.message));
                None
            }
        },
    };
    Some(FeedbackRoute {
        id,
        source,
        destination,
        fields: f.fields.iter().map(|x| x.value.clone()).collect(),
        max_tokens: f.max_tokens.as_ref().map(|t| t.value.max(1) as u64),
        when,
        when_text: text(&f.when),
    })
}

/// Success, failure and stall rules; incomplete conditions are skipped
/// (`loopc check` reports them).
fn termination(t: Option<&ir::Termination>) -> TerminationPlan {
    let Some(t) = t else {
        return TerminationPlan {
            success: Vec::new(),
            failure: Vec::new(),
            stall: Vec::new(),
        };
    };
    let success: Vec<SuccessRule> = t
        .success
        .iter()
        .filter_map(|c| {
            Some(SuccessRule {
                metric: text(&c.metric)?,
                op: compare(when::CompareOp::from_lss(c.operator.as_deref()?)?),
                value: c.value.as_ref()?.value,
                consecutive: c.consecutive.as_ref().map_or(1, |n| n.value.max(1) as u32),
            })
        })
        .collect();
    let failure = t
        .failure
        .iter()
        // A max_iterations rule that only retries bounds nothing: treated as absent (semantics §5).
        .filter(|c| {
            !(c.kind.as_deref().map(String::as_str) == Some("max_iterations")
                && c.action.as_deref().map(String::as_str) == Some("retry_iteration"))
        })
        .filter_map(|c| {
            Some(FailureRule {
                kind: FailureKind::parse(c.kind.as_deref()?)?,
                action: action(&c.action),
                value: c.value.as_ref().map(|v| v.value),
                consecutive: c.consecutive.as_ref().map_or(1, |n| n.value.max(1) as u32),
            })
        })
        .collect();
    let stall = t.stall.iter().filter_map(|c| stall_rule(c, &success)).collect();
    TerminationPlan { success, failure, stall }
}

/// A stall rule, with the direction the success rules on its metric give.
fn stall_rule(c: &ir::StallCondition, success: &[SuccessRule]) -> Option<StallRule> {
    let metric = text(&c.metric)?;
    // Improving means moving towards the success condition on the metric (semantics §5).
    let direction = match success.iter().find(|s| s.metric == metric).map(|s| s.op) {
        Some(CompareOp::Lt | CompareOp::Le) => -1.0,
        _ => 1.0,
    };
    Some(StallRule {
        metric,
        window_iterations: c.window_iterations.as_ref().map_or(1, |w| w.value.max(1) as u32),
        min_improvement: c.min_improvement.as_ref().map_or(0.0, |m| m.value),
        action: action(&c.action),
        direction,
    })
}

/// The optimizer and the workers it may refine; no strategy is a manual
/// optimizer with no steps.
fn optimizer(o: Option<&ir::OptimizationStrategy>, errors: &mut Vec<String>) -> OptimizerPlan {
    match o {
        Some(o) => OptimizerPlan {
            kind: word(&o.kind, OptimizerKind::parse, OptimizerKind::Manual, "optimization type", errors),
            max_steps: o.max_steps.as_ref().map_or(0, |s| s.value.max(0) as u32),
            targets: o
                .refinement_target
                .iter()
                .chain(&o.secondary_targets)
                .filter_map(|t| t.strip_prefix("workers.").map(str::to_owned))
                .collect(),
            rollback_on_metric_drop: o.rollback_on_metric_drop.as_ref().map(|r| r.value),
            rollback_on_safety_failure: o.rollback_on_safety_failure.as_ref().is_some_and(|r| r.value),
        },
        None => OptimizerPlan {
            kind: OptimizerKind::Manual,
            max_steps: 0,
            targets: Vec::new(),
            rollback_on_metric_drop: None,
            rollback_on_safety_failure: false,
        },
    }
}

/// The cost caps; an absent cap is unbounded (infinity), and a spec
/// without `cost_limits` is refused rather than run without a cap.
fn budgets(c: Option<&ir::CostLimits>, errors: &mut Vec<String>) -> Budgets {
    let Some(c) = c else {
        errors.push("the spec has no cost_limits".into());
        return Budgets {
            per_iteration_usd: 0.0,
            cumulative_usd: 0.0,
            token_soft_cap: None,
            on_approach_percent: None,
            on_approach: None,
            on_exceed: BudgetAction::Halt,
        };
    };
    Budgets {
        per_iteration_usd: c.per_iteration_usd.as_ref().map_or(f64::INFINITY, |v| v.value),
        cumulative_usd: c.cumulative_usd.as_ref().map_or(f64::INFINITY, |v| v.value),
        token_soft_cap: c.token_soft_cap.as_ref().map(|t| t.value.max(1) as u64),
        on_approach_percent: c.on_approach_threshold_percent.as_ref().map(|t| t.value),
        on_approach: c.on_approach_action.as_ref().map(|_| {
            word(
                &c.on_approach_action,
                BudgetAction::parse,
                BudgetAction::Warn,
                "on_approach action",
                errors,
            )
        }),
        on_exceed: word(
            &c.on_exceed_action,
            BudgetAction::parse,
            BudgetAction::Halt,
            "on_exceed action",
            errors,
        ),
    }
}

/// `*` → every worker; ids kept in order, without repeats.
fn expand(ids: &[ir::Sp<String>], workers: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for id in ids {
        let add: Vec<String> = if id.as_str() == "*" {
            workers.to_vec()
        } else {
            vec![id.value.clone()]
        };
        for a in add {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out
}

/// Workers by level: each level's workers depend only on earlier levels;
/// within a level, declaration order. Err names the workers left unplaced
/// (a cycle's members and the workers that wait on them).
///
/// Kahn's algorithm in linear time. A worker waits on the ids it depends on
/// (an id no worker has is no dependency); an id is placed with the first
/// level that has a worker of it, which releases the workers waiting on it.
/// A worker whose id an earlier level placed is left out, and a repeated id
/// (L202, when allowed) fails like a cycle, as before.
fn levels(workers: &[WorkerStep]) -> Result<Vec<Vec<String>>, String> {
    // Each distinct id, numbered in order of first declaration.
    let mut node: HashMap<&str, usize> = HashMap::new();
    for w in workers {
        let next = node.len();
        node.entry(w.id.as_str()).or_insert(next);
    }
    let mut waiting = vec![0usize; workers.len()];
    let mut released_by: Vec<Vec<usize>> = vec![Vec::new(); node.len()];
    for (i, w) in workers.iter().enumerate() {
        for n in w.depends_on.iter().filter_map(|d| node.get(d.as_str())) {
            waiting[i] += 1;
            released_by[*n].push(i);
        }
    }
    // The level each worker stops waiting at, and each id is placed at.
    let mut level: Vec<Option<usize>> = vec![None; workers.len()];
    let mut placed: Vec<Option<usize>> = vec![None; node.len()];
    let mut ready: Vec<usize> = (0..workers.len()).filter(|i| waiting[*i] == 0).collect();
    let mut depth = 0;
    while !ready.is_empty() {
        let mut next = Vec::new();
        for &i in &ready {
            level[i] = Some(depth);
            let n = node[workers[i].id.as_str()];
            if placed[n].is_some() {
                continue;
            }
            placed[n] = Some(depth);
            for &j in &released_by[n] {
                waiting[j] -= 1;
                if waiting[j] == 0 {
                    next.push(j);
                }
            }
        }
        ready = next;
        depth += 1;
    }
    let left: Vec<&str> = workers
        .iter()
        .map(|w| w.id.as_str())
        .filter(|id| placed[node[id]].is_none())
        .collect();
    if !left.is_empty() || node.len() < workers.len() {
        return Err(left.join(", "));
    }
    let mut groups = vec![Vec::new(); depth];
    for (w, l) in workers.iter().zip(level) {
        groups[l.expect("every worker is placed")].push(w.id.clone());
    }
    Ok(groups)
}

fn compare(op: when::CompareOp) -> CompareOp {
    match op {
        when::CompareOp::Lt => CompareOp::Lt,
        when::CompareOp::Le => CompareOp::Le,
        when::CompareOp::Gt => CompareOp::Gt,
        when::CompareOp::Ge => CompareOp::Ge,
        when::CompareOp::Eq => CompareOp::Eq,
        when::CompareOp::Ne => CompareOp::Ne,
    }
}

/// A parsed `when` in the plan's form (offsets dropped); also how `loopc run` compiles a `[pool]` rule.
pub fn condition(e: &when::Expr) -> Expr {
    match e {
        when::Expr::Number(n) => Expr::Number(*n),
        when::Expr::Text(s) => Expr::Text(s.clone()),
        when::Expr::Bool(b) => Expr::Bool(*b),
        when::Expr::Null => Expr::Null,
        when::Expr::Path(p, _) => Expr::Path(p.clone()),
        when::Expr::Not(x) => Expr::Not(Box::new(condition(x))),
        when::Expr::And(xs) => balanced(xs, true, &|a, b| Expr::And(Box::new(a), Box::new(b))),
        when::Expr::Or(xs) => balanced(xs, false, &|a, b| Expr::Or(Box::new(a), Box::new(b))),
        when::Expr::Compare(a, op, b) => Expr::Compare(Box::new(condition(a)), compare(*op), Box::new(condition(b))),
        when::Expr::In(a, b) => Expr::In(Box::new(condition(a)), Box::new(condition(b))),
    }
}

/// A chain as a balanced tree of the plan's binary `and`/`or`, operands in
/// their order (so evaluation, short-circuit included, is left to right):
/// depth ⌈log₂ n⌉ and size linear in n, where a left-leaning chain would be
/// n deep and, pretty-printed, quadratic in size. The parser makes chains of
/// two or more; `empty` is the operator's identity all the same.
fn balanced(terms: &[when::Expr], empty: bool, join: &dyn Fn(Expr, Expr) -> Expr) -> Expr {
    match terms {
        [] => Expr::Bool(empty),
        [one] => condition(one),
        _ => {
            let (left, right) = when::split_chain(terms);
            join(balanced(left, empty, join), balanced(right, empty, join))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chain's meaning, read left to right as written: the first operand
    /// that decides it stops the evaluation.
    fn chain_value(e: &when::Expr, truth: &dyn Fn(&str) -> bool, seen: &mut Vec<String>) -> bool {
        match e {
            when::Expr::Path(p, _) => {
                seen.push(p.join("."));
                truth(&p.join("."))
            }
            when::Expr::Not(x) => !chain_value(x, truth, seen),
            when::Expr::And(xs) => xs.iter().all(|x| chain_value(x, truth, seen)),
            when::Expr::Or(xs) => xs.iter().any(|x| chain_value(x, truth, seen)),
            other => panic!("not in this test: {other:?}"),
        }
    }

    #[test]
    fn a_compiled_chain_means_the_chain_and_reads_names_in_its_order() {
        let names = ["a", "b", "c", "d", "e"];
        for text in [
            "a and b and c and d and e",
            "a or b or c or d or e",
            "a and b or c and d and e or not a",
            "(a or b or c) and (d or not e) and not (a and b and c and d)",
        ] {
            let parsed = when::parse(text).unwrap();
            let compiled = condition(&parsed);
            for bits in 0..1u32 << names.len() {
                let truth = |n: &str| bits >> names.iter().position(|x| *x == n).unwrap() & 1 == 1;
                let mut expected_order = Vec::new();
                let expected = chain_value(&parsed, &truth, &mut expected_order);
                let order = std::cell::RefCell::new(Vec::new());
                let got = compiled.eval(&|p: &[String]| {
                    order.borrow_mut().push(p.join("."));
                    serde_json::Value::Bool(truth(&p.join(".")))
                });
                assert_eq!(got, serde_json::Value::Bool(expected), "{text} with {bits:05b}");
                assert_eq!(
                    order.into_inner(),
                    expected_order,
                    "{text} with {bits:05b}: names read in order, short-circuit"
                );
            }
        }
    }

    #[test]
    fn a_compiled_chain_is_as_deep_as_plan_depth_says() {
        fn depth(e: &Expr) -> usize {
            match e {
                Expr::Not(x) => 1 + depth(x),
                Expr::And(a, b) | Expr::Or(a, b) | Expr::Compare(a, _, b) | Expr::In(a, b) => 1 + depth(a).max(depth(b)),
                _ => 1,
            }
        }
        for n in [2, 3, 4, 5, 7, 8, 9, 100, 512] {
            let parsed = when::parse(&vec!["x"; n].join(" and ")).unwrap();
            assert_eq!(depth(&condition(&parsed)), parsed.plan_depth(), "{n} operands");
        }
        let nested = when::parse("(a or b or (c and not (d or e or f or g)))").unwrap();
        assert_eq!(depth(&condition(&nested)), nested.plan_depth());
    }

    fn step(id: &str, deps: &[&str]) -> WorkerStep {
        WorkerStep {
            id: id.to_owned(),
            role: String::new(),
            model: ModelRef {
                provider: String::new(),
                name: String::new(),
                temperature: None,
                max_tokens: None,
            },
            inputs: Vec::new(),
            depends_on: deps.iter().map(|d| (*d).to_owned()).collect(),
            output_name: id.to_owned(),
            output_format: OutputFormat::Text,
            output_schema_ref: None,
            tools: Vec::new(),
            timeout_seconds: None,
            retries: 0,
            cost_budget_usd: None,
        }
    }

    /// The quadratic-per-level algorithm `levels` replaced, kept as its oracle.
    fn rescanning_levels(workers: &[WorkerStep]) -> Result<Vec<Vec<String>>, String> {
        let mut done: BTreeSet<&str> = BTreeSet::new();
        let mut groups = Vec::new();
        while done.len() < workers.len() {
            let ready: Vec<String> = workers
                .iter()
                .filter(|w| {
                    !done.contains(w.id.as_str())
                        && w.depends_on
                            .iter()
                            .all(|d| done.contains(d.as_str()) || !workers.iter().any(|o| &o.id == d))
                })
                .map(|w| w.id.clone())
                .collect();
            if ready.is_empty() {
                let left: Vec<&str> = workers.iter().map(|w| w.id.as_str()).filter(|id| !done.contains(id)).collect();
                return Err(left.join(", "));
            }
            for id in &ready {
                done.insert(workers.iter().find(|w| &w.id == id).map(|w| w.id.as_str()).unwrap_or_default());
            }
            groups.push(ready);
        }
        Ok(groups)
    }

    #[test]
    fn levels_keep_declaration_order_within_a_level() {
        let workers = [step("c", &["a"]), step("a", &[]), step("b", &["outside"]), step("d", &["c", "b"])];
        let groups = levels(&workers).unwrap();
        assert_eq!(groups, vec![vec!["a", "b"], vec!["c"], vec!["d"]]);
        assert_eq!(levels(&[]), Ok(Vec::new()));
    }

    #[test]
    fn a_cycle_names_every_worker_it_leaves_unplaced() {
        let workers = [
            step("a", &[]),
            step("b", &["c"]),
            step("c", &["b"]),
            step("d", &["c"]),
            step("e", &["e"]),
        ];
        assert_eq!(levels(&workers), Err("b, c, d, e".to_owned()));
    }

    /// Random graphs over a few ids, repeated ids, self-loops and unknown
    /// dependencies included: the same groups, or the same error, as the
    /// rescanning algorithm.
    #[test]
    fn levels_agree_with_the_rescanning_algorithm() {
        let ids = ["a", "b", "c", "d", "e", "f", "g", "h", "x"];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for round in 0..20_000 {
            let count = next(9);
            // Mostly distinct ids (the checked case), sometimes repeats.
            let workers: Vec<WorkerStep> = (0..count)
                .map(|i| {
                    let id = if round % 4 == 0 { ids[next(count.max(1))] } else { ids[i] };
                    let mut deps: Vec<&str> = (0..next(4)).map(|_| ids[next(ids.len())]).collect();
                    deps.sort_unstable();
                    deps.dedup();
                    step(id, &deps)
                })
                .collect();
            assert_eq!(levels(&workers), rescanning_levels(&workers), "{workers:?}");
        }
    }
}
