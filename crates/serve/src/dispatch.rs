//! Executing the queue: each entry is a `loopc run` process of its own (the
//! same command a person would type, so it behaves exactly as that does),
//! at most `jobs` at once, in its own process group and killed with the
//! server if the server dies (`PR_SET_PDEATHSIG`). Its final JSON report is
//! kept with the entry.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use loopc_runtime::process;
use loopc_runtime::store::{QueueEntry, QueueRequest, QueueState};
use loopc_runtime::Store;
use serde_json::Value;

pub struct Dispatcher {
    pub exe: PathBuf,
    pub state_dir: PathBuf,
    pub jobs: usize,
    running: Vec<Job>,
}

struct Job {
    id: String,
    child: Child,
    report: PathBuf,
    log: PathBuf,
}

impl Dispatcher {
    pub fn new(exe: PathBuf, state_dir: PathBuf, jobs: usize) -> Dispatcher {
        Dispatcher {
            exe,
            state_dir,
            jobs,
            running: Vec::new(),
        }
    }

    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// Record the jobs that ended; start queued entries while slots are free.
    pub fn tick(&mut self, store: &Store) -> Result<(), String> {
        self.reap(store, false)?;
        while self.running.len() < self.jobs {
            let Some(entry) = store.claim_queued(std::process::id()).map_err(|e| e.to_string())? else {
                break;
            };
            self.start(store, entry)?;
        }
        Ok(())
    }

