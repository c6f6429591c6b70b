//! The sandbox and the built-in tools a worker may call through it.
//!
//! A [`Sandbox`] is built from the bindings' `[sandbox]` table
//! ([`SandboxConfig`]) and the resolved workspace root. It guards three
//! boundaries:
//!
//! - **paths**: [`Sandbox::resolve`] maps a tool path (relative to the root,
//!   or absolute) to a path inside the root, refusing `..` escapes, absolute
//!   paths elsewhere and symlinks that lead outside (the deepest existing
//!   ancestor is canonicalized; a dangling symlink is refused);
//! - **programs**: [`Sandbox::check_command`] reads a command line as the
//!   programs it runs (shell scripts parsed, wrappers looked through) and
//!   refuses programs outside `allow_programs` (when that list is non-empty),
//!   `deny_commands` patterns, and (by default) what it cannot analyse;
//! - **tools**: [`Sandbox::call`] runs a built-in tool ([`table::TOOLS`]) only
//!   when the worker declares it.
//!
//! `write_file` writes a temporary file next to the target and renames it, so
//! a hard link inside the root never carries a write to a file outside;
//! `read_file` and `append_file` refuse a file with a hard link outside the
//! root (its links are looked for in the root), which would read or change
//! the outside file.
//! `run_command` additionally refuses arguments that name paths outside the
//! root ([`Sandbox::check_argv_paths`]), runs with the root as working
//! directory, with only the basic environment variables, isolated as the
//! run's [`crate::process::Isolation`] says, and is killed (with its process
//! group) at its timeout.
//!
//! Argument inspection is a policy boundary for cooperative agents: an
//! allowed program can compute paths no inspection sees. The OS sandbox
//! (bubblewrap, `[sandbox] isolation`) is what keeps such a program out of
//! loopc's state and everything outside the workspace.

mod builtin;
pub mod changes;
mod command;
mod measured;
pub mod table;

use std::fs;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::bindings::SandboxConfig;
use crate::executor::ToolCall;

pub use command::CommandOutput;
pub use measured::Measured;

/// `run_command`'s timeout when the call sets none.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// Largest file `read_file` returns.
pub const MAX_READ_BYTES: u64 = 10 * 1024 * 1024;

/// Which boundary refused an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockRule {
    /// The tool is not among the worker's declared tools (or a `tool_allowlist`).
    ToolNotAllowed,
    /// The program is not in `allow_programs`.
    ProgramNotAllowed,
    /// The command line contains a `deny_commands` entry.
    DeniedCommand,
    /// Under `shell_scripts = "strict"`: part of the command cannot be seen
    /// before it runs (a compound shell command, an unknown variable, a script file).
    NotAnalysable,
    /// A path leaves the workspace root.
    PathOutsideRoot,
    /// A path names one of loopc's own files (state, bindings, config, plan, trace).
    ProtectedPath,
}

impl BlockRule {
    pub fn as_str(&self) -> &'static str {
        match self {
            BlockRule::ToolNotAllowed => "tool_not_allowed",
            BlockRule::ProgramNotAllowed => "program_not_allowed",
            BlockRule::DeniedCommand => "denied_command",
            BlockRule::NotAnalysable => "command_not_analysable",
            BlockRule::PathOutsideRoot => "path_outside_root",
            BlockRule::ProtectedPath => "protected_path",
        }
    }
}

/// An action the sandbox refused; the interpreter records it as a safety violation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocked {
    pub rule: BlockRule,
    pub message: String,
}

impl Blocked {
    pub fn new(rule: BlockRule, message: impl Into<String>) -> Self {
        Blocked {
            rule,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "blocked ({}): {}", self.rule.as_str(), self.message)
    }
}

impl std::error::Error for Blocked {}

/// Why a tool call did not produce a result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToolFailure {
    /// A boundary refused it: a safety violation.
    Blocked(Blocked),
    /// It ran (or tried to) and failed: bad arguments, unknown tool, I/O error, timeout.
    Failed(String),
}

impl From<Blocked> for ToolFailure {
    fn from(b: Blocked) -> Self {
        ToolFailure::Blocked(b)
    }
}

