//! IR → runtime plan (docs/semantics.md): resolve references, expand `*`,
//! order workers, compile `when`, apply the defaults the semantics choose.
//!
//! Run on specs that `loopc check` passed; what is still missing is
//! reported as an error rather than guessed.

use std::collections::{BTreeSet, HashMap};

use loopc_ir::{self as ir, when, Spec};
use loopc_plan::*;

fn text(t: &ir::Text) -> Option<String> {
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
pub(crate) fn to_plan(spec: &Spec, source: &str, spec_path: &std::path::Path) -> Result<Plan, Vec<String>> {
    let mut errors = Vec::new();
    let worker_ids: Vec<String> = spec.workers.iter().filter_map(|w| text(&w.id)).collect();

    let inputs = spec
        .inputs
        .iter()
        .flat_map(|i| &i.fields)
        .map(|f| InputDecl {
            name: f.name.value.clone(),
            kind: word(&f.kind, InputKind::parse, InputKind::String, "input type", &mut errors),
            required: f.required.as_ref().is_some_and(|r| r.value),
            values: f.values.iter().map(|v| v.value.clone()).collect(),
            default: f.default.as_ref().map(|d| d.value.clone()),
            pattern: text(&f.pattern),
            minimum: f.minimum.as_ref().map(|m| m.value),
            maximum: f.maximum.as_ref().map(|m| m.value),
            min_length: f.min_length.as_ref().map(|m| m.value.max(0) as u64),
            max_length: f.max_length.as_ref().map(|m| m.value.max(0) as u64),
        })
        .collect();

    let memory = match &spec.memory {
        Some(m) => MemoryPlan {
            kind: word(&m.kind, MemoryKind::parse, MemoryKind::Ephemeral, "memory type", &mut errors),
            allowed_writers: expand(&m.allowed_writers, &worker_ids),
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
    };

    let mut workers: Vec<WorkerStep> = Vec::new();
    for w in &spec.workers {
        let Some(id) = text(&w.id) else { continue };
        let bindings: Vec<Binding> = w
            .inputs
            .iter()
            .filter_map(|from| {
                let (kind, rest) = from.split_once('.')?;
                Some(match kind {
                    "inputs" => Binding::Input(rest.to_owned()),
                    "memory" => Binding::Memory(rest.to_owned()),
                    _ => Binding::Worker(rest.to_owned()),
                })
            })
            .collect();
        // A `workers.X` input implies ordering after X (semantics §2).
        let mut depends_on: BTreeSet<String> = w.depends_on.iter().map(|d| d.value.clone()).collect();
        depends_on.extend(bindings.iter().filter_map(|b| match b {
            Binding::Worker(x) => Some(x.clone()),
            _ => None,
        }));
        workers.push(WorkerStep {
            model: model(&w.model, &format!("worker `{id}`"), &mut errors),
            role: text(&w.role).unwrap_or_default(),
            inputs: bindings,
            depends_on: depends_on.into_iter().collect(),
            output_name: text(&w.output_name).unwrap_or_else(|| id.clone()),
            output_format: word(
                &w.output_format,
                OutputFormat::parse,
                OutputFormat::Text,
                "output format",
                &mut errors,
            ),
            output_schema_ref: text(&w.output_schema_ref),
            tools: w.tools.iter().map(|t| t.value.clone()).collect(),
            timeout_seconds: w.timeout_seconds.as_ref().map(|t| t.value.max(1) as u64),
            retries: w.retries.as_ref().map_or(0, |r| r.value.clamp(0, 100) as u32),
            cost_budget_usd: w.cost_budget_usd.as_ref().map(|c| c.value),
            id,
        });
    }
    let groups = match levels(&workers) {
        Ok(groups) => groups,
        Err(cycle) => {
            errors.push(format!("workers {cycle} depend on each other"));
            Vec::new()
        }
    };
    let order: HashMap<&str, usize> = groups.iter().flatten().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
    workers.sort_by_key(|w| order.get(w.id.as_str()).copied().unwrap_or(usize::MAX));

    let evaluators = spec
        .evaluators
        .iter()
        .filter_map(|e| {
            let id = text(&e.id)?;
            let kind = match e.kind.as_deref() {
                Some(ir::EvaluatorKind::Deterministic) => EvaluatorKind::Deterministic {
                    implementation: text(&e.implementation).unwrap_or_default(),
                },
                Some(ir::EvaluatorKind::LlmRubric) => {
                    let rubric = e.rubric.as_ref();
                    EvaluatorKind::LlmRubric {
                        model: model(&e.model, &format!("evaluator `{id}`"), &mut errors),
                        dimensions: rubric
                            .map(|r| {
                                r.dimensions
                                    .iter()
                                    .map(|d| RubricDimension {
                                        name: text(&d.name).unwrap_or_default(),
                                        weight: d.weight.as_ref().map_or(0.0, |w| w.value),
                                        scale: d.scale.as_ref().map_or((0.0, 1.0), |s| s.value),
                                        criteria: text(&d.criteria).unwrap_or_default(),
                                    })
                                    .collect()
                            })
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
                runs_after: expand(&e.runs_after, &worker_ids),
                aggregation: e
                    .aggregation
                    .as_ref()
                    .map(|_| word(&e.aggregation, Aggregation::parse, Aggregation::Min, "aggregation", &mut errors)),
                kind,
                id,
            })
        })
        .collect();

    let metrics = spec
        .metrics
        .iter()
        .filter_map(|m| {
            let source = text(&m.source)?;
            let (kind, id) = source.split_once('.')?;
            Some(MetricPlan {
                name: text(&m.name)?,
                source: match kind {
                    "evaluators" => MetricSource::Evaluator(id.to_owned()),
                    "workers" => MetricSource::Worker(id.to_owned()),
                    _ => MetricSource::Telemetry(id.to_owned()),
                },
                unit: word(&m.unit, MetricUnit::parse, MetricUnit::Ratio, "metric unit", &mut errors),
                primary: m.primary.as_ref().is_some_and(|p| p.value),
                target: m.target.as_ref().map(|t| t.value),
            })
        })
        .collect();

    let feedback = spec
        .feedback_channels
        .iter()
        .filter_map(|f| {
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
        })
        .collect();

    let termination = match &spec.termination {
        None => TerminationPlan {
            success: Vec::new(),
            failure: Vec::new(),
            stall: Vec::new(),
        },
        Some(t) => {
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
            let stall = t
                .stall
                .iter()
                .filter_map(|c| {
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
                })
                .collect();
            TerminationPlan { success, failure, stall }
        }
    };

    let optimizer = match &spec.optimization_strategy {
        Some(o) => OptimizerPlan {
            kind: word(
                &o.kind,
                OptimizerKind::parse,
                OptimizerKind::Manual,
                "optimization type",
                &mut errors,
            ),
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
    };

    let budgets = match &spec.cost_limits {
        Some(c) => Budgets {
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
                    &mut errors,
                )
            }),
            on_exceed: word(
                &c.on_exceed_action,
                BudgetAction::parse,
                BudgetAction::Halt,
                "on_exceed action",
                &mut errors,
            ),
        },
        None => {
            errors.push("the spec has no cost_limits".into());
            Budgets {
                per_iteration_usd: 0.0,
                cumulative_usd: 0.0,
                token_soft_cap: None,
                on_approach_percent: None,
                on_approach: None,
                on_exceed: BudgetAction::Halt,
            }
        }
    };

    let safety = spec
        .safety_constraints
        .iter()
        .filter_map(|s| safety_check(s, &worker_ids, spec_path, &mut errors))
        .collect();

    if spec.composition.is_some() {
        errors.push(
            "compositions (LSS 1.1) are checked and drawn but not executed by this runtime yet; run each child spec on its own".into(),
        );
    }
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
    })
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

