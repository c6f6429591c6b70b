//! `loopc new`: render a spec from one of the templates (crates/templates),
//! optionally with dry-run bindings, and check what was written.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use loopc_check::{Checker, Settings};
use loopc_diagnostics::render::{render_human, FileDiagnostics, HumanOptions};
use loopc_diagnostics::Severity;
use loopc_templates::{RenderError, Template};

use super::{emit, usage_error, EXIT_FINDINGS, EXIT_OK};

#[derive(Args, Debug)]
pub struct NewArgs {
    /// The template to render (`loopc new --list` shows them).
    #[arg(required_unless_present = "list")]
    pub template: Option<String>,
    /// List the templates, one line each.
    #[arg(long, conflicts_with_all = ["vars", "output", "set", "with_bindings"])]
    pub list: bool,
    /// List the template's variables with their defaults, instead of rendering it.
    #[arg(long)]
    pub vars: bool,
    /// Write the spec here (default, or `-`: standard output).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// A variable's value, `key=value` (repeatable); the others take their defaults.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Also write dry-run files beside the spec: FILE.bindings.toml (script executors),
    /// FILE.responses.json (sample responses) and FILE.inputs.jsonl (sample inputs).
    #[arg(long)]
    pub with_bindings: bool,
    /// Replace files that exist (otherwise an existing file is an error).
    #[arg(long)]
    pub force: bool,
    /// Never prompt for values, even on a terminal.
    #[arg(long)]
    pub no_input: bool,
}

pub fn run(args: NewArgs, settings: &Settings) -> u8 {
    if args.list {
        let width = loopc_templates::all().iter().map(|t| t.name.len()).max().unwrap_or(0);
        let mut text = String::new();
        for t in loopc_templates::all() {
            text.push_str(&format!("{:width$}  {}\n", t.name, t.summary));
        }
        emit(&text);
        return EXIT_OK;
    }
    let name = args.template.as_deref().expect("clap requires it unless --list");
    let Some(template) = loopc_templates::find(name) else {
        let names: Vec<&str> = loopc_templates::all().iter().map(|t| t.name).collect();
        return usage_error(format!("no template `{name}`; the templates: {}", names.join(", ")));
    };
    if args.vars {
        emit(&describe_vars(template));
        return EXIT_OK;
    }
    let mut set = match parse_set(&args.set) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    if let Err(e) = template.validate(&set) {
        return usage_error(with_hint(e, template));
    }
    let stdin = std::io::stdin();
    if !args.no_input && stdin.is_terminal() && template.vars.iter().any(|v| !set.contains_key(&v.name)) {
        if let Err(e) = prompt(template, &mut set, &mut stdin.lock(), &mut std::io::stderr()) {
            return usage_error(e);
        }
    }
    let output = args.output.as_deref().filter(|p| p.as_os_str() != "-");
    if args.with_bindings && output.is_none() {
        return usage_error("--with-bindings writes files beside the spec: give the spec's file with -o FILE");
    }
    match output {
        None => to_stdout(template, &set, settings),
        Some(path) => {
            let mut writer = Writer {
                force: args.force,
                bindings: args.with_bindings,
                checker: Checker::from_settings(settings),
                written: Vec::new(),
                dry_runs: Vec::new(),
            };
            match writer.write_template(template, &set, path) {
                Ok(()) => writer.report(template),
                Err(e) => usage_error(e),
            }
        }
    }
}

/// `key=value` pairs; a key given twice is an error (which one was meant?).
fn parse_set(pairs: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut set = BTreeMap::new();
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(format!("--set `{pair}` is not key=value"));
        };
        if set.insert(key.to_owned(), value.to_owned()).is_some() {
            return Err(format!("--set {key} is given twice"));
        }
    }
    Ok(set)
}

fn with_hint(e: RenderError, template: &Template) -> String {
    match e {
        RenderError::UnknownVar { .. } => format!("{e} (`loopc new {} --vars` describes them)", template.name),
        other => other.to_string(),
    }
}

/// `loopc new TEMPLATE --vars`: each variable, its kind, default and description.
fn describe_vars(template: &Template) -> String {
    let mut text = format!("{} — {}\n\nvariables (--set KEY=VALUE):\n", template.name, template.summary);
    let width = template.vars.iter().map(|v| v.name.len()).max().unwrap_or(0);
    for v in &template.vars {
        let mut kind = v.kind.as_str().to_owned();
        if !v.choices.is_empty() {
            kind = format!("one of {}", v.choices.join("|"));
        }
        match (v.min, v.max) {
            (Some(lo), Some(hi)) => kind.push_str(&format!(", {lo} to {hi}")),
            (Some(lo), None) => kind.push_str(&format!(", at least {lo}")),
            (None, Some(hi)) => kind.push_str(&format!(", at most {hi}")),
            (None, None) => {}
        }
        text.push_str(&format!(
            "  {:width$}  {} ({kind}; default: {})\n",
            v.name, v.description, v.default
        ));
    }
    if template.is_composition() {
        text.push_str("\nchildren (written beside the composition, in children_dir, when they do not exist):\n");
        for child in &template.children {
            text.push_str(&format!(
                "  {}\n",
                child.file.clone().unwrap_or_else(|| format!("{}.yaml", child.template))
            ));
        }
    }
    text
}

