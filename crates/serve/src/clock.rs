//! The server's clock: the system's, or one that starts at a given instant
//! and runs at the system's pace (`--clock-start`, so that a test can have a
//! schedule come due in two seconds without waiting for 08:00).

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};

#[derive(Clone, Copy, Debug)]
pub struct Clock {
    start: Option<(DateTime<Utc>, Instant)>,
}

impl Clock {
    pub fn system() -> Clock {
        Clock { start: None }
    }

    /// A clock that reads `start` now.
    pub fn starting_at(start: DateTime<Utc>) -> Clock {
        Clock {
            start: Some((start, Instant::now())),
        }
    }

    /// [`Clock::starting_at`] an RFC 3339 instant.
    pub fn starting_at_rfc3339(text: &str) -> Result<Clock, String> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| Clock::starting_at(t.with_timezone(&Utc)))
            .map_err(|e| format!("{text}: {e}"))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self.start {
            None => Utc::now(),
            Some((at, since)) => at + Duration::from_std(since.elapsed()).unwrap_or_default(),
        }
    }
}
