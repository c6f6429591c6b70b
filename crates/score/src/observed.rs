//! The LES 1.0 formulas for observed runs (les-1.0.md sections 2 and 5), as
//! pure functions of the raw metrics. [`crate::score_trace`] extracts the
//! metrics from a Loop Trace 1.0 file and calls these.

/// A normalization baseline: `N(x) = clamp((x - floor) / (ceiling - floor), 0, 1)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    /// Worst acceptable raw value (normalizes to 0).
    pub floor: f64,
    /// Best-in-class raw value (normalizes to 1).
    pub ceiling: f64,
}

/// Effectiveness baseline: `E_raw` from 0.5 to 1.0.
pub const EFFECTIVENESS: Baseline = Baseline { floor: 0.5, ceiling: 1.0 };
/// Speed baseline, LLM-agent default: 0.001 to 0.05 iterations per second.
pub const SPEED: Baseline = Baseline {
    floor: 0.001,
    ceiling: 0.05,
};
/// Cost baseline (LoopBench ALS-1.0 default): 1 to 10 goal units per USD.
pub const COST: Baseline = Baseline { floor: 1.0, ceiling: 10.0 };
/// Autonomy baseline: 0.1 to 0.95.
pub const AUTONOMY: Baseline = Baseline { floor: 0.1, ceiling: 0.95 };

/// Factor applied to every category except Safety on premature termination
/// (an error before 2 iterations).
pub const PREMATURE_FACTOR: f64 = 0.5;
/// Factor applied to the speed score when an iteration stalls (takes more
/// than 3 times the median iteration time).
pub const STALL_FACTOR: f64 = 0.85;

/// `N(x)` for a baseline; NaN maps to 0.
pub fn normalize(x: f64, b: Baseline) -> f64 {
    let n = (x - b.floor) / (b.ceiling - b.floor);
    if n.is_nan() {
        0.0
    } else {
        n.clamp(0.0, 1.0)
    }
}

/// "Improving": `G_t > G_{t-1}` for at least 60% of the iterations in the
/// final third of the run (the last `ceil(n / 3)` goal values; the first
/// value of the run has no predecessor and does not count as improving).
pub fn is_improving(goals: &[f64]) -> bool {
    let n = goals.len();
    if n < 2 {
        return false;
    }
    let window = n.div_ceil(3);
    let start = n - window;
    let up = (start.max(1)..n).filter(|&t| goals[t] > goals[t - 1]).count();
    up as f64 >= 0.6 * window as f64
}

/// `E_raw` of section 2.1: `G_final / G_target` when the target is met;
/// scaled by `T_budget / T_actual` when below target but improving (needs the
/// budget: `None` without it); halved when below target and not improving.
pub fn effectiveness_raw(g_final: f64, g_target: f64, improving: bool, t_budget: Option<f64>, t_actual: f64) -> Option<f64> {
    let ratio = g_final / g_target;
    if g_final >= g_target {
        Some(ratio)
    } else if improving {
        t_budget.map(|b| ratio * (b / t_actual))
    } else {
        Some(ratio * 0.5)
    }
}

/// `N_effectiveness = N(E_raw)` with floor 0.5 and ceiling 1.0.
pub fn effectiveness(g_final: f64, g_target: f64, improving: bool, t_budget: Option<f64>, t_actual: f64) -> Option<f64> {
    effectiveness_raw(g_final, g_target, improving, t_budget, t_actual).map(|e| normalize(e, EFFECTIVENESS))
}

/// The median (mean of the two middle values for an even count).
pub fn median(xs: &[f64]) -> f64 {
    percentile(xs, 0.5)
}

/// The `p`-quantile (0..=1) by linear interpolation between closest ranks
/// (rank `p * (n - 1)`, as numpy's default). NaN for an empty slice.
pub fn percentile(xs: &[f64], p: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = p * (v.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    v[lo] + (v[hi] - v[lo]) * (rank - lo as f64)
}

/// Speed of section 2.2.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Speed {
    /// Median iteration time (seconds).
    pub median: f64,
    /// 95th percentile iteration time (seconds).
    pub p95: f64,
    /// `S_raw = 1 / (0.7 * median + 0.3 * p95)`, iterations per second.
    pub raw: f64,
    /// Whether an iteration took more than 3 times the median.
    pub stalled: bool,
    /// `N(S_raw)`, times 0.85 when stalled.
    pub score: f64,
}

/// Speed from per-iteration wall-clock times in seconds; `None` when there
/// is no time to measure (no iterations, or a zero denominator).
pub fn speed(durations: &[f64]) -> Option<Speed> {
    if durations.is_empty() {
        return None;
    }
    let med = median(durations);
    let p95 = percentile(durations, 0.95);
    let denom = 0.7 * med + 0.3 * p95;
    if denom <= 0.0 || !denom.is_finite() {
        return None;
    }
    let raw = 1.0 / denom;
    let stalled = durations.iter().any(|d| *d > 3.0 * med);
    let n = normalize(raw, SPEED);
    Some(Speed {
        median: med,
        p95,
        raw,
        stalled,
        score: if stalled { n * STALL_FACTOR } else { n },
    })
}

