//! Programs: the allowlist, the denylist, argument paths and running with a timeout.
//!
//! A command line is checked as the programs it runs ([`analyse`]): after
//! shell-word splitting of `sh -c` scripts ([`shell`]), through wrappers
//! (`env`, `nice`, `timeout`, `xargs`, `find -exec`, `sudo`, `busybox`) and
//! git's global options. Denied commands are patterns ([`deny`]); allowed
//! programs are files ([`allow`]).

pub(crate) mod allow;
pub(crate) mod analyse;
pub(crate) mod deny;
pub(crate) mod shell;

use std::io::Read;
use std::path::{Path, PathBuf};

use analyse::{Analysis, Cmd, Problem};
use deny::DenyRule;

pub use crate::bindings::ShellScripts;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{BlockRule, Blocked, Sandbox, ToolFailure};

/// Programs whose `-c` argument is a command line.
pub(crate) const SHELLS: &[&str] = &["sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish", "yash", "posh", "rbash"];

/// Shell words that are not programs (for the allowlist inside `sh -c`).
const SHELL_BUILTINS: &[&str] = &[
    "cd", "echo", "printf", "export", "unset", "set", "true", "false", "test", "[", "[[", "]]", ":", "pwd", "exit", "return", "read",
    "shift", "local", "if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac", "in", "function", "{",
    "}", "!", "wait", "trap", "alias", "type", "command", "builtin", "let", "declare", "exec", "eval", "source", ".", "pushd", "popd",
    "dirs", "readonly", "typeset", "hash", "umask", "shopt", "getopts", "break", "continue", "fc", "enable",
];

/// Paths a command may always name.
pub(crate) const EXEMPT_PATHS: &[&str] = &[
    "/dev/null",
    "/dev/stdin",
    "/dev/stdout",
    "/dev/stderr",
    "/dev/zero",
    "/dev/urandom",
    "/dev/random",
    "/dev/tty",
];

/// Most of a stream `run_command` keeps.
pub const MAX_STREAM_BYTES: usize = 1024 * 1024;

/// What a finished command printed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CommandOutput {
    /// `None` when a signal ended it.
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

