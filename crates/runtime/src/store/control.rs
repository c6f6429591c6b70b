//! Requests to a run from outside the process that executes it: `loopc
//! cancel` and `loopc pause` write one; the executing process reads it at
//! every step it commits (and, for a cancel, while a step's process runs:
//! [`crate::process::ProcessLog::cancel_requested`]). Claiming a run clears
//! it, so `loopc continue` (a resume) goes on.

use rusqlite::params;

use super::{Result, Store};
use crate::stop::Stop;

/// What another process asked of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Cancel,
    Pause,
}

impl Control {
    pub fn as_str(self) -> &'static str {
        match self {
            Control::Cancel => "cancel",
            Control::Pause => "pause",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Control> {
        [Control::Cancel, Control::Pause].into_iter().find(|c| c.as_str() == s)
    }

    pub fn stop(self) -> Stop {
        match self {
            Control::Cancel => Stop::Cancel,
            Control::Pause => Stop::Pause,
        }
    }
}

/// The `control` of a run and of each run it is a child of, up to the
/// outermost (compositions nest at most a few levels).
pub(crate) const UP_THE_PARENTS: &str = "
WITH RECURSIVE up(id, parent_id, control, depth) AS (
  SELECT id, parent_id, control, 0 FROM runs WHERE id = ?1
  UNION ALL
  SELECT r.id, r.parent_id, r.control, up.depth + 1 FROM runs r JOIN up ON r.id = up.parent_id WHERE up.depth < 16
) SELECT control FROM up";

/// A cancel anywhere wins over a pause.
pub(crate) fn strongest<'a>(asked: impl Iterator<Item = &'a str>) -> Option<Control> {
    let mut found = None;
    for control in asked.filter_map(Control::parse) {
        if control == Control::Cancel {
            return Some(control);
        }
        found = Some(control);
    }
    found
}

impl Store {
    /// Ask the process executing `run` to cancel or pause it. A cancel
    /// outranks a pause already asked for.
    pub fn request(&self, run: &str, control: Control) -> Result<()> {
        self.conn.execute(
            "UPDATE runs SET control = ?2 WHERE id = ?1 AND control <> 'cancel'",
            params![run, control.as_str()],
        )?;
        Ok(())
    }

    /// What was asked of `run` or of a composing run it is a child of (a
    /// cancel before a pause), if anything.
    pub fn control(&self, run: &str) -> Result<Option<Control>> {
        let asked: Vec<String> = self
            .conn
            .prepare(UP_THE_PARENTS)?
            .query_map(params![run], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(strongest(asked.iter().map(String::as_str)))
    }

    /// Why the run executing here must stop, if it must: a cancel (a
    /// person's word, final) before this process's signal, a signal before
    /// a pause.
    pub fn stop_for(&self, run: &str) -> Result<Option<Stop>> {
        let control = self.control(run)?;
        if control == Some(Control::Cancel) {
            return Ok(Some(Stop::Cancel));
        }
        if let Some(signal) = crate::stop::signal() {
            return Ok(Some(Stop::Signal(signal)));
        }
        Ok(control.map(Control::stop))
    }
}

impl Store {
    /// A person's note for the run (`loopc add-context`), redacted; the
    /// next iteration to start takes it.
    pub fn add_note(&self, run: &str, note: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO notes (run_id, note, at, iteration) VALUES (?1, ?2, ?3, NULL)",
            params![run, self.clean(note), crate::clock::now_rfc3339()],
        )?;
        Ok(())
    }

    /// The notes iteration `i` gives its workers: those it took before (a
    /// resumed iteration sees the same ones) and, while no worker of it has
    /// run yet, those nobody took (a note added while an iteration is half
    /// done, or paused, is for the next one).
    /// The second value: how many of them it took now.
    pub fn take_notes(&self, run: &str, i: u32) -> Result<(Vec<String>, usize)> {
        let taken = self.conn.execute(
            "UPDATE notes SET iteration = ?2 WHERE run_id = ?1 AND iteration IS NULL
             AND NOT EXISTS (SELECT 1 FROM steps WHERE run_id = ?1 AND iteration = ?2 AND step LIKE 'workers.%')",
            params![run, i],
        )?;
        let notes = self
            .conn
            .prepare("SELECT note FROM notes WHERE run_id = ?1 AND iteration = ?2 ORDER BY seq")?
            .query_map(params![run, i], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok((notes, taken))
    }
}