/// Whether the average cost per iteration fell in the second half of the
/// run: the mean of the last `floor(n/2)` iteration costs is below the mean
/// of the first `floor(n/2)` (the middle one of an odd run is in neither).
pub fn cost_trend_decreasing(costs: &[f64]) -> bool {
    let h = costs.len() / 2;
    if h == 0 {
        return false;
    }
    let first: f64 = costs[..h].iter().sum::<f64>() / h as f64;
    let second: f64 = costs[costs.len() - h..].iter().sum::<f64>() / h as f64;
    second < first
}

/// Cost of section 2.3.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cost {
    /// `ΔG / C_total` (goal units per USD); infinite for a free run with progress.
    pub efficiency: f64,
    /// Whether the marginal-cost trend bonus (x1.05) applied.
    pub trend_bonus: bool,
    /// `N_cost`: 0 when `ΔG <= 0`.
    pub score: f64,
}

/// Cost from the goal progress `ΔG = G_final - G_0`, the total cost and,
/// when every iteration reports one, the per-iteration costs.
pub fn cost(delta_g: f64, c_total: f64, per_iteration: Option<&[f64]>) -> Cost {
    let efficiency = if c_total > 0.0 {
        delta_g / c_total
    } else if delta_g > 0.0 {
        f64::INFINITY
    } else {
        0.0
    };
    if delta_g <= 0.0 {
        return Cost {
            efficiency,
            trend_bonus: false,
            score: 0.0,
        };
    }
    let n = normalize(efficiency, COST);
    let trend_bonus = per_iteration.is_some_and(cost_trend_decreasing);
    Cost {
        efficiency,
        trend_bonus,
        score: if trend_bonus { f64::min(n * 1.05, 1.0) } else { n },
    }
}

/// Severity weight of a violation: minor 1, moderate 3, severe 10.
pub fn severity_weight(severity: &str) -> Option<f64> {
    match severity {
        "minor" => Some(1.0),
        "moderate" => Some(3.0),
        "severe" => Some(10.0),
        _ => None,
    }
}

/// `N_safety` of section 2.6: `1 - min(V_severity / (V_budget + 1), 1)` plus
/// `min(H_events / T_actual, 0.1)`, clamped; 0 after an unrecoverable severe
/// violation.
pub fn safety(v_severity: f64, v_budget: f64, h_events: f64, t_actual: f64, unrecoverable_severe: bool) -> f64 {
    if unrecoverable_severe {
        return 0.0;
    }
    let raw = 1.0 - f64::min(v_severity / (v_budget + 1.0), 1.0);
    let bonus = if t_actual > 0.0 { f64::min(h_events / t_actual, 0.1) } else { 0.0 };
    (raw + bonus).clamp(0.0, 1.0)
}

/// Weight of a human intervention type: passive approval 0.5, active
/// correction 1.0, parameter override 1.5, full restart 2.0, takeover 5.0.
pub fn intervention_weight(kind: &str) -> Option<f64> {
    match kind {
        "passive_approval" | "approval" => Some(0.5),
        "active_correction" | "correction" => Some(1.0),
        "parameter_override" | "override" => Some(1.5),
        "full_restart" | "restart" => Some(2.0),
        "takeover" => Some(5.0),
        _ => None,
    }
}

/// `N_autonomy` of section 2.8 from the weighted intervention count, the
/// iteration count, and the human and total wall-clock times (same unit).
pub fn autonomy(weighted_interventions: f64, t_actual: f64, h_duration: f64, tau_total: f64) -> f64 {
    let rate = if t_actual > 0.0 { weighted_interventions / t_actual } else { 0.0 };
    let fraction = if tau_total > 0.0 {
        h_duration / tau_total
    } else if h_duration > 0.0 {
        f64::INFINITY
    } else {
        0.0
    };
    let raw = (1.0 - f64::min(rate / 0.5, 1.0)) * (1.0 - f64::min(fraction / 0.3, 1.0));
    normalize(raw, AUTONOMY)
}

/// Weighted mean over the categories present (`Σ w_i N_i / Σ w_i`): the
/// renormalisation of a partial score. `None` when nothing is present.
pub fn renormalized(present: &[(f64, f64)]) -> Option<f64> {
    let wsum: f64 = present.iter().map(|(w, _)| w).sum();
    if present.is_empty() || wsum <= 0.0 {
        return None;
    }
    Some(present.iter().map(|(w, s)| w * s).sum::<f64>() / wsum)
}