impl std::fmt::Display for ToolFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ToolFailure::Blocked(b) => b.fmt(f),
            ToolFailure::Failed(m) => write!(f, "failed: {m}"),
        }
    }
}

impl std::error::Error for ToolFailure {}

/// The workspace boundary of a run.
#[derive(Clone, Debug)]
pub struct Sandbox {
    root: PathBuf,
    allow_programs: Vec<command::allow::Allowed>,
    deny_commands: Vec<command::deny::DenyRule>,
    shell_scripts: command::ShellScripts,
    /// Whether `deny_commands` is the built-in list (not applied to executors).
    default_denylist: bool,
    /// The top of the git repository the root is a subdirectory of, if any.
    repository_above_root: Option<PathBuf>,
    /// loopc's own files and directories, refused to every tool (canonical spellings).
    protected: Vec<PathBuf>,
    /// Files tools may read but not change (canonical spellings).
    read_only: Vec<PathBuf>,
    /// The same files by identity (device, inode): a file moved or renamed
    /// (with its directory) is still itself.
    private_ids: Vec<(u64, u64)>,
    read_only_ids: Vec<(u64, u64)>,
    /// Where `run_command` records the process groups it starts.
    pub(crate) processes: Option<std::sync::Arc<crate::process::ProcessLog>>,
    /// How `run_command` processes are isolated (default: environment filtered only).
    pub(crate) isolation: std::sync::Arc<crate::process::Isolation>,
    /// In shadow mode, the commands `run_command` records instead of running.
    pub(crate) shadow: Option<crate::publish::ShadowConfig>,
    /// Whether [`Sandbox::call_measured`] keeps every small file's content
    /// (for line counts and undo), not only the read-only files'.
    keep_contents: bool,
    /// The run's wall-clock deadline: `run_command` is killed there.
    pub(crate) deadline: Option<std::time::Instant>,
}

impl Sandbox {
    /// `root` is the resolved workspace root (e.g. [`crate::bindings::Bindings::root`]);
    /// it must exist and is canonicalized. `config.root` is not consulted.
    pub fn new(root: PathBuf, config: &SandboxConfig) -> Result<Sandbox, crate::Error> {
        let canonical = fs::canonicalize(&root).map_err(|e| crate::Error::io("sandbox root", &root, e))?;
        if !canonical.is_dir() {
            return Err(crate::Error::SandboxRoot { path: root });
        }
        let deny_commands = config
            .deny_commands
            .iter()
            .filter(|d| !d.trim().is_empty())
            .map(|d| command::deny::DenyRule::parse(d))
            .collect();
        let allow_programs = command::allow::resolve_all(&canonical, &config.allow_programs);
        // An allowed program that lives in the workspace is not the worker's to rewrite.
        let allowed_inside = command::allow::files_inside(&canonical, &allow_programs);
        let sandbox = Sandbox {
            allow_programs,
            deny_commands,
            shell_scripts: config.shell_scripts,
            default_denylist: config.deny_commands == crate::bindings::default_denied(),
            repository_above_root: command::repository_above(&canonical),
            isolation: std::sync::Arc::new(crate::process::Isolation {
                root: canonical.clone(),
                network: true,
                ..Default::default()
            }),
            shadow: None,
            root: canonical,
            protected: Vec::new(),
            read_only: Vec::new(),
            private_ids: Vec::new(),
            read_only_ids: Vec::new(),
            processes: None,
            keep_contents: false,
            deadline: None,
        };
        Ok(sandbox.read_only(allowed_inside))
    }

    /// Keep the content of every small file when measuring a tool call's
    /// changes, so that lines changed are a real diff and a refused change
    /// can be undone (a run whose checks look at changes sets this).
    pub fn keeping_contents(mut self, keep: bool) -> Self {
        self.keep_contents = keep;
        self
    }

    /// Isolate `run_command` processes this way.
    /// Shadow mode: `run_command` calls of `shadow`'s outward commands are
    /// recorded, not run.
    pub fn in_shadow(mut self, shadow: crate::publish::ShadowConfig) -> Self {
        self.shadow = Some(shadow);
        self
    }

