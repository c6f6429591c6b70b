//! Syntax tree → IR. Each `lower_*` reads one LSS object; wrong-typed fields
//! are skipped silently because schema validation reports them.

use loopc_diagnostics::Span;
use loopc_syntax::{Map, Node};

use crate::model::*;
use crate::Sp;

/// Lower a parsed document (its root mapping) to the IR.
pub fn lower(root: &Node) -> Spec {
    let Some(map) = root.as_map() else {
        return Spec {
            span: root.span,
            ..Spec::default()
        };
    };
    let f = Fields { map };
    let mut spec = Spec {
        span: root.span,
        loop_name: f.text("loop_name"),
        version: f.text("version"),
        objective: f.text("objective"),
        inputs: f.object("inputs").map(lower_inputs),
        memory: f.object("memory").map(lower_memory),
        workers: f.objects("workers").map(lower_worker).collect(),
        evaluators: f.objects("evaluators").map(lower_evaluator).collect(),
        feedback_channels: f.objects("feedback_channels").map(lower_feedback).collect(),
        optimization_strategy: f.object("optimization_strategy").map(lower_optimization),
        termination: f
            .object("termination_conditions")
            .map(lower_termination)
            .or_else(|| lower_termination_list(&f)),
        metrics: f.objects("metrics").map(lower_metric).collect(),
        safety_constraints: f.objects("safety_constraints").map(lower_safety).collect(),
        cost_limits: f.object("cost_limits").map(lower_cost_limits),
        composition: f.object("composition").map(lower_composition),
    };
    crate::meant::read_references(&mut spec);
    spec
}

/// Typed access to the members of one mapping.
#[derive(Clone, Copy)]
struct Fields<'a> {
    map: &'a Map,
}

/// A mapping node with its span.
type Object<'a> = (Span, Fields<'a>);

impl<'a> Fields<'a> {
    fn node(&self, key: &str) -> Option<&'a Node> {
        self.map.get(key)
    }
    fn text(&self, key: &str) -> Text {
        let n = self.node(key)?;
        Some(Sp::new(n.as_str()?.to_owned(), n.span))
    }
    fn number(&self, key: &str) -> Number {
        let n = self.node(key)?;
        Some(Sp::new(n.as_f64()?, n.span))
    }
    fn integer(&self, key: &str) -> Integer {
        let n = self.node(key)?;
        Some(Sp::new(n.as_i64()?, n.span))
    }
    fn boolean(&self, key: &str) -> Option<Sp<bool>> {
        let n = self.node(key)?;
        Some(Sp::new(n.as_bool()?, n.span))
    }
    fn texts(&self, key: &str) -> Vec<Sp<String>> {
        self.node(key).and_then(Node::as_seq).map_or_else(Vec::new, texts_of)
    }
    fn object(&self, key: &str) -> Option<Object<'a>> {
        object_of(self.node(key)?)
    }
    fn objects(&self, key: &str) -> impl Iterator<Item = Object<'a>> {
        self.node(key).and_then(Node::as_seq).unwrap_or(&[]).iter().filter_map(object_of)
    }
}

fn object_of(node: &Node) -> Option<Object<'_>> {
    Some((node.span, Fields { map: node.as_map()? }))
}

fn texts_of(items: &[Node]) -> Vec<Sp<String>> {
    items.iter().filter_map(|n| Some(Sp::new(n.as_str()?.to_owned(), n.span))).collect()
}

