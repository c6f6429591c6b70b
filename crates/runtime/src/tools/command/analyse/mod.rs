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
use std::path::Path;

mod git;
mod wrappers;

use super::shell::{self, Seg, Word};
use super::{file_name, EXEMPT_PATHS, SHELLS};

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
        if !self.problems.contains(&p) {
            self.problems.push(p);
        }
    }
}

/// Known shell variables: `None` is a variable whose value is not known.
type Vars = HashMap<String, Option<String>>;

/// Parameters that expand to a number or flags, never to a path or a program.
const HARMLESS_PARAMS: &[&str] = &["?", "$", "!", "-", "#"];

/// Builtins that run code given as text or from a file.
const CODE_BUILTINS: &[&str] = &["eval", "source", ".", "trap", "alias", "fc", "enable"];

/// Builtins that set variables: `export NAME=value`.
const VAR_BUILTINS: &[&str] = &["export", "readonly", "local", "declare", "typeset"];

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
];

/// Analyse `argv` as run with `root` as working directory.
pub(crate) fn analyse(root: &Path, argv: &[String]) -> Analysis {
    let mut a = Walker {
        root,
        out: Analysis::default(),
    };
    a.command(Cmd::new(argv.iter().map(Arg::known).collect(), false), 0);
    a.out
}

