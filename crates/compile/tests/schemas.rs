//! `schema_ref` is read at compile time, inside the spec's repository only,
//! from a regular file of bounded size, and embedded in the plan.

use std::fs;
use std::path::{Path, PathBuf};

use loopc_compile::{compile, CompileError, Options};

const SPEC: &str = include_str!("../../../tests/fixtures/runtime/convergence/spec.yaml");

/// A repository (`.git`) holding `spec.yaml` whose safety constraints
/// gain a `schema_enforce` with `schema_ref: <reference>`.
fn repo(name: &str, reference: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("compile-schemas-{name}"));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join(".git")).unwrap();
    fs::create_dir_all(dir.join("specs/schemas")).unwrap();
    let spec = SPEC.replace(
        "safety_constraints:\n",
        &format!("safety_constraints:\n  - {{id: shape, type: schema_enforce, scope: post_worker, applies_to: [fixer], action: halt, config: {{schema_ref: \"{reference}\"}}}}\n"),
    );
    fs::write(dir.join("specs/spec.yaml"), spec).unwrap();
    dir
}

fn compiled(dir: &Path) -> Result<loopc_plan::Plan, Vec<String>> {
    let path = dir.join("specs/spec.yaml");
    let bytes = fs::read(&path).unwrap();
    compile(&path, &bytes, "specs/spec.yaml", &Options::default()).map_err(|e| match e {
        CompileError::Refused(m) => m,
        CompileError::Diagnostics(d) => panic!("spec has errors: {:?}", d.diagnostics),
    })
}

fn refusal(dir: &Path) -> String {
    compiled(dir).expect_err("refused").join("\n")
}

#[test]
fn a_schema_file_is_embedded_with_its_fragment() {
    let dir = repo("embed", "schemas/patch.json#/$defs/Patch");
    fs::write(
        dir.join("specs/schemas/patch.json"),
        r#"{"$defs": {"Patch": {"type": "string", "minLength": 1}}}"#,
    )
    .unwrap();
    let plan = compiled(&dir).unwrap();
    let check = plan.safety.iter().find(|c| c.id == "shape").unwrap();
    let loopc_plan::SafetyRule::SchemaEnforce(embedded) = &check.rule else {
        panic!("a schema_enforce rule: {:?}", check.rule)
    };
    assert_eq!(embedded.schema["$ref"], "#/$defs/Patch");
    assert_eq!(embedded.schema["$defs"]["Patch"]["minLength"], 1);
    assert_eq!(embedded.source.as_deref(), Some("schemas/patch.json#/$defs/Patch"));
    assert_eq!(plan.spec_sha256.len(), 64);
    // Found in an enclosing directory of the repository too.
    fs::create_dir_all(dir.join("schemas")).unwrap();
    fs::rename(dir.join("specs/schemas/patch.json"), dir.join("schemas/patch.json")).unwrap();
    assert!(compiled(&dir).is_ok());
}

#[test]
fn references_outside_the_repository_are_refused() {
    let dir = repo("escape", "../../outside.json");
    fs::write(dir.parent().unwrap().join("outside.json"), "{}").unwrap();
    assert!(refusal(&dir).contains("leads outside the spec's repository"), "{}", refusal(&dir));
    let dir = repo("absolute", "/etc/passwd");
    assert!(refusal(&dir).contains("must be a path relative to the spec"), "{}", refusal(&dir));
    // A symlink inside the repository that points out of it.
    let dir = repo("symlink", "schemas/link.json");
    std::os::unix::fs::symlink("/etc/hostname", dir.join("specs/schemas/link.json")).unwrap();
    assert!(refusal(&dir).contains("leads outside"), "{}", refusal(&dir));
}

#[test]
fn devices_huge_and_broken_files_are_refused() {
    let dir = repo("device", "schemas/zero.json");
    std::os::unix::fs::symlink("/dev/zero", dir.join("specs/schemas/zero.json")).unwrap();
    // /dev/zero is outside the repository; a device inside one is not a regular file either.
    assert!(refusal(&dir).contains("leads outside"), "{}", refusal(&dir));
    let dir = repo("big", "schemas/big.json");
    fs::write(
        dir.join("specs/schemas/big.json"),
        format!("{{\"description\": \"{}\"}}", "x".repeat(1_100_000)),
    )
    .unwrap();
    assert!(refusal(&dir).contains("more than the 1048576"), "{}", refusal(&dir));
    let dir = repo("broken", "schemas/bad.json");
    fs::write(dir.join("specs/schemas/bad.json"), "{nope").unwrap();
    assert!(refusal(&dir).contains("is not JSON"), "{}", refusal(&dir));
    let dir = repo("missing", "schemas/none.json");
    assert!(refusal(&dir).contains("is not found"), "{}", refusal(&dir));
    let dir = repo("fragment", "schemas/f.json#/nope");
    fs::write(dir.join("specs/schemas/f.json"), "{}").unwrap();
    assert!(refusal(&dir).contains("has nothing at `#/nope`"), "{}", refusal(&dir));
}
