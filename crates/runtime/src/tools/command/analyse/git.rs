//! Git: its global options (`-C`, `-c`, `--git-dir`) looked through, its
//! aliases and command-valued settings refused, and the subcommands that
//! run commands (`bisect run`, `rebase --exec`, `submodule foreach`) read.

use super::wrappers::long_is;
use super::{Arg, Cmd, Walker};

/// Git's own commands; any other `git NAME` is an alias or an external
/// `git-NAME` program, which may run anything.
const GIT_COMMANDS: &[&str] = &[
    "add",
    "am",
    "annotate",
    "apply",
    "archive",
    "bisect",
    "blame",
    "branch",
    "bundle",
    "cat-file",
    "check-attr",
    "check-ignore",
    "check-mailmap",
    "check-ref-format",
    "checkout",
    "checkout-index",
    "cherry",
    "cherry-pick",
    "citool",
    "clean",
    "clone",
    "commit",
    "commit-graph",
    "commit-tree",
    "config",
    "count-objects",
    "describe",
    "diff",
    "diff-files",
    "diff-index",
    "diff-tree",
    "fetch",
    "for-each-ref",
    "format-patch",
    "fsck",
    "gc",
    "get-tar-commit-id",
    "grep",
    "hash-object",
    "help",
    "init",
    "interpret-trailers",
    "log",
    "ls-files",
    "ls-remote",
    "ls-tree",
    "maintenance",
    "merge",
    "merge-base",
    "merge-file",
    "merge-tree",
    "mktag",
    "mktree",
    "mv",
    "name-rev",
    "notes",
    "prune",
    "pull",
    "push",
    "range-diff",
    "read-tree",
    "rebase",
    "reflog",
    "remote",
    "repack",
    "replace",
    "reset",
    "restore",
    "rev-list",
    "rev-parse",
    "revert",
    "rm",
    "shortlog",
    "show",
    "show-branch",
    "show-ref",
    "sparse-checkout",
    "stash",
    "status",
    "stripspace",
    "submodule",
    "switch",
    "symbolic-ref",
    "tag",
    "update-index",
    "update-ref",
    "var",
    "verify-commit",
    "verify-tag",
    "version",
    "whatchanged",
    "worktree",
    "write-tree",
];

/// Git options before the command that take a value as the next word.
const GIT_VALUE_OPTIONS: &[&str] = &[
    "-C",
    "-c",
    "--git-dir",
    "--work-tree",
    "--namespace",
    "--exec-path",
    "--config-env",
    "--super-prefix",
];

/// Git options whose value is a directory.
const GIT_DIR_OPTIONS: &[&str] = &["-C", "--git-dir", "--work-tree", "--exec-path"];

