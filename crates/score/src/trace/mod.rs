//! Observed LES of a Loop Trace 1.0 run (`loopc score --trace RUN.json`).
//!
//! What is read from the trace (fields beyond the schema's are allowed by its
//! `additionalProperties`):
//!
//! * `G_t`: the mean of an iteration's `evaluator_scores` (equal weights);
//!   iterations without scores are skipped. `G_0 = G_1` is the first value.
//! * `G_target`: `metadata.g_target`, else from the spec (success condition,
//!   `quality_threshold`/`all_tests_pass`, primary metric target, rubric
//!   `pass_threshold`, evaluator `threshold`).
//! * `T_actual`: the number of iteration records; `T_budget`:
//!   `metadata.max_iterations`, else the spec's iteration budget.
//! * `τ_t`: `timestamp_t - timestamp_{t-1}` with `started_at` before the first
//!   record (a record's timestamp is when it completed); `τ_total`:
//!   `ended_at` (else the last timestamp) minus `started_at`.
//! * `C_total`: `total_cost_usd`, else the sum of the records' `cost_usd`.
//! * Safety: `violations` lists (per record or top level) of
//!   `{severity: minor|moderate|severe|<weight>, recoverable: bool}`;
//!   `V_budget` from `metadata.violation_budget` (default 0); `H_events` are
//!   human interventions with `trigger: safety`.
//! * Autonomy: `human_interventions` lists (per record or top level) of
//!   `{type, duration_s, trigger}`.

mod observe;

pub(crate) use loopc_trace::parse_datetime;
pub use loopc_trace::validate as validate_trace;

use crate::categories::speed;
use crate::observed;
use crate::reference::{py_int, round_to, Cx};
use crate::{CATEGORIES, WEIGHTS};
use serde::Serialize;
use serde_json::{Map, Value};

/// One category of an observed LES.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObservedCategory {
    /// Category name.
    pub name: String,
    /// Normalized score in [0, 1], rounded to 2 decimals.
    pub score: f64,
    /// LES 1.0 weight.
    pub weight: f64,
    /// Weight after renormalising over the categories present (4 decimals).
    pub effective_weight: f64,
    /// The raw metrics and formula steps behind the score.
    pub explanation: Vec<String>,
}

/// A category left out of a partial observed LES.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MissingCategory {
    /// Category name.
    pub name: String,
    /// Which data the trace lacks.
    pub reason: String,
}

/// The LES 1.0 section 4 diagnostics of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostics {
    /// `T_actual`: iteration records in the trace.
    pub iterations: usize,
    /// `(G_final - G_1) / (T_actual - 1)`; needs goal values and 2 iterations.
    pub convergence_rate: Option<f64>,
    /// `G_final / T_actual`.
    pub iteration_efficiency: Option<f64>,
    /// `C_total / T_actual`.
    pub cost_per_iteration: Option<f64>,
    /// Iterations where `G_t < G_{t-1}`.
    pub regression_count: Option<usize>,
    /// `goal_met`, `budget_exhausted`, `human_stop`, `error` or `unknown`.
    pub termination_reason: String,
    /// The trace's own `termination_reason` string, if any.
    pub termination_reason_raw: Option<String>,
}

/// The observed LES 1.0 of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceScore {
    /// LES on the 0-100 scale, one decimal; `None` when nothing was scored.
    pub les: Option<f64>,
    /// LES on the [0, 1] scale (`les / 100`).
    pub les_normalized: Option<f64>,
    /// `LES-1.0`, or `LES-1.0 (partial, k categories)`.
    pub label: String,
    /// The categories scored, in LES order.
    pub categories: Vec<ObservedCategory>,
    /// The categories left out, and why.
    pub missing: Vec<MissingCategory>,
    /// Section 4 diagnostics (`None` for an invalid trace).
    pub diagnostics: Option<Diagnostics>,
    /// Edge cases applied (section 5) and other remarks.
    pub notes: Vec<String>,
    /// Loop Trace 1.0 schema violations; a trace with any is not scored.
    pub errors: Vec<String>,
    /// `false` for an invalid trace or an unbounded loop (LES 1.0 section 5:
    /// not a valid LES subject).
    pub valid: bool,
}

/// Termination class of section 4 from the trace's `termination_reason`
/// (and `success` when there is none).
pub(crate) fn classify(reason: Option<&str>, success: Option<bool>) -> &'static str {
    let Some(r) = reason.map(str::to_ascii_lowercase) else {
        return if success == Some(true) { "goal_met" } else { "unknown" };
    };
    let has = |words: &[&str]| words.iter().any(|w| r.contains(w));
    if has(&["human", "user", "manual", "cancel", "abort", "interrupt", "reject"]) {
        "human_stop"
    } else if has(&["error", "exception", "crash", "fail", "safety", "violation"]) {
        "error"
    } else if has(&["max_iter", "budget", "exhaust", "cost", "timeout", "time_limit", "limit", "stall"]) {
        "budget_exhausted"
    } else if has(&[
        "goal",
        "success",
        "threshold",
        "quality",
        "pass",
        "met",
        "converge",
        "complete",
        "done",
        "solved",
    ]) || success == Some(true)
    {
        "goal_met"
    } else {
        "unknown"
    }
}

