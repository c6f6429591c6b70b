//! `rate_limit`: `requests_per_minute` (a sliding 60 s window per worker)
//! and/or `max_calls` (per worker per run). The counts live in the engine's
//! memory, which the interpreter stores with the run: they hold across
//! resume and approve.

use loopc_plan::SafetyAction;

use super::constraint::{Constraint, Context, Found};

const WINDOW_MS: i64 = 60_000;

pub(crate) struct RateLimit {
    per_minute: Option<u64>,
    max_calls: Option<u64>,
}

impl RateLimit {
    pub fn new(config: &loopc_plan::RateLimit) -> Result<Self, String> {
        if config.requests_per_minute.is_none() && config.max_calls.is_none() {
            return Err("`config.requests_per_minute` and/or `config.max_calls` is required".into());
        }
        Ok(RateLimit {
            per_minute: config.requests_per_minute,
            max_calls: config.max_calls,
        })
    }
}

impl Constraint for RateLimit {
    fn invocation(&self, cx: &Context<'_>) -> Option<Found> {
        let worker = cx.worker;
        let now = cx.now_ms;
        let key = format!("{}/{worker}", cx.check.id);
        cx.remember(|memo| {
            let log = memo.calls.entry(key).or_default();
            while log.recent.front().is_some_and(|t| now - *t >= WINDOW_MS) {
                log.recent.pop_front();
            }
            let mut problem = None;
            if let Some(max) = self.max_calls {
                if log.total >= max {
                    problem = Some(format!("worker `{worker}` has used all {max} calls allowed (max_calls)"));
                }
            }
            if let Some(rpm) = self.per_minute {
                if problem.is_none() && log.recent.len() as u64 >= rpm {
                    let wait_ms = log.recent.front().map_or(0, |t| (WINDOW_MS - (now - *t)).max(0));
                    problem = Some(format!(
                        "worker `{worker}` made {} calls in the last 60 s (requests_per_minute: {rpm}); the next is allowed in {:.1} s",
                        log.recent.len(),
                        wait_ms as f64 / 1000.0
                    ));
                }
            }
            // A call that goes ahead counts: admitted, or only warned about.
            let counts = problem.is_none() || cx.check.action == SafetyAction::Warn;
            if counts {
                log.total += 1;
                if self.per_minute.is_some() {
                    log.recent.push_back(now);
                }
            }
            (problem.map(Found::new), counts)
        })
    }
}
