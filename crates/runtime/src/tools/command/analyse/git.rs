//! Git: its global options (`-C`, `-c`, `--git-dir`) looked through, its
//! aliases and command-valued settings refused, and the subcommands that
//! run commands (`bisect run`, `rebase --exec`, `submodule foreach`) read.

use super::{Cmd, Vars, Walker};

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
                if GIT_DIR_OPTIONS.contains(&opt.as_str()) {
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
        match sub_name.as_str() {
            "config" => {
                if rest.iter().any(|a| matches!(a.text.as_str(), "--global" | "--system")) {
                    self.outside("`git config --global/--system` writes configuration outside the workspace root");
                }
                let words: Vec<&str> = rest.iter().map(|a| a.text.as_str()).filter(|t| !t.starts_with('-')).collect();
                if let [key, value, ..] = words.as_slice() {
                    let kv = format!("{key}={value}");
                    self.git_config(&kv, false);
                }
            }
            "bisect" if rest.first().is_some_and(|a| a.text == "run") => {
                self.command(stripped.tail(3, false), depth + 1);
            }
            "rebase" => {
                for (n, a) in rest.iter().enumerate() {
                    let script = match a.text.as_str() {
                        "-x" | "--exec" => rest.get(n + 1).map(|a| a.text.clone()),
                        t => t.strip_prefix("--exec=").map(str::to_owned),
                    };
                    if let Some(s) = script {
                        self.script(&s, &mut Vars::new(), &[], depth + 1);
                    }
                }
            }
            "submodule" if rest.iter().any(|a| a.text == "foreach") => {
                let at = rest.iter().position(|a| a.text == "foreach").unwrap_or(0);
                let script: Vec<&str> = rest[at + 1..]
                    .iter()
                    .map(|a| a.text.as_str())
                    .filter(|t| *t != "--recursive")
                    .collect();
                self.script(&script.join(" "), &mut Vars::new(), &[], depth + 1);
            }
            "filter-branch" | "difftool" | "mergetool" => {
                self.opaque(format!("`git {sub_name}` runs programs given as text"));
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
    ];
    const SUFFIXES: &[&str] = &[
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
    ];
    EXACT.contains(&key) || SUFFIXES.iter().any(|s| key.ends_with(s)) || key.starts_with("pager.") || key.starts_with("includeif.")
}
