//! From an argv to every program it runs: wrappers (`env`, `nice`,
//! `timeout`, `sudo`, `xargs`, `find -exec`, `busybox`, `git -C/-c`) are
//! unwrapped, shell `-c` scripts are parsed ([`super::shell`]) with the
//! variables they set and the positional parameters they were given, and
//! what cannot be seen before it runs is recorded as a [`Problem`].
//!
//! The analysis does not decide; [`super::check_command`] applies the
//! allowlist and the denylist to [`Analysis::commands`] and the shell policy
//! to [`Analysis::problems`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};

mod git;
mod paths;
mod script;
mod wrappers;

use super::{file_name, shell, SHELLS};

/// Deepest nesting of wrappers, shells and substitutions analysed.
pub(crate) const MAX_DEPTH: usize = 16;

/// One argument: its text, and whether that text is what the program gets
/// (`false`: it comes from a variable or a substitution loopc cannot know).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Arg {
    pub text: String,
    pub known: bool,
}

impl Arg {
    fn known(text: impl Into<String>) -> Arg {
        Arg {
            text: text.into(),
            known: true,
        }
    }
}

/// A program run, with its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Cmd {
    /// `args[0]` is the program.
    pub args: Vec<Arg>,
    /// Run by a shell: its first word may be a builtin.
    pub in_shell: bool,
    /// More arguments come from input at run time (`xargs`, `find -exec {}`).
    pub open_args: bool,
    /// Text the command reads on standard input that loopc can see (here-documents).
    pub stdin: Vec<String>,
}

impl Cmd {
    fn new(args: Vec<Arg>, in_shell: bool) -> Cmd {
        Cmd {
            args,
            in_shell,
            open_args: false,
            stdin: Vec::new(),
        }
    }

    /// The program's file name, when it is known.
    pub fn name(&self) -> Option<&str> {
        self.args.first().filter(|a| a.known).map(|a| file_name(&a.text))
    }

    /// Whether some argument is not known before the command runs.
    pub fn has_unknown_args(&self) -> bool {
        self.open_args || self.args.iter().skip(1).any(|a| !a.known)
    }

    fn tail(&self, from: usize, in_shell: bool) -> Cmd {
        Cmd {
            args: self.args.get(from..).unwrap_or_default().to_vec(),
            in_shell,
            open_args: self.open_args,
            stdin: Vec::new(),
        }
    }
}

/// What the analysis could not see through, or a path that leaves the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Problem {
    /// Something runs that loopc cannot see before it runs.
    Opaque(String),
    /// A directory change or redirection that leaves the workspace root.
    Outside(String),
    /// A path to git's configuration or hooks (code that runs when a person uses git).
    Protected(String),
}

#[derive(Debug, Default)]
pub(crate) struct Analysis {
    /// Every program run, outermost first (a wrapper and what it wraps are both here).
    pub commands: Vec<Cmd>,
    pub problems: Vec<Problem>,
    /// Every shell script met, as written.
    pub scripts: Vec<String>,
}

impl Analysis {
    fn problem(&mut self, p: Problem) {
        // Most scripts have few problems; a hostile one may have thousands:
        // look for repeats among the first few only, keep a bounded number.
        let repeat = self.problems.len() < 64 && self.problems.contains(&p);
        if !repeat && self.problems.len() < MAX_PROBLEMS {
            self.problems.push(p);
        }
    }
}

/// Most problems kept (the first decides; the rest only add to messages).
const MAX_PROBLEMS: usize = 256;

/// Interpreters whose code arguments can delete a tree.
pub(crate) const INTERPRETERS: &[&str] = &[
    "python",
    "perl",
    "ruby",
    "node",
    "nodejs",
    "php",
    "deno",
    "bun",
    "lua",
    "tclsh",
    "Rscript",
    "pwsh",
    "osascript",
    "awk",
    "gawk",
    "mawk",
    "nawk",
    "sed",
];

