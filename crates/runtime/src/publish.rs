//! Publishing a run's result, and shadow mode.
//!
//! `[[publish]]` hooks in the bindings (`argv = ["gh", "pr", "create", …]`,
//! `["git", "push", "origin", "{branch}"]`) run once, in order, after the run
//! has succeeded — so never while a human gate holds the output back: the
//! run succeeds only after `loopc approve`. Each hook runs in the workspace
//! with the basic environment plus its own `pass_env` (its token), in its
//! own process group, killed at its timeout; it is committed as a step
//! (`publish.<n>`), so a resumed run does not publish twice. `{branch}`,
//! `{run_id}`, `{loop_name}` and `{workspace}` are replaced in its arguments.
//!
//! **Shadow mode** (`loopc run --shadow`): everything inside the workspace
//! runs for real — workers, tools, evaluators, gates — but what acts outside
//! it is recorded and not done: publish hooks, command executors marked
//! `outward = true`, and `run_command` calls that match `[shadow]
//! outward_commands` (by default `git push`, `gh pr create`, …). The run's
//! report lists what would have happened.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Value};

/// One `[[publish]]` hook.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishHook {
    pub argv: Vec<String>,
    /// Environment variables of loopc's own passed to this hook only.
    #[serde(default)]
    pub pass_env: Vec<String>,
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

fn default_timeout() -> u64 {
    300
}

/// `[shadow]`: what counts as acting outside the workspace.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShadowConfig {
    /// Commands (program and leading words) that a `run_command` tool call
    /// may not run in shadow mode.
    #[serde(default = "default_outward")]
    pub outward_commands: Vec<String>,
}

impl Default for ShadowConfig {
    fn default() -> Self {
        ShadowConfig {
            outward_commands: default_outward(),
        }
    }
}

fn default_outward() -> Vec<String> {
    [
        "git push",
        "git send-email",
        "gh pr create",
        "gh pr merge",
        "gh pr comment",
        "gh issue create",
        "gh issue comment",
        "gh release create",
        "gh api",
        "glab mr create",
        "npm publish",
        "cargo publish",
        "twine upload",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

impl ShadowConfig {
    /// Whether `argv` is one of the outward commands: its program's name
    /// and then the pattern's words, in order, among its arguments.
    pub fn is_outward(&self, argv: &[String]) -> bool {
        let Some(program) = argv.first() else { return false };
        let name = Path::new(program).file_name().and_then(|n| n.to_str()).unwrap_or(program);
        self.outward_commands.iter().any(|pattern| {
            let mut words = pattern.split_whitespace();
            if words.next() != Some(name) {
                return false;
            }
            let mut args = argv[1..].iter().filter(|a| !a.starts_with('-'));
            words.all(|w| args.any(|a| a == w))
        })
    }
}

/// What a shadowed action returns in place of running.
pub fn shadowed(argv: &[String]) -> Value {
    json!({"shadow": true, "would_run": argv, "exit_code": 0, "stdout": "", "stderr": ""})
}

/// The values a hook's arguments may name.
pub struct HookContext<'a> {
    pub run_id: &'a str,
    pub loop_name: &'a str,
    pub branch: &'a str,
    pub workspace: &'a Path,
}

impl PublishHook {
    pub fn argv_for(&self, cx: &HookContext<'_>) -> Vec<String> {
        self.argv
            .iter()
            .map(|a| {
                a.replace("{branch}", cx.branch)
                    .replace("{run_id}", cx.run_id)
                    .replace("{loop_name}", cx.loop_name)
                    .replace("{workspace}", &cx.workspace.to_string_lossy())
            })
            .collect()
    }

    /// Run the hook: `Ok` with its exit code and output tails, `Err` when it
    /// could not start, failed or timed out.
    pub fn run(&self, argv: &[String], cx: &HookContext<'_>) -> Result<Value, String> {
        let Some((program, args)) = argv.split_first() else {
            return Err("a publish hook has an empty argv".into());
        };
        // Outward by nature: no OS sandbox, the network kept, but only the
        // basic environment and this hook's own variables.
        let isolation = crate::process::Isolation {
            root: cx.workspace.to_path_buf(),
            network: true,
            pass_env: self.pass_env.clone(),
            ..Default::default()
        };
        let mut command = isolation.command(program.as_ref(), args, cx.workspace);
        command
            .env("LOOPC_RUN_ID", cx.run_id)
            .env("LOOPC_BRANCH", cx.branch)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child =
            crate::process::Spawned::spawn(&mut command, None, program).map_err(|e| format!("cannot start `{program}`: {e}"))?;
        let stdout = child.child_mut().stdout.take();
        let stderr = child.child_mut().stderr.take();
        let read = |pipe: Option<Box<dyn std::io::Read + Send>>| {
            std::thread::spawn(move || {
                let mut text = String::new();
                if let Some(mut p) = pipe {
                    let _ = std::io::Read::read_to_string(&mut p, &mut text);
                }
                text
            })
        };
        let out = read(stdout.map(|s| Box::new(s) as _));
        let err = read(stderr.map(|s| Box::new(s) as _));
        let deadline = Instant::now() + Duration::from_secs(self.timeout_seconds);
        let status = match child.wait_to_end(Some(deadline)) {
            Ok(Some(status)) => status,
            Ok(None) => return Err(format!("`{program}` timed out after {} s", self.timeout_seconds)),
            Err(e) => return Err(format!("cannot wait for `{program}`: {e}")),
        };
        let tail = |t: String| t.chars().rev().take(2000).collect::<Vec<_>>().into_iter().rev().collect::<String>();
        let (stdout, stderr) = (tail(out.join().unwrap_or_default()), tail(err.join().unwrap_or_default()));
        if !status.success() {
            return Err(format!("`{}` exited with {status}: {}", argv.join(" "), stderr.trim()));
        }
        Ok(json!({"argv": argv, "exit_code": status.code(), "stdout": stdout, "stderr": stderr}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn outward_commands_by_program_and_words() {
        let shadow = ShadowConfig::default();
        assert!(shadow.is_outward(&argv("git push origin main")));
        assert!(shadow.is_outward(&argv("/usr/bin/git push --force origin x")));
        assert!(shadow.is_outward(&argv("gh pr create --fill")));
        assert!(!shadow.is_outward(&argv("git status")));
        assert!(!shadow.is_outward(&argv("gh pr view 3")));
        assert!(!shadow.is_outward(&argv("python3 -m pytest")));
    }
}
