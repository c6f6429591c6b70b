use loopc_diagnostics::Diagnostic;

use super::Rule;
use crate::registry::declare_rule;
use crate::Context;

/// Which safety types the runtime enforces, and the config keys each reads.
use loopc_ir::safety_config;

declare_rule! {
    /// ## What it does
    /// Notes safety constraint types that loopc's own runtime cannot
    /// enforce (docs/semantics.md §7 lists those it does): they need an
    /// external enforcer. (`loopc compile` refuses them unless explicitly
    /// allowed.)
    ///
    /// ## Why
    /// A constraint that nobody enforces is worse than none: reviewers
    /// believe the loop is protected.
    pub struct UnenforceableSafety { code: "L422", name: "unenforceable-safety", group: "readiness", severity: Info, summary: "A safety constraint type that loopc's runtime cannot enforce." }
}

declare_rule! {
    /// ## What it does
    /// Notes a loop that edits code (a worker with `format: code` output or a
    /// file-writing tool) or spends money, that has no deterministic gate,
    /// and no path to a person: no human evaluator, no `human_gate`
    /// constraint, no `escalate_human` action, no `manual` optimizer.
    ///
    /// ## Why
    /// When only models judge model output, a person must be able to step
    /// in before changes land or money is spent.
    pub struct NoHumanPath { code: "L423", name: "no-human-path", group: "readiness", severity: Info, summary: "A loop that edits code or spends money has neither a deterministic gate nor a path to a human." }
}

declare_rule! {
    /// ## What it does
    /// Checks the `config` keys that loopc's runtime reads for the safety
    /// types it enforces — `tool_allowlist.allowed`; `secret_scan`
    /// `entropy_threshold`, `hex_entropy_threshold`, `min_length`, `entropy`;
    /// `output_bounds` `max_chars`, `max_bytes`, `max_lines`, `max_items`,
    /// `max_lines_changed`, `forbidden_paths`; `schema_enforce` `schema` or
    /// `schema_ref`; `human_gate.message`; `rate_limit`
    /// `requests_per_minute`, `max_calls` — and reports a value of the wrong
    /// kind. Other keys are left alone: LSS leaves `config` open.
    ///
    /// ## Why
    /// A limit the runtime cannot read is no limit: found here, at its line,
    /// instead of when a run starts (or never).
    ///
    /// ## Example
    /// ```yaml
    /// safety_constraints:
    ///   - id: calls
    ///     type: rate_limit
    ///     scope: pre_worker
    ///     action: halt
    ///     config: {max_calls: "two"}   # L424: must be a whole number
    /// ```
    pub struct SafetyConfig { code: "L424", name: "safety-config", group: "readiness", severity: Error, summary: "A safety constraint's config gives a key loopc's runtime reads a value of the wrong kind." }
}

impl Rule for SafetyConfig {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        let Some(items) = cx.root.get("safety_constraints").and_then(loopc_syntax::Node::as_seq) else {
            return;
        };
        for item in items {
            let Some(kind) = item.get("type").and_then(loopc_syntax::Node::as_str) else {
                continue;
            };
            let keys = safety_config::known_keys(kind);
            let Some(config) = item.get("config").and_then(loopc_syntax::Node::as_map) else {
                continue;
            };
            for entry in &config.entries {
                let Some((key, wants)) = keys.iter().find(|(k, _)| *k == entry.key) else {
                    continue;
                };
                let value = entry.value.to_json();
                if let (loopc_ir::safety_config::ConfigValue::Words(words), Some(items)) = (wants, entry.value.as_seq()) {
                    // A list of words: point at each word that is not one.
                    for item in items {
                        let Some(word) = item.as_str().filter(|w| !words.contains(w)) else {
                            continue;
                        };
                        out.push(
                            cx.report(
                                &SafetyConfig,
                                item.span,
                                format!("`{kind}` config `{key}`: `{word}` is not a value loopc's runtime knows"),
                            )
                            .with_label(match crate::suggest::closest(word, words.iter().copied()) {
                                Some(near) => format!("did you mean `{near}`?"),
                                None => "unknown".to_owned(),
                            })
                            .with_help(format!("`{key}` takes {}", crate::suggest::list(words, 10))),
                        );
                    }
                    if items.iter().all(|i| i.as_str().is_some()) {
                        continue;
                    }
                }
                if let Some(why) = wants.problem(&value) {
                    let mut shown = value.to_string();
                    if shown.chars().count() > 40 {
                        shown = shown.chars().take(40).collect::<String>() + "…";
                    }
                    out.push(
                        cx.report(&SafetyConfig, entry.value.span, format!("`{kind}` config `{key}` {why}"))
                            .with_label(format!("got {shown}"))
                            .with_help("loopc's runtime reads this key; fix its value (other config keys are not checked)"),
                    );
                }
            }
            if let (Some(_), Some(second)) = (config.entry("schema"), config.entry("schema_ref")) {
                out.push(
                    cx.report(
                        &SafetyConfig,
                        second.key_span,
                        "`schema_enforce` config gives both `schema` and `schema_ref`",
                    )
                    .with_label("one of the two")
                    .with_help("keep the inline `schema` or the `schema_ref` file, not both"),
                );
            }
        }
    }
}

