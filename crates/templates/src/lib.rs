//! The spec templates behind `loopc new`.
//!
//! Each template is a directory of the repository's `templates/`, embedded
//! in the binary when it is built (the list below; a test keeps it equal to
//! the directory), so an installed `loopc` has them all:
//!
//! - `template.toml`: a one-line `summary`, the variables (`[[vars]]`: name,
//!   kind, default, description), the state a dry run with the sample
//!   responses ends in (`end_state`), and, for an LSS 1.1 composition, the
//!   templates of its children (`[[children]]`);
//! - `spec.yaml.j2`: the spec, a minijinja template;
//! - `responses.json.j2` and `inputs.json.j2` (loops, not compositions): the
//!   scripted responses of every worker and machine evaluator, and sample
//!   inputs, so that `loopc run --dry-run` runs the rendered spec end to end.
//!
//! Values reach a template only through minijinja's formatter, which writes
//! text as a quoted scalar (see [`quote`]): a value cannot break or inject YAML.

mod render;
mod vars;

use std::collections::BTreeMap;

use minijinja::Value;
use serde::Deserialize;

pub use render::quote;
pub use vars::{Kind, Var};

/// The variable that says where a composition's children are, relative to it.
pub const CHILDREN_DIR: &str = "children_dir";

/// A template's files as embedded in the binary.
struct Source {
    name: &'static str,
    meta: &'static str,
    spec: &'static str,
    /// Responses and inputs, for a loop; a composition has none.
    run: Option<(&'static str, &'static str)>,
}

macro_rules! embed {
    ($name:literal, $file:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../templates/", $name, "/", $file))
    };
}

macro_rules! sources {
    ($($kind:ident $name:literal),* $(,)?) => { &[$(sources!(@one $kind $name)),*] };
    (@one loop $name:literal) => {
        Source {
            name: $name,
            meta: embed!($name, "template.toml"),
            spec: embed!($name, "spec.yaml.j2"),
            run: Some((embed!($name, "responses.json.j2"), embed!($name, "inputs.json.j2"))),
        }
    };
    (@one composition $name:literal) => {
        Source { name: $name, meta: embed!($name, "template.toml"), spec: embed!($name, "spec.yaml.j2"), run: None }
    };
}

/// Every template, in the order `loopc new --list` shows them.
const SOURCES: &[Source] = sources![
    loop "ci-self-healing",
    loop "code-repair",
    loop "unit-test-generation",
    loop "vulnerability-fix",
    loop "performance-tuning",
    loop "api-endpoint",
    loop "repo-maintenance",
    loop "issue-triage",
    loop "doc-link-repair",
    loop "dependency-update",
    loop "prompt-eval-replay",
    loop "goal-driven",
    loop "reflection",
    loop "multi-agent",
    // Loops the compositions are made of (each useful on its own too).
    loop "code-review",
    loop "debugger",
    loop "architecture-review",
    loop "factory-phase",
    composition "triage-then-repair",
    composition "parallel-review",
    composition "code-then-debug",
    composition "factory-plan-review",
    composition "factory-build-verify",
    composition "software-factory",
];

/// How a dry run with the sample responses ends.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EndState {
    Succeeded,
    /// The loop has a human gate or review: the run waits for a person.
    AwaitingHuman,
}

impl EndState {
    /// As `loopc run --format json` reports it.
    pub fn as_str(self) -> &'static str {
        match self {
            EndState::Succeeded => "succeeded",
            EndState::AwaitingHuman => "awaiting_human",
        }
    }
}

/// One child of a composition template: another template, rendered with
/// these values, at `file` in the composition's `children_dir`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChildDecl {
    pub template: String,
    /// File name (default: `<template>.yaml`).
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub set: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta {
    summary: String,
    #[serde(default)]
    end_state: Option<EndState>,
    #[serde(default)]
    children: Vec<ChildDecl>,
    #[serde(default)]
    vars: Vec<Var>,
}

/// A template, parsed.
#[derive(Debug)]
pub struct Template {
    pub name: &'static str,
    /// One line: what the loop does.
    pub summary: String,
    pub vars: Vec<Var>,
    /// How a dry run of the rendered spec ends (loops only).
    pub end_state: Option<EndState>,
    /// The children, for a composition.
    pub children: Vec<ChildDecl>,
    spec: &'static str,
    run: Option<(&'static str, &'static str)>,
}

/// Why a template could not be rendered.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RenderError {
    #[error("template `{template}` has no variable `{name}`; its variables: {}", .known.join(", "))]
    UnknownVar {
        template: String,
        name: String,
        known: Vec<String>,
    },
    #[error("`{name}={value}`: {name} {why}")]
    BadValue { name: String, value: String, why: String },
    #[error("template `{template}`: {message}")]
    Engine { template: String, message: String },
}

/// What a template renders to.
#[derive(Debug)]
pub struct Rendered {
    /// The spec (YAML).
    pub spec: String,
    /// The scripted responses (pretty JSON) and the sample inputs (one JSON
    /// object on one line, for `loopc run --inputs-file`), for a loop.
    pub run: Option<DryRunFiles>,
    /// A composition's children: where each goes, relative to the spec's
    /// directory, and what renders it.
    pub children: Vec<Child>,
}

