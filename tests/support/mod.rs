//! Shared by the integration tests that run Python tools (the reference
//! tools loopc is compared with, the LSP client): venvs with pinned packages.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Serialises venv creation between test binaries' threads of one process.
static VENV: Mutex<()> = Mutex::new(());

/// The Python of `target/refvenv`, created from `bench/requirements.txt`
/// (PyPI) on first use, or `$LOOPC_REFERENCE_PYTHON` when set.
pub fn reference_python() -> PathBuf {
    if let Some(python) = std::env::var_os("LOOPC_REFERENCE_PYTHON") {
        return PathBuf::from(python);
    }
    venv_python("target/refvenv", "bench/requirements.txt")
}

/// The Python of the venv `dir` (relative to the repository), created with
/// `python3 -m venv` and `pip install -r requirements` on first use, and
/// again whenever a pin in the requirement files changed.
pub fn venv_python(dir: &str, requirements: &str) -> PathBuf {
    let _guard = VENV.lock().unwrap_or_else(|e| e.into_inner());
    let venv = repo().join(dir);
    let python = venv.join("bin/python");
    let stamp = venv.join(".requirements-installed");
    let requirements = repo().join(requirements);
    let wanted = requirements_text(&requirements);
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) && python.exists() {
        return python;
    }
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "python3 -m venv {} failed: the tests that run Python tools need python3 (3.9+) with its venv module",
        venv.display()
    );
    let ok = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(&requirements)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "pip install -r {} failed (PyPI must be reachable)", requirements.display());
    std::fs::write(&stamp, wanted).expect("write venv stamp");
    python
}

/// The requirement files' contents, so that a changed pin rebuilds the venv.
fn requirements_text(top: &Path) -> String {
    let mut text = std::fs::read_to_string(top).unwrap_or_default();
    for line in text.clone().lines() {
        if let Some(included) = line.strip_prefix("-r ") {
            text.push_str(&std::fs::read_to_string(top.parent().unwrap().join(included.trim())).unwrap_or_default());
        }
    }
    text
}

/// The conformance corpus beside the repository.
pub fn conformance() -> PathBuf {
    let dir = repo().join("../shared/conformance/public");
    assert!(dir.is_dir(), "the conformance corpus must sit beside the repo at {}", dir.display());
    dir
}

/// Run the loopc binary built for these tests in `cwd`, without colour and
/// with no standard input (so nothing prompts).
pub fn loopc(args: &[&str], cwd: &Path) -> std::process::Output {
    loopc_env(args, cwd, &[])
}

/// [`loopc`] with extra environment variables.
pub fn loopc_env(args: &[&str], cwd: &Path, env: &[(&str, &std::ffi::OsStr)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_loopc"));
    command
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run loopc")
}

/// A fresh, empty scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Whether every dependency `dir/package.json` pins is installed in
/// `dir/node_modules` at exactly that version.
pub fn npm_pins_installed(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join("package.json")) else {
        return false;
    };
    let Ok(package) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    let Some(dependencies) = package["dependencies"].as_object() else {
        return false;
    };
    dependencies.iter().all(|(name, version)| {
        std::fs::read_to_string(dir.join("node_modules").join(name).join("package.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .is_some_and(|p| p["version"] == *version)
    })
}

/// `npm ci` in `dir` (from its package-lock.json), with the output in the error.
pub fn npm_ci(dir: &Path) -> Result<(), String> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .output()
    {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "`npm ci` in {} failed:\n{}{}",
            dir.display(),
            text(&o.stdout),
            text(&o.stderr)
        )),
        Err(e) => Err(format!(
            "cannot run `npm ci` in {} (are node and npm installed?): {e}",
            dir.display()
        )),
    }
}

/// A scratch directory holding the calculator repository of the runtime
/// fixtures (`repo/calc.py`, whose `add` subtracts, and its test) for runs
/// whose spec and bindings the test writes beside it.
pub fn calc_workdir(name: &str) -> PathBuf {
    let dir = scratch(name);
    let from = repo().join("tests/fixtures/runtime/convergence/repo");
    std::fs::create_dir_all(dir.join("repo")).expect("create repo");
    for file in ["calc.py", "test_calc.py"] {
        std::fs::copy(from.join(file), dir.join("repo").join(file)).expect("copy the calculator");
    }
    dir
}

/// `loopc run --format json spec.yaml --bindings bindings.toml --input
/// target=calc.py` in `dir`, its runs kept in `dir.state`: the output and
/// the first run's report.
pub fn run_calc(dir: &Path, env: &[(&str, &std::ffi::OsStr)]) -> (std::process::Output, serde_json::Value) {
    run_calc_with(dir, &[], env)
}

/// [`run_calc`] with more flags for `loopc run` (`--shadow`).
pub fn run_calc_with(dir: &Path, flags: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> (std::process::Output, serde_json::Value) {
    let state = dir.with_extension("state");
    let _ = std::fs::remove_dir_all(&state);
    let mut all = vec![("LOOPC_STATE_DIR", state.as_os_str())];
    all.extend_from_slice(env);
    let mut args = vec!["run", "--format", "json", "spec.yaml", "--bindings", "bindings.toml"];
    args.extend_from_slice(&["--input", "target=calc.py"]);
    args.extend_from_slice(flags);
    let out = loopc_env(&args, dir, &all);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out, report[0].clone())
}

/// `git args` in `dir` as a test user (no signing), which must succeed; its
/// stdout, trimmed.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "commit.gpgSign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The convergence fixture's spec (`tests/fixtures/runtime/convergence`)
/// with one more required string input, `input`, which its worker reads too.
pub fn convergence_spec_with_input(input: &str, description: &str) -> String {
    std::fs::read_to_string(repo().join("tests/fixtures/runtime/convergence/spec.yaml"))
        .expect("the convergence spec")
        .replace(
            "memory:\n",
            &format!("    {input}:\n      type: string\n      description: {description}\n      required: true\nmemory:\n"),
        )
        .replace(
            "      - from: inputs.target\n",
            &format!("      - from: inputs.target\n      - from: inputs.{input}\n"),
        )
}

/// `loopc serve ARGS` in `dir` with `env`, its runs in `dir.state` and its
/// log in `dir/serve.log`: the process and the URL it printed first.
pub fn start_serve(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_loopc"))
        .arg("serve")
        .args(args)
        .env("LOOPC_STATE_DIR", dir.with_extension("state"))
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(dir.join("serve.log")).expect("the server's log"))
        .spawn()
        .expect("loopc serve starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("its stdout"))
        .read_line(&mut line)
        .expect("its first line");
    let url = line.trim().strip_prefix("listening on ").expect("the address first").to_owned();
    (child, url)
}