/// Ask for each variable not in `set`, showing its default; an empty line
/// keeps the default, a value the variable does not take is asked again.
fn prompt(template: &Template, set: &mut BTreeMap<String, String>, input: &mut dyn BufRead, out: &mut dyn Write) -> Result<(), String> {
    let io = |e: std::io::Error| format!("cannot read the answer: {e}");
    for v in &template.vars {
        if set.contains_key(&v.name) {
            continue;
        }
        loop {
            write!(out, "{} — {} [{}]: ", v.name, v.description, v.default).map_err(io)?;
            out.flush().map_err(io)?;
            let mut line = String::new();
            if input.read_line(&mut line).map_err(io)? == 0 {
                return Err("no answer (end of input); give the values with --set".into());
            }
            let answer = line.trim_end_matches(['\n', '\r']);
            let text = if answer.is_empty() { v.default.clone() } else { answer.to_owned() };
            match v.parse(&text) {
                Ok(_) => {
                    set.insert(v.name.clone(), text);
                    break;
                }
                Err(why) => writeln!(out, "  {} {why}", v.name).map_err(io)?,
            }
        }
    }
    Ok(())
}

fn to_stdout(template: &'static Template, set: &BTreeMap<String, String>, settings: &Settings) -> u8 {
    let rendered = match template.render(set) {
        Ok(r) => r,
        Err(e) => return usage_error(with_hint(e, template)),
    };
    emit(&rendered.spec);
    if !rendered.children.is_empty() {
        let files: Vec<&str> = rendered.children.iter().map(|(p, _, _)| p.as_str()).collect();
        eprintln!(
            "loopc: note: this composition refers to {}; write it with -o FILE to have them written too",
            files.join(", ")
        );
        return EXIT_OK;
    }
    let path = PathBuf::from(format!("{}.yaml", template.name));
    let checked = Checker::from_settings(settings).check_bytes(&path, rendered.spec.as_bytes());
    // Infos are for `loopc check`; here only what needs attention is shown.
    if checked.diagnostics.iter().all(|d| d.severity == Severity::Info) {
        return EXIT_OK;
    }
    let errors = checked.has_errors();
    eprint!("{}", findings(checked, &path));
    if errors {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    }
}

/// Writes a template's files, never over an existing one unless `force`,
/// and checks each spec it writes.
struct Writer {
    force: bool,
    /// Also write the dry-run files of each loop.
    bindings: bool,
    checker: Checker,
    /// Every file written, in order, with its check when it is a spec.
    written: Vec<(PathBuf, Option<loopc_check::CheckedFile>)>,
    /// The command that dry-runs each loop written with its dry-run files.
    dry_runs: Vec<String>,
}

impl Writer {
    fn write_template(&mut self, template: &'static Template, set: &BTreeMap<String, String>, path: &Path) -> Result<(), String> {
        let rendered = template.render(set).map_err(|e| with_hint(e, template))?;
        let dir = path.parent().unwrap_or(Path::new(""));
        // Children first: the composition is checked against them.
        for (child_path, child, child_set) in &rendered.children {
            let target = normalize(&dir.join(child_path));
            if target.exists() && !self.force {
                eprintln!("loopc: note: kept {} (it exists; --force replaces it)", target.display());
                continue;
            }
            self.write_template(child, child_set, &target)?;
        }
        // The directory first: a child's `../x.yaml` is resolved through it.
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let checked = self.checker.check_bytes(path, rendered.spec.as_bytes());
        let mut files = vec![(path.to_path_buf(), rendered.spec.clone())];
        if let (true, Some(run)) = (self.bindings, &rendered.run) {
            let stem = file_stem(path);
            let [b, r, i] = [".bindings.toml", ".responses.json", ".inputs.jsonl"].map(|ext| format!("{stem}{ext}"));
            let spec_file = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            // A constraint loopc's runtime cannot enforce (L422) is refused unless allowed.
            let flags = if checked.diagnostics.iter().any(|d| d.code == "L422") {
                " --allow-unenforced"
            } else {
                ""
            };
            let command = |spec: &str, b: &str, i: &str| format!("loopc run {spec} --bindings {b} --inputs-file {i} --dry-run{flags}");
            let text = loopc_templates::dry_run_bindings(template.name, &r, &command(&spec_file, &b, &i));
            files.push((dir.join(&b), text));
            files.push((dir.join(&r), run.responses.clone()));
            files.push((dir.join(&i), run.inputs.clone()));
            let shown = |p: PathBuf| p.display().to_string();
            self.dry_runs
                .push(command(&shown(path.to_path_buf()), &shown(dir.join(&b)), &shown(dir.join(&i))));
        }
        if !self.force {
            if let Some((existing, _)) = files.iter().find(|(p, _)| p.exists()) {
                return Err(format!("{} exists; --force replaces it", existing.display()));
            }
        }
        let mut checked = Some(checked);
        for (file, text) in files {
            loopc_runtime::atomic::write(&file, text.as_bytes(), loopc_runtime::atomic::Mode::Default)
                .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
            self.written.push((file, checked.take()));
        }
        Ok(())
    }

