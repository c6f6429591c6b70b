//! Plans are verified, not trusted. A plan file is a cache of what its spec
//! compiles to: `loopc run PLAN` finds the spec the plan names, checks the
//! spec's digest, compiles it again and runs the plan only when the two are
//! identical. A plan with its safety checks removed, its tools widened or
//! its termination rules deleted is therefore refused, naming the first
//! field that differs.

use std::path::{Path, PathBuf};

use loopc_plan::{sha256_hex, Plan};
use serde_json::Value;

use crate::{compile, CompileError, Options};

fn refused(message: String) -> CompileError {
    CompileError::Refused(vec![message])
}

/// If `bytes` (the file at `path`) is a loopc plan, the verified plan;
/// `None` when it is not a plan (a spec, to be compiled as usual).
pub fn load_plan(path: &Path, bytes: &[u8], options: &Options) -> Option<Result<Plan, CompileError>> {
    if path.extension().is_none_or(|e| e != "json") {
        return None;
    }
    let value: Value = serde_json::from_slice(bytes).ok()?;
    value.get("plan_version")?;
    Some(verify(path, value, options))
}

fn verify(path: &Path, value: Value, options: &Options) -> Result<Plan, CompileError> {
    let digest = value.get("spec_sha256").and_then(Value::as_str).unwrap_or_default().to_owned();
    if value.get("plan_version").and_then(Value::as_str) != Some(loopc_plan::PLAN_VERSION) {
        return Err(refused(format!(
            "is a plan of version {}; this loopc runs version {} (compile the spec again)",
            value["plan_version"],
            loopc_plan::PLAN_VERSION
        )));
    }
    if digest.is_empty() {
        return Err(refused(
            "carries no spec digest (`spec_sha256`): only plans that `loopc compile` made are run".into(),
        ));
    }
    let plan: Plan = serde_json::from_value(value.clone()).map_err(|e| refused(format!("is not a valid loopc plan: {e}")))?;
    let spec_path = locate(path, &plan.source).ok_or_else(|| {
        refused(format!(
            "names its spec `{}`, which is not there (looked beside the working directory and the plan): a plan runs only where its spec is, so that loopc can check that nobody edited it",
            plan.source
        ))
    })?;
    let bytes = std::fs::read(&spec_path).map_err(|e| refused(format!("cannot read its spec {}: {e}", spec_path.display())))?;
    if sha256_hex(&bytes) != digest {
        return Err(refused(format!(
            "was compiled from another version of {}: the spec changed since; compile it again",
            plan.source
        )));
    }
    let derived = match compile(&spec_path, &bytes, &plan.source, options) {
        Ok(p) => p,
        Err(CompileError::Refused(why)) => return Err(refused(format!("its spec {} no longer compiles: {}", plan.source, why.join("; ")))),
        Err(e) => return Err(e),
    };
    let derived_value = serde_json::to_value(&derived).expect("plans serialize");
    if derived_value != value {
        let at = first_difference(&derived_value, &value, String::new()).unwrap_or_default();
        return Err(refused(format!(
            "is not what {} compiles to: `{}` differs (an edited plan is not run; compile the spec again)",
            plan.source,
            if at.is_empty() { "/" } else { &at }
        )));
    }
    Ok(derived)
}

/// The spec a plan names: as given (relative to the working directory),
/// else relative to the plan's directory.
fn locate(plan_path: &Path, source: &str) -> Option<PathBuf> {
    let given = PathBuf::from(source);
    if given.is_file() {
        return Some(given);
    }
    let beside = plan_path.parent()?.join(source);
    beside.is_file().then_some(beside)
}

/// The JSON pointer of the first place where `a` and `b` differ.
fn first_difference(a: &Value, b: &Value, at: String) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| {
                let here = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => first_difference(p, q, here),
                    _ => Some(here),
                }
            })
        }
        (Value::Array(x), Value::Array(y)) => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                if let Some(d) = first_difference(p, q, format!("{at}/{i}")) {
                    return Some(d);
                }
            }
            (x.len() != y.len()).then(|| format!("{at}/{}", x.len().min(y.len())))
        }
        _ => (a != b).then_some(at),
    }
}

#[cfg(test)]
mod tests {
    use super::first_difference;
    use serde_json::json;

    #[test]
    fn differences_are_named_by_pointer() {
        assert_eq!(first_difference(&json!({"a": 1}), &json!({"a": 1}), String::new()), None);
        assert_eq!(
            first_difference(&json!({"a": {"b": [1, 2]}}), &json!({"a": {"b": [1, 3]}}), String::new()),
            Some("/a/b/1".into())
        );
        assert_eq!(
            first_difference(&json!({"a": [1]}), &json!({"a": []}), String::new()),
            Some("/a/0".into())
        );
        assert_eq!(
            first_difference(&json!({"x/y": 1}), &json!({}), String::new()),
            Some("/x~1y".into())
        );
    }
}
