//! Shell scripts: what each simple command of a parsed script
//! ([`super::shell`]) runs, with what the shell knows as it goes — the
//! variables the script set, its positional parameters, its working
//! directory — and what it cannot know marked as a problem.

use std::collections::HashMap;

use super::super::file_name;
use super::shell::{self, Seg, Word};
use super::{short, Arg, Cmd, Walker, MAX_DEPTH};

/// Parameters that expand to a number or flags, never to a path or a program.
const HARMLESS_PARAMS: &[&str] = &["?", "$", "!", "-"];

/// Builtins that run code given as text or from a file.
const CODE_BUILTINS: &[&str] = &["eval", "source", ".", "trap", "alias", "fc", "enable"];

/// Builtins that set variables: `export NAME=value`.
const VAR_BUILTINS: &[&str] = &["export", "readonly", "local", "declare", "typeset"];

/// Builtins that read a variable's value from input.
const READING_BUILTINS: &[&str] = &["read", "getopts", "mapfile", "readarray"];

/// Variables that change which program runs or what a shell or a program
/// executes (`PATH=.`, `IFS=,`, `BASH_ENV=evil.sh`, `GIT_SSH_COMMAND=…`).
const EXECUTION_VARIABLES: &[&str] = &[
    "PATH",
    "IFS",
    "ENV",
    "BASH_ENV",
    "SHELLOPTS",
    "BASHOPTS",
    "PROMPT_COMMAND",
    "PS4",
    "CDPATH",
    "PERL5OPT",
    "RUBYOPT",
    "NODE_OPTIONS",
    "EDITOR",
    "VISUAL",
    "PAGER",
    "MANPAGER",
    "BROWSER",
    "LESSOPEN",
    "LESSCLOSE",
    "SSH_ASKPASS",
    "GIT_EXTERNAL_DIFF",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_PAGER",
    "GIT_EDITOR",
    "GIT_SEQUENCE_EDITOR",
    "GIT_ASKPASS",
    "GIT_PROXY_COMMAND",
    "GIT_EXEC_PATH",
    "GIT_TEMPLATE_DIR",
    "GIT_DIR",
    "GIT_WORK_TREE",
];

/// Whether setting `name` changes what runs.
pub(super) fn changes_what_runs(name: &str) -> bool {
    EXECUTION_VARIABLES.contains(&name) || name.starts_with("GIT_CONFIG") || name.starts_with("LD_") || name.starts_with("DYLD_")
}

/// Whether a builtin is given a subscripted variable name (`a[$(cmd)]`),
/// which bash evaluates: `test -v`/`printf -v`'s value, or any name
/// argument of `read`, `unset`, `declare` and the like.
fn subscripted_name(builtin: &str, args: &[Arg]) -> bool {
    let subscripted = |t: &str| {
        let name_len = t.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').count();
        name_len > 0 && t[name_len..].starts_with('[')
    };
    match builtin {
        "test" | "[" | "printf" => args.windows(2).any(|w| w[0].text == "-v" && subscripted(&w[1].text)),
        _ => args.iter().any(|a| subscripted(&a.text)),
    }
}

/// Where `set`'s new positional parameters start in its arguments (after
/// `--`, or at the first word that is not an option or `-o`'s value), or
/// `None` when it sets none.
fn set_operands(args: &[Arg]) -> Option<usize> {
    let mut i = 0;
    while let Some(a) = args.get(i) {
        match a.text.as_str() {
            "--" => return Some(i + 1),
            "-o" | "+o" => i += 2,
            t if t.starts_with(['-', '+']) => i += 1,
            _ => return Some(i),
        }
    }
    None
}

/// What a shell knows while a script runs.
#[derive(Clone, Debug)]
pub(super) struct ShellState {
    /// Variables the script set: `None` is one whose value is not known.
    vars: HashMap<String, Option<String>>,
    /// `$0`, `$1`, …
    positional: Vec<Arg>,
    /// Whether `positional` is all there is (not after `set --` with
    /// unknown words, or when input supplies more).
    positional_known: bool,
}

