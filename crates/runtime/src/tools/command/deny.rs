//! `deny_commands` entries as patterns: a program, the words that must
//! follow it in order (a git subcommand, an operand), the flags it must
//! carry (in any order and spelling: `-rf`, `-r -f`, `-Rf --verbose`,
//! `--recursive --force`) and `key=` operands (`dd of=`). An entry that is
//! not a command (`:(){`, `> /dev/sd`) is matched as text, as before.

use std::collections::BTreeSet;

use super::analyse::{is_interpreter, Arg, Cmd};
use super::{file_name, normalize_ws, shell};

/// A parsed `deny_commands` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DenyRule {
    Pattern(Pattern),
    /// Matched as a substring of the normalized command line and of every shell script in it.
    Text(String),
}

impl DenyRule {
    pub fn parse(entry: &str) -> DenyRule {
        let entry = normalize_ws(entry);
        let words = shell::parse(&entry)
            .ok()
            .filter(|s| {
                s.compound.is_empty() && s.commands.len() == 1 && s.commands[0].redirects.is_empty() && s.commands[0].assigns.is_empty()
            })
            .and_then(|s| s.commands[0].words.iter().map(shell::Word::literal).collect::<Option<Vec<_>>>());
        match words {
            Some(words) if words.first().is_some_and(|p| is_program_name(p)) => {
                let program = file_name(&words[0]).to_owned();
                let args: Vec<Arg> = words[1..]
                    .iter()
                    .map(|t| Arg {
                        text: t.clone(),
                        known: true,
                    })
                    .collect();
                let shape = Shape::of(&program, &args);
                DenyRule::Pattern(Pattern {
                    entry,
                    program,
                    words: shape.positional,
                    flags: shape.flags,
                    prefixes: shape.prefixes,
                })
            }
            _ => DenyRule::Text(entry),
        }
    }
}

fn is_program_name(w: &str) -> bool {
    !w.is_empty()
        && w.chars().all(|c| c.is_ascii_alphanumeric() || "._-+/".contains(c))
        && w.chars().next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '/' || c == '.')
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pattern {
    /// The entry as written (whitespace normalized).
    pub entry: String,
    program: String,
    words: Vec<String>,
    flags: BTreeSet<String>,
    prefixes: Vec<String>,
}

impl Pattern {
    /// Whether `cmd` is this command. A command with arguments loopc cannot
    /// know (`xargs rm`, `rm $X`) matches on its program alone: it may be it.
    pub fn matches(&self, cmd: &Cmd) -> bool {
        let Some(name) = cmd.name() else { return false };
        if !(name == self.program || name.strip_prefix(self.program.as_str()).is_some_and(|rest| rest.starts_with('.'))) {
            return false;
        }
        if cmd.has_unknown_args() {
            // Unless what is known rules it out: `git commit -m "$MSG"` is
            // not `git clean`, whatever the message.
            if self.program == "git" {
                let first = cmd.args[1..].iter().find(|a| !a.known || !a.text.starts_with('-'));
                if let (Some(sub), Some(want)) = (first.filter(|a| a.known), self.words.first()) {
                    return &sub.text == want;
                }
            }
            return true;
        }
        let shape = Shape::of(&self.program, &cmd.args[1..]);
        let sub = shape.positional.first().map_or("", String::as_str);
        let dry = DRY_RUN
            .iter()
            .any(|(p, s, f)| *p == self.program && *s == sub && !self.flags.contains(*f));
        if dry && is_dry_run(&cmd.args[2..]) {
            return false;
        }
        let mut positional = shape.positional.iter();
        self.words.iter().all(|w| positional.any(|p| p == w))
            && self.flags.is_subset(&shape.flags)
            && self
                .prefixes
                .iter()
                .all(|pre| cmd.args[1..].iter().any(|a| a.text.starts_with(pre.as_str())))
    }

    /// `rm -r` (with no operand): recursive deletion in any form, which the
    /// interpreters' one-liners and `find -delete` are too.
    pub fn is_recursive_delete(&self) -> bool {
        self.program == "rm" && self.flags.contains("r") && self.words.is_empty() && self.prefixes.is_empty()
    }
}

