//! `loopc score` as users run it: the reference's numbers on the conformance
//! corpus, the JSON contract, the `--min` gate, and trace scoring.

mod support;

use support::loopc;

use std::collections::HashMap;

use serde_json::Value;

#[test]
fn conformance_scores_equal_the_reference_table() {
    let dir = support::conformance();
    let expected: HashMap<String, f64> = std::fs::read_to_string(dir.join("PEER_SCORES.tsv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let (file, les) = l.split_once('\t').unwrap();
            (file.to_owned(), les.parse().unwrap())
        })
        .collect();
    let out = loopc(&["score", "--format", "json", "."], &dir);
    assert_eq!(out.status.code(), Some(0));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let scores = report["scores"].as_array().unwrap();
    assert_eq!(scores.len(), expected.len());
    for s in scores {
        let file = s["file"].as_str().unwrap();
        let les = s["les"].as_f64().unwrap();
        assert!(
            (les - expected[file]).abs() <= 0.1 + 1e-9,
            "{file}: loopc {les}, loopctl {}",
            expected[file]
        );
        assert!((s["les_normalized"].as_f64().unwrap() - les / 100.0).abs() < 1e-3);
        let categories = s["categories"].as_array().unwrap();
        assert_eq!(categories.len(), 8);
        let weights: f64 = categories.iter().map(|c| c["weight"].as_f64().unwrap()).sum();
        assert!((weights - 1.0).abs() < 1e-9);
        assert!(categories
            .iter()
            .all(|c| c["explanation"].as_array().is_some_and(|e| !e.is_empty())));
    }
}

/// The `.yaml` files below `dir`: the library's specs (its dry-run files are TOML, JSON and JSONL).
fn library_specs(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            if p.is_dir() {
                library_specs(&p)
            } else {
                usize::from(p.extension().is_some_and(|x| x == "yaml"))
            }
        })
        .sum()
}

#[test]
fn min_gates_ci() {
    let repo = support::repo();
    let pass = loopc(&["score", "--min", "50", "loop-library/"], &repo);
    assert_eq!(pass.status.code(), Some(0), "{}", String::from_utf8_lossy(&pass.stdout));
    let fail = loopc(&["score", "--min", "99", "loop-library/"], &repo);
    assert_eq!(fail.status.code(), Some(1));
    let text = String::from_utf8_lossy(&fail.stdout);
    // Every spec of the library (the rendered templates), none of its other files.
    let specs = library_specs(&repo.join("loop-library"));
    assert!(specs >= 4, "{specs}");
    assert_eq!(text.lines().filter(|l| l.starts_with("FAIL ")).count(), specs, "{text}");
    assert!(text.contains(&format!("0 of {specs} specs at or above LES 99")), "{text}");
    let json = loopc(&["score", "--min", "99", "--format", "json", "loop-library/"], &repo);
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["below_min"].as_array().unwrap().len(), specs);
    assert_eq!(loopc(&["score", "--min", "150", "loop-library/"], &repo).status.code(), Some(2));
}

#[test]
fn les_scores_override_needs_parity_flag() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("les_scores");
    std::fs::create_dir_all(&dir).unwrap();
    let spec = std::fs::read_to_string(support::repo().join("loop-library/code-repair.yaml")).unwrap();
    std::fs::write(dir.join("spec.yaml"), format!("{spec}\nles_scores: {{effectiveness: 1, speed: 1, cost: 1, robustness: 1, scalability: 1, safety: 1, adaptability: 1, autonomy: 1}}\n")).unwrap();
    let score = |extra: &[&str]| -> f64 {
        let mut args = vec!["score", "--format", "json"];
        args.extend(extra);
        args.push("spec.yaml");
        let out = loopc(&args, &dir);
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["scores"][0]["les"]
            .as_f64()
            .unwrap()
    };
    assert!(score(&[]) < 100.0, "les_scores is ignored by default");
    assert_eq!(
        score(&["--reference-parity"]),
        100.0,
        "and honoured with --reference-parity, as loopctl does"
    );
}

#[test]
fn trace_scoring() {
    let repo = support::repo();
    let out = loopc(
        &[
            "score",
            "--trace",
            "tests/fixtures/traces/converging.json",
            "--spec",
            "loop-library/code-repair.yaml",
            "--format",
            "json",
        ],
        &repo,
    );
    assert_eq!(out.status.code(), Some(0));
    let score: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(score["label"], "LES-1.0 (partial, 3 categories)");
    assert_eq!(score["diagnostics"]["iterations"], 3);
    assert_eq!(score["diagnostics"]["regression_count"], 0);
    let human = loopc(&["score", "--trace", "tests/fixtures/traces/converging.json"], &repo);
    assert!(String::from_utf8_lossy(&human.stdout).contains("convergence rate"));
    let invalid = loopc(&["score", "--trace", "tests/fixtures/traces/invalid.json"], &repo);
    assert_eq!(invalid.status.code(), Some(1), "an invalid trace is not scored");
    assert!(String::from_utf8_lossy(&invalid.stdout).contains("not a valid Loop Trace 1.0 file"));
    assert_eq!(loopc(&["score", "--trace", "missing.json"], &repo).status.code(), Some(2));
}
