//! Retries of one model API call ([`super::http::post_json`]): a call the
//! API refused for now (HTTP 408, 429, 5xx, a lost connection) is tried
//! again after an exponentially growing, jittered delay — the schedule of
//! `backon`'s [`ExponentialBuilder`] — or, on 429 and 503, after the
//! server's `Retry-After` (seconds or an HTTP date) when that is longer.
//! Every attempt and every wait fit in the step's time: a wait that would
//! pass the step's timeout is not started, and the last error is returned
//! with the reason.
//!
//! These retries are the transport's. A worker's `retries` (LSS) are the
//! step's: each of them is a whole call, with retries of its own.

use std::time::{Duration, Instant, SystemTime};

use backon::{BackoffBuilder, ExponentialBuilder};

use super::ExecError;

/// Retries when the executor's bindings set none (`max_retries`).
pub const DEFAULT_RETRIES: u32 = 3;
/// The first delay; each next one doubles, up to [`MAX_DELAY`], and each is
/// jittered up to twice its length.
pub const FIRST_DELAY: Duration = Duration::from_millis(500);
pub const MAX_DELAY: Duration = Duration::from_secs(30);
/// Longest `Retry-After` taken literally (a server asking for more than an
/// hour is read as an hour; the step's timeout still bounds the wait).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// How a call is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// A fixed seed for the jitter (tests); random otherwise.
    pub seed: Option<u64>,
}

impl RetryPolicy {
    pub fn new(max_retries: u32) -> RetryPolicy {
        RetryPolicy {
            max_retries,
            first_delay: FIRST_DELAY,
            max_delay: MAX_DELAY,
            seed: None,
        }
    }

