//! Wrappers: programs that run the rest of their command line (`nice`,
//! `timeout`, `sudo`, …), `env` with its `-S` and `-C`, `xargs` and `find -exec`.

use super::{is_assignment, shell, Arg, Cmd, Walker};

/// Programs that run the rest of their command line as a command, after
/// options: the options that take a value (short letters, long names) and
/// how many operands come before the command.
pub(super) struct Wrapper {
    pub name: &'static str,
    pub short_values: &'static str,
    pub long_values: &'static [&'static str],
    pub operands: usize,
}

pub(super) const WRAPPERS: &[Wrapper] = &[
    Wrapper {
        name: "nice",
        short_values: "n",
        long_values: &["--adjustment"],
        operands: 0,
    },
    Wrapper {
        name: "nohup",
        short_values: "",
        long_values: &[],
        operands: 0,
    },
    Wrapper {
        name: "timeout",
        short_values: "sk",
        long_values: &["--signal", "--kill-after"],
        operands: 1,
    },
    Wrapper {
        name: "time",
        short_values: "fo",
        long_values: &["--format", "--output"],
        operands: 0,
    },
    Wrapper {
        name: "stdbuf",
        short_values: "ioe",
        long_values: &["--input", "--output", "--error"],
        operands: 0,
    },
    Wrapper {
        name: "setsid",
        short_values: "",
        long_values: &[],
        operands: 0,
    },
    Wrapper {
        name: "ionice",
        short_values: "cn",
        long_values: &["--class", "--classdata"],
        operands: 0,
    },
    Wrapper {
        name: "taskset",
        short_values: "",
        long_values: &[],
        operands: 1,
    },
    Wrapper {
        name: "chrt",
        short_values: "T",
        long_values: &[],
        operands: 1,
    },
    Wrapper {
        name: "sudo",
        short_values: "ugCDhprtTUR",
        long_values: &[
            "--user",
            "--group",
            "--chdir",
            "--host",
            "--prompt",
            "--role",
            "--type",
            "--command-timeout",
            "--other-user",
            "--close-from",
        ],
        operands: 0,
    },
    Wrapper {
        name: "doas",
        short_values: "uC",
        long_values: &[],
        operands: 0,
    },
    Wrapper {
        name: "unbuffer",
        short_values: "",
        long_values: &[],
        operands: 0,
    },
];

impl Walker<'_> {
    pub(super) fn env(&mut self, cmd: &Cmd, depth: usize) {
        let args = &cmd.args;
        let mut i = 1;
        let mut split: Vec<Arg> = Vec::new();
        while let Some(a) = args.get(i) {
            let t = a.text.as_str();
            if t == "--" {
                i += 1;
                break;
            }
            if let Some(s) = t
                .strip_prefix("--split-string=")
                .or_else(|| t.strip_prefix("-S").filter(|s| !s.is_empty()))
            {
                split.extend(self.split_string(s));
                i += 1;
                continue;
            }
            if t == "-S" || t == "--split-string" {
                if let Some(s) = args.get(i + 1).map(|a| a.text.clone()) {
                    split.extend(self.split_string(&s));
                }
                i += 2;
                continue;
            }
            if let Some(dir) = t
                .strip_prefix("--chdir=")
                .or_else(|| t.strip_prefix("-C").filter(|s| !s.is_empty()))
            {
                let dir = dir.to_owned();
                self.path("`env -C`", &dir);
                i += 1;
                continue;
            }
            if t == "-C" || t == "--chdir" {
                if let Some(dir) = args.get(i + 1).map(|a| a.text.clone()) {
                    self.path("`env -C`", &dir);
                }
                i += 2;
                continue;
            }
            if t == "-u" || t == "--unset" {
                i += 2;
                continue;
            }
            if t.starts_with('-') {
                i += 1;
                continue;
            }
            break;
        }
        // Assignments after the options, before the command.
        while args.get(i).is_some_and(|a| is_assignment(&a.text)) {
            i += 1;
        }
        let mut inner = split;
        inner.extend(args.iter().skip(i).cloned());
        if !inner.is_empty() {
            let mut c = cmd.tail(0, false);
            c.args = inner;
            self.command(c, depth + 1);
        }
    }

    /// `env -S 'prog -x "a b"'`: the words of the string.
    fn split_string(&mut self, s: &str) -> Vec<Arg> {
        match shell::parse(s) {
            Ok(p) if p.commands.len() == 1 && p.compound.is_empty() => p.commands[0]
                .words
                .iter()
                .map(|w| match w.literal() {
                    Some(t) => Arg::known(t),
                    None => Arg {
                        text: s.to_owned(),
                        known: false,
                    },
                })
                .collect(),
            _ => {
                self.opaque("`env -S` with a string loopc cannot split");
                Vec::new()
            }
        }
    }

    pub(super) fn xargs(&mut self, cmd: &Cmd, depth: usize) {
        const SHORT: &str = "adEILnPs";
        const LONG: &[&str] = &[
            "--arg-file",
            "--delimiter",
            "--max-args",
            "--max-procs",
            "--max-chars",
            "--process-slot-var",
        ];
        let start = after_options(&cmd.args, 1, SHORT, LONG, 0).unwrap_or(cmd.args.len());
        let mut inner = if start < cmd.args.len() {
            cmd.tail(start, false)
        } else {
            Cmd::new(vec![Arg::known("echo")], false)
        };
        inner.open_args = true;
        self.command(inner, depth + 1);
    }

    pub(super) fn find(&mut self, cmd: &Cmd, depth: usize) {
        let mut i = 1;
        while i < cmd.args.len() {
            let t = cmd.args[i].text.as_str();
            if matches!(t, "-exec" | "-execdir" | "-ok" | "-okdir") {
                let start = i + 1;
                let mut end = start;
                while end < cmd.args.len() && !matches!(cmd.args[end].text.as_str(), ";" | "+") {
                    end += 1;
                }
                let mut inner = Cmd::new(
                    cmd.args[start..end]
                        .iter()
                        .map(|a| {
                            if a.text.contains("{}") {
                                Arg {
                                    text: a.text.clone(),
                                    known: false,
                                }
                            } else {
                                a.clone()
                            }
                        })
                        .collect(),
                    false,
                );
                inner.open_args = true;
                self.command(inner, depth + 1);
                i = end + 1;
            } else {
                i += 1;
            }
        }
    }
}

/// The index of the first word after a wrapper's options and `operands`.
pub(super) fn after_options(args: &[Arg], from: usize, short_values: &str, long_values: &[&str], operands: usize) -> Option<usize> {
    let mut i = from;
    while let Some(a) = args.get(i) {
        let t = a.text.as_str();
        if t == "--" {
            i += 1;
            break;
        }
        if t.starts_with("--") {
            let takes_value = !t.contains('=') && long_values.contains(&t);
            i += if takes_value { 2 } else { 1 };
            continue;
        }
        if t.starts_with('-') && t.len() > 1 {
            // `-n 5`, `-n5`, `-10` (nice), `-kv`.
            let first = t[1..].chars().next().unwrap_or(' ');
            let takes_value = short_values.contains(first) && t.len() == 2;
            i += if takes_value { 2 } else { 1 };
            continue;
        }
        break;
    }
    let start = i + operands;
    (start < args.len()).then_some(start)
}
