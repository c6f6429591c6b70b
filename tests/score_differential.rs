//! `loopc score` against the reference `loopctl score --json` (PyPI
//! le-loopctl 0.5.0): the library, the conformance corpus and 300 generated
//! variants must agree to within 0.1 LES in reference-parity mode, and the
//! reference's crashes must be predicted (bench/score/differential.py).

mod support;

use std::process::Command;

#[test]
fn loopc_score_matches_loopctl_score() {
    let python = support::reference_python();
    let out = Command::new(&python)
        .arg(support::repo().join("bench/score/differential.py"))
        .args(["--loopc", env!("CARGO_BIN_EXE_loopc"), "--count", "300", "--seed", "4"])
        .arg("--loopctl")
        .arg(python.parent().unwrap().join("loopctl"))
        .current_dir(support::repo())
        .output()
        .expect("differential runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "score differential failed:\n{stdout}");
    let summary = stdout.lines().last().unwrap_or_default();
    let passed: usize = summary.split(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(summary.ends_with("passed, 0 failed") && passed >= 300, "{summary}");
}