    /// The delays between attempts, jittered: the n-th in `[d, 2d)` with
    /// `d = first_delay * 2^n`, at most `max_delay` before jitter.
    fn schedule(&self) -> impl Iterator<Item = Duration> {
        let builder = ExponentialBuilder::new()
            .with_min_delay(self.first_delay)
            .with_max_delay(self.max_delay)
            .with_factor(2.0)
            .with_max_times(self.max_retries as usize)
            .with_jitter();
        match self.seed {
            Some(seed) => builder.with_jitter_seed(seed).build(),
            None => builder.build(),
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::new(DEFAULT_RETRIES)
    }
}

/// An attempt that failed: its error and, for 429 and 503, how long the
/// server asked to wait.
#[derive(Debug)]
pub(crate) struct Failed {
    pub error: ExecError,
    pub retry_after: Option<Duration>,
}

impl From<ExecError> for Failed {
    fn from(error: ExecError) -> Self {
        Failed { error, retry_after: None }
    }
}

/// A `Retry-After` value: delay-seconds, or an HTTP date (IMF-fixdate and
/// the two obsolete forms) counted from `now`; a date in the past is no
/// wait. Anything else is `None` (the backoff applies).
pub(crate) fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than a u64 holds is still "a long time".
        Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX).min(MAX_RETRY_AFTER.as_secs()))
    } else {
        let at = httpdate::parse_http_date(value).ok()?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// Run `attempt` (given the time left for it) until it succeeds, fails for
/// good, runs out of retries, or the next wait would not fit in `budget`.
/// Only [`ExecError::Transport`] is retried. `sleep` waits (the thread's
/// sleep outside tests).
pub(crate) fn call<T>(
    policy: &RetryPolicy,
    budget: Duration,
    mut attempt: impl FnMut(Duration) -> Result<T, Failed>,
    mut sleep: impl FnMut(Duration),
) -> Result<T, ExecError> {
    let deadline = Instant::now() + budget;
    let mut delays = policy.schedule();
    let mut retried = 0u32;
    let mut waited = Duration::ZERO;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let failed = match attempt(left) {
            Ok(value) => return Ok(value),
            Err(failed) => failed,
        };
        let ExecError::Transport(message) = failed.error else {
            return Err(failed.error);
        };
        let so_far = || {
            if retried == 0 {
                String::new()
            } else {
                format!("; {retried} retries over {:.1}s", waited.as_secs_f64())
            }
        };
        let Some(backoff) = delays.next() else {
            return Err(ExecError::Transport(format!("{message}{}", so_far())));
        };
        // The server's word is a minimum: the backoff's jitter still spreads clients.
        let wait = failed.retry_after.map_or(backoff, |asked| asked.max(backoff));
        let left = deadline.saturating_duration_since(Instant::now());
        if wait >= left {
            let asked = failed
                .retry_after
                .map_or_else(String::new, |a| format!(" (Retry-After {:.0}s)", a.as_secs_f64()));
            return Err(ExecError::Transport(format!(
                "{message}{}; not retried: waiting {:.1}s{asked} would pass the step's remaining {:.1}s",
                so_far(),
                wait.as_secs_f64(),
                left.as_secs_f64()
            )));
        }
        sleep(wait);
        waited += wait;
        retried += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport(retry_after: Option<u64>) -> Failed {
        Failed {
            error: ExecError::Transport("HTTP 429: slow down".into()),
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    fn seeded(max_retries: u32) -> RetryPolicy {
        RetryPolicy {
            seed: Some(7),
            ..RetryPolicy::new(max_retries)
        }
    }

    #[test]
    fn retry_after_in_seconds_and_as_a_date() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(retry_after(" 120 ", now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now), Some(Duration::from_secs(10)));
        // The obsolete RFC 850 and asctime forms.
        assert_eq!(retry_after("Sunday, 06-Nov-94 08:49:39 GMT", now), Some(Duration::from_secs(2)));
        assert_eq!(retry_after("Sun Nov  6 08:49:40 1994", now), Some(Duration::from_secs(3)));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO),
            "a past date"
        );
        assert_eq!(retry_after("99999999999999999999999", now), Some(MAX_RETRY_AFTER));
        for bad in ["", "-1", "1.5", "soon", "Sun, 32 Nov 1994 08:49:37 GMT"] {
            assert_eq!(retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn the_schedule_grows_exponentially_with_jitter() {
        let policy = RetryPolicy {
            max_delay: Duration::from_secs(2),
            ..seeded(5)
        };
        let delays: Vec<Duration> = policy.schedule().collect();
        assert_eq!(delays.len(), 5);
        let bases = [0.5, 1.0, 2.0, 2.0, 2.0];
        for (d, base) in delays.iter().zip(bases) {
            let s = d.as_secs_f64();
            assert!(s >= base && s < 2.0 * base, "{s} outside [{base}, {})", 2.0 * base);
        }
        // Jitter: two schedules with other seeds differ.
        let other: Vec<Duration> = RetryPolicy { seed: Some(8), ..policy }.schedule().collect();
        assert_ne!(delays, other);
    }

    #[test]
    fn transport_errors_are_retried_and_retry_after_is_a_minimum() {
        let mut answers = vec![Err(transport(Some(3))), Err(transport(None)), Ok("done")].into_iter();
        let mut slept = Vec::new();
        let got = call(&seeded(3), Duration::from_secs(60), |_| answers.next().unwrap(), |d| slept.push(d));
        assert_eq!(got, Ok("done"));
        assert_eq!(slept.len(), 2);
        assert!(slept[0] >= Duration::from_secs(3), "{slept:?}");
        assert!(slept[1] >= Duration::from_secs(1) && slept[1] < Duration::from_secs(2), "{slept:?}");
    }

    #[test]
    fn it_gives_up_after_its_retries_saying_so() {
        let mut calls = 0;
        let got: Result<(), _> = call(
            &seeded(2),
            Duration::from_secs(60),
            |_| {
                calls += 1;
                Err(transport(None))
            },
            |_| {},
        );
        assert_eq!(calls, 3);
        assert!(
            matches!(got, Err(ExecError::Transport(ref m)) if m.contains("2 retries")),
            "{got:?}"
        );
    }

    #[test]
    fn a_wait_past_the_budget_is_not_started() {
        let mut slept = Vec::new();
        let got: Result<(), _> = call(&seeded(3), Duration::from_secs(5), |_| Err(transport(Some(30))), |d| slept.push(d));
        assert!(slept.is_empty());
        assert!(
            matches!(got, Err(ExecError::Transport(ref m)) if m.contains("Retry-After 30s") && m.contains("not retried")),
            "{got:?}"
        );
    }

    #[test]
    fn other_errors_are_not_retried() {
        for error in [
            ExecError::Failed("HTTP 400".into()),
            ExecError::Config("no key".into()),
            ExecError::Timeout(Duration::from_secs(1)),
        ] {
            let mut calls = 0;
            let got: Result<(), _> = call(
                &seeded(3),
                Duration::from_secs(60),
                |_| {
                    calls += 1;
                    Err(Failed::from(error.clone()))
                },
                |_| {},
            );
            assert_eq!((calls, got), (1, Err(error)));
        }
    }

    #[test]
    fn zero_retries_is_one_attempt() {
        let mut calls = 0;
        let got: Result<(), _> = call(
            &RetryPolicy::new(0),
            Duration::from_secs(60),
            |_| {
                calls += 1;
                Err(transport(Some(1)))
            },
            |_| panic!("no wait without retries"),
        );
        assert_eq!(calls, 1);
        assert!(
            matches!(got, Err(ExecError::Transport(ref m)) if m == "HTTP 429: slow down"),
            "{got:?}"
        );
    }
}