fn lower_inputs((span, f): Object<'_>) -> Inputs {
    let fields = f
        .node("schema")
        .and_then(Node::as_map)
        .map(|schema| {
            schema
                .entries
                .iter()
                .filter_map(|entry| {
                    let (span, field) = object_of(&entry.value)?;
                    Some(InputField {
                        name: Sp::new(entry.key.clone(), entry.key_span),
                        span,
                        kind: field.text("type"),
                        description: field.text("description"),
                        required: field.boolean("required"),
                        values: field
                            .node("values")
                            .and_then(Node::as_seq)
                            .map_or_else(Vec::new, |items| items.iter().map(|n| Sp::new(n.to_json(), n.span)).collect()),
                        default: field.node("default").map(|n| Sp::new(n.to_json(), n.span)),
                        pattern: field.text("pattern"),
                        minimum: field.number("minimum"),
                        maximum: field.number("maximum"),
                        min_length: field.integer("min_length"),
                        max_length: field.integer("max_length"),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Inputs { span, fields }
}

fn lower_memory((span, f): Object<'_>) -> Memory {
    let retention = f.object("retention").map(|(_, r)| r);
    let write = f.object("write_policy").map(|(_, w)| w);
    let read_policy = f
        .node("read_policy")
        .and_then(Node::as_map)
        .map(|policy| {
            policy
                .entries
                .iter()
                .map(|e| (Sp::new(e.key.clone(), e.key_span), e.value.as_seq().map_or_else(Vec::new, texts_of)))
                .collect()
        })
        .unwrap_or_default();
    Memory {
        span,
        kind: f.text("type"),
        backend: f.text("backend"),
        retention_unit: retention.and_then(|r| r.text("unit")),
        retention_value: retention.and_then(|r| r.number("value")),
        allowed_writers: write.map_or_else(Vec::new, |w| w.texts("allowed_writers")),
        write_schema: write.and_then(|w| w.text("schema")),
        max_entries: write.and_then(|w| w.integer("max_entries")),
        read_policy,
    }
}

fn lower_model((span, f): Object<'_>) -> Model {
    Model {
        span,
        provider: f.text("provider"),
        name: f.text("name"),
        temperature: f.number("temperature"),
        max_tokens: f.integer("max_tokens"),
        top_p: f.number("top_p"),
    }
}

fn lower_worker((span, f): Object<'_>) -> Worker {
    let outputs = f.object("outputs").map(|(_, o)| o);
    Worker {
        span,
        id: f.text("id"),
        role: f.text("role"),
        model: f.object("model").map(lower_model),
        depends_on: f.texts("depends_on"),
        inputs: f.objects("inputs").filter_map(|(_, i)| i.text("from")).collect(),
        output_name: outputs.and_then(|o| o.text("name")),
        output_format: outputs.and_then(|o| o.text("format")),
        output_schema_ref: outputs.and_then(|o| o.text("schema_ref")),
        tools: f.texts("tools"),
        timeout_seconds: f.integer("timeout_seconds"),
        retries: f.integer("retries"),
        cost_budget_usd: f.number("cost_budget_usd"),
    }
}

fn lower_rubric((span, f): Object<'_>) -> Rubric {
    Rubric {
        span,
        dimensions: f
            .objects("dimensions")
            .map(|(span, d)| RubricDimension {
                span,
                name: d.text("name"),
                weight: d.number("weight"),
                scale: d.node("scale").and_then(|n| match n.as_seq()? {
                    [lo, hi] => Some(Sp::new((lo.as_f64()?, hi.as_f64()?), n.span)),
                    _ => None,
                }),
                criteria: d.text("criteria"),
            })
            .collect(),
        pass_threshold: f.number("pass_threshold"),
    }
}

fn lower_evaluator((span, f): Object<'_>) -> Evaluator {
    Evaluator {
        span,
        id: f.text("id"),
        kind: f.text("type").map(|t| Sp::new(EvaluatorKind::parse(&t), t.span)),
        runs_after: f.texts("runs_after"),
        aggregation: f.text("aggregation"),
        implementation: f.text("implementation"),
        rubric: f.object("rubric").map(lower_rubric),
        model: f.object("model").map(lower_model),
        timeout_seconds: f.integer("timeout_seconds"),
        queue: f.text("queue"),
        instructions: f.text("instructions"),
    }
}

fn lower_feedback((span, f): Object<'_>) -> FeedbackChannel {
    FeedbackChannel {
        span,
        id: f.text("id"),
        source: f.text("source"),
        destination: f.text("destination"),
        format: f.text("format"),
        fields: f.texts("fields"),
        max_tokens: f.integer("max_tokens"),
        when: f.text("when"),
        template_ref: f.text("template_ref"),
    }
}

fn lower_optimization((span, f): Object<'_>) -> OptimizationStrategy {
    let config = f.object("config").map(|(_, c)| c);
    let rollback = f.object("rollback").map(|(_, r)| r);
    OptimizationStrategy {
        span,
        kind: f.text("type"),
        max_steps: f.integer("max_steps"),
        refinement_target: config.and_then(|c| c.text("refinement_target")),
        secondary_targets: config.map_or_else(Vec::new, |c| c.texts("secondary_targets")),
        rollback_on_metric_drop: rollback.and_then(|r| r.number("on_metric_drop")),
        rollback_on_safety_failure: rollback.and_then(|r| r.boolean("on_safety_failure")),
    }
}

fn lower_termination((span, f): Object<'_>) -> Termination {
    Termination {
        span,
        success: f
            .objects("success")
            .map(|(span, c)| SuccessCondition {
                span,
                metric: c.text("metric"),
                operator: c.text("operator"),
                value: c.number("value"),
                consecutive: c.integer("consecutive"),
            })
            .collect(),
        failure: f.objects("failure").map(lower_failure).collect(),
        stall: f
            .objects("stall")
            .map(|(span, c)| StallCondition {
                span,
                metric: c.text("metric"),
                window_iterations: c.integer("window_iterations"),
                min_improvement: c.number("min_improvement"),
                action: c.text("action"),
            })
            .collect(),
    }
}

fn lower_failure((span, c): Object<'_>) -> FailureCondition {
    FailureCondition {
        span,
        kind: c.text("type"),
        action: c.text("action"),
        value: c.number("value"),
        consecutive: c.integer("consecutive"),
    }
}

/// The older list dialect, `termination_conditions: [{type: max_iterations,
/// value: 12}, {type: all_tests_pass}]`: not LSS 1.0 (the schema reports
/// it), but its limits bound the loop as much as score's reading of them
/// says, so check, diagram and score agree on that. Items of a stopping
/// kind become failure conditions; the rest (success tests by name, such
/// as `all_tests_pass`, which no metric backs) are left out.
fn lower_termination_list(f: &Fields<'_>) -> Option<Termination> {
    const STOPS: &[&str] = &[
        "max_iterations",
        "timeout",
        "budget_exceeded",
        "safety_violation",
        "evaluator_error",
    ];
    let node = f.node("termination_conditions")?;
    let items = node.as_seq()?;
    Some(Termination {
        span: node.span,
        success: Vec::new(),
        failure: items
            .iter()
            .filter_map(object_of)
            .filter(|(_, c)| c.text("type").is_some_and(|t| STOPS.contains(&t.as_str())))
            .map(lower_failure)
            .collect(),
        stall: Vec::new(),
    })
}

fn lower_metric((span, f): Object<'_>) -> Metric {
    Metric {
        span,
        name: f.text("name"),
        primary: f.boolean("primary"),
        definition: f.text("definition"),
        source: f.text("source"),
        unit: f.text("unit"),
        target: f.number("target"),
        regression_threshold: f.number("regression_threshold"),
    }
}

fn lower_safety((span, f): Object<'_>) -> SafetyConstraint {
    SafetyConstraint {
        span,
        id: f.text("id"),
        kind: f.text("type"),
        scope: f.text("scope"),
        applies_to: f.texts("applies_to"),
        action: f.text("action"),
        severity: f.text("severity"),
        on_error: f.text("on_error"),
        rule: f.text("rule"),
        config: f.node("config").map(Node::to_json),
    }
}

fn lower_cost_limits((span, f): Object<'_>) -> CostLimits {
    let approach = f.object("on_approach").map(|(_, a)| a);
    CostLimits {
        span,
        per_iteration_usd: f.number("per_iteration_usd"),
        cumulative_usd: f.number("cumulative_usd"),
        token_soft_cap: f.integer("token_soft_cap"),
        on_approach_threshold_percent: approach.and_then(|a| a.number("threshold_percent")),
        on_approach_action: approach.and_then(|a| a.text("action")),
        on_exceed_action: f.object("on_exceed").and_then(|(_, e)| e.text("action")),
        price_table_ref: f.text("price_table_ref"),
    }
}

fn lower_composition((span, f): Object<'_>) -> Composition {
    Composition {
        span,
        kind: f.text("type").map(|t| {
            let kind = match t.as_str() {
                "sequential" => CompositionKind::Sequential,
                "parallel" => CompositionKind::Parallel,
                "nested" => CompositionKind::Nested,
                other => CompositionKind::Other(other.to_owned()),
            };
            Sp::new(kind, t.span)
        }),
        children: f
            .objects("children")
            .map(|(span, c)| CompositionChild {
                span,
                id: c.text("id"),
                reference: c.text("ref"),
                role: c.text("role"),
                trigger: c.text("trigger"),
            })
            .collect(),
        adapters: f
            .objects("adapters")
            .map(|(span, a)| Adapter {
                span,
                from: a.text("from"),
                to: a.text("to"),
                transform: a.text("transform"),
            })
            .collect(),
        merge: f.object("merge").map(|(span, m)| Merge {
            span,
            strategy: m.text("strategy"),
            min_branches_pass: m.integer("min_branches_pass"),
            preserve_dissent: m.boolean("preserve_dissent"),
            synthesizer: m.text("synthesizer"),
        }),
    }
}