impl Rule for UnenforceableSafety {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        for s in &cx.spec.safety_constraints {
            let Some(kind) = &s.kind else { continue };
            if safety_config::is_enforced(kind.as_str()) {
                continue;
            }
            out.push(
                cx.report(
                    &UnenforceableSafety,
                    kind.span,
                    format!("loopc's runtime cannot enforce `{}` constraints", kind.as_str()),
                )
                .with_label("needs an external enforcer")
                .with_help(format!(
                    "the runtime enforces {}; bind an external checker for this one",
                    crate::suggest::list(&safety_config::enforced_types(), 10)
                )),
            );
        }
    }
}

const WRITE_TOOLS: &[&str] = &[
    "apply_patch",
    "write_file",
    "edit_file",
    "git_commit",
    "git_push",
    "create_pull_request",
    "shell",
    "bash",
];

impl Rule for NoHumanPath {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        let spec = cx.spec;
        let edits_code = spec.workers.iter().any(|w| {
            w.output_format.as_deref().map(String::as_str) == Some("code") || w.tools.iter().any(|t| WRITE_TOOLS.contains(&t.as_str()))
        });
        let spends = spec.workers.iter().any(|w| w.model.is_some());
        let deterministic_gate = spec
            .evaluators
            .iter()
            .any(|e| matches!(e.kind.as_deref(), Some(loopc_ir::EvaluatorKind::Deterministic)));
        if !(edits_code || spends) || deterministic_gate {
            return;
        }
        let human_evaluator = spec
            .evaluators
            .iter()
            .any(|e| matches!(e.kind.as_deref(), Some(loopc_ir::EvaluatorKind::Human)));
        let human_gate = spec.safety_constraints.iter().any(|s| {
            s.kind.as_deref().map(String::as_str) == Some("human_gate") || s.action.as_deref().map(String::as_str) == Some("escalate_human")
        });
        let escalates = spec.termination.iter().any(|t| {
            t.failure
                .iter()
                .filter_map(|c| c.action.as_deref())
                .chain(t.stall.iter().filter_map(|c| c.action.as_deref()))
                .any(|a| a == "escalate_human")
        });
        let manual = spec
            .optimization_strategy
            .as_ref()
            .and_then(|o| o.kind.as_deref())
            .is_some_and(|k| k == "manual");
        if human_evaluator || human_gate || escalates || manual {
            return;
        }
        let at = cx
            .root
            .as_map()
            .and_then(|m| m.entry("evaluators"))
            .map_or(spec.span, |e| e.key_span);
        out.push(
            cx.report(
                &NoHumanPath,
                at,
                format!(
                    "this loop {} with no deterministic gate and no path to a human",
                    if edits_code { "edits code" } else { "spends money" }
                ),
            )
            .with_label("only model judges")
            .with_help("add a deterministic evaluator, a human evaluator, a `human_gate` constraint or an `escalate_human` action"),
        );
    }
}
