//! Wrappers: programs that run the rest of their command line (`nice`,
//! `timeout`, `sudo`, …), `env` with its `-S` and `-C`, `xargs` and `find -exec`.

use super::{is_assignment, shell, Arg, Cmd, Walker};

/// Programs that run the rest of their command line as a command, after
/// options: the options that take a value (short letters, long names), how
/// many operands come before the command, and an option whose value is a
/// shell command (`flock -c`, `su -c`).
pub(super) struct Wrapper {
    pub name: &'static str,
    pub short_values: &'static str,
    pub long_values: &'static [&'static str],
    pub operands: usize,
    pub shell_option: Option<(&'static str, &'static str)>,
    /// The rest of the line is joined into a shell command (`watch`).
    pub shell_rest: bool,
}

const fn w(name: &'static str, short_values: &'static str, long_values: &'static [&'static str], operands: usize) -> Wrapper {
    Wrapper {
        name,
        short_values,
        long_values,
        operands,
        shell_option: None,
        shell_rest: false,
    }
}

pub(super) const WRAPPERS: &[Wrapper] = &[
    w("nice", "n", &["--adjustment"], 0),
    w("nohup", "", &[], 0),
    w("timeout", "sk", &["--signal", "--kill-after"], 1),
    w("time", "fo", &["--format", "--output"], 0),
    w("stdbuf", "ioe", &["--input", "--output", "--error"], 0),
    w("setsid", "", &[], 0),
    w("ionice", "cnp", &["--class", "--classdata", "--pid"], 0),
    w("taskset", "", &[], 1),
    w("chrt", "TPD", &["--sched-runtime", "--sched-period", "--sched-deadline"], 1),
    w(
        "sudo",
        "ugCDhprtTUR",
        &[
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
        0,
    ),
    w("doas", "uC", &[], 0),
    w("unbuffer", "", &[], 0),
    w(
        "strace",
        "abeEIoOpPsSuX",
        &[
            "--output",
            "--trace",
            "--signal",
            "--attach",
            "--user",
            "--env",
            "--string-limit",
            "--summary-sort-by",
        ],
        0,
    ),
    w("ltrace", "aAeEFlLnopsSuxXw", &["--output", "--library", "--indent", "--align"], 0),
    w(
        "setpriv",
        "",
        &[
            "--reuid",
            "--regid",
            "--groups",
            "--inh-caps",
            "--ambient-caps",
            "--bounding-set",
            "--securebits",
            "--selinux-label",
            "--apparmor-profile",
            "--pdeathsig",
            "--landlock-access",
            "--landlock-rule",
        ],
        0,
    ),
    w("unshare", "SGRwl", &["--setuid", "--setgid", "--root", "--wd"], 0),
    w("nsenter", "tSGrwT", &["--target", "--setuid", "--setgid", "--root", "--wd"], 0),
    w("chroot", "", &["--userspec", "--groups"], 1),
    Wrapper {
        shell_option: Some(("-c", "--command")),
        ..w("flock", "wEs", &["--timeout", "--conflict-exit-code"], 1)
    },
    Wrapper {
        shell_option: Some(("-c", "--command")),
        ..w("su", "sgGw", &["--shell", "--group", "--supp-group", "--whitelist-environment"], 0)
    },
    Wrapper {
        shell_option: Some(("-c", "--command")),
        ..w(
            "runuser",
            "ugGsw",
            &["--user", "--group", "--supp-group", "--shell", "--whitelist-environment"],
            0,
        )
    },
    Wrapper {
        shell_option: Some(("-c", "--command")),
        ..w(
            "script",
            "ETIOBm",
            &[
                "--echo",
                "--timing",
                "--log-in",
                "--log-out",
                "--log-io",
                "--logging-format",
                "--output-limit",
            ],
            0,
        )
    },
    Wrapper {
        shell_rest: true,
        ..w("watch", "ndq", &["--interval", "--differences", "--chgexit"], 0)
    },
];

/// Whether `given` (`--sig`) is `full` (`--signal`) or a prefix of it that
/// getopt accepts (three characters at least, counting the dashes).
pub(super) fn long_is(given: &str, full: &str) -> bool {
    given == full || (given.len() >= 3 && given.starts_with("--") && full.starts_with(given))
}

impl Walker<'_> {
    /// A program of [`WRAPPERS`]: what it runs after its options.
    pub(super) fn wrapper(&mut self, cmd: &Cmd, w: &Wrapper, depth: usize) {
        if let Some((short, long)) = w.shell_option {
            // Only where the wrapper reads it: flock takes `-c` among its options
            // or right after the lock file (`flock lk rm -r x -c true` runs rm,
            // whose `-c` that is); su, runuser and script take it anywhere
            // before `--`.
            let until = if w.name == "flock" {
                after_options(&cmd.args, 1, w.short_values, w.long_values, 0).map_or(cmd.args.len(), |file| file + 2)
            } else {
                cmd.args.iter().position(|a| a.text == "--").unwrap_or(cmd.args.len())
            };
            for (i, a) in cmd.args.iter().enumerate().take(until.min(cmd.args.len())).skip(1) {
                let t = a.text.as_str();
                let letter = short.trim_start_matches('-');
                // `-c CMD`, `-cCMD`, `-qc CMD` (a cluster ending in the letter), `--command=CMD`.
                let in_cluster = !t.starts_with("--") && t.starts_with('-') && t[1..].contains(letter);
                let script = if t == short || long_is(t, long) || (in_cluster && t.ends_with(letter)) {
                    cmd.args.get(i + 1).cloned()
                } else if in_cluster {
                    let at = t.find(letter).unwrap_or(0) + letter.len();
                    Some(Arg {
                        text: t[at..].to_owned(),
                        known: a.known,
                    })
                } else {
                    t.split_once('=').filter(|(l, _)| long_is(l, long)).map(|(_, v)| Arg {
                        text: v.to_owned(),
                        known: a.known,
                    })
                };
                if let Some(script) = script {
                    self.shell_string(&script, w.name, depth);
                    return;
                }
            }
        }
        let Some(start) = after_options(&cmd.args, 1, w.short_values, w.long_values, w.operands) else {
            if cmd.open_args {
                self.opaque(format!("`{}` runs a command that comes from its input", w.name));
            }
            return;
        };
        if w.shell_rest {
            let joined = cmd.args[start..].iter().map(|a| a.text.as_str()).collect::<Vec<_>>().join(" ");
            let known = cmd.args[start..].iter().all(|a| a.known);
            self.shell_string(&Arg { text: joined, known }, w.name, depth);
            return;
        }
        self.command(cmd.tail(start, false), depth + 1);
    }

    /// A shell command given to a program as a string (`flock -c "…"`).
    pub(super) fn shell_string(&mut self, script: &Arg, program: &str, depth: usize) {
        if !script.known {
            self.opaque(format!("the command `{program}` runs comes from a variable"));
            return;
        }
        let mut state = super::script::ShellState::new(vec![Arg::known("sh")], true);
        self.subshell(|w| w.script(&script.text, &mut state, depth + 1));
    }

    pub(super) fn env(&mut self, cmd: &Cmd, depth: usize) {
        let args = &cmd.args;
        let mut i = 1;
        let mut split: Vec<Arg> = Vec::new();
        // The value of an option: the rest of its word, or the next word.
        let value = |i: &mut usize, rest: &str| -> Option<String> {
            if rest.is_empty() {
                *i += 1;
                args.get(*i).map(|a| a.text.clone())
            } else {
                Some(rest.to_owned())
            }
        };
        while let Some(a) = args.get(i) {
            let t = a.text.clone();
            if t == "--" {
                i += 1;
                break;
            }
            if let Some(long) = t.strip_prefix("--") {
                let (name, inline) = match long.split_once('=') {
                    Some((n, v)) => (format!("--{n}"), Some(v.to_owned())),
                    None => (format!("--{long}"), None),
                };
                let takes = ["--split-string", "--chdir", "--unset"].into_iter().find(|l| long_is(&name, l));
                if let Some(opt) = takes {
                    let v = inline.or_else(|| {
                        i += 1;
                        args.get(i).map(|a| a.text.clone())
                    });
                    match (opt, v) {
                        ("--split-string", Some(v)) => split.extend(self.split_string(&v)),
                        ("--chdir", Some(v)) => {
                            self.path("`env --chdir`", &v);
                        }
                        _ => {}
                    }
                }
                i += 1;
                continue;
            }
            if t.starts_with('-') && t.len() > 1 {
                // A cluster: `-i`, `-iS 'cmd'`, `-uNAME`, `-C dir`.
                let flags: Vec<char> = t[1..].chars().collect();
                for (k, c) in flags.iter().enumerate() {
                    if matches!(c, 'S' | 'C' | 'u') {
                        let rest: String = flags[k + 1..].iter().collect();
                        let v = value(&mut i, &rest);
                        match (c, v) {
                            ('S', Some(v)) => split.extend(self.split_string(&v)),
                            ('C', Some(v)) => {
                                self.path("`env -C`", &v);
                            }
                            _ => {}
                        }
                        break;
                    }
                }
                i += 1;
                continue;
            }
            break;
        }
        // Assignments after the options, before the command.
        while let Some(a) = args.get(i).filter(|a| is_assignment(&a.text)) {
            let name = a.text.split_once('=').map_or("", |(n, _)| n).to_owned();
            if super::script::changes_what_runs(&name) {
                self.opaque(format!("`env` sets `{name}`, which changes what programs run"));
            }
            i += 1;
        }
        let mut inner = split;
        inner.extend(args.iter().skip(i).cloned());
        if inner.is_empty() {
            if cmd.open_args {
                self.opaque("`env` runs a command that comes from its input");
            }
            return;
        }
        let mut c = cmd.tail(0, false);
        c.args = inner;
        self.command(c, depth + 1);
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
        // `-I R`, `-iR`, `--replace[=R]`: words holding R are the input's.
        let mut replace: Option<String> = None;
        for (i, a) in cmd.args[1..start.min(cmd.args.len())].iter().enumerate() {
            let t = a.text.as_str();
            if t == "-I" {
                replace = cmd.args.get(i + 2).map(|a| a.text.clone());
            } else if let Some(r) = t.strip_prefix("-I").or_else(|| t.strip_prefix("-i")).filter(|r| !r.is_empty()) {
                replace = Some(r.to_owned());
            } else if t == "-i" || long_is(t, "--replace") {
                replace = Some("{}".into());
            } else if let Some((_, r)) = t.split_once('=').filter(|(l, _)| long_is(l, "--replace")) {
                replace = Some(r.to_owned());
            }
        }
        let mut inner = if start < cmd.args.len() {
            cmd.tail(start, false)
        } else {
            Cmd::new(vec![Arg::known("echo")], false)
        };
        if let Some(r) = replace.filter(|r| !r.is_empty()) {
            for a in &mut inner.args {
                if a.text.contains(r.as_str()) {
                    a.known = false;
                }
            }
        }
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
            let takes_value = !t.contains('=') && long_values.iter().any(|l| long_is(t, l));
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