/// `find … -delete`: a recursive delete in another spelling.
pub(crate) fn find_deletes(cmd: &Cmd) -> bool {
    cmd.name() == Some("find") && (cmd.has_unknown_args() || cmd.args.iter().any(|a| a.text == "-delete"))
}

/// What an interpreter's code must not contain when recursive deletion is denied.
const RECURSIVE_DELETE_CODE: &[&str] = &[
    "rmtree",
    "remove_tree",
    "rm_rf",
    "rm_r(",
    "rm_r ",
    "remove_dir_all",
    "rmSync",
    "rmdirSync",
    "rimraf",
    "Remove-Item",
    "deltree",
];

/// Whether `cmd` is an interpreter whose code (arguments or here-document)
/// deletes a tree: `perl -MFile::Path -e rmtree`, `python3 -c "shutil.rmtree(…)"`,
/// `ruby -e FileUtils.rm_rf`, `node -e "fs.rmSync(…, {recursive: true})"`,
/// or runs `rm -r` through `os.system`.
pub(crate) fn interpreter_deletes_tree(cmd: &Cmd) -> bool {
    if !cmd.name().is_some_and(is_interpreter) {
        return false;
    }
    let code = super::analyse::code_args(cmd);
    code.iter().any(|c| {
        if RECURSIVE_DELETE_CODE.iter().any(|m| c.contains(m)) {
            return true;
        }
        // `os.system("rm -rf x")`, `subprocess.run(["rm", "-rf", "x"])`.
        let flat: String = c.chars().map(|ch| if "'\"[],()".contains(ch) { ' ' } else { ch }).collect();
        let flat = normalize_ws(&flat);
        let words: Vec<&str> = flat.split(' ').collect();
        words.windows(2).any(|w| {
            file_name(w[0]) == "rm" && w[1].starts_with('-') && !w[1].starts_with("--") && w[1].contains(['r', 'R'])
                || file_name(w[0]) == "rm" && w[1] == "--recursive"
        })
    })
}

