//! `kind = "command"`: run a program for a step.
//!
//! Constructors: [`CommandExecutor::from_config`]`(&ExecutorConfig, &Bindings) -> Result<CommandExecutor, String>`
//! (a relative program path that contains a `/`, e.g. `./check.sh`, resolves against the bindings'
//! directory) and [`CommandExecutor::new`]`(argv, verdict, env)`.
//!
//! The program runs with the invocation's workspace as working directory,
//! isolated as the invocation says (the run's OS sandbox), with the basic
//! environment variables only ([`crate::process::BASE_ENV`], plus the
//! sandbox's `pass_env`), extended by `env` and by `LOOPC_RUN_ID`, `LOOPC_STEP`
//! (`workers.<id>` / `evaluators.<id>`) and `LOOPC_ITERATION`, and the
//! [`Invocation`] as JSON on stdin. It runs in its own process group, which
//! ends with it: when the program exits, whatever it left running in the
//! background is killed; at the invocation's timeout the whole group is
//! killed and the step is a [`ExecError::Timeout`]. stdout is kept up to
//! [`MAX_STDOUT`] bytes, the last [`TAIL`] bytes of stderr are kept for error
//! messages. Output pipes still held open [`LINGER`] after that (by a process
//! that left the group) are cut off.
//!
//! **Workers**: a non-zero exit is [`ExecError::Failed`] (exit code and stderr
//! tail). If stdout is a JSON object with an `output` key, that is the output,
//! with optional `usage` (`input_tokens`, `output_tokens`, `cost_usd`, each
//! defaulting to 0) and `tool_calls` (`[{"tool": .., "args": ..}]`); otherwise
//! the whole stdout (less one trailing newline) is the output string.
//!
//! **Evaluators**: with `verdict = "exit_code"` the output is
//! `{"passed": exit == 0, "score": 1.0 | 0.0, "exit_code": n | null, "raw_output": tail}`
//! — a failing check is a verdict, not an error; `raw_output` is the tail of
//! stdout (and of stderr, marked `[stderr]`), at most [`TAIL`] bytes. With
//! `verdict = "json"` stdout must be a JSON object with `passed` (bool) and/or
//! `score` (number); the exit code is then ignored. A missing `score` is
//! `1.0`/`0.0` from `passed`; a missing `passed` is `score >= 1.0` (the
//! interpreter's threshold for deterministic evaluators). Other keys
//! (`failure_codes`, `remediation_hints`, `summary`, `dimension_scores`, …)
//! are kept. Anything else on stdout is [`ExecError::Failed`].
//!
//! A program that cannot be started (not found, not executable, missing
//! workspace) is [`ExecError::Config`].

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::{ExecError, Executor, Invocation, Outcome, StepRef, ToolCall, Usage};
use crate::bindings::{Bindings, ExecutorConfig, Verdict};
use crate::process::Spawned;

/// Most of stdout a command executor keeps.
pub const MAX_STDOUT: usize = 8 * 1024 * 1024;
/// How much of stderr (and of a verdict's `raw_output`) is kept.
pub const TAIL: usize = 4096;
/// How long output pipes may stay open after the program exited.
pub const LINGER: Duration = Duration::from_secs(2);

/// Runs `argv` for a step (see the module docs).
#[derive(Clone, Debug)]
pub struct CommandExecutor {
    argv: Vec<String>,
    verdict: Verdict,
    env: BTreeMap<String, String>,
}

impl CommandExecutor {
    /// `argv` must not be empty.
    pub fn new(argv: Vec<String>, verdict: Verdict, env: BTreeMap<String, String>) -> Result<Self, String> {
        if argv.is_empty() {
            return Err("command executor: argv is empty".into());
        }
        Ok(CommandExecutor { argv, verdict, env })
    }

    /// From a `kind = "command"` config.
    pub fn from_config(config: &ExecutorConfig, bindings: &Bindings) -> Result<Self, String> {
        let ExecutorConfig::Command(c) = config else {
            return Err("not a `command` executor config".into());
        };
        let (mut argv, verdict, env) = (c.argv.clone(), &c.verdict, &c.env);
        if let Some(program) = argv.first_mut() {
            if program.contains('/') && Path::new(program.as_str()).is_relative() {
                *program = bindings.base_dir.join(program.as_str()).to_string_lossy().into_owned();
            }
        }
        Self::new(argv, *verdict, env.clone())
    }

    fn program(&self) -> &str {
        &self.argv[0]
    }