fn obj(v: Option<&Value>) -> Option<&Map<String, Value>> {
    v.and_then(Value::as_object)
}

fn num(m: Option<&Map<String, Value>>, key: &str) -> Option<f64> {
    m.and_then(|m| m.get(key)).and_then(Value::as_f64)
}

/// `G_target` and where it came from.
fn target(meta: Option<&Map<String, Value>>, spec: Option<&Map<String, Value>>) -> Option<(f64, String)> {
    if let Some(x) = num(meta, "g_target") {
        return Some((x, "trace metadata.g_target".into()));
    }
    let spec = spec?;
    match spec.get("termination_conditions") {
        Some(Value::Object(t)) => {
            for c in t.get("success").and_then(Value::as_array).into_iter().flatten() {
                let c = c.as_object();
                let op = c.and_then(|c| c.get("operator")).and_then(Value::as_str);
                if let (Some(v), true) = (num(c, "value"), matches!(op, None | Some("gte" | "gt" | "eq"))) {
                    return Some((v, "spec termination_conditions.success".into()));
                }
            }
        }
        Some(Value::Array(list)) => {
            for c in list.iter().filter_map(Value::as_object) {
                match c.get("type").and_then(Value::as_str) {
                    Some("quality_threshold") => {
                        if let Some(v) = num(Some(c), "value").or_else(|| num(Some(c), "threshold")) {
                            return Some((v, "spec quality_threshold condition".into()));
                        }
                    }
                    Some("all_tests_pass") => return Some((1.0, "spec all_tests_pass condition".into())),
                    _ => {}
                }
            }
        }
        _ => {}
    }
    for m in spec.get("metrics").and_then(Value::as_array).into_iter().flatten() {
        let m = m.as_object();
        if m.and_then(|m| m.get("primary")) == Some(&Value::Bool(true)) {
            if let Some(v) = num(m, "target") {
                return Some((v, "spec primary metric target".into()));
            }
        }
    }
    for e in spec.get("evaluators").and_then(Value::as_array).into_iter().flatten() {
        let e = e.as_object();
        if let Some(v) = num(obj(e.and_then(|e| e.get("rubric"))), "pass_threshold") {
            return Some((v, "spec evaluator rubric pass_threshold".into()));
        }
        if let Some(v) = num(e, "threshold") {
            return Some((v, "spec evaluator threshold".into()));
        }
    }
    None
}

/// `T_budget` and where it came from.
fn budget(meta: Option<&Map<String, Value>>, spec: Option<&Map<String, Value>>) -> Option<(f64, String)> {
    if let Some(x) = num(meta, "max_iterations") {
        return Some((x, "trace metadata.max_iterations".into()));
    }
    let mut cx = Cx::new(false);
    let b = speed::budget(spec?, &mut cx).ok()??;
    if b.value.is_boolean() {
        return None;
    }
    let n = py_int(b.value).ok()?;
    Some((n, format!("spec {}", b.source)))
}

/// Items of every `key` list: per iteration record and at the top level.
/// `None` when no such list exists anywhere (no data).
fn gather<'a>(trace: &'a Map<String, Value>, iters: &[&'a Map<String, Value>], key: &str) -> Option<Vec<&'a Value>> {
    let mut found = false;
    let mut out = Vec::new();
    for src in std::iter::once(trace).chain(iters.iter().copied()) {
        if let Some(Value::Array(items)) = src.get(key) {
            found = true;
            out.extend(items.iter());
        }
    }
    found.then_some(out)
}

fn r4(x: f64) -> f64 {
    round_to(x, 4)
}

/// What the category formulas read from a valid trace, read once: the goal
/// trace, the budget and target, the times and the costs.
struct Run<'a> {
    trace: &'a Map<String, Value>,
    iters: Vec<&'a Map<String, Value>>,
    meta: Option<&'a Map<String, Value>>,
    /// `T_actual`, and as a float for the formulas.
    t_actual: usize,
    tf: f64,
    /// `G_t` of the iterations that have evaluator scores.
    goals: Vec<f64>,
    target: Option<(f64, String)>,
    budget: Option<(f64, String)>,
    /// `τ_t` of each record whose timestamp and predecessor's parse.
    durations: Vec<f64>,
    tau_total: f64,
    c_total: Option<f64>,
    /// Every record's `cost_usd`, when all of them have one.
    all_costs: Option<Vec<f64>>,
    /// The `human_interventions` items (`None`: no such list anywhere).
    interventions: Option<Vec<&'a Value>>,
}