impl ShellState {
    pub fn new(positional: Vec<Arg>, positional_known: bool) -> ShellState {
        ShellState {
            vars: HashMap::new(),
            positional,
            positional_known,
        }
    }
}

/// One field of an expansion, and whether anything but an unquoted
/// expansion made it (an empty unquoted `$x` is no field at all).
struct Field {
    arg: Arg,
    solid: bool,
}

impl Field {
    fn new() -> Field {
        Field {
            arg: Arg::known(""),
            solid: false,
        }
    }
}

impl Walker<'_> {
    /// Analyse a shell script run with `state`.
    pub(super) fn script(&mut self, src: &str, state: &mut ShellState, depth: usize) {
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
                let v = self.expand(value, state, depth);
                let known = v.iter().all(|a| a.known);
                let text = v.iter().map(|a| a.text.as_str()).collect::<Vec<_>>().join(" ");
                self.check_assignment(name);
                assigned.push((name.clone(), known.then_some(text)));
            }
            let mut args = Vec::new();
            for w in &simple.words {
                args.extend(self.expand(w, state, depth));
            }
            let mut here_strings = Vec::new();
            for r in &simple.redirects {
                here_strings.extend(self.redirect(r, state, depth));
            }
            if simple.heredocs.iter().any(|h| h.dynamic) {
                self.opaque("a here-document with expansions loopc does not evaluate");
            }
            if args.is_empty() {
                // `NAME=value` alone sets a shell variable.
                state.vars.extend(assigned);
                continue;
            }
            self.track_state(&args, state);
            let mut cmd = Cmd::new(args, true);
            cmd.stdin = simple.heredocs.iter().map(|h| h.body.clone()).chain(here_strings).collect();
            self.command(cmd, depth);
        }
    }

    fn check_assignment(&mut self, name: &str) {
        if changes_what_runs(name) {
            self.opaque(format!("the script sets `{name}`, which changes what programs run"));
        }
    }

    /// What a command changes in the shell's state: variables, parameters.
    fn track_state(&mut self, args: &[Arg], state: &mut ShellState) {
        let Some(name) = args[0].known.then(|| file_name(&args[0].text).to_owned()) else {
            return;
        };
        let words = || args[1..].iter().filter(|a| !a.text.starts_with('-'));
        match name.as_str() {
            b if VAR_BUILTINS.contains(&b) => {
                for a in &args[1..] {
                    if let Some((n, v)) = a.text.split_once('=') {
                        self.check_assignment(n);
                        state.vars.insert(n.to_owned(), a.known.then(|| v.to_owned()));
                    }
                }
            }
            // Their values come from input: unknown from here on.
            b if READING_BUILTINS.contains(&b) => {
                for a in words() {
                    state.vars.insert(a.text.clone(), None);
                }
                state.vars.insert("OPTARG".into(), None);
                state.vars.insert("REPLY".into(), None);
            }
            "printf" => {
                if let Some(pos) = args.iter().position(|a| a.text == "-v") {
                    if let Some(v) = args.get(pos + 1) {
                        state.vars.insert(v.text.clone(), None);
                    }
                }
            }
            "unset" => {
                for a in words() {
                    state.vars.insert(a.text.clone(), None);
                }
            }
            "set" if set_operands(&args[1..]).is_some() => {
                // `set -- a b` (or `set a b`) replaces the positional
                // parameters; `set -o pipefail` does not.
                let from = set_operands(&args[1..]).unwrap_or(args.len());
                let new: Vec<Arg> = args[1 + from..].to_vec();
                let zero = state.positional.first().cloned().unwrap_or_else(|| Arg::known("sh"));
                state.positional = std::iter::once(zero).chain(new).collect();
                state.positional_known &= args[1..].iter().all(|a| a.known);
            }
            "shift" => {
                let n = match args.get(1) {
                    None => Some(1),
                    Some(a) if a.known => a.text.parse::<usize>().ok(),
                    Some(_) => None,
                };
                match n {
                    Some(n) if state.positional.len() > n => {
                        state.positional.drain(1..=n);
                    }
                    Some(_) => state.positional.truncate(1),
                    None => state.positional_known = false,
                }
            }
            _ => {}
        }
    }

    /// A shell builtin: `true` when it is one (and was handled).
    pub(super) fn builtin(&mut self, cmd: &Cmd, name: &str, depth: usize) -> bool {
        match name {
            "cd" | "pushd" => {
                self.change_directory(cmd, name);
                true
            }
            // Arithmetic on names and `-v NAME[…]` evaluate subscripts, which
            // may hold `$(cmd)`.
            "let" => {
                if cmd.args[1..].iter().any(|a| a.text.chars().any(|c| c.is_ascii_alphabetic())) {
                    self.opaque("`let` evaluates names, whose subscripts may run commands");
                }
                true
            }
            "test" | "[" | "printf" | "read" | "unset" | "declare" | "local" | "export" | "readonly" | "typeset"
                if subscripted_name(name, &cmd.args[1..]) =>
            {
                self.opaque(format!("`{name}` with a subscripted name, which may run commands"));
                true
            }
            "popd" => {
                if let Some(back) = self.dirs.pop() {
                    self.cwd = back;
                }
                true
            }
            "dirs" | "echo" | "printf" | "true" | "false" | ":" | "test" | "[" | "pwd" | "exit" | "return" | "shift" | "set" | "unset"
            | "wait" | "read" | "type" | "hash" | "umask" | "shopt" | "getopts" | "break" | "continue" | "mapfile" | "readarray" => true,
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
                    if !cmd.args[i].known {
                        self.opaque(format!("`{name}` options from a variable"));
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

    /// `cd DIR` / `pushd DIR`: the directory must be in the root, and
    /// relative paths after it are relative to it.
    fn change_directory(&mut self, cmd: &Cmd, name: &str) {
        let dir = cmd.args[1..]
            .iter()
            .find(|a| !(a.known && a.text.starts_with('-') && a.text != "-"));
        let dir = match dir {
            None => {
                self.outside(format!("`{name}` without a directory goes to the home directory"));
                return;
            }
            Some(a) if !a.known => {
                self.opaque(format!("`{name}` to a directory from a variable"));
                return;
            }
            Some(a) if a.text == "-" => {
                self.outside(format!("`{name} -` returns to a directory outside the script"));
                return;
            }
            Some(a) => a.text.clone(),
        };
        if let Some(inside) = self.path(&format!("`{name}` to"), &dir) {
            if name == "pushd" {
                self.dirs.push(self.cwd.clone());
            }
            self.cwd = inside;
        }
    }

    fn redirect(&mut self, r: &shell::Redirect, state: &ShellState, depth: usize) -> Option<String> {
        if matches!(r.op.as_str(), "<<" | "<<-") {
            return None;
        }
        if r.op == "<<<" {
            // A here-string is expanded (substitutions run) and read on stdin.
            let words = self.expand(&r.target, state, depth);
            return Some(words.iter().map(|a| a.text.as_str()).collect::<Vec<_>>().join(" "));
        }
        let target = self.expand(&r.target, state, depth);
        let Some(t) = target.first() else {
            self.opaque(format!("a redirection `{}` to nothing", r.op));
            return None;
        };
        if !t.known {
            self.opaque(format!("a redirection `{}` to a path from a variable", r.op));
            return None;
        }
        let dup = matches!(r.op.as_str(), ">&" | "<&") && (t.text == "-" || t.text.chars().all(|c| c.is_ascii_digit()));
        if !dup {
            let text = t.text.clone();
            self.path(&format!("redirection `{}`", r.op), &text);
        }
        None
    }

    /// The fields a word expands to.
    fn expand(&mut self, w: &Word, state: &ShellState, depth: usize) -> Vec<Arg> {
        let mut fields = vec![Field::new()];
        for seg in &w.segs {
            match seg {
                Seg::Lit(t) => {
                    let f = fields.last_mut().expect("a field");
                    f.arg.text.push_str(t);
                    f.solid = true;
                }
                Seg::Param { name, quoted } if name == "@" || name == "*" => {
                    if !state.positional_known {
                        let f = fields.last_mut().expect("a field");
                        f.arg.text.push_str(&format!("${name}"));
                        f.arg.known = false;
                        f.solid = true;
                        continue;
                    }
                    // Each parameter a field (`"$@"`), split again when unquoted.
                    let mut first = true;
                    for p in state.positional.iter().skip(1) {
                        let parts: Vec<&str> = if *quoted {
                            vec![p.text.as_str()]
                        } else {
                            p.text.split_whitespace().collect()
                        };
                        for part in parts {
                            if !first {
                                fields.push(Field::new());
                            }
                            first = false;
                            let f = fields.last_mut().expect("a field");
                            f.arg.text.push_str(part);
                            f.arg.known &= p.known;
                            f.solid = true;
                        }
                    }
                }
                Seg::Param { name, quoted } => {
                    let value = self.parameter(name, state);
                    match value {
                        Some(v) => {
                            let parts: Vec<&str> = if *quoted {
                                vec![v.as_str()]
                            } else {
                                v.split_whitespace().collect()
                            };
                            for (n, part) in parts.iter().enumerate() {
                                if n > 0 {
                                    fields.push(Field::new());
                                }
                                let f = fields.last_mut().expect("a field");
                                f.arg.text.push_str(part);
                                f.solid |= *quoted || !part.is_empty();
                            }
                            if *quoted {
                                fields.last_mut().expect("a field").solid = true;
                            }
                        }
                        None => {
                            let f = fields.last_mut().expect("a field");
                            f.arg.text.push_str(&format!("${name}"));
                            f.arg.known = false;
                            f.solid = true;
                        }
                    }
                }
                Seg::Subst(inner) => {
                    let mut inner_state = state.clone();
                    self.subshell(|w| w.script(inner, &mut inner_state, depth + 1));
                    let f = fields.last_mut().expect("a field");
                    f.arg.text.push_str("$(…)");
                    f.arg.known = false;
                    f.solid = true;
                    self.opaque(format!("the output of `$({})` is not known before it runs", short(inner)));
                }
                Seg::Unknown(t) => {
                    let f = fields.last_mut().expect("a field");
                    f.arg.text.push_str(t);
                    f.solid = true;
                    // Arithmetic on numbers is a number. A name in it may hold
                    // `a[$(cmd)]`, which bash runs: anything else is unknown.
                    let arithmetic =
                        t.starts_with("$((") && t[3..].chars().all(|c| c.is_ascii_digit() || " \t+-*/%()<>=!&|^~?:,".contains(c));
                    if arithmetic {
                        continue;
                    }
                    f.arg.known = false;
                    self.opaque(format!("`{}` is not known before the script runs", short(t)));
                }
                Seg::Tilde => {
                    let f = fields.last_mut().expect("a field");
                    f.arg.text.push('~');
                    f.solid = true;
                    self.outside("`~` is the home directory, outside the workspace root");
                }
            }
        }
        let fields: Vec<Arg> = fields
            .into_iter()
            .filter(|f| f.solid || !f.arg.text.is_empty())
            .map(|f| f.arg)
            .collect();
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

    /// The value of `$name`, or `None` (and a problem) when it is not known.
    fn parameter(&mut self, name: &str, state: &ShellState) -> Option<String> {
        if let Ok(n) = name.parse::<usize>() {
            return match state.positional.get(n) {
                Some(p) if p.known => Some(p.text.clone()),
                None if state.positional_known => Some(String::new()),
                _ => {
                    self.opaque(format!("`${name}` is not known before the script runs"));
                    None
                }
            };
        }
        if name == "#" && state.positional_known {
            return Some(state.positional.len().saturating_sub(1).to_string());
        }
        match state.vars.get(name) {
            Some(Some(v)) => Some(v.clone()),
            _ if HARMLESS_PARAMS.contains(&name) => Some("0".into()),
            _ => {
                if matches!(name, "HOME" | "OLDPWD") {
                    self.outside(format!("`${name}` is a directory outside the workspace root"));
                }
                self.opaque(format!("`${name}` is a variable loopc does not know before the script runs"));
                None
            }
        }
    }
}
