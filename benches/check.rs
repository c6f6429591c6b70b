//! In-process throughput of `loopc check`: parse + schema + rules of one file,
//! without process start-up, file reading or rendering.
//!
//!     cargo bench --bench check
//!
//! std only (no criterion). Each group is checked `LOOPC_BENCH_RUNS` times
//! (default 300) after a warm-up, with a fresh `Checker` per run so that the
//! composition child cache never carries over between runs; the figure is
//! the median of the runs, in µs per file. The `parse:` rows time
//! `loopc_syntax::load` alone; the `front:` rows are the whole front end
//! (schema, references, compositions) without the phase-graph analysis, so
//! that `check - front` is the cost of the phase graph and readiness rules. `LOOPC_BENCH_CORPUS=DIR` adds a group for a
//! directory (the 1,000-file corpus of bench/check/gen.py).
//!
//! Inputs: the 12 KB conformance example (`LOOPC_BENCH_SPEC` overrides its
//! path), the team's `loop-library/` and the conformance corpus
//! (`../shared/conformance/public`, `LOOPC_BENCH_CONFORMANCE` overrides).
//! Missing inputs are skipped with a note.
//!
//! Output: one line per group, the format bench/check/bench.py parses:
//!     bench NAME: N files, median M µs/file, min A, p90 B, R runs

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use loopc_check::{Checker, Limits};

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            yaml_files(&path, out);
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json")) {
            out.push(path);
        }
    }
}

struct Stats {
    median: f64,
    min: f64,
    p90: f64,
}

fn stats(mut per_file_us: Vec<f64>) -> Stats {
    per_file_us.sort_by(f64::total_cmp);
    let n = per_file_us.len();
    let median = if n % 2 == 1 {
        per_file_us[n / 2]
    } else {
        (per_file_us[n / 2 - 1] + per_file_us[n / 2]) / 2.0
    };
    Stats {
        median,
        min: per_file_us[0],
        p90: per_file_us[(n * 9 / 10).min(n - 1)],
    }
}

fn report(name: &str, files: usize, runs: &[Duration]) {
    let s = stats(runs.iter().map(|d| d.as_secs_f64() * 1e6 / files as f64).collect());
    println!(
        "bench {name}: {files} files, median {:.1} µs/file, min {:.1}, p90 {:.1}, {} runs",
        s.median,
        s.min,
        s.p90,
        runs.len()
    );
}

fn bench_check(name: &str, inputs: &[(PathBuf, Vec<u8>)], runs: usize) {
    let limits = Limits::default();
    let warmup = (runs / 10).max(3);
    let mut times = Vec::with_capacity(runs);
    let mut errors = 0;
    for i in 0..warmup + runs {
        let checker = Checker::new(limits.clone());
        let start = Instant::now();
        for (path, bytes) in inputs {
            let checked = black_box(checker.check_bytes(path, bytes));
            errors += usize::from(checked.has_errors());
        }
        let elapsed = start.elapsed();
        if i >= warmup {
            times.push(elapsed);
        }
    }
    report(&format!("check:{name}"), inputs.len(), &times);
    let with_errors = errors / (warmup + runs);
    if with_errors > 0 {
        println!(
            "      ({with_errors} of {} files have errors; their diagnostics are part of the work)",
            inputs.len()
        );
    }
}

fn bench_parse(name: &str, inputs: &[(PathBuf, Vec<u8>)], runs: usize) {
    let limits = Limits::default();
    let warmup = (runs / 10).max(3);
    let mut times = Vec::with_capacity(runs);
    for i in 0..warmup + runs {
        let start = Instant::now();
        for (path, bytes) in inputs {
            black_box(loopc_syntax::load(path.as_path(), bytes, &limits));
        }
        let elapsed = start.elapsed();
        if i >= warmup {
            times.push(elapsed);
        }
    }
    report(&format!("parse:{name}"), inputs.len(), &times);
}

/// The front end without the phase-graph analysis (`Checker::front_end_only`):
/// `check - front` is what the phase graph and the readiness rules cost
/// (the issue allows at most 20 %).
fn bench_front_end(name: &str, inputs: &[(PathBuf, Vec<u8>)], runs: usize) {
    let limits = Limits::default();
    let warmup = (runs / 10).max(3);
    let mut times = Vec::with_capacity(runs);
    for i in 0..warmup + runs {
        let checker = Checker::front_end_only(limits.clone());
        let start = Instant::now();
        for (path, bytes) in inputs {
            black_box(checker.check_bytes(path, bytes));
        }
        let elapsed = start.elapsed();
        if i >= warmup {
            times.push(elapsed);
        }
    }
    report(&format!("front:{name}"), inputs.len(), &times);
}

fn read_all(paths: &[PathBuf]) -> Vec<(PathBuf, Vec<u8>)> {
    paths.iter().filter_map(|p| std::fs::read(p).ok().map(|b| (p.clone(), b))).collect()
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let runs: usize = std::env::var("LOOPC_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let conformance = std::env::var_os("LOOPC_BENCH_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/conformance/public"));
    let spec = std::env::var_os("LOOPC_BENCH_SPEC")
        .map(PathBuf::from)
        .unwrap_or_else(|| conformance.join("standards/examples/multi-agent-loop.yaml"));

    // The one-time cost a process pays before its first check: compiling the
    // canonical schemas (Checker::new warms them up).
    let start = Instant::now();
    black_box(Checker::new(Limits::default()));
    println!(
        "first Checker::new (schema compilation): {:.1} µs",
        start.elapsed().as_secs_f64() * 1e6
    );

    let mut groups: Vec<(&str, Vec<PathBuf>)> = Vec::new();
    if spec.is_file() {
        groups.push(("multi-agent-loop.yaml", vec![spec.clone()]));
    } else {
        println!("skip: {} not found", spec.display());
    }
    let mut library = Vec::new();
    yaml_files(&root.join("loop-library"), &mut library);
    if !library.is_empty() {
        groups.push(("loop-library", library));
    }
    // The 1,000-file corpus of bench/check/gen.py, when given.
    if let Some(dir) = std::env::var_os("LOOPC_BENCH_CORPUS").map(PathBuf::from) {
        let mut generated = Vec::new();
        yaml_files(&dir, &mut generated);
        if generated.is_empty() {
            println!("skip: no files under {}", dir.display());
        } else {
            groups.push(("corpus", generated));
        }
    }
    let mut corpus = Vec::new();
    yaml_files(&conformance, &mut corpus);
    if corpus.is_empty() {
        println!("skip: no conformance corpus under {}", conformance.display());
    } else {
        groups.push(("conformance", corpus));
    }

    for (name, paths) in &groups {
        let inputs = read_all(paths);
        let bytes: usize = inputs.iter().map(|(_, b)| b.len()).sum();
        println!("{name}: {} files, {bytes} bytes", inputs.len());
        bench_parse(name, &inputs, runs);
        bench_front_end(name, &inputs, runs);
        bench_check(name, &inputs, runs);
    }
}