/// Analyse `argv` as run with `root` as working directory.
pub(crate) fn analyse(root: &Path, argv: &[String]) -> Analysis {
    let mut a = Walker {
        root,
        out: Analysis::default(),
        cwd: PathBuf::new(),
        dirs: Vec::new(),
        listings: HashMap::new(),
    };
    a.command(Cmd::new(argv.iter().map(Arg::known).collect(), false), 0);
    a.out
}

struct Walker<'a> {
    root: &'a Path,
    out: Analysis,
    /// The working directory of the command analysed, relative to the root
    /// (`cd` in a script moves it).
    cwd: PathBuf,
    /// `pushd`'s stack of earlier working directories.
    dirs: Vec<PathBuf>,
    /// Directories the glob check listed: whether a name in it starts with `-`.
    listings: HashMap<PathBuf, bool>,
}

impl Walker<'_> {
    fn opaque(&mut self, why: impl Into<String>) {
        self.out.problem(Problem::Opaque(why.into()));
    }

    fn outside(&mut self, why: impl Into<String>) {
        self.out.problem(Problem::Outside(why.into()));
    }

    fn command(&mut self, cmd: Cmd, depth: usize) {
        if depth > MAX_DEPTH {
            self.opaque(format!("commands are nested more than {MAX_DEPTH} deep"));
            return;
        }
        if cmd.args.is_empty() {
            return;
        }
        self.out.commands.push(cmd.clone());
        let Some(name) = cmd.name().map(str::to_owned) else {
            self.opaque(format!(
                "the program `{}` comes from a variable or a substitution",
                cmd.args[0].text
            ));
            return;
        };
        if cmd.in_shell && self.builtin(&cmd, &name, depth) {
            return;
        }
        if SHELLS.contains(&name.as_str()) {
            self.shell(&cmd, &name, depth);
            return;
        }
        self.arg_paths(&cmd, &name);
        if is_interpreter(&name) {
            self.interpreter(&cmd, &name);
        }
        if name == "busybox" {
            if cmd.args.len() > 1 {
                self.command(cmd.tail(1, false), depth + 1);
            }
        } else if name == "env" {
            self.env(&cmd, depth);
        } else if name == "xargs" {
            self.xargs(&cmd, depth);
        } else if name == "find" {
            self.find(&cmd, depth);
        } else if name == "git" {
            self.git(&cmd, depth);
        } else if let Some(w) = wrappers::WRAPPERS.iter().find(|w| w.name == name) {
            self.wrapper(&cmd, w, depth);
        }
    }

    fn shell(&mut self, cmd: &Cmd, name: &str, depth: usize) {
        let args = &cmd.args[1..];
        let mut i = 0;
        let mut has_c = false;
        while let Some(a) = args.get(i) {
            if !a.known {
                self.opaque(format!("`{name}` options from a variable"));
                return;
            }
            let t = a.text.as_str();
            if t == "--" || t == "-" {
                i += 1;
                break;
            }
            if matches!(t, "--rcfile" | "--init-file") || t.starts_with("--rcfile=") || t.starts_with("--init-file=") {
                self.opaque(format!("`{name} {t}` runs a start-up file loopc cannot see"));
                return;
            }
            if matches!(t, "-o" | "+o" | "-O" | "+O") {
                i += 2;
                continue;
            }
            if t.starts_with("--") {
                i += 1;
                continue;
            }
            if (t.starts_with('-') || t.starts_with('+')) && t.len() > 1 {
                has_c |= t[1..].contains('c');
                // `-eo pipefail`: the cluster's `o` takes the next word.
                let takes_value = t[1..].contains(['o', 'O']);
                if t.starts_with('-') && t[1..].contains('i') {
                    // An interactive shell reads `$ENV`, `~/.bashrc`: code loopc cannot see.
                    self.opaque(format!("`{name} {t}` is an interactive shell, which runs start-up files"));
                    return;
                }
                i += if takes_value { 2 } else { 1 };
                continue;
            }
            break;
        }
        if !has_c {
            self.opaque(format!("`{name}` runs a script loopc cannot read (a file or standard input)"));
            return;
        }
        let Some(script) = args.get(i) else {
            self.opaque(format!("`{name} -c` without a script"));
            return;
        };
        if !script.known {
            self.opaque(format!("the `{name} -c` script comes from a variable"));
            return;
        }
        // `$0`, `$1`, …: the words after the script, unless input supplies more.
        let mut state = script::ShellState::new(args[i + 1..].to_vec(), !cmd.open_args);
        let text = script.text.clone();
        self.subshell(|w| w.script(&text, &mut state, depth + 1));
    }

    /// Analyse `f` as another shell process (a `sh -c`, a substitution):
    /// its `cd`s and `pushd`s do not move the script that started it.
    fn subshell(&mut self, f: impl FnOnce(&mut Self)) {
        let saved = (self.cwd.clone(), self.dirs.clone());
        f(self);
        (self.cwd, self.dirs) = saved;
    }

    fn interpreter(&mut self, cmd: &Cmd, name: &str) {
        let code = code_args(cmd);
        if let Some(api) = code.iter().find_map(|c| SPAWNING_CODE.iter().find(|m| c.contains(**m))) {
            self.opaque(format!(
                "`{name}` code starts programs (`{api}`), which loopc cannot see before they run"
            ));
        }
    }
}