impl<'a> Run<'a> {
    /// Reads a validated trace; `spec` supplies the target and the budget
    /// the trace does not give.
    fn read(m: &'a Map<String, Value>, spec: Option<&Map<String, Value>>) -> Self {
        let iters: Vec<&Map<String, Value>> = m["iterations"]
            .as_array()
            .expect("validated")
            .iter()
            .filter_map(Value::as_object)
            .collect();
        let meta = obj(m.get("metadata"));
        let goals = iters
            .iter()
            .filter_map(|r| {
                let s = obj(r.get("evaluator_scores"))?;
                let vals: Vec<f64> = s.values().filter_map(Value::as_f64).collect();
                (!vals.is_empty()).then(|| vals.iter().sum::<f64>() / vals.len() as f64)
            })
            .collect();
        let (durations, tau_total) = times(m, &iters);
        let per_iter: Vec<Option<f64>> = iters.iter().map(|r| r.get("cost_usd").and_then(Value::as_f64)).collect();
        let c_total = m
            .get("total_cost_usd")
            .and_then(Value::as_f64)
            .or_else(|| per_iter.iter().any(Option::is_some).then(|| per_iter.iter().flatten().sum()));
        Run {
            trace: m,
            interventions: gather(m, &iters, "human_interventions"),
            t_actual: iters.len(),
            tf: iters.len() as f64,
            iters,
            meta,
            goals,
            target: target(meta, spec),
            budget: budget(meta, spec),
            durations,
            tau_total,
            c_total,
            all_costs: per_iter.iter().copied().collect(),
        }
    }

    fn g_first(&self) -> Option<f64> {
        self.goals.first().copied()
    }

    fn g_final(&self) -> Option<f64> {
        self.goals.last().copied()
    }
}

/// `τ_t` of each iteration (from `started_at` to the first timestamp, then
/// between timestamps; a record without one breaks the chain) and `τ_total`
/// (0 when the start or the end is unknown).
fn times(m: &Map<String, Value>, iters: &[&Map<String, Value>]) -> (Vec<f64>, f64) {
    let started = m.get("started_at").and_then(Value::as_str).and_then(parse_datetime);
    let stamps: Vec<Option<f64>> = iters
        .iter()
        .map(|r| r.get("timestamp").and_then(Value::as_str).and_then(parse_datetime))
        .collect();
    let mut durations = Vec::with_capacity(iters.len());
    let mut prev = started;
    for s in &stamps {
        if let (Some(p), Some(s)) = (prev, s) {
            durations.push(s - p);
        }
        prev = *s;
    }
    let ended = m
        .get("ended_at")
        .and_then(Value::as_str)
        .and_then(parse_datetime)
        .or(stamps.last().copied().flatten());
    let tau_total = match (started, ended) {
        (Some(s), Some(e)) => e - s,
        _ => 0.0,
    };
    (durations, tau_total)
}

/// One category from the trace: its score and explanation, or why the
/// trace cannot score it.
type Observed = Result<(f64, Vec<String>), String>;

/// A scored category: its index in [`CATEGORIES`], score and explanation.
struct Scored {
    index: usize,
    score: f64,
    why: Vec<String>,
}

/// Safety's index in [`CATEGORIES`]: premature termination leaves it alone.
const SAFETY: usize = 5;

