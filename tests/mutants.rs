//! A deterministic mutation pass over the front end: 5,000 mutants of the
//! loop library, the public corpus and every rule fixture (fixed seed), each
//! through everything a command does with a file — check, the five
//! renderers, the phase graph and its Mermaid diagram, the structural score,
//! compile, and a plan round trip through JSON as `loopc run` reads it.
//!
//! A panic is caught and reported with the mutant; a stack overflow aborts
//! this test binary, which fails the test run just as loudly. The mutants
//! that failed are written to `target/tmp/mutants-failed/` to be minimised
//! into fixtures. A mutant that takes over 5 s is a hang.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use loopc_check::{Checker, Limits};
use loopc_harness::{exercise, Reached};

const MUTANTS: usize = 5_000;
const SEED: u64 = 0x6c6f_6f70_635f_3137; // "loopc_17"
/// Longer than any mutant takes (the slowest, alias-heavy ones, take well
/// under a second alone), with room for a debug build on a loaded 2-core CI
/// machine that runs other test binaries at the same time: a hang shows as
/// minutes, not as 6 s.
const HANG: Duration = Duration::from_secs(20);

/// xorshift64*: a fixed sequence without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every seed file, sorted (so the mutants do not depend on directory order).
fn seeds() -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![
        repo().join("loop-library"),
        repo().join("../shared/conformance/public"),
        repo().join("tests/fixtures/rules"),
    ];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml" || e == "json") {
                out.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    assert!(out.len() > 100, "the seeds are missing: {}", out.len());
    out
}

/// Text an attacker or a bad merge puts into a file.
const PIECES: &[&str] = &[
    "(",
    ")",
    "not ",
    "!",
    " and score > 0",
    "[",
    "]",
    "{",
    "}",
    "&a ",
    "*a",
    "<<: *a\n",
    ": ",
    "- ",
    "\n",
    "\t",
    "\"",
    "'",
    "#",
    "é",
    "😀",
    "\u{200b}",
    "\r",
    "\0",
    "---\n",
    "~",
    "null",
    "1e309",
    "-0",
    "99999999999999999999",
    "when: \"",
    "ref: ",
    "../",
    "type: ",
    "id: x\n",
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    // Half the mutants change one thing, so that many still get through
    // the parser to the rules, the graph and compile.
    let rounds = if rng.below(2) == 0 { 1 } else { 1 + rng.below(3) };
    for _ in 0..rounds {
        let at = rng.below(bytes.len() + 1);
        match rng.below(9) {
            // Flip a byte.
            0 if !bytes.is_empty() => {
                let i = at.min(bytes.len() - 1);
                bytes[i] ^= 1 << rng.below(8);
            }
            // Delete a run.
            1 => {
                let end = (at + 1 + rng.below(64)).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            // Insert a piece, sometimes many times over (nesting, long chains).
            2 | 3 => {
                let piece = PIECES[rng.below(PIECES.len())].as_bytes();
                let times = if rng.below(4) == 0 { 1 + rng.below(5_000) } else { 1 };
                let inserted: Vec<u8> = piece.iter().copied().cycle().take(piece.len() * times).collect();
                bytes.splice(at..at, inserted);
            }
            // Duplicate a chunk (duplicate keys, ids, documents).
            4 => {
                let end = (at + rng.below(400)).min(bytes.len());
                let chunk = bytes[at..end].to_vec();
                bytes.splice(end..end, chunk);
            }
            // Swap two lines.
            5 => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let mut lines: Vec<&str> = text.split('\n').collect();
                let (a, b) = (rng.below(lines.len()), rng.below(lines.len()));
                lines.swap(a, b);
                bytes = lines.join("\n").into_bytes();
            }
            // Truncate.
            6 => bytes.truncate(at),
            // Re-indent a line (YAML structure changes).
            7 => {
                let line_start = bytes[..at].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                let spaces = vec![b' '; rng.below(9)];
                bytes.splice(line_start..line_start, spaces);
            }
            // A long line: one scalar made huge.
            _ => {
                let fill: Vec<u8> = std::iter::repeat_n(b'x', 1 + rng.below(200_000)).collect();
                bytes.splice(at..at, fill);
            }
        }
    }
    bytes
}

#[test]
fn five_thousand_mutants_neither_crash_nor_hang() {
    // The CLI's stack: 8 MiB on the main thread and on batch threads alike.
    let handle = std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(run_mutants)
        .expect("thread starts");
    let (failures, reached, count) = handle.join().expect("the mutation pass itself does not panic");
    eprintln!(
        "{count} mutants: {} with errors, {} analysed (graph, diagram, score), {} compiled and read back",
        reached.with_errors, reached.analysed, reached.compiled
    );
    // Not a pass that only ever saw parse errors: every stage ran often.
    assert!(reached.with_errors > count / 4, "parse and rule errors");
    assert!(reached.analysed > count / 5, "graph, diagram and score");
    assert!(reached.compiled > count / 100, "compile and the plan's round trip");
    assert!(
        failures.is_empty(),
        "{} mutants failed (written to target/tmp/mutants-failed/):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn run_mutants() -> (Vec<String>, Reached, usize) {
    let seeds = seeds();
    let checker = Checker::new(Limits::default());
    let mut rng = Rng(SEED);
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("mutants-failed");
    let _ = std::fs::remove_dir_all(&out);
    // Panics are caught and reported below; keep their messages off stderr.
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut failures = Vec::new();
    let mut reached = Reached::default();
    // `LOOPC_MUTANTS=20000` for a longer pass than CI's (same seed, same first 5,000).
    let count = std::env::var("LOOPC_MUTANTS").ok().and_then(|n| n.parse().ok()).unwrap_or(MUTANTS);
    for n in 0..count {
        let (path, seed) = &seeds[rng.below(seeds.len())];
        let mutant = mutate(&mut rng, seed);
        let started = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| exercise(&checker, path, &mutant, &mut reached)));
        let took = started.elapsed();
        let failure = match result {
            Err(panic) => Some(format!(
                "panic: {}",
                panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("?")
            )),
            Ok(()) if took > HANG => Some(format!("took {took:?}")),
            Ok(()) => None,
        };
        if let Some(why) = failure {
            std::fs::create_dir_all(&out).unwrap();
            let name = format!("{n:05}-{}", path.file_name().unwrap().to_string_lossy());
            std::fs::write(out.join(&name), &mutant).unwrap();
            failures.push(format!("{name} (from {}): {why}", path.display()));
        }
    }
    std::panic::set_hook(quiet);
    (failures, reached, count)
}

/// Every input the fuzz target found crashing a command (minimised, in
/// `tests/fixtures/fuzz/`, see bench/fuzz/README.md) stays fixed.
#[test]
fn fuzz_regressions() {
    let dir = repo().join("tests/fixtures/fuzz");
    let checker = Checker::new(Limits::default());
    let mut reached = Reached::default();
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let started = Instant::now();
        exercise(&checker, &path, &bytes, &mut reached);
        assert!(started.elapsed() < HANG, "{} took {:?}", path.display(), started.elapsed());
        n += 1;
    }
    assert!(n > 0, "no fixtures in {}", dir.display());
}