/// An operand as compared: a path without `./` prefixes, doubled or
/// trailing slashes (`rm ./victim/` is `rm victim`).
fn operand(t: &str) -> String {
    if !t.contains('/') {
        return t.to_owned();
    }
    let absolute = t.starts_with('/');
    let parts: Vec<&str> = t.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// A command's arguments as the denylist compares them.
struct Shape {
    positional: Vec<String>,
    flags: BTreeSet<String>,
    prefixes: Vec<String>,
}

/// Programs whose long options take one dash (`find -delete`).
const SINGLE_DASH_LONG: &[&str] = &["find"];

/// Spellings of one flag: (program, git subcommand or "", spelling, canonical).
const FLAG_ALIASES: &[(&str, &str, &str, &str)] = &[
    ("rm", "", "R", "r"),
    ("rm", "", "recursive", "r"),
    ("rm", "", "force", "f"),
    ("rm", "", "dir", "d"),
    ("rm", "", "verbose", "v"),
    ("rm", "", "interactive", "i"),
    ("cp", "", "R", "r"),
    ("cp", "", "recursive", "r"),
    ("cp", "", "force", "f"),
    ("cp", "", "archive", "a"),
    ("chmod", "", "recursive", "R"),
    ("chown", "", "recursive", "R"),
    ("chgrp", "", "recursive", "R"),
    ("git", "push", "force", "f"),
    ("git", "push", "force-with-lease", "f"),
    ("git", "push", "force-if-includes", "f"),
    ("git", "push", "delete", "d"),
    ("git", "push", "mirror", "f"),
    ("git", "clean", "force", "f"),
    ("git", "clean", "dry-run", "n"),
    ("git", "branch", "delete", "d"),
];

/// The canonical name of a flag: a short letter (`r`) or a long name
/// (`recursive`), which getopt also accepts shortened (`--recur`).
fn canonical(program: &str, sub: &str, flag: &str, long: bool) -> String {
    let applies = |p: &&str, s: &&str| *p == program && (s.is_empty() || *s == sub);
    let exact = FLAG_ALIASES.iter().find(|(p, s, spelling, _)| applies(p, s) && *spelling == flag);
    let prefix = || {
        FLAG_ALIASES
            .iter()
            .find(|(p, s, spelling, _)| long && applies(p, s) && spelling.len() > 1 && spelling.starts_with(flag))
    };
    exact.or_else(prefix).map_or_else(|| flag.to_owned(), |(.., c)| (*c).to_owned())
}

/// Flags that make a denied command harmless: (program, git subcommand, flag).
const DRY_RUN: &[(&str, &str, &str)] = &[("git", "clean", "n"), ("git", "push", "n")];

/// Whether git's options make this a dry run: the last of `-n`/`--dry-run`
/// and `--no-dry-run` before `--` wins (`git clean -n --no-dry-run -fdx` deletes).
pub(crate) fn is_dry_run(args: &[Arg]) -> bool {
    let mut dry = false;
    for a in args {
        match a.text.as_str() {
            "--" => break,
            "--dry-run" => dry = true,
            "--no-dry-run" => dry = false,
            t if t.starts_with('-') && !t.starts_with("--") && t.contains('n') => dry = true,
            _ => {}
        }
    }
    dry
}

impl Shape {
    fn of(program: &str, args: &[Arg]) -> Shape {
        let mut shape = Shape {
            positional: Vec::new(),
            flags: BTreeSet::new(),
            prefixes: Vec::new(),
        };
        let mut sub = String::new();
        let mut options_end = false;
        for a in args {
            let t = a.text.as_str();
            if options_end || t == "-" || !t.starts_with('-') {
                if t.contains('=') && !t.starts_with('=') {
                    // `of=/dev/sda`: matched by `of=` prefixes, not as a word.
                    shape.prefixes.push(t.to_owned());
                    continue;
                }
                if program == "git" && sub.is_empty() {
                    sub = t.to_owned();
                } else if program == "git" && sub == "push" && t.starts_with('+') && t.len() > 1 {
                    // `git push origin +main` forces that ref.
                    shape.flags.insert("f".into());
                }
                shape.positional.push(operand(t));
                continue;
            }
            if t == "--" {
                options_end = true;
                continue;
            }
            if let Some(long) = t.strip_prefix("--") {
                let name = long.split('=').next().unwrap_or(long);
                shape.flags.insert(canonical(program, &sub, name, true));
            } else if SINGLE_DASH_LONG.contains(&program) {
                shape.flags.insert(t[1..].to_owned());
            } else {
                for c in t[1..].chars() {
                    shape.flags.insert(canonical(program, &sub, &c.to_string(), false));
                }
            }
        }
        shape
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(words: &[&str]) -> Cmd {
        crate::tools::command::analyse::analyse(
            std::path::Path::new("/nonexistent-root"),
            &words.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .commands
        .remove(0)
    }

    fn pattern(entry: &str) -> Pattern {
        match DenyRule::parse(entry) {
            DenyRule::Pattern(p) => p,
            DenyRule::Text(t) => panic!("{t} is not a pattern"),
        }
    }

    #[test]
    fn flags_in_any_order_and_spelling() {
        let rm = pattern("rm -rf");
        for words in [
            &["rm", "-rf", "x"][..],
            &["rm", "-fr", "x"],
            &["rm", "-r", "-f", "x"],
            &["rm", "-Rf", "--verbose", "x"],
            &["rm", "--recursive", "--force", "x"],
            &["/bin/rm", "-rfv", "x"],
        ] {
            assert!(rm.matches(&cmd(words)), "{words:?}");
        }
        assert!(!rm.matches(&cmd(&["rm", "-r", "x"])));
        assert!(!rm.matches(&cmd(&["rm", "--", "-rf"])));
        assert!(!rm.matches(&cmd(&["rmdir", "-p", "x"])));
        assert!(rm.matches(&cmd(&["rm", "--recur", "--fo", "x"])), "getopt takes unique prefixes");
        let clean = pattern("git clean");
        assert!(clean.matches(&cmd(&["git", "clean", "-fdx"])));
        assert!(!clean.matches(&cmd(&["git", "clean", "-n"])), "a dry run deletes nothing");
        assert!(pattern("git push --force").matches(&cmd(&["git", "push", "--mirror", "origin"])));
        let victim = pattern("rm victim");
        assert!(victim.matches(&cmd(&["rm", "./victim"])));
        assert!(victim.matches(&cmd(&["rm", "-v", ".//victim/"])));
        assert!(!victim.matches(&cmd(&["rm", "other/victim"])));
        let root = pattern("rm -rf /");
        assert!(root.matches(&cmd(&["rm", "-rf", "//"])));
    }

    #[test]
    fn git_subcommands_operands_and_refspecs() {
        let push = pattern("git push --force");
        assert!(push.matches(&cmd(&["git", "push", "origin", "main", "--force"])));
        assert!(push.matches(&cmd(&["git", "push", "-f"])));
        assert!(push.matches(&cmd(&["git", "push", "--force-with-lease=main"])));
        assert!(push.matches(&cmd(&["git", "push", "origin", "+main"])));
        assert!(!push.matches(&cmd(&["git", "push", "origin", "main"])));
        assert!(!push.matches(&cmd(&["git", "commit", "-f"])));
        let unknown = |words: &[&str], at: usize| {
            let mut c = cmd(words);
            c.args[at].known = false;
            c
        };
        assert!(
            !push.matches(&unknown(&["git", "commit", "-m", "$MSG"], 3)),
            "the subcommand rules it out"
        );
        assert!(
            push.matches(&unknown(&["git", "push", "origin", "$REF"], 3)),
            "`$REF` may be `+main`"
        );
        assert!(push.matches(&unknown(&["git", "$SUB"], 1)));
        let dd = pattern("dd of=");
        assert!(dd.matches(&cmd(&["dd", "bs=1M", "of=/dev/sda", "if=/dev/zero"])));
        assert!(!dd.matches(&cmd(&["dd", "if=/dev/zero"])));
        let mkfs = pattern("mkfs");
        assert!(mkfs.matches(&cmd(&["mkfs.ext4", "/dev/sda1"])));
        assert!(!mkfs.matches(&cmd(&["mkfsx"])));
        let find = pattern("find -delete");
        assert!(find.matches(&cmd(&["find", ".", "-name", "*.pyc", "-delete"])));
        assert!(!find.matches(&cmd(&["find", ".", "-name", "delete", "-type", "d"])));
    }

    #[test]
    fn entries_that_are_not_commands_stay_text() {
        assert_eq!(DenyRule::parse(":(){"), DenyRule::Text(":(){".into()));
        assert_eq!(DenyRule::parse("> /dev/sd"), DenyRule::Text("> /dev/sd".into()));
    }

    #[test]
    fn interpreter_one_liners() {
        for words in [
            &["perl", "-MFile::Path", "-e", "rmtree('x')"][..],
            &["python3", "-c", "import shutil; shutil.rmtree('x')"],
            &["ruby", "-rfileutils", "-e", "FileUtils.rm_rf('x')"],
            &["node", "-e", "require('fs').rmSync('x', {recursive: true})"],
            &["python3", "-c", "import os; os.system('rm -rf x')"],
            &["python3.11", "-c", "import subprocess; subprocess.run(['rm', '-r', 'x'])"],
        ] {
            assert!(interpreter_deletes_tree(&cmd(words)), "{words:?}");
        }
        assert!(!interpreter_deletes_tree(&cmd(&["python3", "-c", "print('rm')"])));
        assert!(!interpreter_deletes_tree(&cmd(&["grep", "-r", "rmtree", "."])));
        // A script's name is not its code.
        assert!(!interpreter_deletes_tree(&cmd(&["python3", "tests/test_rmtree.py"])));
    }
}