/// A composition's child: its path relative to the composition's directory,
/// its template, and the values it is rendered with.
pub type Child = (String, &'static Template, BTreeMap<String, String>);

#[derive(Debug)]
pub struct DryRunFiles {
    pub responses: String,
    pub inputs: String,
}

fn parse(source: &Source) -> Template {
    let meta: Meta = toml::from_str(source.meta).unwrap_or_else(|e| panic!("templates/{}/template.toml: {e}", source.name));
    Template {
        name: source.name,
        summary: meta.summary,
        vars: meta.vars,
        end_state: meta.end_state,
        children: meta.children,
        spec: source.spec,
        run: source.run,
    }
}

/// Every template (parsed once).
pub fn all() -> &'static [Template] {
    static ALL: std::sync::OnceLock<Vec<Template>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| SOURCES.iter().map(parse).collect())
}

/// The template of this name.
pub fn find(name: &str) -> Option<&'static Template> {
    all().iter().find(|t| t.name == name)
}

impl Template {
    /// Whether the template renders an LSS 1.1 composition.
    pub fn is_composition(&self) -> bool {
        !self.children.is_empty()
    }

    pub fn var(&self, name: &str) -> Option<&Var> {
        self.vars.iter().find(|v| v.name == name)
    }

    /// Check `set` (variable → text) against the variables: an unknown name
    /// or a value a variable does not take is an error.
    pub fn validate(&self, set: &BTreeMap<String, String>) -> Result<BTreeMap<String, Value>, RenderError> {
        let mut values = BTreeMap::new();
        for (name, text) in set {
            let Some(var) = self.var(name) else {
                return Err(RenderError::UnknownVar {
                    template: self.name.to_owned(),
                    name: name.clone(),
                    known: self.vars.iter().map(|v| v.name.clone()).collect(),
                });
            };
            let value = var.parse(text).map_err(|why| RenderError::BadValue {
                name: name.clone(),
                value: text.clone(),
                why,
            })?;
            values.insert(name.clone(), value);
        }
        for var in &self.vars {
            if !values.contains_key(&var.name) {
                let value = var.parse(&var.default).map_err(|why| RenderError::Engine {
                    template: self.name.to_owned(),
                    message: format!("the default of `{}` {why}", var.name),
                })?;
                values.insert(var.name.clone(), value);
            }
        }
        Ok(values)
    }

    /// Render with `set` (variable → text); variables not in it take their defaults.
    pub fn render(&'static self, set: &BTreeMap<String, String>) -> Result<Rendered, RenderError> {
        let values = self.validate(set)?;
        let context = Value::from_pairs(values.iter().map(|(k, v)| (k.clone(), v.clone())));
        let engine = |what: &str, e: minijinja::Error| RenderError::Engine {
            template: self.name.to_owned(),
            message: format!("{what}.j2: {e:#}"),
        };
        let mut env = render::environment();
        let mut render = |file: &'static str, source: &'static str| -> Result<String, RenderError> {
            env.add_template(file, source).map_err(|e| engine(file, e))?;
            env.get_template(file).and_then(|t| t.render(&context)).map_err(|e| engine(file, e))
        };
        let spec = render("spec.yaml", self.spec)?;
        let run = match self.run {
            None => None,
            Some((responses, inputs)) => {
                let json = |file: &str, rendered: String| -> Result<serde_json::Value, RenderError> {
                    serde_json::from_str(&rendered).map_err(|e| RenderError::Engine {
                        template: self.name.to_owned(),
                        message: format!("{file}.j2 does not render to JSON: {e}"),
                    })
                };
                let responses = json("responses.json", render("responses.json", responses)?)?;
                let inputs = json("inputs.json", render("inputs.json", inputs)?)?;
                Some(DryRunFiles {
                    responses: serde_json::to_string_pretty(&responses).expect("JSON serializes") + "\n",
                    inputs: serde_json::to_string(&inputs).expect("JSON serializes") + "\n",
                })
            }
        };
        let children = self.child_paths(&values)?;
        Ok(Rendered { spec, run, children })
    }

    fn child_paths(&self, values: &BTreeMap<String, Value>) -> Result<Vec<Child>, RenderError> {
        let dir = values.get(CHILDREN_DIR).and_then(Value::as_str).unwrap_or(".");
        let mut out = Vec::new();
        for child in &self.children {
            let template = find(&child.template).ok_or_else(|| RenderError::Engine {
                template: self.name.to_owned(),
                message: format!("child template `{}` does not exist", child.template),
            })?;
            let file = child.file.clone().unwrap_or_else(|| format!("{}.yaml", child.template));
            let path = if dir == "." {
                file
            } else {
                format!("{}/{file}", dir.trim_end_matches('/'))
            };
            out.push((path, template, child.set.clone()));
        }
        Ok(out)
    }
}

/// The bindings `loopc new --with-bindings` writes beside a spec: every
/// worker and machine evaluator bound to the scripted responses in
/// `responses_file` (relative to the bindings file's directory); `command`
/// is the `loopc run` line that dry-runs the spec from that directory.
pub fn dry_run_bindings(template: &str, responses_file: &str, command: &str) -> String {
    format!(
        "# Dry-run bindings written by `loopc new {template}`. Every worker and machine evaluator\n\
         # replays the sample responses in {responses_file}; a human evaluator or gate pauses\n\
         # the run for a person (`loopc approve RUN`). From this directory:\n\
         #\n\
         #   {command}\n\
         #\n\
         # For a real run, bind the models and the evaluators' implementations to\n\
         # openai/anthropic/command executors instead (docs/runtime.md) and drop --dry-run.\n\
         \n\
         [executors.samples]\n\
         kind = \"script\"\n\
         file = {}\n\
         \n\
         [bind]\n\
         default = \"samples\"\n",
        quote(responses_file)
    )
}

#[cfg(test)]
mod tests;
