//! `[[schedule]]`: cron expressions, due times, and what each enqueues.
//!
//! A schedule fires once per due time: the queue entry's delivery is the due
//! time, and the queue refuses a second entry with the same one, so neither a
//! restarted server nor a second server on the same state directory runs it
//! twice. A due time that passed while no server ran is not caught up (cron's
//! behaviour); the next one is.

use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Timelike, Utc};
use croner::Cron;
use loopc_runtime::bindings::Bindings;
use loopc_runtime::store::QueueRequest;

use crate::resolve;

pub struct Schedule {
    pub name: String,
    pub cron: Cron,
    pub request: QueueRequest,
    /// The next time it is due.
    pub next: Option<DateTime<Utc>>,
}

impl Schedule {
    /// The bindings' schedules, each with its first due time after `now`.
    pub fn all(bindings: &Bindings, now: DateTime<Utc>) -> Result<Vec<Schedule>, String> {
        let mut schedules = Vec::new();
        for (n, s) in bindings.schedule.iter().enumerate() {
            let name = s.name.clone().unwrap_or_else(|| format!("schedule-{}", n + 1));
            if schedules.iter().any(|o: &Schedule| o.name == name) {
                return Err(format!("two [[schedule]] tables are named `{name}`"));
            }
            let fields = s.cron.split_whitespace().count();
            if fields != 5 {
                return Err(format!(
                    "[[schedule]] `{name}`: cron `{}` has {fields} fields; loopc reads five (minute hour day-of-month month day-of-week)",
                    s.cron
                ));
            }
            let cron = Cron::from_str(&s.cron).map_err(|e| format!("[[schedule]] `{name}`: cron `{}`: {e}", s.cron))?;
            if s.items.is_some() && s.items_from.is_some() {
                return Err(format!("[[schedule]] `{name}`: `items` and `items_from` exclude each other"));
            }
            let items = s.items.as_ref().map(|path| resolve(bindings, path));
            if let Some(path) = items.as_ref().filter(|p| !p.is_file()) {
                return Err(format!("[[schedule]] `{name}`: no items file {}", path.display()));
            }
            let request = QueueRequest {
                spec: resolve(bindings, &s.spec).display().to_string(),
                bindings: bindings.source.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
                inputs: s.inputs.clone().into_iter().collect(),
                items: None,
                items_file: items.map(|p| p.display().to_string()),
                items_from: s.items_from.clone(),
                cwd: bindings.base_dir.display().to_string(),
                decision: None,
            };
            let next = cron.find_next_occurrence(&whole_seconds(now), false).ok();
            schedules.push(Schedule { name, cron, request, next });
        }
        Ok(schedules)
    }

    /// If due at `now`: the due time (the entry's delivery), and the next
    /// due time is set after `now` (one entry, however many were missed).
    pub fn due(&mut self, now: DateTime<Utc>) -> Option<String> {
        let due = self.next.filter(|next| *next <= now)?;
        self.next = self.cron.find_next_occurrence(&whole_seconds(now), false).ok();
        Some(rfc3339(due))
    }
}

/// `t` without its fraction of a second: croner keeps it in what it returns.
fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_nanosecond(0).unwrap_or(t)
}

/// A due time as the queue and the log write it.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bindings(text: &str) -> Bindings {
        Bindings::parse(text, std::path::Path::new("/project")).unwrap()
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_weekday_morning_schedule_is_due_once_at_eight_and_next_on_monday() {
        let b =
            bindings("[[schedule]]\nname = \"triage\"\ncron = \"0 8 * * 1-5\"\nspec = \"loops/triage.yaml\"\ninputs = { repo = \".\" }\n");
        // Friday 2026-12-04, 07:59:58.
        let mut s = Schedule::all(&b, at("2026-12-04T07:59:58.25Z")).unwrap().pop().unwrap();
        assert_eq!(s.next, Some(at("2026-12-04T08:00:00Z")));
        assert_eq!(s.request.spec, "/project/loops/triage.yaml");
        assert_eq!(s.request.inputs["repo"], ".");
        assert_eq!(s.due(at("2026-12-04T07:59:59Z")), None);
        assert_eq!(s.due(at("2026-12-04T08:00:00Z")).as_deref(), Some("2026-12-04T08:00:00Z"));
        assert_eq!(s.due(at("2026-12-04T08:00:01Z")), None);
        assert_eq!(s.next, Some(at("2026-12-07T08:00:00Z")));
    }

    #[test]
    fn bad_expressions_are_named() {
        let b = bindings("[[schedule]]\ncron = \"0 8 * *\"\nspec = \"a.yaml\"\n");
        let e = Schedule::all(&b, Utc::now()).err().unwrap();
        assert!(e.contains("`schedule-1`") && e.contains("4 fields"), "{e}");
        let b = bindings("[[schedule]]\ncron = \"0 25 * * *\"\nspec = \"a.yaml\"\n");
        let e = Schedule::all(&b, Utc::now()).err().unwrap();
        assert!(e.contains("cron `0 25 * * *`"), "{e}");
    }
}