/// Options after which an interpreter's argument is code (`python3 -c`,
/// `perl -e`, `node --eval`, `php -r`, `deno eval`).
const CODE_OPTIONS: &[&str] = &["-c", "-e", "-E", "--eval", "-p", "--print", "-r", "eval"];

/// The code an interpreter command runs that loopc can read: the values of
/// its code options (for awk and sed also their first operand), and the
/// here-documents on its standard input. A script file's name is not code.
pub(crate) fn code_args(cmd: &Cmd) -> Vec<&str> {
    let script_first = cmd.name().is_some_and(|n| matches!(n, "awk" | "gawk" | "mawk" | "nawk" | "sed"));
    let mut code = Vec::new();
    let mut operand_seen = false;
    let mut args = cmd.args.iter().skip(1).peekable();
    while let Some(a) = args.next() {
        let t = a.text.as_str();
        if CODE_OPTIONS.contains(&t) {
            code.extend(args.next().map(|a| a.text.as_str()));
        } else if t.starts_with("-M") {
            // `perl -MFile::Path`: the module it loads is part of the code.
            code.push(t);
        } else if script_first && !operand_seen && !t.starts_with('-') {
            operand_seen = true;
            code.push(t);
        }
    }
    code.extend(cmd.stdin.iter().map(String::as_str));
    code
}

