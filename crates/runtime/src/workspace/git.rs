//! loopc's own git commands (worktrees, snapshots, rollbacks, gc): the `git`
//! CLI run through the process module (its own process group, dead with
//! loopc), never a library, so what runs is what a person would run.
//!
//! Every command gets settings that keep the user's repository as it was
//! and run none of its code: no hooks (`core.hooksPath=/dev/null`; commits
//! also pass `--no-verify`), no fsmonitor, no GPG signing, no automatic gc
//! or maintenance, no recursion into submodules (a worker could plant a
//! nested repository whose configuration runs programs), and loopc as the
//! author and committer. The environment keeps no `GIT_*` variable that
//! points git elsewhere (`GIT_DIR`, `GIT_INDEX_FILE`, `GIT_WORK_TREE`, …):
//! where git works is always given explicitly.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The author and committer of every snapshot.
pub const AUTHOR_NAME: &str = "loopc";
pub const AUTHOR_EMAIL: &str = "loopc@localhost";

/// Settings given to every git command loopc runs (`-c key=value`).
const SAFE_CONFIG: &[&str] = &[
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "commit.gpgSign=false",
    "tag.gpgSign=false",
    "gc.auto=0",
    "maintenance.auto=false",
    "submodule.recurse=false",
    "diff.ignoreSubmodules=all",
    "status.submoduleSummary=false",
    "core.quotePath=false",
    "user.name=loopc",
    "user.email=loopc@localhost",
];

/// `GIT_*` variables that may stay: where the user's own configuration is.
const KEPT_GIT_ENV: &[&str] = &["GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_NOSYSTEM"];

/// How long one git command may take (a checkout of a large repository).
pub const TIMEOUT: Duration = Duration::from_secs(600);

/// Where a git command works.
#[derive(Clone, Copy, Debug)]
pub enum At<'a> {
    /// A repository (or a directory inside one's work tree): `git -C dir`.
    Dir(&'a Path),
    /// A linked worktree, named by its administrative directory
    /// (`<repo>/.git/worktrees/<name>`) and its work tree: git never reads
    /// the worktree's `.git` file, which a worker could have rewritten.
    Worktree { git_dir: &'a Path, work_tree: &'a Path },
}

/// The `git` program: the first absolute `PATH` entry that has one (an
/// empty or relative entry would find a program in whatever directory loopc
/// runs in).
pub fn program() -> Result<&'static Path, String> {
    static FOUND: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    FOUND
        .get_or_init(|| {
            let path = std::env::var_os("PATH")?;
            std::env::split_paths(&path)
                .filter(|d| d.is_absolute())
                .map(|d| d.join("git"))
                .find(|p| p.is_file())
        })
        .as_deref()
        .ok_or_else(|| "git is not installed (no `git` on PATH); install git, or set [workspace] kind = \"in-place\"".to_owned())
}

/// Run `git args` at `at`; its standard output on success, else a message
/// with git's own error.
pub fn run(at: At<'_>, args: &[&str]) -> Result<String, String> {
    let out = output(at, args)?;
    if out.0 {
        Ok(out.1)
    } else {
        Err(format!("`git {}` failed: {}", shown(args), out.2.trim()))
    }
}

/// Run `git args`: (success, stdout, stderr).
pub fn output(at: At<'_>, args: &[&str]) -> Result<(bool, String, String), String> {
    let mut cmd = std::process::Command::new(program()?);
    cmd.env_clear();
    for (name, value) in std::env::vars_os() {
        let n = name.to_string_lossy();
        if !n.starts_with("GIT_") || KEPT_GIT_ENV.contains(&n.as_ref()) {
            cmd.env(&name, value);
        }
    }
    cmd.env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("LC_ALL", "C");
    for setting in SAFE_CONFIG {
        cmd.args(["-c", setting]);
    }
    match at {
        At::Dir(dir) => {
            cmd.arg("-C").arg(dir);
        }
        At::Worktree { git_dir, work_tree } => {
            cmd.arg(format!("--git-dir={}", git_dir.display()))
                .arg(format!("--work-tree={}", work_tree.display()))
                .current_dir(work_tree);
        }
    }
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = crate::process::Spawned::spawn(&mut cmd, None, "git").map_err(|e| format!("cannot start git: {e}"))?;
    let stdout = reader(child.child_mut().stdout.take());
    let stderr = reader(child.child_mut().stderr.take());
    let status = child
        .wait_to_end(Some(Instant::now() + TIMEOUT))
        .map_err(|e| format!("`git {}`: {e}", shown(args)))?;
    let (stdout, stderr) = (joined(stdout), joined(stderr));
    match status {
        None => Err(format!(
            "`git {}` took longer than {}s and was stopped",
            shown(args),
            TIMEOUT.as_secs()
        )),
        Some(status) => Ok((status.success(), stdout, stderr)),
    }
}

type Reader = Option<std::thread::JoinHandle<Vec<u8>>>;

fn reader(pipe: Option<impl Read + Send + 'static>) -> Reader {
    pipe.map(|mut p| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = p.read_to_end(&mut bytes);
            bytes
        })
    })
}

fn joined(reader: Reader) -> String {
    let bytes = reader.and_then(|h| h.join().ok()).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn shown(args: &[&str]) -> String {
    args.iter().take(3).copied().collect::<Vec<_>>().join(" ")
}

/// NUL-separated names (`-z` output), empty ones dropped.
pub fn names(text: &str) -> Vec<String> {
    text.split('\0').filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// The value of `key: value` trailers in a commit message.
pub fn trailer<'a>(message: &'a str, key: &str) -> Option<&'a str> {
    message
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix(key).and_then(|rest| rest.strip_prefix(": ")))
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailers_and_names() {
        let message = "loopc: x\n\nbody\n\nLoopc-Run: r1\nLoopc-Iteration: 3\n";
        assert_eq!(trailer(message, "Loopc-Iteration"), Some("3"));
        assert_eq!(trailer(message, "Loopc-Run"), Some("r1"));
        assert_eq!(trailer(message, "Other"), None);
        assert_eq!(names("a\0b c\0\0"), vec!["a", "b c"]);
    }

    #[test]
    fn a_failing_command_says_what_git_said() {
        let dir = std::env::temp_dir().join(format!("loopc-git-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let e = run(At::Dir(&dir), &["rev-parse", "--verify", "--quiet", "no-such-ref^{commit}"]).unwrap_err();
        assert!(e.contains("rev-parse"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