    /// Say what was written, with each spec's findings, and how to dry-run it.
    fn report(self, template: &Template) -> u8 {
        let mut worst = EXIT_OK;
        for (file, checked) in self.written {
            let Some(checked) = checked else {
                eprintln!("wrote {}", file.display());
                continue;
            };
            let count = |s: Severity| checked.diagnostics.iter().filter(|d| d.severity == s).count();
            let (errors, warnings, infos) = (count(Severity::Error), count(Severity::Warning), count(Severity::Info));
            eprintln!("wrote {} ({errors} errors, {warnings} warnings, {infos} infos)", file.display());
            if errors + warnings > 0 {
                eprint!("{}", findings(checked, &file));
            }
            if errors > 0 {
                worst = EXIT_FINDINGS;
            }
        }
        if template.is_composition() {
            eprintln!("loopc run does not execute LSS 1.1 compositions yet: dry-run each child on its own");
        }
        for command in self.dry_runs {
            eprintln!("dry run: {command}");
        }
        worst
    }
}

/// `a/../b` → `b`: the paths shown say where a child is, not how it was found.
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `dir/name.yaml` → `name`: the dry-run files are named after the spec.
fn file_stem(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    for ext in [".lss.yaml", ".lss.yml", ".yaml", ".yml", ".json"] {
        if let Some(stem) = name.strip_suffix(ext).filter(|s| !s.is_empty()) {
            return stem.to_owned();
        }
    }
    name
}

fn findings(checked: loopc_check::CheckedFile, path: &Path) -> String {
    let file = FileDiagnostics {
        source: checked.source,
        display_path: crate::files::display_path(path),
        diagnostics: checked.diagnostics,
    };
    render_human(&[file], HumanOptions::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prompt_keeps_defaults_and_asks_again_for_bad_values() {
        let template = loopc_templates::find("ci-self-healing").unwrap();
        let mut set = BTreeMap::new();
        let answers: String = template
            .vars
            .iter()
            .map(|v| match v.name.as_str() {
                "loop_name" => "Bad Name\nfix-nightly\n",
                "max_iterations" => "3\n",
                _ => "\n",
            })
            .collect();
        let mut out = Vec::new();
        prompt(template, &mut set, &mut answers.as_bytes(), &mut out).unwrap();
        assert_eq!(set["loop_name"], "fix-nightly");
        assert_eq!(set["max_iterations"], "3");
        assert_eq!(set["worker_model"], "claude-sonnet-4");
        let shown = String::from_utf8(out).unwrap();
        assert!(
            shown.contains("loop_name — The loop's kebab-case name [ci-self-healing]: "),
            "{shown}"
        );
        assert!(shown.contains("loop_name must be kebab-case"), "{shown}");
    }

    #[test]
    fn the_prompt_stops_at_end_of_input() {
        let template = loopc_templates::find("ci-self-healing").unwrap();
        let err = prompt(template, &mut BTreeMap::new(), &mut "\n".as_bytes(), &mut Vec::new()).unwrap_err();
        assert!(err.contains("--set"), "{err}");
    }

    #[test]
    fn dry_run_files_are_named_after_the_spec() {
        assert_eq!(file_stem(Path::new("out/fix.yaml")), "fix");
        assert_eq!(file_stem(Path::new("fix.lss.yaml")), "fix");
        assert_eq!(file_stem(Path::new("fix")), "fix");
        assert_eq!(normalize(Path::new("compositions/../a.yaml")), Path::new("a.yaml"));
        assert_eq!(normalize(Path::new("../x/./a.yaml")), Path::new("../x/a.yaml"));
    }
}
