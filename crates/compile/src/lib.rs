//! `loopc compile`: a spec that `loopc check` passes, lowered into the
//! runtime plan that `loopc run` executes — and the reverse guarantee: a
//! plan given to `loopc run` is only run when it is exactly what its spec
//! compiles to ([`load_plan`]).
//!
//! Compiling also resolves what a run must not look up by itself: the JSON
//! Schemas that `schema_enforce` constraints name with `schema_ref` are read
//! here, inside the spec's repository and within a size limit, and embedded
//! in the plan ([`schemas`]).

mod composition;
mod lower;
pub mod schemas;
mod verify;

use std::path::Path;

use loopc_check::{Checker, Limits};
use loopc_diagnostics::render::FileDiagnostics;
use loopc_plan::{sha256_hex, Plan};

pub use lower::condition as lower_condition;
pub use verify::load_plan;

/// Why a spec (or a plan) does not compile.
#[derive(Debug)]
pub enum CompileError {
    /// The spec has errors: these diagnostics say which.
    Diagnostics(Box<FileDiagnostics>),
    /// The spec is valid LSS but cannot be run as it is, or a plan is not
    /// what its spec compiles to: one sentence each.
    Refused(Vec<String>),
}

/// How to compile.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Accept safety constraint types the runtime cannot enforce (they are
    /// then reported when they apply, not enforced).
    pub allow_unenforced: bool,
    /// The checker's limits and rule levels (`loopc.toml`): a rule allowed
    /// there does not stop a compile either.
    pub limits: Limits,
    pub levels: loopc_check::RuleLevels,
}

/// Check the spec at `path` (its content is `bytes`) and lower it.
/// `source` is the path as the user should see it; the plan records it.
pub fn compile(path: &Path, bytes: &[u8], source: &str, options: &Options) -> Result<Plan, CompileError> {
    compile_within(path, bytes, source, options, &mut Vec::new())
}

/// How deep compositions may nest when they are compiled (the checker
/// stops following at the same depth).
const MAX_DEPTH: usize = 8;

/// [`compile`], inside the compositions `enclosing` (canonical paths, outermost first).
fn compile_within(
    path: &Path,
    bytes: &[u8],
    source: &str,
    options: &Options,
    enclosing: &mut Vec<std::path::PathBuf>,
) -> Result<Plan, CompileError> {
    let analysis = Checker::new(options.limits.clone())
        .with_levels(options.levels.clone())
        .analyse(path, bytes);
    let errors = analysis.errors();
    let Some((spec, _, _)) = analysis.spec.filter(|_| errors.is_empty()) else {
        return Err(CompileError::Diagnostics(Box::new(FileDiagnostics {
            source: analysis.checked.source,
            display_path: source.to_owned(),
            diagnostics: errors,
        })));
    };
    let here = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut load_child = |reference: &str| -> Result<Plan, String> {
        let found = loopc_check::candidates(path, reference)
            .into_iter()
            .find(|c| c.is_file())
            .ok_or("not found next to the composing spec or in an enclosing directory")?;
        let canonical = std::fs::canonicalize(&found).map_err(|e| format!("cannot be read: {e}"))?;
        if canonical == here || enclosing.contains(&canonical) {
            return Err("the composition contains itself".into());
        }
        if enclosing.len() + 1 >= MAX_DEPTH {
            return Err(format!("compositions nest deeper than {MAX_DEPTH} levels"));
        }
        let child_bytes = std::fs::read(&found).map_err(|e| format!("cannot be read: {e}"))?;
        let child_source = loopc_check::shown(&found);
        enclosing.push(here.clone());
        let compiled = compile_within(&found, &child_bytes, &child_source, options, enclosing);
        enclosing.pop();
        compiled.map_err(|e| match e {
            CompileError::Diagnostics(d) => format!(
                "has {} error{} (loopc check {child_source})",
                d.diagnostics.len(),
                if d.diagnostics.len() == 1 { "" } else { "s" }
            ),
            CompileError::Refused(why) => why.join("; "),
        })
    };
    let mut plan = lower::to_plan(&spec, source, path, &mut load_child).map_err(CompileError::Refused)?;
    plan.spec_sha256 = sha256_hex(bytes);
    let unenforced: Vec<String> = plan
        .safety
        .iter()
        .filter(|s| !s.kind().is_enforced())
        .map(|s| format!("`{}` ({})", s.id, s.kind()))
        .collect();
    if !unenforced.is_empty() && !options.allow_unenforced {
        return Err(CompileError::Refused(vec![format!(
            "the runtime cannot enforce safety constraint{} {}; pass --allow-unenforced to run without them (they are then reported, not enforced)",
            if unenforced.len() == 1 { "" } else { "s" },
            unenforced.join(", ")
        )]));
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_checker_and_the_plan_agree_on_what_the_runtime_enforces() {
        let enforced: Vec<&str> = loopc_plan::SafetyKind::ALL
            .iter()
            .filter(|k| k.is_enforced())
            .map(|k| k.as_str())
            .collect();
        let mut listed = loopc_ir::safety_config::enforced_types();
        listed.sort_unstable();
        let mut enforced = enforced;
        enforced.sort_unstable();
        assert_eq!(enforced, listed);
        for kind in enforced {
            assert!(!loopc_ir::safety_config::known_keys(kind).is_empty(), "{kind} has config keys");
        }
    }
}
