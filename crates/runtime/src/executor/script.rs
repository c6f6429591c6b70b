//! `kind = "script"`: scripted responses from a JSON file (tests, dry runs, replays).
//!
//! Constructors: [`ScriptExecutor::from_config`]`(&ExecutorConfig, &Bindings) -> Result<ScriptExecutor, String>`
//! (the file resolves against the bindings' directory), [`ScriptExecutor::load`]`(&Path)` and
//! [`ScriptExecutor::from_json`]`(&Value, origin: &str)`. The file is read and checked once, at
//! construction; errors name the file.
//!
//! ```json
//! {"steps": {
//!   "workers.patcher": [
//!     {"output": "first try", "usage": {"input_tokens": 10, "output_tokens": 5, "cost_usd": 0.01}},
//!     {"output": {"patch": "..."}, "tool_calls": [{"tool": "write_file", "args": {"path": "a", "content": "b"}}]},
//!     {"attempts": [{"fail": "flaky"}, {"timeout": true}, {"output": "third attempt"}]}
//!   ],
//!   "evaluators.tests": [{"output": {"passed": false, "score": 0.2}}, {"output": {"passed": true}}]
//! }}
//! ```
//!
//! Iteration N uses entry N-1 (iteration 0 uses the first); beyond the list
//! the last entry repeats. A step may also map to a single entry instead of a
//! list. An entry is one of:
//!
//! - an [`Outcome`]: `output` (required, any JSON), `usage` (`input_tokens`,
//!   `output_tokens`, `cost_usd`, each optional) and `tool_calls`
//!   (`[{"tool", "args"}]`);
//! - `{"fail": "message"}` → [`ExecError::Failed`];
//! - `{"timeout": true}` → [`ExecError::Timeout`] (of the invocation's timeout, or zero);
//! - `{"attempts": [entry, …]}`: the k-th call (0-based) for the same step and
//!   iteration on this executor uses `attempts[min(k, len-1)]`, so retries can be
//!   scripted (attempts do not nest).
//!
//! Any entry may add `"delay_ms": n` to sleep first; a delay longer than the
//! invocation's timeout sleeps for the timeout and then times out.
//! Evaluator outputs are returned as written (the interpreter normalises verdicts).
//! A step the file does not mention is [`ExecError::Config`].

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

use super::command::{parse_tool_calls, parse_usage};
use super::{ExecError, Executor, Invocation, Outcome};
use crate::bindings::{Bindings, ExecutorConfig};

#[derive(Clone, Debug, PartialEq)]
enum Reply {
    Outcome(Outcome),
    Fail(String),
    Timeout,
}

#[derive(Clone, Debug, PartialEq)]
struct Entry {
    delay: Option<Duration>,
    reply: Reply,
}

#[derive(Clone, Debug, PartialEq)]
enum Scripted {
    Once(Entry),
    Attempts(Vec<Entry>),
}

/// Replays a script (see the module docs).
#[derive(Debug)]
pub struct ScriptExecutor {
    origin: String,
    steps: BTreeMap<String, Vec<Scripted>>,
    attempts: Mutex<HashMap<(String, u32), usize>>,
}

impl ScriptExecutor {
    /// From a `kind = "script"` config.
    pub fn from_config(config: &ExecutorConfig, bindings: &Bindings) -> Result<Self, String> {
        let ExecutorConfig::Script(crate::bindings::ScriptConfig { file }) = config else {
            return Err("not a `script` executor config".into());
        };
        Self::load(&bindings.path(file))
    }