impl Walker<'_> {
    pub(super) fn git(&mut self, cmd: &Cmd, depth: usize) {
        let args = &cmd.args;
        let mut i = 1;
        while let Some(a) = args.get(i) {
            let t = a.text.clone();
            if !t.starts_with('-') {
                break;
            }
            let (opt, inline) = match t.split_once('=') {
                Some((o, v)) if o.starts_with("--") => (o.to_owned(), Some(v.to_owned())),
                _ => (t.clone(), None),
            };
            if GIT_VALUE_OPTIONS.contains(&opt.as_str()) {
                let value = match inline {
                    Some(v) => {
                        i += 1;
                        v
                    }
                    None => {
                        i += 2;
                        args.get(i - 1).map(|a| a.text.clone()).unwrap_or_default()
                    }
                };
                if opt == "--exec-path" {
                    self.opaque("`git --exec-path=DIR` runs git's commands from DIR");
                } else if GIT_DIR_OPTIONS.contains(&opt.as_str()) {
                    self.path(&format!("`git {opt}`"), &value);
                } else if opt == "-c" || opt == "--config-env" {
                    self.git_config(&value, opt == "--config-env");
                }
                continue;
            }
            i += 1;
        }
        let Some(sub) = args.get(i) else { return };
        if !sub.known {
            self.opaque("a git command from a variable");
            return;
        }
        let sub_name = sub.text.clone();
        if !GIT_COMMANDS.contains(&sub_name.as_str()) {
            self.opaque(format!(
                "`git {sub_name}` is a git alias or an external command, which may run anything"
            ));
            return;
        }
        // The command as the denylist sees it: `git SUB ARGS…` without the global options.
        let mut stripped = cmd.tail(i, false);
        stripped.args.insert(0, cmd.args[0].clone());
        self.out.commands.push(stripped.clone());
        let rest = &stripped.args[2..];
        self.git_program_options(&sub_name, rest);
        match sub_name.as_str() {
            "config" => self.git_config_command(rest),
            "bisect" if rest.first().is_some_and(|a| a.text == "run") => {
                self.command(stripped.tail(3, false), depth + 1);
            }
            "rebase" => {
                for (n, a) in rest.iter().enumerate() {
                    let script = match a.text.as_str() {
                        "-x" | "--exec" => rest.get(n + 1).cloned(),
                        t => t
                            .strip_prefix("--exec=")
                            .or_else(|| t.strip_prefix("-x").filter(|s| !s.is_empty()))
                            .map(|s| Arg {
                                text: s.to_owned(),
                                known: a.known,
                            }),
                    };
                    if let Some(s) = script {
                        self.shell_string(&s, "git rebase", depth);
                    }
                }
            }
            "submodule" if rest.iter().any(|a| a.text == "foreach") => {
                let at = rest.iter().position(|a| a.text == "foreach").unwrap_or(0);
                let words: Vec<&Arg> = rest[at + 1..].iter().filter(|a| a.text != "--recursive").collect();
                let script = Arg {
                    text: words.iter().map(|a| a.text.as_str()).collect::<Vec<_>>().join(" "),
                    known: words.iter().all(|a| a.known),
                };
                self.shell_string(&script, "git submodule foreach", depth);
            }
            "filter-branch" | "difftool" | "mergetool" => {
                self.opaque(format!("`git {sub_name}` runs programs given as text"));
            }
            _ => {}
        }
    }

    /// Options of git commands whose value is a program or a script:
    /// `--upload-pack`, `--receive-pack`, `--exec`, `clone -u`, `grep -O`,
    /// `--template` (hooks), and settings given to `clone`/`init` with `-c`.
    fn git_program_options(&mut self, sub: &str, rest: &[Arg]) {
        const PROGRAM_VALUED: &[&str] = &[
            "--upload-pack",
            "--receive-pack",
            "--exec",
            "--template",
            "--open-files-in-pager",
            "--ext-diff",
            "--extcmd",
            "--tool",
        ];
        for (n, a) in rest.iter().enumerate() {
            let t = a.text.as_str();
            let (name, inline) = t.split_once('=').map_or((t, None), |(n, v)| (n, Some(v)));
            if name.starts_with("--") && PROGRAM_VALUED.iter().any(|p| long_is(name, p)) {
                self.opaque(format!("`git {sub} {name}` runs a program loopc cannot see"));
                return;
            }
            let short_program = (sub == "clone" && t.starts_with("-u")) || (sub == "grep" && t.starts_with("-O"));
            if short_program {
                self.opaque(format!("`git {sub} {t}` runs a program loopc cannot see"));
                return;
            }
            if matches!(sub, "clone" | "init" | "submodule") && (t == "-c" || long_is(name, "--config")) {
                let kv = inline.map(str::to_owned).or_else(|| rest.get(n + 1).map(|a| a.text.clone()));
                if let Some(kv) = kv {
                    self.git_config(&kv, false);
                }
            }
        }
    }

    /// `git config [--file F] [set|add|…] KEY VALUE`: the setting it writes.
    fn git_config_command(&mut self, rest: &[Arg]) {
        const VALUE_OPTIONS: &[&str] = &["-f", "--file", "--blob", "--type", "--default", "--comment", "--value"];
        const VERBS: &[&str] = &[
            "set",
            "get",
            "unset",
            "add",
            "replace-all",
            "rename-section",
            "remove-section",
            "list",
            "edit",
            "get-regexp",
            "get-all",
            "unset-all",
        ];
        if rest.iter().any(|a| matches!(a.text.as_str(), "--global" | "--system")) {
            self.outside("`git config --global/--system` writes configuration outside the workspace root");
        }
        if rest.iter().any(|a| matches!(a.text.as_str(), "-e" | "--edit" | "edit")) {
            self.opaque("`git config --edit` runs an editor");
            return;
        }
        let mut words = Vec::new();
        let mut i = 0;
        while let Some(a) = rest.get(i) {
            let t = a.text.as_str();
            if VALUE_OPTIONS.contains(&t) {
                i += 2;
                continue;
            }
            let verb = words.is_empty() && VERBS.contains(&t);
            if !t.starts_with('-') && !verb {
                words.push(a);
            }
            i += 1;
        }
        match words.as_slice() {
            [key, value, ..] if key.known && value.known => {
                let kv = format!("{}={}", key.text, value.text);
                self.git_config(&kv, false);
            }
            [key, _, ..] => {
                // A value from a variable: only harmless keys may take one.
                let kv = format!("{}=!", key.text);
                self.git_config(&kv, false);
            }
            _ => {}
        }
    }

    /// `git -c key=value`: settings that make git run a program.
    fn git_config(&mut self, kv: &str, from_env: bool) {
        let (key, value) = kv.split_once('=').unwrap_or((kv, ""));
        let key = key.to_ascii_lowercase();
        let runs = if key.starts_with("alias.") {
            from_env || value.trim_start().starts_with('!')
        } else {
            git_key_runs_program(&key)
        };
        if runs {
            self.opaque(format!("git setting `{key}` makes git run a program loopc cannot see"));
        }
    }
}

/// Git configuration keys whose value is a program or loads more configuration.
fn git_key_runs_program(key: &str) -> bool {
    const EXACT: &[&str] = &[
        "core.sshcommand",
        "core.pager",
        "core.editor",
        "core.fsmonitor",
        "core.hookspath",
        "core.askpass",
        "core.gitproxy",
        "sequence.editor",
        "diff.external",
        "credential.helper",
        "gpg.program",
        "uploadpack.packobjectshook",
        "include.path",
        "init.templatedir",
        "gpg.ssh.defaultkeycommand",
        "core.alternaterefscommand",
        "interactive.difffilter",
        "core.worktree",
    ];
    const SUFFIXES: &[&str] = &[
        ".push",
        ".mirror",
        ".command",
        ".textconv",
        ".driver",
        ".clean",
        ".smudge",
        ".process",
        ".program",
        ".helper",
        ".cmd",
        ".receivepack",
        ".uploadpack",
        ".path",
        ".allow",
        ".tool",
        ".update",
    ];
    EXACT.contains(&key) || SUFFIXES.iter().any(|s| key.ends_with(s)) || key.starts_with("pager.") || key.starts_with("includeif.")
}