    fn spawn(&self, invocation: &Invocation) -> Result<Spawned, ExecError> {
        if !invocation.workspace.is_dir() {
            return Err(ExecError::Config(format!(
                "workspace {} is not a directory",
                invocation.workspace.display()
            )));
        }
        let plain;
        let isolation = match &invocation.isolation {
            Some(i) => i.as_ref(),
            None => {
                plain = crate::process::Isolation {
                    root: invocation.workspace.clone(),
                    network: true,
                    ..Default::default()
                };
                &plain
            }
        };
        let mut cmd = isolation.command(self.program().as_ref(), &self.argv[1..], &invocation.workspace);
        cmd.envs(&self.env)
            .env("LOOPC_RUN_ID", &invocation.run_id)
            .env("LOOPC_STEP", invocation.step.path())
            .env("LOOPC_ITERATION", invocation.iteration.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Spawned::spawn(&mut cmd, invocation.processes.clone(), self.program()).map_err(|e| {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => "program not found".to_owned(),
                std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
                _ => e.to_string(),
            };
            ExecError::Config(format!("cannot start `{}`: {why}", self.program()))
        })
    }

    /// Run the program to completion (or its timeout). Its whole process
    /// group ends with it: nothing it started in the background outlives it.
    fn run(&self, invocation: &Invocation) -> Result<Finished, ExecError> {
        let input = serde_json::to_vec(invocation).map_err(|e| ExecError::Failed(format!("cannot serialize the invocation: {e}")))?;
        self.run_with_input(invocation, input)
    }

    /// [`Self::run`] with `input` on stdin instead of the invocation.
    pub(crate) fn run_with_input(&self, invocation: &Invocation, input: Vec<u8>) -> Result<Finished, ExecError> {
        let mut child = self.spawn(invocation)?;
        if let Some(mut stdin) = child.child_mut().stdin.take() {
            // A program that does not read its stdin must not block us.
            std::thread::spawn(move || {
                let _ = stdin.write_all(&input);
            });
        }
        let stdout = Capture::spawn(child.child_mut().stdout.take(), MAX_STDOUT);
        let stderr = Capture::spawn(child.child_mut().stderr.take(), 0);
        let deadline = invocation.timeout.map(|t| Instant::now() + t);
        let status = match child.wait_until(deadline) {
            Ok(Some(status)) => status,
            Ok(None) if child.stop_requested() => return Err(ExecError::Stopped("the run was asked to stop".into())),
            Ok(None) => return Err(ExecError::Timeout(invocation.timeout.unwrap_or_default())),
            Err(e) => return Err(ExecError::Failed(format!("cannot wait for `{}`: {e}", self.program()))),
        };
        // The group is gone; a pipe still open now belongs to a process that
        // left the group (setsid): stop reading it.
        let linger = Instant::now() + LINGER;
        stdout.wait_until(linger);
        stderr.wait_until(linger);
        Ok(Finished {
            status,
            stdout: stdout.snapshot(),
            stderr: stderr.snapshot(),
        })
    }

    /// Output that was cut at [`MAX_STDOUT`] cannot be parsed as a whole.
    fn check_output_size(&self, f: &Finished) -> Result<(), ExecError> {
        if f.stdout.total > MAX_STDOUT as u64 {
            return Err(ExecError::Failed(format!(
                "`{}` printed {} bytes, more than the {MAX_STDOUT} kept",
                self.program(),
                f.stdout.total
            )));
        }
        Ok(())
    }