    pub fn with_isolation(mut self, isolation: std::sync::Arc<crate::process::Isolation>) -> Self {
        self.isolation = isolation;
        self
    }

    /// The files and directories [`Sandbox::protect`] refuses (canonical).
    pub fn protected(&self) -> &[PathBuf] {
        &self.protected
    }

    /// Refuse these files and directories (and everything below them) to
    /// every tool, wherever they are: loopc's state directory, the bindings,
    /// `loopc.toml`, the plan and the trace a run writes. A path that does
    /// not exist yet is protected by its would-be location.
    pub fn protect(mut self, paths: impl IntoIterator<Item = PathBuf>) -> Self {
        for p in paths {
            self.private_ids.extend(file_id(&p));
            let canonical = canonical_or_planned(&p);
            if !self.protected.contains(&canonical) {
                self.protected.push(canonical);
            }
        }
        self
    }

    /// Let tools read these files but not write, append to or delete them
    /// (a plan, the programs and scripts of the run's executors: a worker
    /// must not rewrite the checker that grades it).
    pub fn read_only(mut self, paths: impl IntoIterator<Item = PathBuf>) -> Self {
        for p in paths {
            self.read_only_ids.extend(file_id(&p));
            let canonical = canonical_or_planned(&p);
            if !self.read_only.contains(&canonical) {
                self.read_only.push(canonical);
            }
        }
        self
    }

    /// The files [`Sandbox::read_only`] keeps from changes (canonical).
    pub fn read_only_paths(&self) -> &[PathBuf] {
        &self.read_only
    }

    /// [`Sandbox::resolve`] for a tool that changes the file: read-only files are refused too.
    fn resolve_for_change(&self, path: &str) -> Result<PathBuf, Blocked> {
        let resolved = self.resolve(path)?;
        let same_file = file_id(&resolved).is_some_and(|id| self.read_only_ids.contains(&id));
        if same_file || self.read_only.iter().any(|p| resolved.starts_with(p)) {
            return Err(Blocked::new(
                BlockRule::ProtectedPath,
                format!("path `{path}` is read-only in this run (a plan, or a file the run's executors run); no tool may change it"),
            ));
        }
        Ok(resolved)
    }

    /// Record the process groups `run_command` starts in `log`.
    pub fn with_process_log(mut self, log: std::sync::Arc<crate::process::ProcessLog>) -> Self {
        self.processes = Some(log);
        self
    }

    /// The protected path that `resolved` (a canonical path) is or lies under.
    /// A protected directory that holds the whole root (the state directory
    /// around a run's worktree) protects what lies outside the root only.
    fn protected_by(&self, resolved: &Path) -> Option<&Path> {
        self.protected
            .iter()
            .map(PathBuf::as_path)
            .find(|p| resolved.starts_with(p) && !(self.root.starts_with(p) && resolved.starts_with(&self.root)))
    }

    /// The canonical workspace root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether a worker's `argv` may run. It is read as the programs it runs:
    /// `sh -c` scripts are split into simple commands, wrappers (`env`,
    /// `nice`, `timeout`, `sudo`, `xargs`, `find -exec`, `busybox`) and git's
    /// global options are looked through. Every program must be allowed (by
    /// file: see `allow_programs`), none may be a denied command (program,
    /// words and flags in any order and spelling), and under
    /// `shell_scripts = "strict"` (the default) nothing may be hidden from
    /// the check: compound shell commands, variables loopc does not know,
    /// command substitutions, `eval`, script files and git aliases are refused.
    pub fn check_command(&self, argv: &[String]) -> Result<(), Blocked> {
        command::check_command(self, argv, self.shell_scripts, true)
    }

    /// [`Sandbox::check_command`] for a command the bindings configure (an
    /// executor, the operator's own): the allowlist applies, and a
    /// `deny_commands` list the bindings set, but not the built-in defaults
    /// (an evaluator's `rm -rf build && make test` is the operator's
    /// choice), and a compound script is not refused.
    pub fn check_executor_command(&self, argv: &[String]) -> Result<(), Blocked> {
        command::check_command(self, argv, command::ShellScripts::BestEffort, !self.default_denylist)
    }

