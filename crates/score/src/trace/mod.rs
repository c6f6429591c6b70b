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

/// Scores a Loop Trace 1.0 run with the LES 1.0 formulas, over the
/// categories the trace has data for (renormalised weights). The optional
/// spec supplies `G_target` and `T_budget` when the trace does not.
///
/// The trace is validated first ([`validate_trace`]); an invalid trace is
/// not scored (`les` is `None`, `errors` lists why).
pub fn score_trace(trace: &Value, spec: Option<&Value>) -> TraceScore {
    let errors = validate_trace(trace);
    if !errors.is_empty() {
        return TraceScore {
            les: None,
            les_normalized: None,
            label: "LES-1.0 (not scored: invalid Loop Trace 1.0)".into(),
            categories: Vec::new(),
            missing: Vec::new(),
            diagnostics: None,
            notes: Vec::new(),
            errors,
            valid: false,
        };
    }
    let m = trace.as_object().expect("validated");
    let iters: Vec<&Map<String, Value>> = m["iterations"]
        .as_array()
        .expect("validated")
        .iter()
        .filter_map(Value::as_object)
        .collect();
    let meta = obj(m.get("metadata"));
    let spec_map = spec.and_then(Value::as_object);
    let t_actual = iters.len();
    let tf = t_actual as f64;
    let mut notes = Vec::new();

    // Goal trace.
    let goals: Vec<f64> = iters
        .iter()
        .filter_map(|r| {
            let s = obj(r.get("evaluator_scores"))?;
            let vals: Vec<f64> = s.values().filter_map(Value::as_f64).collect();
            (!vals.is_empty()).then(|| vals.iter().sum::<f64>() / vals.len() as f64)
        })
        .collect();
    let g_final = goals.last().copied();
    let g_first = goals.first().copied();
    let target = target(meta, spec_map);
    let budget = budget(meta, spec_map);
    if budget.is_none() {
        if spec_map.is_some() {
            notes.push("unbounded loop: neither the spec nor the trace declares an iteration budget; LES 1.0 section 5 does not accept it as a scoring subject (declare max_iterations)".to_string());
        } else {
            notes.push("iteration budget unknown: pass the spec or set metadata.max_iterations".to_string());
        }
    }
    let unbounded = budget.is_none() && spec_map.is_some();

    // Times.
    let started = m.get("started_at").and_then(Value::as_str).and_then(parse_datetime);
    let stamps: Vec<Option<f64>> = iters
        .iter()
        .map(|r| r.get("timestamp").and_then(Value::as_str).and_then(parse_datetime))
        .collect();
    let mut durations = Vec::with_capacity(t_actual);
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

    // Costs.
    let per_iter: Vec<Option<f64>> = iters.iter().map(|r| r.get("cost_usd").and_then(Value::as_f64)).collect();
    let c_total = m
        .get("total_cost_usd")
        .and_then(Value::as_f64)
        .or_else(|| per_iter.iter().any(Option::is_some).then(|| per_iter.iter().flatten().sum()));
    let all_costs: Option<Vec<f64>> = per_iter.iter().copied().collect();

    let success = m.get("success").and_then(Value::as_bool);
    let reason_raw = m.get("termination_reason").and_then(Value::as_str).map(str::to_string);
    let class = classify(reason_raw.as_deref(), success);

    let mut scored: Vec<(usize, f64, Vec<String>)> = Vec::new();
    let mut missing: Vec<MissingCategory> = Vec::new();
    let mut miss = |name: &str, reason: String| missing.push(MissingCategory { name: name.into(), reason });

    // 2.1 Effectiveness.
    match (g_final, &target) {
        (None, _) => miss("effectiveness", "no iteration has evaluator_scores (no goal values G_t)".into()),
        (_, None) => miss(
            "effectiveness",
            "no goal target: set metadata.g_target or pass a spec with a success threshold".into(),
        ),
        (Some(_), Some((t, _))) if *t <= 0.0 => miss("effectiveness", format!("goal target {t} is not positive")),
        (Some(g), Some((t, tsrc))) => {
            let improving = observed::is_improving(&goals);
            let b = budget.as_ref().map(|b| b.0);
            match observed::effectiveness_raw(g, *t, improving, b, tf) {
                None => miss(
                    "effectiveness",
                    "below target and improving: the formula needs T_budget (pass the spec or set metadata.max_iterations)".into(),
                ),
                Some(raw) => {
                    let case = if g >= *t {
                        format!("G_final {g:.4} >= G_target {t} ({tsrc}): E_raw = G_final / G_target")
                    } else if improving {
                        format!("G_final {g:.4} < G_target {t} ({tsrc}), improving: E_raw = G_final / G_target x T_budget {} / T_actual {t_actual}", b.unwrap_or(0.0))
                    } else {
                        format!("G_final {g:.4} < G_target {t} ({tsrc}), not improving: E_raw = G_final / G_target x 0.5")
                    };
                    let n = observed::normalize(raw, observed::EFFECTIVENESS);
                    scored.push((0, n, vec![case, format!("E_raw {raw:.4} -> N(E_raw; 0.5, 1.0) = {n:.4}")]));
                }
            }
        }
    }

    // 2.2 Speed.
    if durations.iter().any(|d| *d < 0.0) {
        miss("speed", "iteration timestamps go backwards".into());
    } else {
        match observed::speed(&durations) {
            None => miss("speed", "no measurable iteration time (timestamps)".into()),
            Some(s) => {
                let mut why = vec![
                    format!(
                        "tau_median {:.3}s, tau_p95 {:.3}s over {} iterations",
                        s.median,
                        s.p95,
                        durations.len()
                    ),
                    format!(
                        "S_raw = 1 / (0.7 x median + 0.3 x p95) = {:.5} iter/s -> N(S_raw; 0.001, 0.05)",
                        s.raw
                    ),
                ];
                if s.stalled {
                    why.push(format!("stall: an iteration took over 3 x median ({:.3}s): x 0.85", 3.0 * s.median));
                }
                scored.push((1, s.score, why));
            }
        }
    }

    // 2.3 Cost.
    match (g_first, g_final, c_total) {
        (None, _, _) | (_, None, _) => miss("cost", "no goal values G_t: goal progress unknown".into()),
        (_, _, None) => miss("cost", "no total_cost_usd and no iteration cost_usd".into()),
        (Some(g0), Some(g), Some(c)) => {
            let dg = g - g0;
            let res = observed::cost(dg, c, all_costs.as_deref());
            let mut why = vec![format!("delta G = G_final {g:.4} - G_0 {g0:.4} = {dg:.4}; C_total ${c}")];
            if dg <= 0.0 {
                why.push("delta G <= 0: N_cost = 0".into());
            } else {
                why.push(format!("cost efficiency {:.4} goal units per USD -> N(x; 1, 10)", res.efficiency));
                if res.trend_bonus {
                    why.push("iteration cost fell in the second half: x 1.05 (capped at 1)".into());
                }
            }
            scored.push((2, res.score, why));
        }
    }

    miss(
        "robustness",
        "needs perturbation runs (at least 3), which a single trace does not have".into(),
    );
    miss(
        "scalability",
        "needs runs at scale n = 2, 4, 8, which a single trace does not have".into(),
    );

    // 2.6 Safety.
    let interventions = gather(m, &iters, "human_interventions");
    let h_events = interventions
        .iter()
        .flatten()
        .filter(|h| h.get("trigger").and_then(Value::as_str) == Some("safety"))
        .count() as f64;
    match gather(m, &iters, "violations") {
        None => miss(
            "safety",
            "no `violations` lists in the trace (an empty list means none occurred)".into(),
        ),
        Some(vs) => {
            let mut sev = 0.0;
            let mut fatal = false;
            for v in &vs {
                let (s, recoverable) = match v {
                    Value::String(s) => (Value::String(s.clone()), true),
                    Value::Object(o) => (
                        o.get("severity").cloned().unwrap_or(Value::Null),
                        o.get("recoverable").and_then(Value::as_bool).unwrap_or(true),
                    ),
                    _ => (Value::Null, true),
                };
                let w = match &s {
                    Value::Number(n) => n.as_f64().unwrap_or(3.0),
                    Value::String(s) => observed::severity_weight(s).unwrap_or_else(|| {
                        notes.push(format!("unknown violation severity {s:?}: counted as moderate (3)"));
                        3.0
                    }),
                    _ => {
                        notes.push("violation without a severity: counted as moderate (3)".to_string());
                        3.0
                    }
                };
                if w >= 10.0 && !recoverable {
                    fatal = true;
                }
                sev += w;
            }
            let vb = num(meta, "violation_budget").unwrap_or(0.0);
            let n = observed::safety(sev, vb, h_events, tf, fatal);
            let mut why = vec![format!(
                "{} violations, weighted severity {sev}, budget {vb}: Safety_raw = 1 - min(V / (V_budget + 1), 1)",
                vs.len()
            )];
            if h_events > 0.0 {
                why.push(format!("{h_events} safety-triggered human interventions: bonus min(H / T, 0.1)"));
            }
            if fatal {
                why.push("an unrecoverable severe violation: N_safety = 0".into());
            }
            scored.push((5, n, why));
        }
    }

    miss(
        "adaptability",
        "needs out-of-distribution runs, which a single trace does not have".into(),
    );

    // 2.8 Autonomy.
    match &interventions {
        None => miss(
            "autonomy",
            "no `human_interventions` lists in the trace (an empty list means none occurred)".into(),
        ),
        Some(hs) => {
            let mut weighted = 0.0;
            let mut h_dur = 0.0;
            for h in hs {
                let kind = match h {
                    Value::String(s) => Some(s.as_str()),
                    Value::Object(o) => o.get("type").and_then(Value::as_str),
                    _ => None,
                };
                weighted += match kind.and_then(observed::intervention_weight) {
                    Some(w) => w,
                    None => {
                        notes.push(format!(
                            "human intervention type {:?} unknown: weighted as an active correction (1.0)",
                            kind.unwrap_or("(none)")
                        ));
                        1.0
                    }
                };
                h_dur += h.get("duration_s").and_then(Value::as_f64).unwrap_or(0.0);
            }
            let n = observed::autonomy(weighted, tf, h_dur, tau_total);
            scored.push((
                7,
                n,
                vec![
                    format!(
                        "{} interventions, weighted {weighted}: rate {:.4} per iteration",
                        hs.len(),
                        if tf > 0.0 { weighted / tf } else { 0.0 }
                    ),
                    format!("human time {h_dur}s of {tau_total}s total"),
                    "Autonomy_raw = (1 - min(rate / 0.5, 1)) x (1 - min(fraction / 0.3, 1)) -> N(x; 0.1, 0.95)".into(),
                ],
            ));
        }
    }

    // Section 5: premature termination.
    if class == "error" && t_actual < 2 {
        notes.push("premature termination (error before 2 iterations): every category except safety x 0.5".to_string());
        for (i, s, why) in &mut scored {
            if *i != 5 {
                *s *= observed::PREMATURE_FACTOR;
                why.push("premature termination: x 0.5".into());
            }
        }
    }
    notes.dedup();

    scored.sort_by_key(|(i, _, _)| *i);
    missing.sort_by_key(|c| CATEGORIES.iter().position(|n| *n == c.name));
    let present: Vec<(f64, f64)> = scored.iter().map(|(i, s, _)| (WEIGHTS[*i], *s)).collect();
    let wsum: f64 = present.iter().map(|p| p.0).sum();
    let comp = observed::renormalized(&present);
    let les = comp.map(|c| round_to(c * 100.0, 1));
    let k = scored.len();
    let label = if k == 8 {
        "LES-1.0".to_string()
    } else if k == 1 {
        "LES-1.0 (partial, 1 category)".to_string()
    } else {
        format!("LES-1.0 (partial, {k} categories)")
    };
    if k == 0 {
        notes.push("no category could be scored from this trace".to_string());
    }
    let categories = scored
        .into_iter()
        .map(|(i, s, why)| ObservedCategory {
            name: CATEGORIES[i].into(),
            score: round_to(s, 2),
            weight: WEIGHTS[i],
            effective_weight: r4(WEIGHTS[i] / wsum),
            explanation: why,
        })
        .collect();

    let diagnostics = Diagnostics {
        iterations: t_actual,
        convergence_rate: match (g_first, g_final) {
            (Some(a), Some(b)) if t_actual >= 2 => Some(r4((b - a) / (tf - 1.0))),
            _ => None,
        },
        iteration_efficiency: g_final.map(|g| r4(g / tf)),
        cost_per_iteration: c_total.map(|c| r4(c / tf)),
        regression_count: (!goals.is_empty()).then(|| goals.windows(2).filter(|w| w[1] < w[0]).count()),
        termination_reason: class.to_string(),
        termination_reason_raw: reason_raw,
    };
    TraceScore {
        les,
        les_normalized: les.map(|l| round_to(l / 100.0, 3)),
        label,
        categories,
        missing,
        diagnostics: Some(diagnostics),
        notes,
        errors: Vec::new(),
        valid: !unbounded,
    }
}