    /// Read and check a script file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read script {}: {e}", path.display()))?;
        let value: Value = serde_json::from_str(&text).map_err(|e| format!("script {} is not JSON: {e}", path.display()))?;
        Self::from_json(&value, &path.display().to_string())
    }

    /// Check a script given as JSON; `origin` names it in errors.
    pub fn from_json(value: &Value, origin: &str) -> Result<Self, String> {
        let bad = |msg: String| format!("script {origin}: {msg}");
        let Some(Value::Object(steps)) = value.get("steps") else {
            return Err(bad("expected an object {\"steps\": {\"workers.<id>\": [..], ..}}".into()));
        };
        if let Some(extra) = value.as_object().and_then(|o| o.keys().find(|k| *k != "steps")) {
            return Err(bad(format!("unknown top-level key `{extra}` (only `steps`)")));
        }
        let mut parsed = BTreeMap::new();
        for (step, entries) in steps {
            let valid_name = step
                .strip_prefix("workers.")
                .or_else(|| step.strip_prefix("evaluators."))
                .is_some_and(|id| !id.is_empty());
            if !valid_name {
                return Err(bad(format!("step `{step}` must be `workers.<id>` or `evaluators.<id>`")));
            }
            let list = match entries {
                Value::Array(items) if items.is_empty() => return Err(bad(format!("{step}: the list of entries is empty"))),
                Value::Array(items) => items.iter().collect::<Vec<_>>(),
                single => vec![single],
            };
            let mut scripted = Vec::with_capacity(list.len());
            for (i, entry) in list.into_iter().enumerate() {
                let at = format!("{step}[{i}]");
                scripted.push(parse_scripted(entry).map_err(|e| bad(format!("{at}: {e}")))?);
            }
            parsed.insert(step.clone(), scripted);
        }
        Ok(ScriptExecutor {
            origin: origin.to_owned(),
            steps: parsed,
            attempts: Mutex::new(HashMap::new()),
        })
    }

    fn entry_for(&self, invocation: &Invocation) -> Result<Entry, ExecError> {
        let path = invocation.step.path();
        let Some(list) = self.steps.get(&path) else {
            return Err(ExecError::Config(format!("no scripted response for {path} (in {})", self.origin)));
        };
        let index = (invocation.iteration.saturating_sub(1) as usize).min(list.len() - 1);
        Ok(match &list[index] {
            Scripted::Once(entry) => entry.clone(),
            Scripted::Attempts(attempts) => {
                let mut counters = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
                let k = counters.entry((path, invocation.iteration)).or_insert(0);
                let entry = attempts[(*k).min(attempts.len() - 1)].clone();
                *k += 1;
                entry
            }
        })
    }
}

impl Executor for ScriptExecutor {
    fn invoke(&self, invocation: &Invocation) -> Result<Outcome, ExecError> {
        let entry = self.entry_for(invocation)?;
        if let Some(delay) = entry.delay {
            match invocation.timeout {
                Some(t) if t < delay => {
                    std::thread::sleep(t);
                    return Err(ExecError::Timeout(t));
                }
                _ => std::thread::sleep(delay),
            }
        }
        match entry.reply {
            Reply::Outcome(o) => Ok(o),
            Reply::Fail(m) => Err(ExecError::Failed(m)),
            Reply::Timeout => Err(ExecError::Timeout(invocation.timeout.unwrap_or_default())),
        }
    }
}

fn parse_scripted(v: &Value) -> Result<Scripted, String> {
    match v.get("attempts") {
        Some(Value::Array(items)) if !items.is_empty() => {
            if let Some(extra) = v.as_object().and_then(|o| o.keys().find(|k| *k != "attempts")) {
                return Err(format!("an `attempts` entry has only `attempts`, not `{extra}`"));
            }
            let entries = items
                .iter()
                .enumerate()
                .map(|(k, item)| parse_entry(item).map_err(|e| format!("attempts[{k}]: {e}")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Scripted::Attempts(entries))
        }
        Some(_) => Err("`attempts` must be a non-empty list of entries".into()),
        None => Ok(Scripted::Once(parse_entry(v)?)),
    }
}

fn parse_entry(v: &Value) -> Result<Entry, String> {
    let Value::Object(m) = v else {
        return Err(format!("an entry must be an object, not {v}"));
    };
    let delay = match m.get("delay_ms") {
        None => None,
        Some(d) => Some(Duration::from_millis(
            d.as_u64()
                .ok_or_else(|| format!("`delay_ms` must be a non-negative integer, not {d}"))?,
        )),
    };
    let keys: Vec<&str> = m.keys().map(String::as_str).filter(|k| *k != "delay_ms").collect();
    let only = |allowed: &[&str]| -> Result<(), String> {
        match keys.iter().find(|k| !allowed.contains(k)) {
            Some(extra) => Err(format!("unexpected key `{extra}` next to `{}`", allowed[0])),
            None => Ok(()),
        }
    };
    let reply = if let Some(f) = m.get("fail") {
        only(&["fail"])?;
        Reply::Fail(
            f.as_str()
                .ok_or_else(|| format!("`fail` must be a message string, not {f}"))?
                .to_owned(),
        )
    } else if let Some(t) = m.get("timeout") {
        only(&["timeout"])?;
        if t != &Value::Bool(true) {
            return Err(format!("`timeout` must be true, not {t}"));
        }
        Reply::Timeout
    } else if let Some(output) = m.get("output") {
        only(&["output", "usage", "tool_calls"])?;
        let usage = match m.get("usage") {
            None | Some(Value::Null) => Default::default(),
            Some(u) => parse_usage(u)?,
        };
        let tool_calls = match m.get("tool_calls") {
            None | Some(Value::Null) => Vec::new(),
            Some(t) => parse_tool_calls(t)?,
        };
        Reply::Outcome(Outcome {
            output: output.clone(),
            usage,
            tool_calls,
        })
    } else if m.contains_key("attempts") {
        return Err("`attempts` cannot nest".into());
    } else {
        return Err("an entry needs `output`, `fail`, `timeout` or `attempts`".into());
    };
    Ok(Entry { delay, reply })
}