    /// Whether `argv`'s arguments stay inside the root: arguments (and
    /// `--flag=value` values, words inside quotes, code strings and shell `-c`
    /// strings) that look like paths (`/…`, `..`, `~/…` in a shell, `$VAR/…`
    /// in a shell) must resolve inside the root. `/dev/null` and the standard
    /// streams are exempt. `run_command` applies this on top of [`Sandbox::check_command`].
    pub fn check_argv_paths(&self, argv: &[String]) -> Result<(), Blocked> {
        command::check_paths(self, argv)
    }

    /// Map a tool path to a path inside the root (see the module docs).
    /// The empty path and `.` are the root itself.
    pub fn resolve(&self, path: &str) -> Result<PathBuf, Blocked> {
        let resolved = resolve_in(&self.root, path)?;
        if file_id(&resolved).is_some_and(|id| self.private_ids.contains(&id)) {
            return Err(Blocked::new(
                BlockRule::ProtectedPath,
                format!("path `{path}` is loopc's own file (moved or linked here); no tool may read or change it"),
            ));
        }
        if let Some(p) = self.protected_by(&resolved) {
            return Err(Blocked::new(
                BlockRule::ProtectedPath,
                format!(
                    "path `{path}` is loopc's own file ({}); no tool may read or change it",
                    p.file_name()
                        .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned())
                ),
            ));
        }
        Ok(resolved)
    }

    /// Whether any word of `argv` names a protected path (relative words
    /// resolve against the root, where the command runs).
    fn check_argv_protected(&self, argv: &[String]) -> Result<(), Blocked> {
        if self.protected.is_empty() {
            return Ok(());
        }
        for arg in argv {
            for tok in command::path_tokens(arg) {
                if tok.is_empty() || tok.starts_with('-') && !tok.contains('/') {
                    continue;
                }
                if let Ok(resolved) = resolve_in(&self.root, &tok) {
                    if self.protected_by(&resolved).is_some() {
                        return Err(Blocked::new(
                            BlockRule::ProtectedPath,
                            format!("command argument `{tok}` names loopc's own file; no tool may read or change it"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Run a built-in tool on behalf of a worker whose declared tools are
    /// `allowed_tools`. A tool outside that list is blocked (even an unknown
    /// one); an allowed but unknown tool, bad arguments or an I/O error fail.
    pub fn call(&self, call: &ToolCall, allowed_tools: &[String]) -> Result<Value, ToolFailure> {
        self.check_declared(call, allowed_tools)?;
        match table::find(&call.tool).and_then(|t| t.run) {
            Some(run) => run(self, &call.args),
            None => Err(ToolFailure::Failed(format!(
                "unknown tool `{}` (built-in tools: {})",
                call.tool,
                table::names().collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    /// Whether the worker declares the tool (LSS: tools not listed are forbidden).
    pub fn check_declared(&self, call: &ToolCall, allowed_tools: &[String]) -> Result<(), Blocked> {
        if allowed_tools.iter().any(|t| t == &call.tool) {
            return Ok(());
        }
        Err(Blocked::new(
            BlockRule::ToolNotAllowed,
            format!(
                "tool `{}` is not among the worker's tools ({})",
                call.tool,
                list_or_none(allowed_tools)
            ),
        ))
    }

    /// Run `argv` in the root after [`Sandbox::check_command`] and
    /// [`Sandbox::check_argv_paths`], killing it at `timeout`.
    pub fn run_command(&self, argv: &[String], timeout: Duration) -> Result<CommandOutput, ToolFailure> {
        self.check_command(argv)?;
        self.check_argv_paths(argv)?;
        self.check_argv_protected(argv)?;
        command::run(self, argv, timeout)
    }

    /// The path as shown to workers: relative to the root.
    fn display(&self, p: &Path) -> String {
        match p.strip_prefix(&self.root) {
            Ok(r) if r.as_os_str().is_empty() => ".".into(),
            Ok(r) => r.display().to_string(),
            Err(_) => p.display().to_string(),
        }
    }
}

/// A regular file's identity (device, inode), following symlinks.
fn file_id(p: &Path) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        fs::metadata(p).ok().filter(|m| m.is_file()).map(|m| (m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = p;
        None
    }
}

/// The canonical spelling of `p`, or, when it does not exist yet, its
/// canonical parent joined with its name.
fn canonical_or_planned(p: &Path) -> PathBuf {
    if let Ok(c) = fs::canonicalize(p) {
        return c;
    }
    match (p.parent(), p.file_name()) {
        (Some(parent), Some(name)) => canonical_or_planned(if parent.as_os_str().is_empty() { Path::new(".") } else { parent }).join(name),
        _ => p.to_path_buf(),
    }
}

/// [`Sandbox::resolve`] against a canonical `root`.
pub(crate) fn resolve_in(root: &Path, path: &str) -> Result<PathBuf, Blocked> {
    let outside = |why: &str| Blocked::new(BlockRule::PathOutsideRoot, format!("path `{path}` {why}"));
    if path.contains('\0') {
        return Err(outside("contains a NUL byte"));
    }
    let given = Path::new(path);
    let absolute = given.is_absolute();
    let joined = if absolute { given.to_path_buf() } else { root.join(given) };
    // Lexical normalization: `.` dropped, `..` pops.
    let mut norm = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::Prefix(_) | Component::RootDir => norm.push(c.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                norm.pop();
            }
            Component::Normal(n) => norm.push(n),
        }
    }
    if !absolute && !norm.starts_with(root) {
        return Err(outside("leaves the workspace root through `..`"));
    }
    // The deepest ancestor that exists (as itself: a dangling symlink exists).
    let mut existing = norm.clone();
    let mut rest = Vec::new();
    while fs::symlink_metadata(&existing).is_err() {
        match (existing.file_name().map(|n| n.to_os_string()), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent.to_path_buf();
            }
            _ => return Err(outside("has no existing ancestor")),
        }
    }
    let canonical = fs::canonicalize(&existing).map_err(|_| outside("goes through a symlink that cannot be resolved"))?;
    if !canonical.starts_with(root) {
        return Err(if absolute && !norm.starts_with(root) {
            outside("is outside the workspace root")
        } else {
            outside("leads outside the workspace root through a symlink")
        });
    }
    let mut resolved = canonical;
    for name in rest.into_iter().rev() {
        resolved.push(name);
    }
    Ok(resolved)
}

fn str_arg<'a>(args: &'a Value, key: &str) -> Result<&'a str, ToolFailure> {
    match args.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ToolFailure::Failed(format!("`{key}` must be a string"))),
        None => Err(ToolFailure::Failed(format!("missing argument `{key}`"))),
    }
}

fn failed(shown: &str, e: std::io::Error) -> ToolFailure {
    ToolFailure::Failed(format!("{shown}: {e}"))
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// Most directory entries looked at to find a file's other hard links.
const MAX_LINK_SEARCH: usize = 200_000;

impl Sandbox {
    /// How many of the hard links of the file at `path` (inside the root)
    /// are not inside the root: 0 for a file with one link, or when every
    /// link is found by walking the root. A root too large to walk counts
    /// as links outside, so a read or append is refused rather than risked.
    pub(crate) fn links_outside_root(&self, path: &Path) -> u64 {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let Ok(meta) = fs::symlink_metadata(path) else { return 0 };
            if !meta.is_file() || meta.nlink() <= 1 {
                return 0;
            }
            let (dev, ino) = (meta.dev(), meta.ino());
            let mut inside = 0u64;
            let mut seen = 0usize;
            let mut stack = vec![self.root.clone()];
            while let Some(dir) = stack.pop() {
                let Ok(entries) = fs::read_dir(&dir) else { continue };
                for entry in entries.flatten() {
                    seen += 1;
                    if seen > MAX_LINK_SEARCH {
                        return meta.nlink() - inside;
                    }
                    let Ok(m) = fs::symlink_metadata(entry.path()) else { continue };
                    if m.is_dir() {
                        stack.push(entry.path());
                    } else if m.dev() == dev && m.ino() == ino {
                        inside += 1;
                        if inside == meta.nlink() {
                            return 0;
                        }
                    }
                }
            }
            meta.nlink() - inside
        }
        #[cfg(not(unix))]
        {
            let _ = path;
            0
        }
    }
}