/// Kahn's algorithm by levels: each level's workers depend only on earlier
/// levels. Within a level, declaration order. Err names a cycle's members.
fn levels(workers: &[WorkerStep]) -> Result<Vec<Vec<String>>, String> {
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

/// A parsed `when` in the plan's form (offsets dropped).
fn condition(e: &when::Expr) -> Expr {
    match e {
        when::Expr::Number(n) => Expr::Number(*n),
        when::Expr::Text(s) => Expr::Text(s.clone()),
        when::Expr::Bool(b) => Expr::Bool(*b),
        when::Expr::Null => Expr::Null,
        when::Expr::Path(p, _) => Expr::Path(p.clone()),
        when::Expr::Not(x) => Expr::Not(Box::new(condition(x))),
        when::Expr::And(a, b) => Expr::And(Box::new(condition(a)), Box::new(condition(b))),
        when::Expr::Or(a, b) => Expr::Or(Box::new(condition(a)), Box::new(condition(b))),
        when::Expr::Compare(a, op, b) => Expr::Compare(Box::new(condition(a)), compare(*op), Box::new(condition(b))),
    }
}

/// One safety constraint with its typed configuration: the keys the
/// runtime reads ([`loopc_ir::safety_config`]), others dropped (LSS leaves
/// `config` open). A constraint of an enforced type that sets nothing to
/// enforce cannot run as declared: an error.
fn safety_check(
    s: &ir::SafetyConstraint,
    worker_ids: &[String],
    spec_path: &std::path::Path,
    errors: &mut Vec<String>,
) -> Option<SafetyCheck> {
    let id = text(&s.id)?;
    let kind = SafetyKind::parse(s.kind.as_deref()?)?;
    let mut fail = |why: String| errors.push(format!("safety constraint `{id}` ({kind}): {why}"));
    let written = match &s.config {
        Some(serde_json::Value::Object(m)) => m.clone(),
        _ => serde_json::Map::new(),
    };
    let read: serde_json::Map<String, serde_json::Value> = loopc_ir::safety_config::known_keys(kind.as_str())
        .iter()
        .filter_map(|(key, wants)| {
            let value = written.get(*key)?;
            // Counts may be written `3.0` (YAML and JSON agree it is 3).
            let value = match wants {
                loopc_ir::safety_config::ConfigValue::Count | loopc_ir::safety_config::ConfigValue::MinLength => {
                    loopc_ir::safety_config::whole(value).map_or_else(|| value.clone(), serde_json::Value::from)
                }
                _ => value.clone(),
            };
            Some(((*key).to_owned(), value))
        })
        .collect();
    let typed = |value: serde_json::Map<String, serde_json::Value>| serde_json::Value::Object(value);
    let rule = match kind {
        SafetyKind::ToolAllowlist => serde_json::from_value(typed(read)).map(SafetyRule::ToolAllowlist),
        SafetyKind::SecretScan => serde_json::from_value(typed(read)).map(SafetyRule::SecretScan),
        SafetyKind::HumanGate => serde_json::from_value(typed(read)).map(SafetyRule::HumanGate),
        SafetyKind::OutputBounds => serde_json::from_value::<OutputBounds>(typed(read)).map(SafetyRule::OutputBounds),
        SafetyKind::RateLimit => serde_json::from_value::<RateLimit>(typed(read)).map(SafetyRule::RateLimit),
        SafetyKind::SchemaEnforce => {
            let schema = match (read.get("schema"), read.get("schema_ref")) {
                (Some(inline), _) => Ok((inline.clone(), None)),
                (None, Some(serde_json::Value::String(reference))) => crate::schemas::load(spec_path, reference)
                    .map(|doc| (doc, Some(reference.clone())))
                    .map_err(|why| format!("schema_ref `{reference}` {why}")),
                _ => Err("gives no `schema` (inline) or `schema_ref` (a file): nothing to enforce".to_owned()),
            };
            match schema {
                Ok((schema, source)) => Ok(SafetyRule::SchemaEnforce(SchemaEnforce { schema, source })),
                Err(why) => {
                    fail(why);
                    return None;
                }
            }
        }
        SafetyKind::InjectionDetect => Ok(SafetyRule::InjectionDetect(typed(written))),
        SafetyKind::PiiDetect => Ok(SafetyRule::PiiDetect(typed(written))),
        SafetyKind::EgressMonitor => Ok(SafetyRule::EgressMonitor(typed(written))),
        SafetyKind::TenantIsolation => Ok(SafetyRule::TenantIsolation(typed(written))),
    };
    let rule = match rule {
        Ok(rule) => rule,
        // `loopc check` (L424) reports wrong values first; this is a backstop.
        Err(e) => {
            fail(format!("config: {e}"));
            return None;
        }
    };
    let nothing = match &rule {
        SafetyRule::RateLimit(r) => {
            (r.requests_per_minute.is_none() && r.max_calls.is_none()).then_some("sets neither `requests_per_minute` nor `max_calls`")
        }
        SafetyRule::OutputBounds(b) => (!b.has_size_bounds() && b.forbidden_paths.is_empty())
            .then_some("sets no bound (max_chars, max_bytes, max_lines, max_items, max_lines_changed or forbidden_paths)"),
        _ => None,
    };
    if let Some(why) = nothing {
        fail(format!("{why}: nothing to enforce"));
        return None;
    }
    Some(SafetyCheck {
        scope: Scope::parse(s.scope.as_deref()?)?,
        applies_to: if s.applies_to.is_empty() {
            worker_ids.to_vec()
        } else {
            expand(&s.applies_to, worker_ids)
        },
        action: s
            .action
            .as_deref()
            .and_then(|a| SafetyAction::parse(a))
            .unwrap_or(SafetyAction::Halt),
        on_error: s.on_error.as_deref().and_then(|a| OnError::parse(a)).unwrap_or(OnError::Halt),
        rule,
        id,
    })
}
