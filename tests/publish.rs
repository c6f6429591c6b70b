//! Publishing and shadow mode on a real git repository with a local bare
//! repository as its remote and a fake `gh` on PATH: after success the
//! publish hooks push the run's branch and open a "pull request"; in shadow
//! mode the same run does everything inside the workspace, and the push,
//! the `gh` call and a worker's own `gh issue comment` are recorded, not done.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::{calc_workdir, run_calc};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git").args(args).current_dir(dir).output().expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The fixer: one write that fixes `add`, and a comment on the issue of its
/// own (an outward command; its own `git push` would be refused outright:
/// a linked worktree runs only reading git commands).
const FIXER: &str = r#"import json, sys
invocation = json.load(sys.stdin)
print(json.dumps({"output": "fixed add()", "tool_calls": [
    {"tool": "write_file", "args": {"path": "calc.py", "content": "def add(a, b):\n    return a + b\n"}},
    {"tool": "run_command", "args": {"argv": ["gh", "issue", "comment", "7", "--body", "fixed"]}},
]}))
"#;

const BINDINGS: &str = r#"[sandbox]
root = "repo"
allow_programs = ["python3", "git", "gh"]
isolation = "none"
pass_env = ["FAKE_GH_LOG"]

[executors.fixer]
kind = "command"
argv = ["python3", "{fixer}"]

[executors.unit-tests]
kind = "command"
argv = ["python3", "test_calc.py"]

[bind]
"workers.fixer" = "fixer"
"impl:evaluators.unit_tests" = "unit-tests"

[[publish]]
argv = ["git", "push", "origin", "HEAD:refs/heads/loopc/{loop_name}"]

[[publish]]
argv = ["gh", "pr", "create", "--head", "loopc/{loop_name}", "--title", "Fix {loop_name} ({run_id})"]
pass_env = ["FAKE_GH_LOG"]
"#;

struct Setup {
    dir: PathBuf,
    remote: PathBuf,
    gh_log: PathBuf,
    path: String,
}

fn setup(name: &str) -> Setup {
    let dir = calc_workdir(&format!("publish/{name}"));
    let repo = dir.join("repo");
    git(&repo, &["init", "-q", "-b", "main"]);
    git(
        &repo,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "empty",
        ],
    );
    git(&repo, &["add", "."]);
    git(
        &repo,
        &["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "calculator"],
    );
    let remote = dir.join("remote.git");
    git(&dir, &["init", "-q", "--bare", remote.to_str().unwrap()]);
    git(&repo, &["remote", "add", "origin", remote.to_str().unwrap()]);

    let spec = std::fs::read_to_string(support::repo().join("tests/fixtures/runtime/convergence/spec.yaml")).unwrap();
    std::fs::write(
        dir.join("spec.yaml"),
        spec.replace("tools: [write_file, read_file]", "tools: [write_file, run_command]"),
    )
    .unwrap();
    std::fs::write(dir.join("fixer.py"), FIXER).unwrap();
    // The run works in its own worktree, so a script outside the repository is named absolutely.
    let bindings = BINDINGS.replace("{fixer}", dir.join("fixer.py").to_str().unwrap());
    std::fs::write(dir.join("bindings.toml"), bindings).unwrap();
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let gh = bin.join("gh");
    std::fs::write(
        &gh,
        "#!/bin/sh\necho \"$@\" >> \"$FAKE_GH_LOG\"\necho https://example.invalid/pull/1\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&gh, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    Setup {
        gh_log: dir.join("gh.log"),
        dir,
        remote,
        path,
    }
}

fn run(s: &Setup) -> Value {
    let (out, report) = run_calc(&s.dir, &[("PATH", s.path.as_ref()), ("FAKE_GH_LOG", s.gh_log.as_os_str())]);
    assert_eq!(
        report["status"],
        "succeeded",
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    report
}

fn remote_branches(remote: &Path) -> Vec<String> {
    git(remote, &["for-each-ref", "--format=%(refname:short)", "refs/heads"])
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn after_success_the_hooks_push_and_open_a_pull_request() {
    let s = setup("live");
    let report = run(&s);
    assert_eq!(remote_branches(&s.remote), ["loopc/fix-calc"]);
    let gh = std::fs::read_to_string(&s.gh_log).unwrap();
    let run_id = report["run_id"].as_str().unwrap();
    assert_eq!(
        gh.trim(),
        format!("issue comment 7 --body fixed\npr create --head loopc/fix-calc --title Fix fix-calc ({run_id})")
    );
    // The pushed branch is the run's: the fix, committed by loopc, on top of the base.
    let pushed = git(&s.remote, &["show", "loopc/fix-calc:calc.py"]);
    assert_eq!(pushed, "def add(a, b):\n    return a + b");
    assert_eq!(git(&s.remote, &["log", "-1", "--format=%an", "loopc/fix-calc"]), "loopc");
    assert!(report.get("shadowed").is_none(), "{report}");
}

#[test]
fn shadow_mode_records_what_would_act_outside_and_does_none_of_it() {
    let s = setup("shadow");
    let env = [("PATH", s.path.as_ref()), ("FAKE_GH_LOG", s.gh_log.as_os_str())];
    let (out, report) = support::run_calc_with(&s.dir, &["--shadow"], &env);
    let report = &report;
    assert_eq!(report["status"], "succeeded", "{}", String::from_utf8_lossy(&out.stderr));
    // Inside the workspace everything ran: the fix is there and tested.
    assert_eq!(
        std::fs::read_to_string(Path::new(report["workspace"].as_str().unwrap()).join("calc.py")).unwrap(),
        "def add(a, b):\n    return a + b\n"
    );
    // Outside nothing happened.
    assert!(remote_branches(&s.remote).is_empty());
    assert!(!s.gh_log.exists());
    let shadowed: Vec<&str> = report["shadowed"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(shadowed.len(), 3, "{shadowed:?}");
    assert!(
        shadowed[0].contains("tools.fixer.1: would run `gh issue comment 7 --body fixed`"),
        "{shadowed:?}"
    );
    assert!(
        shadowed[1].contains("publish.0: would run `git push origin HEAD:refs/heads/loopc/fix-calc`"),
        "{shadowed:?}"
    );
    assert!(
        shadowed[2].contains("publish.1: would run `gh pr create --head loopc/fix-calc"),
        "{shadowed:?}"
    );
}