    fn worker_outcome(&self, f: Finished) -> Result<Outcome, ExecError> {
        if !f.status.success() {
            return Err(ExecError::Failed(format!(
                "`{}` {}{}",
                self.program(),
                describe(&f.status),
                stderr_suffix(&f.stderr)
            )));
        }
        self.check_output_size(&f)?;
        let text = String::from_utf8_lossy(&f.stdout.head);
        if let Ok(Value::Object(mut object)) = serde_json::from_str::<Value>(&text) {
            if let Some(output) = object.remove("output") {
                let usage = match object.get("usage") {
                    None | Some(Value::Null) => Usage::default(),
                    Some(u) => parse_usage(u).map_err(|e| ExecError::Failed(format!("`{}`: {e}", self.program())))?,
                };
                let tool_calls = match object.get("tool_calls") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(t) => parse_tool_calls(t).map_err(|e| ExecError::Failed(format!("`{}`: {e}", self.program())))?,
                };
                return Ok(Outcome { output, usage, tool_calls });
            }
        }
        let text = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text);
        Ok(Outcome {
            output: Value::String(text.to_owned()),
            ..Outcome::default()
        })
    }

    fn evaluator_outcome(&self, f: Finished) -> Result<Outcome, ExecError> {
        let output = match self.verdict {
            Verdict::ExitCode => {
                let passed = f.status.success();
                json!({
                    "passed": passed,
                    "score": if passed { 1.0 } else { 0.0 },
                    "exit_code": f.status.code(),
                    "raw_output": raw_output(&f.stdout.tail, &f.stderr.tail),
                })
            }
            Verdict::Json => {
                self.check_output_size(&f)?;
                let text = String::from_utf8_lossy(&f.stdout.head);
                let value = serde_json::from_str::<Value>(text.trim()).map_err(|e| {
                    ExecError::Failed(format!(
                        "`{}` ({}) did not print a JSON verdict: {e}{}",
                        self.program(),
                        describe(&f.status),
                        stderr_suffix(&f.stderr)
                    ))
                })?;
                json_verdict(value).map_err(|e| ExecError::Failed(format!("`{}`: {e}", self.program())))?
            }
        };
        Ok(Outcome {
            output,
            ..Outcome::default()
        })
    }
}

impl Executor for CommandExecutor {
    fn invoke(&self, invocation: &Invocation) -> Result<Outcome, ExecError> {
        let finished = self.run(invocation)?;
        match invocation.step {
            StepRef::Worker(_) => self.worker_outcome(finished),
            StepRef::Evaluator(_) => self.evaluator_outcome(finished),
        }
    }
}

/// Check and complete a JSON verdict (see the module docs).
pub fn json_verdict(value: Value) -> Result<Value, String> {
    let Value::Object(mut verdict) = value else {
        return Err("the verdict is not a JSON object".into());
    };
    let passed = match verdict.get("passed") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => return Err(format!("`passed` must be true or false, not {other}")),
    };
    let score = match verdict.get("score") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_f64() {
            Some(s) if s.is_finite() => Some(s),
            _ => return Err(format!("`score` must be a number, not {v}")),
        },
    };
    let (passed, score) = match (passed, score) {
        (Some(p), Some(s)) => (p, s),
        (Some(p), None) => (p, if p { 1.0 } else { 0.0 }),
        (None, Some(s)) => (s >= 1.0, s),
        (None, None) => return Err("the verdict has neither `passed` nor `score`".into()),
    };
    verdict.insert("passed".into(), json!(passed));
    verdict.insert("score".into(), json!(score));
    Ok(Value::Object(verdict))
}

/// `{input_tokens, output_tokens, cost_usd}`, each optional.
pub(crate) fn parse_usage(v: &Value) -> Result<Usage, String> {
    let Value::Object(m) = v else {
        return Err(format!("`usage` must be an object, not {v}"));
    };
    let tokens = |k: &str| -> Result<u64, String> {
        match m.get(k) {
            None | Some(Value::Null) => Ok(0),
            Some(x) => x
                .as_u64()
                .ok_or_else(|| format!("`usage.{k}` must be a non-negative integer, not {x}")),
        }
    };
    let cost_usd = match m.get("cost_usd") {
        None | Some(Value::Null) => 0.0,
        Some(x) => match x.as_f64() {
            Some(c) if c.is_finite() && c >= 0.0 => c,
            _ => return Err(format!("`usage.cost_usd` must be a non-negative number, not {x}")),
        },
    };
    Ok(Usage {
        input_tokens: tokens("input_tokens")?,
        output_tokens: tokens("output_tokens")?,
        cost_usd,
    })
}

/// `[{"tool": name, "args": any}]`.
pub(crate) fn parse_tool_calls(v: &Value) -> Result<Vec<ToolCall>, String> {
    let Value::Array(items) = v else {
        return Err(format!("`tool_calls` must be a list, not {v}"));
    };
    items
        .iter()
        .map(|item| {
            let tool = item
                .get("tool")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("a tool call needs a `tool` name: {item}"))?;
            Ok(ToolCall {
                tool: tool.to_owned(),
                args: item.get("args").cloned().unwrap_or(Value::Object(Map::new())),
            })
        })
        .collect()
}

pub(crate) struct Finished {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: Snapshot,
    pub(crate) stderr: Snapshot,
}

pub(crate) struct Snapshot {
    pub(crate) head: Vec<u8>,
    pub(crate) tail: Vec<u8>,
    pub(crate) total: u64,
}

#[derive(Default)]
struct CaptureState {
    head: Vec<u8>,
    tail: Vec<u8>,
    total: u64,
    done: bool,
}