struct Walker<'a> {
    root: &'a Path,
    out: Analysis,
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
        } else if name == "busybox" {
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
            if let Some(start) = wrappers::after_options(&cmd.args, 1, w.short_values, w.long_values, w.operands) {
                self.command(cmd.tail(start, false), depth + 1);
            }
        }
    }

    /// A shell builtin: `true` when it is one (and was handled).
    fn builtin(&mut self, cmd: &Cmd, name: &str, depth: usize) -> bool {
        let arg = cmd.args.get(1);
        match name {
            "cd" | "pushd" => {
                match arg {
                    None => self.outside(format!("`{name}` without a directory goes to the home directory")),
                    Some(a) if !a.known => self.opaque(format!("`{name}` to a directory from a variable")),
                    Some(a) if a.text == "-" => self.outside(format!("`{name} -` returns to a directory outside the script")),
                    Some(a) => {
                        let dir = a.text.clone();
                        self.path(&format!("`{name}` to"), &dir);
                    }
                }
                true
            }
            "popd" | "dirs" | "echo" | "printf" | "true" | "false" | ":" | "test" | "[" | "pwd" | "exit" | "return" | "shift" | "set"
            | "unset" | "wait" | "read" | "type" | "hash" | "umask" | "shopt" | "getopts" | "let" | "break" | "continue" => true,
            _ if CODE_BUILTINS.contains(&name) => {
                // `trap - INT` and a bare `alias` listing run nothing.
                let runs_code = match name {
                    "trap" => cmd.args.len() > 2 && cmd.args[1].text != "-",
                    "alias" => cmd.args.iter().skip(1).any(|a| a.text.contains('=')),
                    _ => true,
                };
                if runs_code {
                    self.opaque(format!("`{name}` runs code loopc cannot see before it runs"));
                }
                true
            }
            _ if VAR_BUILTINS.contains(&name) => true,
            "exec" | "command" | "builtin" => {
                let mut i = 1;
                while cmd.args.get(i).is_some_and(|a| a.text.starts_with('-')) {
                    let flag = &cmd.args[i].text;
                    if name == "command" && (flag.contains('v') || flag.contains('V')) {
                        return true;
                    }
                    i += if name == "exec" && flag == "-a" { 2 } else { 1 };
                }
                if i < cmd.args.len() {
                    self.command(cmd.tail(i, name != "exec"), depth + 1);
                }
                true
            }
            _ => false,
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
            if matches!(t, "-o" | "+o" | "-O" | "+O" | "--rcfile" | "--init-file") {
                i += 2;
                continue;
            }
            if t.starts_with("--") {
                i += 1;
                continue;
            }
            if (t.starts_with('-') || t.starts_with('+')) && t.len() > 1 {
                has_c |= t[1..].contains('c');
                i += 1;
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
        let mut vars = Vars::new();
        let params = &args[i + 1..];
        for (n, p) in params.iter().enumerate().take(10) {
            vars.insert(n.to_string(), p.known.then(|| p.text.clone()));
        }
        vars.insert("#".into(), Some(params.len().saturating_sub(1).to_string()));
        let positional: Vec<Arg> = params.iter().skip(1).cloned().collect();
        let text = script.text.clone();
        self.script(&text, &mut vars, &positional, depth + 1);
    }

    /// Analyse a shell script run with `vars` known and `positional` as `"$@"`.
    fn script(&mut self, src: &str, vars: &mut Vars, positional: &[Arg], depth: usize) {
        if depth > MAX_DEPTH {
            self.opaque(format!("commands are nested more than {MAX_DEPTH} deep"));
            return;
        }
        self.out.scripts.push(src.to_owned());
        let parsed = match shell::parse(src) {
            Ok(p) => p,
            Err(e) => {
                self.opaque(format!("the shell script cannot be read: {}", e.0));
                return;
            }
        };
        for c in &parsed.compound {
            self.opaque(format!("the shell script uses {c}, which loopc does not analyse"));
        }
        for simple in &parsed.commands {
            let mut assigned = Vec::new();
            for (name, value) in &simple.assigns {
                let v = self.expand(value, vars, positional, depth);
                let known = v.iter().all(|a| a.known);
                let text = v.iter().map(|a| a.text.as_str()).collect::<Vec<_>>().join(" ");
                assigned.push((name.clone(), known.then_some(text)));
            }
            let mut args = Vec::new();
            for w in &simple.words {
                args.extend(self.expand(w, vars, positional, depth));
            }
            for r in &simple.redirects {
                self.redirect(r, vars, positional, depth);
            }
            if simple.heredocs.iter().any(|h| h.dynamic) {
                self.opaque("a here-document with expansions loopc does not evaluate");
            }
            if args.is_empty() {
                // `NAME=value` alone sets a shell variable.
                vars.extend(assigned);
                continue;
            }
            let name = args[0].known.then(|| file_name(&args[0].text).to_owned());
            match name.as_deref() {
                Some(b) if VAR_BUILTINS.contains(&b) => {
                    for a in &args[1..] {
                        if let Some((n, v)) = a.text.split_once('=') {
                            vars.insert(n.to_owned(), a.known.then(|| v.to_owned()));
                        }
                    }
                }
                Some("unset") => {
                    for a in &args[1..] {
                        vars.insert(a.text.clone(), None);
                    }
                }
                _ => {}
            }
            let mut cmd = Cmd::new(args, true);
            cmd.stdin = simple.heredocs.iter().map(|h| h.body.clone()).collect();
            self.command(cmd, depth);
        }
    }

    fn redirect(&mut self, r: &shell::Redirect, vars: &Vars, positional: &[Arg], depth: usize) {
        if matches!(r.op.as_str(), "<<" | "<<-" | "<<<") {
            return;
        }
        let target = self.expand(&r.target, vars, positional, depth);
        let Some(t) = target.first() else { return };
        if !t.known {
            self.opaque(format!("a redirection `{}` to a path from a variable", r.op));
            return;
        }
        let dup = matches!(r.op.as_str(), ">&" | "<&") && (t.text == "-" || t.text.chars().all(|c| c.is_ascii_digit()));
        if !dup {
            let text = t.text.clone();
            self.path(&format!("redirection `{}`", r.op), &text);
        }
    }

    /// The fields a word expands to.
    fn expand(&mut self, w: &Word, vars: &Vars, positional: &[Arg], depth: usize) -> Vec<Arg> {
        let mut fields = vec![Arg::known("")];
        let last = |f: &mut Vec<Arg>| f.len() - 1;
        for seg in &w.segs {
            match seg {
                Seg::Lit(t) => {
                    let k = last(&mut fields);
                    fields[k].text.push_str(t);
                }
                Seg::Param { name, quoted } if name == "@" || name == "*" => {
                    let _ = quoted;
                    for (n, p) in positional.iter().enumerate() {
                        if n > 0 {
                            fields.push(Arg::known(""));
                        }
                        let k = last(&mut fields);
                        fields[k].text.push_str(&p.text);
                        fields[k].known &= p.known;
                    }
                }
                Seg::Param { name, quoted } => match vars.get(name) {
                    Some(Some(v)) => {
                        let mut parts: Vec<&str> = if *quoted {
                            vec![v.as_str()]
                        } else {
                            v.split_whitespace().collect()
                        };
                        if parts.is_empty() {
                            parts.push("");
                        }
                        for (n, part) in parts.iter().enumerate() {
                            if n > 0 {
                                fields.push(Arg::known(""));
                            }
                            let k = last(&mut fields);
                            fields[k].text.push_str(part);
                        }
                    }
                    _ if HARMLESS_PARAMS.contains(&name.as_str()) => {
                        let k = last(&mut fields);
                        fields[k].text.push('0');
                    }
                    _ => {
                        let k = last(&mut fields);
                        fields[k].text.push_str(&format!("${name}"));
                        fields[k].known = false;
                        self.opaque(format!("`${name}` is a variable loopc does not know before the script runs"));
                    }
                },
                Seg::Subst(inner) => {
                    let mut inner_vars = vars.clone();
                    self.script(inner, &mut inner_vars, positional, depth + 1);
                    let k = last(&mut fields);
                    fields[k].text.push_str("$(…)");
                    fields[k].known = false;
                    self.opaque(format!("the output of `$({})` is not known before it runs", short(inner)));
                }
                Seg::Unknown(t) => {
                    let k = last(&mut fields);
                    fields[k].text.push_str(t);
                    fields[k].known = false;
                    self.opaque(format!("`{}` is not known before the script runs", short(t)));
                }
                Seg::Tilde => {
                    let k = last(&mut fields);
                    fields[k].text.push('~');
                    self.outside("`~` is the home directory, outside the workspace root");
                }
            }
        }
        if w.glob {
            for f in &fields {
                if f.known && self.glob_may_be_option(&f.text) {
                    self.opaque(format!(
                        "the glob `{}` could expand to an option (a file whose name starts with `-` matches)",
                        f.text
                    ));
                }
            }
        }
        fields
    }

    /// Whether the directory a glob lists holds a file whose name starts with `-`.
    fn glob_may_be_option(&self, pattern: &str) -> bool {
        let dir = match pattern.rfind('/') {
            Some(0) => "/",
            Some(k) => &pattern[..k],
            None => ".",
        };
        if dir.contains(['*', '?', '[']) {
            return true;
        }
        let Ok(dir) = crate::tools::resolve_in(self.root, dir) else {
            return false;
        };
        let Ok(entries) = std::fs::read_dir(dir) else { return false };
        entries.flatten().any(|e| e.file_name().to_string_lossy().starts_with('-'))
    }

    /// A path the command uses as a directory or a redirection target.
    fn path(&mut self, what: &str, p: &str) {
        if EXEMPT_PATHS.contains(&p) {
            return;
        }
        if p.starts_with('~') {
            self.outside(format!("{what} `{p}` is in a home directory, outside the workspace root"));
            return;
        }
        if let Err(b) = crate::tools::resolve_in(self.root, p) {
            self.outside(format!("{what} {}", b.message));
        }
    }
}

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
