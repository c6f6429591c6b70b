//! The specs the upstream scaffolder writes (`loopforge` 0.5.0 from PyPI:
//! `new` for every pattern in both LSS versions, `mix` and `combine` of
//! every recipe, `compose` of every mode), generated into a scratch
//! directory and checked: loopc reports on them only what the LSS prose
//! supports, each finding of a code the prose backs (see `EXPECTED`).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Every code loopc may report on these specs, and why the prose backs it.
const EXPECTED: &[(&str, &str)] = &[
    ("L202", "mix/combine paste loops together: ids repeat (LSS: id unique within loop)"),
    ("L204", "pasted loops keep each primary metric (LSS: exactly one should be primary)"),
    ("L301", "mix --no-flatten names stage files it does not write"),
    ("L305", "compositions without adapters (LSS 1.1: validators warn on adapter gaps)"),
    (
        "L411",
        "combine points every evaluator at the first two workers of each loop: the last ones ship unchecked",
    ),
    ("L412", "every pattern grades gpt-4.1-mini with gpt-4.1-mini (F2 self-grading)"),
    (
        "L416",
        "worker budgets above cumulative_usd (LSS: must not exceed it without justification)",
    ),
    ("L420", "pasted evaluators that no metric or feedback channel reads"),
    ("L421", "info: a metric nothing reads"),
    ("L422", "info: injection_detect needs an external enforcer"),
    ("L423", "info: no deterministic gate and no path to a human"),
    ("L425", "info: worker budgets above the per-iteration cap"),
];

const PATTERNS: &[&str] = &["simple", "reflection", "verification", "research", "react", "crew", "plan"];
const RECIPES: &[&str] = &[
    "dev-agent",
    "research-pipeline",
    "safe-repair",
    "full-stack",
    "cursor-repair",
    "dspy-compile",
];

fn loopforge(python: &Path, dir: &Path, args: &[&str]) {
    let out = Command::new(python)
        .args(["-m", "loopforge"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run loopforge");
    assert!(out.status.success(), "loopforge {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The generated corpus (recipes whose generation upstream itself fails,
/// such as `swarm-review`, are left out).
fn generate(python: &Path) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("upstream-generated");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Its own repository: child refs resolve inside it, not in loopc's checkout.
    std::fs::create_dir(dir.join(".git")).unwrap();
    for pattern in PATTERNS {
        for lss in ["1.0", "1.1"] {
            let out = format!("new-{pattern}-{lss}.yaml");
            let name = format!("{pattern}-loop");
            loopforge(
                python,
                &dir,
                &[
                    "new",
                    "-p",
                    pattern,
                    "-n",
                    &name,
                    "--objective",
                    "Do the work",
                    "-o",
                    &out,
                    "--lss",
                    lss,
                ],
            );
        }
    }
    for recipe in RECIPES {
        loopforge(python, &dir, &["mix", recipe, "-o", &format!("mix-{recipe}.yaml")]);
        loopforge(
            python,
            &dir,
            &["mix", recipe, "--no-flatten", "-o", &format!("mix-{recipe}-children.yaml")],
        );
        loopforge(python, &dir, &["combine", recipe, "-o", &format!("combine-{recipe}.yaml")]);
    }
    // Parallel mixes of patterns or library loops fail in upstream itself.
    for mode in ["sequential", "nested"] {
        let out = format!("mix-patterns-{mode}.yaml");
        loopforge(
            python,
            &dir,
            &["mix", "--patterns", "simple,verification,reflection", "--mode", mode, "-o", &out],
        );
        let out = format!("combine-library-{mode}.yaml");
        loopforge(
            python,
            &dir,
            &["combine", "--library", "research-agent,coding-agent", "--mode", mode, "-o", &out],
        );
    }
    for mode in ["sequential", "parallel", "nested"] {
        let children = ["a:new-simple-1.0.yaml", "b:new-reflection-1.0.yaml"];
        let out = format!("compose-{mode}.yaml");
        let name = format!("compose-{mode}");
        let mut args = vec![
            "compose",
            "--mode",
            mode,
            "-n",
            &name,
            "--objective",
            "Compose",
            "-o",
            &out,
            "--children",
        ];
        args.extend(children);
        loopforge(python, &dir, &args);
    }
    dir
}

/// Files whose workers' budgets add up to more than `cumulative_usd`, read
/// by Python's YAML loader (not by loopc).
fn over_cumulative(python: &Path, dir: &Path) -> BTreeSet<String> {
    let script = r#"
import sys, glob, os, yaml
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.yaml"))):
    doc = yaml.safe_load(open(path))
    if not isinstance(doc, dict): continue
    total = (doc.get("cost_limits") or {}).get("cumulative_usd")
    budgets = [w.get("cost_budget_usd") or 0 for w in doc.get("workers") or [] if isinstance(w, dict)]
    if total is not None and sum(budgets) > total + 1e-9:
        print(os.path.basename(path))
"#;
    let out = Command::new(python).args(["-c", script]).arg(dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

#[test]
fn loopc_reports_only_what_the_prose_supports_on_loopforge_output() {
    let python = support::reference_python();
    let dir = generate(&python);
    let out = Command::new(env!("CARGO_BIN_EXE_loopc"))
        .args(["check", "--format", "json", "--no-config", "."])
        .current_dir(&dir)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let findings = report["diagnostics"].as_array().unwrap();
    let files = report["summary"]["files"].as_u64().unwrap();
    let written = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "yaml"))
        .count();
    assert_eq!(files as usize, written, "every generated spec is checked");
    assert!(written >= 39, "{written} specs generated");

    let mut by_code: BTreeMap<&str, usize> = BTreeMap::new();
    for d in findings {
        *by_code.entry(d["code"].as_str().unwrap()).or_default() += 1;
    }
    eprintln!("{files} files: {by_code:?}");
    for code in by_code.keys() {
        assert!(
            EXPECTED.iter().any(|(c, _)| c == code),
            "{code} is not expected on loopforge output: {by_code:?}"
        );
    }

    // One finding per worker: never "unchecked" and "unused" together.
    let at = |d: &Value| {
        (
            d["file"].as_str().unwrap().to_owned(),
            d["line"].as_u64().unwrap(),
            d["column"].as_u64().unwrap(),
        )
    };
    let unchecked: BTreeSet<_> = findings.iter().filter(|d| d["code"] == "L411").map(at).collect();
    assert!(findings.iter().filter(|d| d["code"] == "L419").all(|d| !unchecked.contains(&at(d))));

    // The reflection pattern's reflector only advises the generator (a
    // feedback channel): it is no maker of the result.
    for d in findings.iter().filter(|d| d["code"] == "L411") {
        let message = d["message"].as_str().unwrap();
        assert!(!message.contains("`reflector`"), "{message} in {}", d["file"]);
    }

    // L416 exactly where the worker budgets exceed the run's cap.
    let flagged: BTreeSet<String> = findings
        .iter()
        .filter(|d| d["code"] == "L416")
        .map(|d| d["file"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(flagged, over_cumulative(&python, &dir));

    // Adapter gaps warn, as LSS 1.1 asks of a non-strict validator.
    assert!(findings.iter().filter(|d| d["code"] == "L305").all(|d| d["severity"] == "warning"));
}