/// A stream read by a thread: its first `head_cap` bytes and its last [`TAIL`] bytes.
#[derive(Clone)]
struct Capture(Arc<(Mutex<CaptureState>, Condvar)>);

impl Capture {
    fn spawn<R: Read + Send + 'static>(stream: Option<R>, head_cap: usize) -> Capture {
        let capture = Capture(Arc::new((Mutex::new(CaptureState::default()), Condvar::new())));
        let Some(mut stream) = stream else {
            capture.0 .0.lock().unwrap_or_else(|e| e.into_inner()).done = true;
            return capture;
        };
        let shared = capture.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match stream.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                };
                let chunk = &buf[..n];
                let mut s = shared.0 .0.lock().unwrap_or_else(|e| e.into_inner());
                s.total += n as u64;
                let room = head_cap.saturating_sub(s.head.len());
                s.head.extend_from_slice(&chunk[..room.min(n)]);
                s.tail.extend_from_slice(&chunk[n.saturating_sub(TAIL)..]);
                if s.tail.len() > TAIL {
                    let excess = s.tail.len() - TAIL;
                    s.tail.drain(..excess);
                }
            }
            shared.0 .0.lock().unwrap_or_else(|e| e.into_inner()).done = true;
            shared.0 .1.notify_all();
        });
        capture
    }

    /// Wait for the end of the stream until `deadline`; whether it ended.
    fn wait_until(&self, deadline: Instant) -> bool {
        let (lock, cv) = &*self.0;
        let mut s = lock.lock().unwrap_or_else(|e| e.into_inner());
        while !s.done {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            s = cv.wait_timeout(s, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
        true
    }

    fn snapshot(&self) -> Snapshot {
        let s = self.0 .0.lock().unwrap_or_else(|e| e.into_inner());
        Snapshot {
            head: s.head.clone(),
            tail: s.tail.clone(),
            total: s.total,
        }
    }
}

pub(crate) fn describe(status: &ExitStatus) -> String {
    match status.code() {
        Some(c) => format!("exited with status {c}"),
        None => {
            use std::os::unix::process::ExitStatusExt;
            match status.signal() {
                Some(s) => format!("was killed by signal {s}"),
                None => "ended abnormally".into(),
            }
        }
    }
}

/// The last `max` bytes as text, starting at a character boundary.
fn tail_text(bytes: &[u8], max: usize) -> String {
    let mut start = bytes.len().saturating_sub(max);
    while start < bytes.len() && start > 0 && (bytes[start] & 0xC0) == 0x80 {
        start += 1;
    }
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

pub(crate) fn stderr_suffix(stderr: &Snapshot) -> String {
    let text = tail_text(&stderr.tail, TAIL);
    let text = text.trim();
    if text.is_empty() {
        String::new()
    } else {
        format!("; stderr: {text}")
    }
}

/// stdout's tail and, when there is one, stderr's tail (at most a quarter), within [`TAIL`] bytes.
fn raw_output(stdout: &[u8], stderr: &[u8]) -> String {
    const MARK: &str = "\n[stderr]\n";
    let stderr_trimmed = {
        let s = tail_text(stderr, TAIL / 4);
        s.trim().to_owned()
    };
    if stderr_trimmed.is_empty() {
        return tail_text(stdout, TAIL);
    }
    let room = TAIL.saturating_sub(stderr_trimmed.len() + MARK.len());
    let out = tail_text(stdout, room);
    format!("{}{MARK}{stderr_trimmed}", out.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_completion() {
        assert_eq!(json_verdict(json!({"score": 1.0})).unwrap()["passed"], json!(true));
        assert_eq!(json_verdict(json!({"score": 0.5})).unwrap()["passed"], json!(false));
        assert_eq!(
            json_verdict(json!({"passed": true, "summary": "ok"})).unwrap(),
            json!({"passed": true, "score": 1.0, "summary": "ok"})
        );
        assert!(json_verdict(json!({"summary": "?"})).is_err());
        assert!(json_verdict(json!({"passed": "yes"})).is_err());
        assert!(json_verdict(json!([1])).is_err());
    }

    #[test]
    fn tails() {
        assert_eq!(tail_text("héllo".as_bytes(), 4), "llo");
        let raw = raw_output(&[b'a'; 5000], b"boom\n");
        assert!(raw.len() <= TAIL && raw.ends_with("[stderr]\nboom"), "{raw}");
        assert_eq!(raw_output(b"ok\n", b""), "ok\n");
    }
}