    fn start(&mut self, store: &Store, entry: QueueEntry) -> Result<(), String> {
        let dir = self.state_dir.join("serve");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let report = dir.join(format!("{}.json", entry.id));
        let log = dir.join(format!("{}.log", entry.id));
        let items = match &entry.request.items {
            None => None,
            Some(items) => {
                let path = dir.join(format!("{}.items.json", entry.id));
                let text = serde_json::to_string_pretty(items).map_err(|e| e.to_string())?;
                std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
                Some(path)
            }
        };
        let mut cmd = Command::new(&self.exe);
        cmd.args(run_args(&entry.request, &self.state_dir, items.as_deref()));
        if !entry.request.cwd.is_empty() {
            cmd.current_dir(&entry.request.cwd);
        }
        let open = |p: &Path| std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()));
        cmd.stdin(Stdio::null()).stdout(open(&report)?).stderr(open(&log)?);
        process::isolate(&mut cmd);
        match cmd.spawn() {
            Ok(child) => {
                store.set_queue_pid(&entry.id, child.id()).map_err(|e| e.to_string())?;
                let what = match &entry.request.decision {
                    Some(d) => format!("loopc {} {}", if d.approved { "approve" } else { "reject" }, d.run),
                    None => format!("loopc run {}", entry.request.spec),
                };
                eprintln!("loopc serve: {} ({}) started: {what}", entry.id, entry.source);
                self.running.push(Job {
                    id: entry.id,
                    child,
                    report,
                    log,
                });
            }
            Err(e) => {
                let why = format!("could not start {}: {e}", self.exe.display());
                eprintln!("loopc serve: {}: {why}", entry.id);
                store
                    .finish_queued(&entry.id, QueueState::Finished, None, &why)
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }

    /// Record every job that ended; with `stopping` (the server sent it
    /// SIGTERM) it is `interrupted`, and its runs resume with `loopc resume`.
    fn reap(&mut self, store: &Store, stopping: bool) -> Result<(), String> {
        let mut still = Vec::with_capacity(self.running.len());
        for mut job in std::mem::take(&mut self.running) {
            match job.child.try_wait() {
                Ok(None) => still.push(job),
                Ok(Some(status)) => {
                    use std::os::unix::process::ExitStatusExt;
                    let code = status.code().or(status.signal().map(|s| 128 + s));
                    // While stopping, a job ends because the server stopped it.
                    let state = if stopping { QueueState::Interrupted } else { QueueState::Finished };
                    let result = outcome(&job.report, &job.log);
                    eprintln!(
                        "loopc serve: {} {} (exit {})",
                        job.id,
                        state.as_str(),
                        code.map_or("-".to_owned(), |c| c.to_string())
                    );
                    store.finish_queued(&job.id, state, code, &result).map_err(|e| e.to_string())?;
                }
                Err(e) => return Err(format!("waiting for {}: {e}", job.id)),
            }
        }
        self.running = still;
        Ok(())
    }

    /// Stop every job (SIGTERM to its group, SIGKILL after `grace`) and
    /// record how each ended.
    pub fn stop(&mut self, store: &Store, grace: Duration) -> Result<(), String> {
        for job in &self.running {
            process::terminate_group(job.child.id());
        }
        let deadline = Instant::now() + grace;
        while !self.running.is_empty() && Instant::now() < deadline {
            self.reap(store, true)?;
            std::thread::sleep(Duration::from_millis(50));
        }
        for job in &self.running {
            process::kill_group(job.child.id());
        }
        while !self.running.is_empty() {
            self.reap(store, true)?;
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

/// `loopc run` arguments for `request` (`loopc approve|reject` for a decision).
fn run_args(request: &QueueRequest, state_dir: &Path, items: Option<&Path>) -> Vec<String> {
    if let Some(d) = &request.decision {
        // `--note=` and `--`: a note or a run id that starts with `-` is
        // still the note and the run, never an option.
        return vec![
            if d.approved { "approve" } else { "reject" }.to_owned(),
            format!("--note={}", d.note),
            "--state-dir".to_owned(),
            state_dir.display().to_string(),
            "--quiet".to_owned(),
            "--".to_owned(),
            d.run.clone(),
        ];
    }
    let mut args = vec![
        "run".to_owned(),
        request.spec.clone(),
        "--state-dir".to_owned(),
        state_dir.display().to_string(),
        "--format".to_owned(),
        "json".to_owned(),
        "--quiet".to_owned(),
    ];
    if !request.bindings.is_empty() {
        args.extend(["--bindings".to_owned(), request.bindings.clone()]);
    }
    for (name, value) in &request.inputs {
        args.push("--input".to_owned());
        args.push(format!("{name}={}", input_text(value)));
    }
    if let Some(path) = items {
        args.extend(["--items".to_owned(), path.display().to_string()]);
    } else if let Some(path) = &request.items_file {
        args.extend(["--items".to_owned(), path.clone()]);
    } else if let Some(cmd) = &request.items_from {
        args.extend(["--items-from".to_owned(), cmd.clone()]);
    }
    args
}

/// `--input` takes JSON when the text parses as JSON, else the text: a
/// string that would parse (`"42"`, `"true"`) is passed quoted.
fn input_text(value: &Value) -> String {
    match value {
        Value::String(s) if serde_json::from_str::<Value>(s).is_err() => s.clone(),
        other => other.to_string(),
    }
}

/// The run's JSON report, or the end of its log when it printed none.
fn outcome(report: &Path, log: &Path) -> String {
    let text = std::fs::read_to_string(report).unwrap_or_default();
    if serde_json::from_str::<Value>(&text).is_ok() {
        return text;
    }
    let log = std::fs::read_to_string(log).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(20).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_decision_note_or_run_that_looks_like_an_option_is_not_one() {
        let request = QueueRequest {
            decision: Some(loopc_runtime::store::Decision {
                run: "-r1".into(),
                approved: false,
                note: "--state-dir /elsewhere".into(),
            }),
            ..QueueRequest::default()
        };
        let args = run_args(&request, Path::new("/s"), None);
        assert_eq!(
            args,
            [
                "reject",
                "--note=--state-dir /elsewhere",
                "--state-dir",
                "/s",
                "--quiet",
                "--",
                "-r1"
            ]
        );
    }

    #[test]
    fn inputs_pass_as_loopc_run_reads_them() {
        assert_eq!(input_text(&json!(".")), ".");
        assert_eq!(input_text(&json!("42")), "\"42\"");
        assert_eq!(input_text(&json!(42)), "42");
        assert_eq!(input_text(&json!(["bug"])), "[\"bug\"]");
    }
}