/// Whether `name` (`python3.11`, `perl`) is one of the [`INTERPRETERS`].
pub(crate) fn is_interpreter(name: &str) -> bool {
    INTERPRETERS.contains(&name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.'))
}

/// What an interpreter's inline code calls to start another program.
const SPAWNING_CODE: &[&str] = &[
    "system(",
    "system '",
    "system \"",
    "subprocess",
    "popen",
    "spawn",
    "execv",
    "execl",
    "os.exec",
    "child_process",
    "qx(",
    "qx{",
    "%x(",
    "IO.popen",
    "Kernel.exec",
    "shell_exec",
    "proc_open",
    "passthru",
    "Deno.run",
    "Deno.Command",
    "Bun.spawn",
    "pty.",
    "`",
];

fn is_assignment(t: &str) -> bool {
    match t.split_once('=') {
        Some((name, _)) => !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        None => false,
    }
}

fn short(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(MAX).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(words: &[&str]) -> Analysis {
        analyse(
            Path::new("/nonexistent-root"),
            &words.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
    }

    /// The known argv of every program run, outermost first.
    fn programs(words: &[&str]) -> Vec<String> {
        run(words)
            .commands
            .iter()
            .map(|c| {
                c.args
                    .iter()
                    .map(|a| if a.known { a.text.clone() } else { "?".into() })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    fn opaque(words: &[&str]) -> bool {
        run(words).problems.iter().any(|p| matches!(p, Problem::Opaque(_)))
    }

    #[test]
    fn wrappers_are_looked_through() {
        assert_eq!(programs(&["env", "-i", "-u", "B", "A=1", "rm", "x"]).last().unwrap(), "rm x");
        assert_eq!(programs(&["env", "-S", "rm -r 'a b'"]).last().unwrap(), "rm -r a b");
        assert_eq!(programs(&["timeout", "--signal=KILL", "5", "rm", "x"]).last().unwrap(), "rm x");
        assert_eq!(
            programs(&["nice", "-n", "10", "ionice", "-c", "3", "rm", "x"]).last().unwrap(),
            "rm x"
        );
        assert_eq!(programs(&["sudo", "-u", "root", "--", "rm", "x"]).last().unwrap(), "rm x");
        assert_eq!(programs(&["busybox", "rm", "-r", "x"]).last().unwrap(), "rm -r x");
        assert_eq!(programs(&["xargs", "-n", "1", "rm"]).last().unwrap(), "rm");
        assert!(run(&["xargs", "rm"]).commands.last().unwrap().open_args);
        assert_eq!(programs(&["find", ".", "-execdir", "rm", "{}", ";"]).last().unwrap(), "rm ?");
    }

    #[test]
    fn git_is_read_past_its_options() {
        assert_eq!(
            programs(&["git", "-C", "sub", "-c", "a.b=c", "--no-pager", "clean", "-fdx"])[1],
            "git clean -fdx"
        );
        assert!(opaque(&["git", "-c", "alias.x=!sh", "x"]));
        assert!(opaque(&["git", "-c", "core.sshCommand=evil", "fetch"]));
        assert!(opaque(&["git", "--config-env=alias.x=VAR", "status"]));
        assert!(opaque(&["git", "my-alias"]));
        assert!(!opaque(&["git", "-c", "color.ui=never", "status"]));
        assert!(programs(&["git", "rebase", "--exec", "rm -r x", "main"]).contains(&"rm -r x".to_owned()));
        assert!(programs(&["git", "submodule", "foreach", "rm", "-r", "x"]).contains(&"rm -r x".to_owned()));
        assert!(programs(&["git", "bisect", "run", "rm", "x"]).contains(&"rm x".to_owned()));
    }

    #[test]
    fn shell_scripts_with_their_variables_and_parameters() {
        assert_eq!(programs(&["sh", "-c", "F=-rf; rm $F x"]).last().unwrap(), "rm -rf x");
        assert_eq!(programs(&["sh", "-c", "rm \"$@\"", "sh", "-r", "x"]).last().unwrap(), "rm -r x");
        assert_eq!(programs(&["bash", "-lc", "exec rm x"]).last().unwrap(), "rm x");
        assert!(!opaque(&["sh", "-c", "command -v rm"]));
        assert!(opaque(&["sh", "-c", "rm $UNSET"]));
        assert!(opaque(&["sh", "-c", "eval rm x"]));
        assert!(opaque(&["sh", "script.sh"]));
        assert!(opaque(&["sh", "-c", "if true; then rm x; fi"]));
        // A here-document fed to an interpreter is its code.
        let a = run(&["sh", "-c", "python3 <<'EOF'\nimport shutil\nshutil.rmtree('x')\nEOF"]);
        assert!(a.commands.iter().any(|c| c.stdin.iter().any(|s| s.contains("rmtree"))));
    }

    #[test]
    fn multi_byte_options_do_not_panic() {
        for words in [&["ls", "-é"][..], &["echo", "-ü/x"], &["sh", "-c", "ls -é"]] {
            let _ = run(words);
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let mut argv = vec!["true".to_owned()];
        for _ in 0..100 {
            argv.splice(0..0, ["env".to_owned()]);
        }
        let a = analyse(Path::new("/nonexistent-root"), &argv);
        assert!(a.problems.iter().any(|p| matches!(p, Problem::Opaque(m) if m.contains("nested"))));
        // Substitutions inside substitutions, each a script of its own.
        let script = format!("{}true{}", "echo $(".repeat(40), ")".repeat(40));
        let a = run(&["sh", "-c", &script]);
        assert!(
            a.problems.iter().any(|p| matches!(p, Problem::Opaque(m) if m.contains("nested"))),
            "{:?}",
            a.problems
        );
    }
}
