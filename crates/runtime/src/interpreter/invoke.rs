//! Calling executors: a step's retries (semantics §2.1) within the run's
//! wall-clock limit, and a group of workers at once.

use std::time::Instant;

use loopc_plan::WorkerStep;

use crate::executor::{ExecError, Executor, Invocation, Outcome};

/// What one step's calls came to: the last result, the attempts, the seconds.
pub(crate) type Called = (Result<Outcome, ExecError>, u32, f64);

/// Invoke the group's ready workers: concurrently (semantics §2.1), or one
/// at a time without retries when spend is throttled. Results in order.
pub(crate) fn invoke_group(
    pending: &[(WorkerStep, Invocation, std::sync::Arc<dyn Executor>)],
    throttled: bool,
    deadline: Option<Instant>,
) -> Vec<Called> {
    if throttled || pending.len() <= 1 {
        return pending
            .iter()
            .map(|(w, inv, ex)| invoke_with_retries(ex.as_ref(), inv, if throttled { 0 } else { w.retries }, deadline))
            .collect();
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = pending
            .iter()
            .map(|(w, inv, ex)| scope.spawn(move || invoke_with_retries(ex.as_ref(), inv, w.retries, deadline)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| (Err(ExecError::Failed("executor panicked".into())), 1, 0.0))
            })
            .collect()
    })
}

/// Call an executor with the step's retries (none when throttled). No
/// retry starts after `deadline` (the run's wall-clock limit), and each
/// one's timeout is cut to the time left before it.
pub(crate) fn invoke_with_retries(executor: &dyn Executor, invocation: &Invocation, retries: u32, deadline: Option<Instant>) -> Called {
    let start = Instant::now();
    let mut attempt = 0;
    let mut capped: Option<Invocation> = None;
    loop {
        attempt += 1;
        let result = executor.invoke(capped.as_ref().unwrap_or(invocation));
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        match &result {
            Err(e) if e.is_retryable() && attempt <= retries && left.is_none_or(|l| !l.is_zero()) && !stop_pending(invocation) => {
                if let Some(left) = left {
                    let mut next = invocation.clone();
                    next.timeout = Some(invocation.timeout.map_or(left, |t| t.min(left)));
                    capped = Some(next);
                }
            }
            _ => return (result, attempt, start.elapsed().as_secs_f64()),
        }
    }
}

/// Whether the run was asked to stop (a signal, `loopc cancel`): no retry starts then.
fn stop_pending(invocation: &Invocation) -> bool {
    crate::stop::signal().is_some() || invocation.processes.as_ref().is_some_and(|l| l.cancel_requested())
}