pub(super) fn normalize_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub(crate) fn file_name(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

/// The spellings of a command line that text entries of the denylist are
/// matched against: the joined argv and every shell script in it, with
/// whitespace normalized, and the same with quotes removed.
fn text_candidates(argv: &[String], scripts: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for t in std::iter::once(argv.join(" ")).chain(scripts.iter().cloned()) {
        out.push(normalize_ws(&unquote(&t)));
        out.push(normalize_ws(&t));
    }
    out
}

fn unquote(s: &str) -> String {
    s.chars().filter(|c| !matches!(c, '\'' | '"' | '\\')).collect()
}

/// Whether `argv` may run (see [`Sandbox::check_command`]): every program it
/// runs, through wrappers and shell scripts, is allowed; none is a denied
/// command; and, under `shell_scripts = "strict"`, everything it runs could
/// be seen before it runs.
pub(super) fn check_command(sb: &Sandbox, argv: &[String], mode: ShellScripts, denylist: bool) -> Result<(), Blocked> {
    if argv.is_empty() {
        return Err(Blocked::new(BlockRule::ProgramNotAllowed, "empty command line"));
    }
    let analysis = analyse::analyse(&sb.root, argv);
    if denylist {
        check_denied(sb, argv, &analysis)?;
    }
    check_programs(sb, &analysis)?;
    check_git_reach(sb, &analysis)?;
    if mode == ShellScripts::Strict {
        if let Some(Problem::Opaque(why)) = analysis.problems.iter().find(|p| matches!(p, Problem::Opaque(_))) {
            return Err(Blocked::new(
                BlockRule::NotAnalysable,
                format!("{why}; loopc runs only commands it can check (set `[sandbox] shell_scripts = \"best_effort\"` to run such commands with best-effort checks)"),
            ));
        }
    }
    Ok(())
}

fn check_programs(sb: &Sandbox, analysis: &Analysis) -> Result<(), Blocked> {
    if sb.allow_programs.is_empty() {
        return Ok(());
    }
    let list = || sb.allow_programs.iter().map(|a| a.entry.as_str()).collect::<Vec<_>>().join(", ");
    for cmd in &analysis.commands {
        let Some(program) = cmd.args.first() else { continue };
        if !program.known {
            return Err(Blocked::new(
                BlockRule::ProgramNotAllowed,
                format!(
                    "the program `{}` comes from a variable and cannot be matched with allow_programs ({})",
                    program.text,
                    list()
                ),
            ));
        }
        if cmd.in_shell && SHELL_BUILTINS.contains(&program.text.as_str()) {
            continue;
        }
        if !allow::allowed(&sb.root, &sb.allow_programs, &program.text) {
            let place = if cmd.in_shell { " (inside a shell command)" } else { "" };
            return Err(Blocked::new(
                BlockRule::ProgramNotAllowed,
                format!("program `{}`{place} is not in allow_programs ({})", program.text, list()),
            ));
        }
    }
    Ok(())
}

fn check_denied(sb: &Sandbox, argv: &[String], analysis: &Analysis) -> Result<(), Blocked> {
    let mut texts: Option<Vec<String>> = None;
    for rule in &sb.deny_commands {
        match rule {
            DenyRule::Pattern(p) => {
                for cmd in &analysis.commands {
                    let how = if p.matches(cmd) {
                        if cmd.has_unknown_args() {
                            " (its arguments are not known before it runs)"
                        } else {
                            ""
                        }
                    } else if p.is_recursive_delete() && deny::interpreter_deletes_tree(cmd) {
                        " (an interpreter deleting a directory tree)"
                    } else if p.is_recursive_delete() && deny::find_deletes(cmd) {
                        " (`find -delete` deletes a tree)"
                    } else {
                        continue;
                    };
                    return Err(Blocked::new(
                        BlockRule::DeniedCommand,
                        format!("`{}` is the denied command `{}`{how}", shown(cmd), p.entry),
                    ));
                }
            }
            DenyRule::Text(t) => {
                let texts = texts.get_or_insert_with(|| text_candidates(argv, &analysis.scripts));
                if texts.iter().any(|c| c.contains(t.as_str())) {
                    return Err(Blocked::new(
                        BlockRule::DeniedCommand,
                        format!("command line contains denied command `{t}`"),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Git commands that only read. When the root is a subdirectory of a
/// repository, every other git command writes to that repository — its
/// index, its refs, its work tree above the root — so it is refused.
const GIT_READ_ONLY: &[&str] = &[
    "status",
    "log",
    "diff",
    "show",
    "ls-files",
    "ls-tree",
    "rev-parse",
    "rev-list",
    "blame",
    "annotate",
    "grep",
    "cat-file",
    "describe",
    "shortlog",
    "show-ref",
    "for-each-ref",
    "name-rev",
    "merge-base",
    "version",
    "help",
    "var",
    "check-ignore",
    "check-attr",
    "check-ref-format",
    "range-diff",
    "whatchanged",
    "count-objects",
    "diff-files",
    "diff-index",
    "diff-tree",
    "verify-commit",
    "verify-tag",
    "cherry",
    "show-branch",
];

fn check_git_reach(sb: &Sandbox, analysis: &Analysis) -> Result<(), Blocked> {
    let Some(top) = &sb.repository_above_root else { return Ok(()) };
    for cmd in &analysis.commands {
        if cmd.name() != Some("git") {
            continue;
        }
        let Some(sub) = cmd.args.get(1).filter(|a| !a.text.starts_with('-')) else {
            continue;
        };
        let dry_run = sub.text == "clean" && deny::is_dry_run(&cmd.args[2..]);
        if !sub.known || !(GIT_READ_ONLY.contains(&sub.text.as_str()) || dry_run) {
            return Err(Blocked::new(
                BlockRule::PathOutsideRoot,
                if top == sb.root() {
                    format!(
                        "`git {}` writes to the repository this worktree belongs to, whose refs and objects lie outside the workspace (only reading git commands run in a linked worktree)",
                        sub.text
                    )
                } else {
                    format!(
                        "`git {}` writes to the repository at {}, which extends above the workspace root (only reading git commands run there)",
                        sub.text,
                        top.display()
                    )
                },
            ));
        }
    }
    Ok(())
}

/// The repository top level above `root`, when `root` is inside one but is
/// not its top; `root` itself when it is a linked worktree (its `.git` is a
/// file: the refs, among them every other branch, are the repository's).
pub(crate) fn repository_above(root: &Path) -> Option<PathBuf> {
    let dot_git = root.join(".git");
    if dot_git.is_file() {
        return Some(root.to_path_buf());
    }
    if dot_git.exists() {
        return None;
    }
    root.ancestors().skip(1).find(|a| a.join(".git").exists()).map(Path::to_path_buf)
}

fn shown(cmd: &Cmd) -> String {
    let text = cmd.args.iter().map(|a| a.text.as_str()).collect::<Vec<_>>().join(" ");
    if text.chars().count() > 120 {
        format!("{}…", text.chars().take(120).collect::<String>())
    } else {
        text
    }
}

/// Paths in every program's arguments, `cd` targets and redirections
/// that leave the root (see [`analyse`]).
pub(super) fn check_paths(sb: &Sandbox, argv: &[String]) -> Result<(), Blocked> {
    let analysis = analyse::analyse(&sb.root, argv);
    for p in analysis.problems {
        match p {
            Problem::Outside(why) => return Err(Blocked::new(BlockRule::PathOutsideRoot, why)),
            Problem::Protected(why) => return Err(Blocked::new(BlockRule::ProtectedPath, why)),
            Problem::Opaque(_) => {}
        }
    }
    Ok(())
}

/// Tokens of an argument that may name files: the argument, a `--flag=value`
/// value, and the words of code and shell strings split at quotes,
/// separators and redirections.
pub(super) fn path_tokens(arg: &str) -> Vec<String> {
    let mut out = vec![arg.to_owned()];
    if arg.starts_with('-') {
        if let Some((_, v)) = arg.split_once('=') {
            out.push(v.to_owned());
        }
    }
    let split: Vec<String> = arg
        .split(|c: char| c.is_whitespace() || "'\"`;|&<>(),=".contains(c))
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    if split.len() > 1 || split.first().map(String::as_str) != Some(arg) {
        out.extend(split);
    }
    out
}

fn reader(mut stream: impl Read + Send + 'static) -> mpsc::Receiver<(Vec<u8>, bool)> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut truncated = false;
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = MAX_STREAM_BYTES.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                    truncated |= n > room;
                }
            }
        }
        let _ = tx.send((kept, truncated));
    });
    rx
}

fn collect(rx: &mpsc::Receiver<(Vec<u8>, bool)>, wait: Duration) -> String {
    match rx.recv_timeout(wait) {
        Ok((bytes, truncated)) => {
            let mut s = String::from_utf8_lossy(&bytes).into_owned();
            if truncated {
                s.push_str(&format!("\n[output truncated at {MAX_STREAM_BYTES} bytes]"));
            }
            s
        }
        Err(_) => String::new(),
    }
}

pub(super) fn run(sb: &Sandbox, argv: &[String], timeout: Duration) -> Result<CommandOutput, ToolFailure> {
    let program = &argv[0];
    let program_path = if program.contains('/') && !Path::new(program).is_absolute() {
        sb.resolve(program)?.into_os_string()
    } else {
        program.into()
    };
    let mut cmd = sb.isolation.command(&program_path, &argv[1..], &sb.root);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = crate::process::Spawned::spawn(&mut cmd, sb.processes.clone(), program)
        .map_err(|e| ToolFailure::Failed(format!("cannot start `{program}`: {e}")))?;
    let out_rx = reader(child.child_mut().stdout.take().expect("piped stdout"));
    let err_rx = reader(child.child_mut().stderr.take().expect("piped stderr"));
    // Leftover background processes are ended with the program.
    let status = match child.wait_until(Some(Instant::now() + timeout)) {
        Ok(Some(status)) => status,
        Ok(None) => {
            return Err(ToolFailure::Failed(format!(
                "`{program}` timed out after {:.1}s and was killed",
                timeout.as_secs_f64()
            )))
        }
        Err(e) => return Err(ToolFailure::Failed(format!("waiting for `{program}`: {e}"))),
    };
    let stdout = collect(&out_rx, Duration::from_secs(2));
    let stderr = collect(&err_rx, Duration::from_secs(2));
    Ok(CommandOutput {
        exit_code: status.code(),
        stdout,
        stderr,
    })
}