/// Scores a Loop Trace 1.0 run with the LES 1.0 formulas, over the
/// categories the trace has data for (renormalised weights). The optional
/// spec supplies `G_target` and `T_budget` when the trace does not.
///
/// The trace is validated first ([`validate_trace`]); an invalid trace is
/// not scored (`les` is `None`, `errors` lists why).
pub fn score_trace(trace: &Value, spec: Option<&Value>) -> TraceScore {
    let errors = validate_trace(trace);
    if !errors.is_empty() {
        return not_scored(errors);
    }
    let m = trace.as_object().expect("validated");
    let spec_map = spec.and_then(Value::as_object);
    let run = Run::read(m, spec_map);
    let mut notes = Vec::new();
    if run.budget.is_none() {
        if spec_map.is_some() {
            notes.push("unbounded loop: neither the spec nor the trace declares an iteration budget; LES 1.0 section 5 does not accept it as a scoring subject (declare max_iterations)".to_string());
        } else {
            notes.push("iteration budget unknown: pass the spec or set metadata.max_iterations".to_string());
        }
    }
    let unbounded = run.budget.is_none() && spec_map.is_some();
    let success = m.get("success").and_then(Value::as_bool);
    let reason_raw = m.get("termination_reason").and_then(Value::as_str).map(str::to_string);
    let class = classify(reason_raw.as_deref(), success);

    // Each category in LES order: scored, or missing with the reason.
    let mut scored: Vec<Scored> = Vec::new();
    let mut missing: Vec<MissingCategory> = Vec::new();
    let mut tally = |name: &str, observed: Observed| match observed {
        Ok((score, why)) => scored.push(Scored {
            index: CATEGORIES.iter().position(|n| *n == name).expect("an LES category"),
            score,
            why,
        }),
        Err(reason) => missing.push(MissingCategory { name: name.into(), reason }),
    };
    tally("effectiveness", observe::effectiveness(&run));
    tally("speed", observe::speed(&run));
    tally("cost", observe::cost(&run));
    tally(
        "robustness",
        Err("needs perturbation runs (at least 3), which a single trace does not have".into()),
    );
    tally(
        "scalability",
        Err("needs runs at scale n = 2, 4, 8, which a single trace does not have".into()),
    );
    tally("safety", observe::safety(&run, &mut notes));
    tally(
        "adaptability",
        Err("needs out-of-distribution runs, which a single trace does not have".into()),
    );
    tally("autonomy", observe::autonomy(&run, &mut notes));

    if class == "error" && run.t_actual < 2 {
        premature(&mut scored, &mut notes);
    }
    notes.dedup();
    scored.sort_by_key(|s| s.index);
    missing.sort_by_key(|c| CATEGORIES.iter().position(|n| *n == c.name));
    if scored.is_empty() {
        notes.push("no category could be scored from this trace".to_string());
    }
    let (les, label, categories) = composite(scored);
    TraceScore {
        les,
        les_normalized: les.map(|l| round_to(l / 100.0, 3)),
        label,
        categories,
        missing,
        diagnostics: Some(diagnostics(&run, class, reason_raw)),
        notes,
        errors: Vec::new(),
        valid: !unbounded,
    }
}

/// The score of a trace that breaks the Loop Trace 1.0 schema: none.
fn not_scored(errors: Vec<String>) -> TraceScore {
    TraceScore {
        les: None,
        les_normalized: None,
        label: "LES-1.0 (not scored: invalid Loop Trace 1.0)".into(),
        categories: Vec::new(),
        missing: Vec::new(),
        diagnostics: None,
        notes: Vec::new(),
        errors,
        valid: false,
    }
}

/// Section 5, premature termination: a run that errors before its second
/// iteration has every category except safety halved.
fn premature(scored: &mut [Scored], notes: &mut Vec<String>) {
    notes.push("premature termination (error before 2 iterations): every category except safety x 0.5".to_string());
    for s in scored.iter_mut().filter(|s| s.index != SAFETY) {
        s.score *= observed::PREMATURE_FACTOR;
        s.why.push("premature termination: x 0.5".into());
    }
}

/// The LES over the scored categories (weights renormalised over them),
/// its label, and each category with its effective weight.
fn composite(scored: Vec<Scored>) -> (Option<f64>, String, Vec<ObservedCategory>) {
    let present: Vec<(f64, f64)> = scored.iter().map(|s| (WEIGHTS[s.index], s.score)).collect();
    let wsum: f64 = present.iter().map(|p| p.0).sum();
    let les = observed::renormalized(&present).map(|c| round_to(c * 100.0, 1));
    let k = scored.len();
    let label = if k == 8 {
        "LES-1.0".to_string()
    } else if k == 1 {
        "LES-1.0 (partial, 1 category)".to_string()
    } else {
        format!("LES-1.0 (partial, {k} categories)")
    };
    let categories = scored
        .into_iter()
        .map(|s| ObservedCategory {
            name: CATEGORIES[s.index].into(),
            score: round_to(s.score, 2),
            weight: WEIGHTS[s.index],
            effective_weight: r4(WEIGHTS[s.index] / wsum),
            explanation: s.why,
        })
        .collect();
    (les, label, categories)
}

/// The section 4 diagnostics of a run.
fn diagnostics(run: &Run<'_>, class: &str, reason_raw: Option<String>) -> Diagnostics {
    let (g_first, g_final, tf) = (run.g_first(), run.g_final(), run.tf);
    Diagnostics {
        iterations: run.t_actual,
        convergence_rate: match (g_first, g_final) {
            (Some(a), Some(b)) if run.t_actual >= 2 => Some(r4((b - a) / (tf - 1.0))),
            _ => None,
        },
        iteration_efficiency: g_final.map(|g| r4(g / tf)),
        cost_per_iteration: run.c_total.map(|c| r4(c / tf)),
        regression_count: (!run.goals.is_empty()).then(|| run.goals.windows(2).filter(|w| w[1] < w[0]).count()),
        termination_reason: class.to_string(),
        termination_reason_raw: reason_raw,
    }
}
