//! Programs: the allowlist, the denylist, argument paths and running with a timeout.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{BlockRule, Blocked, Sandbox, ToolFailure};

/// Programs whose `-c` argument is a command line.
const SHELLS: &[&str] = &["sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish", "busybox"];

/// Shell words that are not programs (for the allowlist inside `sh -c`).
const SHELL_BUILTINS: &[&str] = &[
    "cd", "echo", "printf", "export", "unset", "set", "true", "false", "test", "[", "[[", "]]", ":", "pwd", "exit", "return", "read",
    "shift", "local", "if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac", "in", "function", "{",
    "}", "!", "wait", "trap", "alias", "type", "command", "builtin", "let", "declare",
];

/// Paths a command may always name.
const EXEMPT_PATHS: &[&str] = &[
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

fn file_name(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

/// The `-c` strings of a shell invocation anywhere in `argv` (`env bash -c …`, `sudo sh -lc …`).
fn shell_strings(argv: &[String]) -> Vec<&str> {
    let mut out = Vec::new();
    let mut in_shell = false;
    let mut i = 0;
    while i < argv.len() {
        let a = argv[i].as_str();
        if SHELLS.contains(&file_name(a)) {
            in_shell = true;
        } else if in_shell && a.starts_with('-') && !a.starts_with("--") && a.contains('c') {
            if let Some(inner) = argv.get(i + 1) {
                out.push(inner.as_str());
                i += 1;
            }
        }
        i += 1;
    }
    out
}

/// `rm -r -f`, `rm -fr`, `rm --recursive --force` → `rm -rf`.
fn canonical_rm(s: &str) -> String {
    let words: Vec<&str> = s.split(' ').collect();
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        out.push(w.to_owned());
        i += 1;
        if file_name(w) != "rm" {
            continue;
        }
        let (mut r, mut f) = (false, false);
        let mut others = Vec::new();
        while i < words.len() && words[i].starts_with('-') && words[i] != "-" && words[i] != "--" {
            let flag = words[i];
            match flag {
                "--recursive" => r = true,
                "--force" => f = true,
                _ if flag.starts_with("--") => others.push(flag.to_owned()),
                _ => {
                    for c in flag[1..].chars() {
                        match c {
                            'r' | 'R' => r = true,
                            'f' => f = true,
                            _ => others.push(format!("-{c}")),
                        }
                    }
                }
            }
            i += 1;
        }
        if i < words.len() && words[i] == "--" {
            i += 1;
        }
        if r && f {
            out.push("-rf".into());
        } else if r {
            out.push("-r".into());
        } else if f {
            out.push("-f".into());
        }
        out.extend(others);
    }
    out.join(" ")
}

fn unquote(s: &str) -> String {
    s.chars().filter(|c| !matches!(c, '\'' | '"' | '\\')).collect()
}

/// The spellings of a command line the denylist is matched against.
fn deny_candidates(argv: &[String]) -> Vec<String> {
    let mut texts = vec![argv.join(" ")];
    texts.extend(shell_strings(argv).into_iter().map(str::to_owned));
    let mut out = Vec::new();
    for t in texts {
        let n = normalize_ws(&t);
        let u = normalize_ws(&unquote(&t));
        out.push(canonical_rm(&n));
        out.push(canonical_rm(&u));
        out.push(u);
        out.push(n);
    }
    out
}

pub(super) fn check_command(sb: &Sandbox, argv: &[String]) -> Result<(), Blocked> {
    let Some(program) = argv.first() else {
        return Err(Blocked::new(BlockRule::ProgramNotAllowed, "empty command line"));
    };
    if !program_allowed(sb, program) {
        return Err(Blocked::new(
            BlockRule::ProgramNotAllowed,
            format!("program `{program}` is not in allow_programs ({})", sb.allow_programs.join(", ")),
        ));
    }
    let candidates = deny_candidates(argv);
    for denied in &sb.deny_commands {
        if candidates.iter().any(|c| c.contains(denied.as_str())) {
            return Err(Blocked::new(
                BlockRule::DeniedCommand,
                format!("command line contains denied command `{denied}`"),
            ));
        }
    }
    if !sb.allow_programs.is_empty() {
        for inner in shell_strings(argv) {
            for word in shell_command_words(inner) {
                if !SHELL_BUILTINS.contains(&word.as_str()) && !program_allowed(sb, &word) {
                    return Err(Blocked::new(
                        BlockRule::ProgramNotAllowed,
                        format!(
                            "program `{word}` (inside a shell command) is not in allow_programs ({})",
                            sb.allow_programs.join(", ")
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The first word of every simple command in a shell string (assignments skipped).
fn shell_command_words(inner: &str) -> Vec<String> {
    let mut s = inner.to_owned();
    for sep in ["&&", "||", "$(", "`", ";", "|", "&", "\n", "(", ")"] {
        s = s.replace(sep, "\u{0}");
    }
    let mut words = Vec::new();
    for part in s.split('\u{0}') {
        let mut toks = part.split_whitespace().map(unquote).skip_while(|t| is_assignment(t));
        if let Some(first) = toks.next() {
            if first.starts_with('>') || first.starts_with('<') || first.chars().all(|c| c.is_ascii_digit() || c == '>' || c == '<') {
                continue;
            }
            if first == "exec" || first == "command" {
                if let Some(next) = toks.next() {
                    words.push(next);
                }
                continue;
            }
            words.push(first);
        }
    }
    words
}

fn is_assignment(t: &str) -> bool {
    match t.split_once('=') {
        Some((name, _)) => !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        None => false,
    }
}

fn program_allowed(sb: &Sandbox, program: &str) -> bool {
    if sb.allow_programs.is_empty() {
        return true;
    }
    let name = file_name(program);
    sb.allow_programs.iter().any(|entry| {
        if entry == program {
            return true;
        }
        // A bare name allows the program of that name in a directory of
        // PATH, however it is spelled (`/usr/bin/python3`), but not another
        // file that happens to share the name (a `./python3` the worker wrote).
        if !entry.contains('/') {
            return entry == name && program.contains('/') && on_path(&absolutize(sb, program), entry);
        }
        // An entry with a path: the same file, however the program is named.
        let prog_path = if program.contains('/') {
            Some(absolutize(sb, program))
        } else {
            which(program)
        };
        match (std::fs::canonicalize(absolutize(sb, entry)), prog_path.map(std::fs::canonicalize)) {
            (Ok(a), Some(Ok(b))) => a == b,
            _ => false,
        }
    })
}

fn absolutize(sb: &Sandbox, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        sb.root.join(p)
    }
}

/// Whether `program` is the file called `name` in one of PATH's directories.
fn on_path(program: &Path, name: &str) -> bool {
    let Ok(program) = std::fs::canonicalize(program) else {
        return false;
    };
    let Some(path) = std::env::var_os("PATH") else { return false };
    std::env::split_paths(&path)
        .filter(|dir| dir.is_absolute())
        .filter_map(|dir| std::fs::canonicalize(dir.join(name)).ok())
        .any(|candidate| candidate == program)
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(program)).find(|p| p.is_file())
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

fn looks_like_path(t: &str, in_shell: bool) -> bool {
    t.starts_with('/')
        || t == ".."
        || t.starts_with("../")
        || t.contains("/../")
        || t.ends_with("/..")
        || (in_shell
            && (t == "~"
                || t.starts_with("~/")
                || (t.starts_with('$') && (t.contains('/') || t.starts_with("$HOME") || t.starts_with("${HOME")))))
}

pub(super) fn check_argv_paths(sb: &Sandbox, argv: &[String]) -> Result<(), Blocked> {
    let shells = shell_strings(argv);
    for arg in argv.iter().skip(1) {
        let in_shell = shells.contains(&arg.as_str());
        for tok in path_tokens(arg) {
            if !looks_like_path(&tok, in_shell) || EXEMPT_PATHS.contains(&tok.as_str()) {
                continue;
            }
            if tok == "~" || tok.starts_with("~/") || tok.starts_with('$') {
                return Err(Blocked::new(
                    BlockRule::PathOutsideRoot,
                    format!("argument `{tok}` names a path outside the workspace root (home or a variable)"),
                ));
            }
            if let Err(b) = super::resolve_in(&sb.root, &tok) {
                return Err(Blocked::new(BlockRule::PathOutsideRoot, format!("command argument: {}", b.message)));
            }
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rm_spellings_are_canonical() {
        assert_eq!(canonical_rm("rm -r -f /"), "rm -rf /");
        assert_eq!(canonical_rm("rm -fr /"), "rm -rf /");
        assert_eq!(canonical_rm("/bin/rm --recursive --force -- /"), "/bin/rm -rf /");
        assert_eq!(canonical_rm("rm -rfv x"), "rm -rf -v x");
        assert_eq!(canonical_rm("rm x"), "rm x");
    }

    #[test]
    fn shell_strings_found_behind_wrappers() {
        let argv: Vec<String> = ["env", "bash", "-lc", "echo hi"].iter().map(|s| s.to_string()).collect();
        assert_eq!(shell_strings(&argv), vec!["echo hi"]);
        let argv: Vec<String> = ["python3", "-c", "print(1)"].iter().map(|s| s.to_string()).collect();
        assert!(shell_strings(&argv).is_empty());
    }

    #[test]
    fn shell_words() {
        assert_eq!(
            shell_command_words("FOO=1 make test && cd x; curl a | sh"),
            vec!["make", "cd", "curl", "sh"]
        );
        assert_eq!(shell_command_words("echo $(whoami)"), vec!["echo", "whoami"]);
    }
}
