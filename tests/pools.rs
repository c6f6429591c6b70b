//! Work pools (issue 13 §2): `loopc run --items` / `--items-from` run a
//! spec once per selected item, in priority order, at most `--jobs` at
//! once, skip and escalate by the `[pool]` rules, and report per item.
//!
//! The worker is a command that, under a lock, counts the workers active at
//! once (`max.log`) and appends its item's ticket to `starts.log`, then
//! sleeps a little; the evaluator always passes.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

const WORKER: &str = r#"import fcntl, json, os, sys, time
inv = json.load(sys.stdin)
ticket = inv["payload"]["inputs"]["inputs.ticket"]
if ticket == 'broken':
    sys.exit(3)
here = os.path.dirname(os.path.abspath(__file__))
def bump(d):
    with open(os.path.join(here, 'lock'), 'a') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        p = os.path.join(here, 'active')
        n = int(open(p).read() or 0) if os.path.exists(p) else 0
        n += d
        open(p, 'w').write(str(n))
        if d > 0:
            open(os.path.join(here, 'starts.log'), 'a').write(ticket + '\n')
            open(os.path.join(here, 'max.log'), 'a').write(str(n) + '\n')
bump(1)
time.sleep(0.4)
bump(-1)
print('worked on ' + ticket)
"#;

/// The convergence spec with a `ticket` input, the worker above, and
/// bindings with `pool` as their `[pool]` table.
fn setup(name: &str, pool: &str) -> PathBuf {
    let dir = support::calc_workdir(&format!("pools/{name}"));
    let _ = std::fs::remove_dir_all(state(&dir));
    std::fs::write(dir.join("worker.py"), WORKER).unwrap();
    std::fs::write(dir.join("pass.py"), "import sys\nsys.exit(0)\n").unwrap();
    std::fs::write(
        dir.join("spec.yaml"),
        support::convergence_spec_with_input("ticket", "The work item").replace("retries: 1", "retries: 0"),
    )
    .unwrap();
    std::fs::write(
        dir.join("bindings.toml"),
        format!(
            "[sandbox]\nroot = \"repo\"\nisolation = \"none\"\n\n[pool]\n{pool}\n\n[executors.worker]\nkind = \"command\"\nargv = [\"python3\", \"{}\"]\n\n[executors.tests]\nkind = \"command\"\nargv = [\"python3\", \"{}\"]\n\n[bind]\n\"workers.fixer\" = \"worker\"\n\"impl:evaluators.unit_tests\" = \"tests\"\n",
            dir.join("worker.py").display(),
            dir.join("pass.py").display()
        ),
    )
    .unwrap();
    dir
}

fn state(dir: &Path) -> PathBuf {
    dir.with_extension("state")
}

fn loopc(dir: &Path, args: &[&str]) -> Output {
    loopc_with_path(dir, args, None)
}

fn loopc_with_path(dir: &Path, args: &[&str], path: Option<&std::ffi::OsStr>) -> Output {
    let mut env = vec![("LOOPC_STATE_DIR", state(dir).into_os_string())];
    if let Some(p) = path {
        env.push(("PATH", p.to_owned()));
    }
    let env: Vec<(&str, &std::ffi::OsStr)> = env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
    support::loopc_env(args, dir, &env)
}

/// The ids of a JSON pool report's items, in its order; only those with `outcome` when given.
fn item_ids<'a>(report: &'a Value, outcome: Option<&str>) -> Vec<&'a str> {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| outcome.is_none_or(|o| l["outcome"] == o))
        .map(|l| l["id"].as_str().unwrap())
        .collect()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn run_pool(dir: &Path, items: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        "spec.yaml",
        "--bindings",
        "bindings.toml",
        "--items",
        items,
        "--input",
        "target=calc.py",
    ];
    args.extend_from_slice(extra);
    loopc(dir, &args)
}

const RULES: &str = "select = \"'maintenance' in labels and files_changed < 5\"\nescalate_if = \"touches_auth or failures >= 2\"";

/// 30 items: T00–T07 are features (skipped), T10, T15 and T20 escalate
/// (auth, or two failures), every tenth from T09 has no priority; the
/// others have distinct priorities that are not file order.
fn thirty_items() -> Vec<Value> {
    (0..30)
        .map(|i| {
            let mut item = serde_json::json!({
                "id": format!("T{i:02}"),
                "ticket": format!("T{i:02}"),
                "labels": [if i < 8 { "feature" } else { "maintenance" }],
                "files_changed": 1,
                "title": format!("item {i}"),
            });
            if i % 10 != 9 {
                item["priority"] = serde_json::json!((i * 11) % 30);
            }
            match i {
                10 | 20 => item["touches_auth"] = Value::Bool(true),
                15 => item["failures"] = serde_json::json!(2),
                _ => {}
            }
            item
        })
        .collect()
}

/// The ids in the order the pool must list them: by priority, the
/// unprioritised last, ties in file order.
fn priority_order(items: &[Value]) -> Vec<String> {
    let mut sorted: Vec<&Value> = items.iter().collect();
    sorted.sort_by_key(|v| v["priority"].as_i64().unwrap_or(i64::MAX));
    sorted.iter().map(|v| v["id"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn thirty_items_run_in_priority_order_three_at_a_time_with_the_right_report() {
    let dir = setup("thirty", RULES);
    let items = thirty_items();
    let lines: String = items.iter().map(|v| format!("{v}\n")).collect();
    std::fs::write(dir.join("items.jsonl"), lines).unwrap();
    let out = run_pool(&dir, "items.jsonl", &["--jobs", "3", "--format", "json", "--report", "report.md"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();

    let order = priority_order(&items);
    let listed: Vec<&str> = item_ids(&report, None);
    assert_eq!(listed, order, "the report lists every item in priority order");
    let skipped: Vec<&str> = item_ids(&report, Some("skipped"));
    let mut skipped_sorted = skipped.clone();
    skipped_sorted.sort();
    assert_eq!(skipped_sorted, ["T00", "T01", "T02", "T03", "T04", "T05", "T06", "T07"]);
    let mut escalated: Vec<&str> = item_ids(&report, Some("escalated"));
    escalated.sort();
    assert_eq!(escalated, ["T10", "T15", "T20"]);
    let t = &report["totals"];
    assert_eq!(
        (
            t["items"].as_u64(),
            t["run"].as_u64(),
            t["succeeded"].as_u64(),
            t["failed"].as_u64(),
            t["skipped"].as_u64(),
            t["escalated"].as_u64()
        ),
        (Some(30), Some(19), Some(19), Some(0), Some(8), Some(3))
    );
    assert_eq!(t["success_rate"], 1.0);
    assert_eq!(t["mean_iterations"], 1.0);
    for line in report["items"].as_array().unwrap().iter().filter(|l| l["outcome"] == "succeeded") {
        assert!(line["run_id"].as_str().is_some_and(|r| r.starts_with('r')), "{line}");
        assert_eq!(line["iterations"], 1);
    }

    // Runs started in priority order: the n-th start is within the three
    // in flight of the n-th item of the queue.
    let queue: Vec<&String> = order
        .iter()
        .filter(|id| !skipped.contains(&id.as_str()) && !escalated.contains(&id.as_str()))
        .collect();
    let starts: Vec<String> = std::fs::read_to_string(dir.join("starts.log"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(starts.len(), 19, "{starts:?}");
    for (n, id) in starts.iter().enumerate() {
        let at = queue
            .iter()
            .position(|q| *q == id)
            .unwrap_or_else(|| panic!("{id} ran but should not have"));
        assert!(at.abs_diff(n) < 3, "{id} started {n}th but is {at}th in priority order: {starts:?}");
    }
    let most = std::fs::read_to_string(dir.join("max.log"))
        .unwrap()
        .lines()
        .map(|l| l.parse::<u32>().unwrap())
        .max()
        .unwrap();
    assert!(most <= 3 && most > 1, "{most} workers at once with --jobs 3");

    let markdown = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(markdown.contains("| 30 | 19 | 19 | 0 | 0 | 8 | 3 | 100% |"), "{markdown}");
    for id in &order {
        assert!(markdown.contains(&format!("| {id} |")), "{id} missing from\n{markdown}");
    }
    assert!(markdown.contains("For a person: T20, T15, T10"), "{markdown}");

    // `loopc pool ID` re-renders the same report from the store.
    let pool_id = report["pool_id"].as_str().unwrap();
    let again = loopc(&dir, &["pool", pool_id, "--format", "json"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    let again: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again["totals"], report["totals"]);
    assert_eq!(again["items"], report["items"]);
    let human = loopc(&dir, &["pool", pool_id]);
    assert!(
        String::from_utf8_lossy(&human.stdout).contains("30 items: 19 run (19 succeeded, 0 failed, 0 waiting), 8 skipped, 3 escalated"),
        "{}",
        text(&human)
    );
    let unknown = loopc(&dir, &["pool", "p-nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown).contains("no pool `p-nope`"), "{}", text(&unknown));
    let md = loopc(&dir, &["pool", pool_id, "--format", "markdown"]);
    assert!(String::from_utf8_lossy(&md.stdout).contains(&format!("# Pool {pool_id}")));

    // `loopc runs` names each pool run's item.
    let runs = loopc(&dir, &["runs", "--format", "json"]);
    let runs: Value = serde_json::from_slice(&runs.stdout).unwrap();
    let with_items = runs
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["pool_id"] == pool_id && r["item_id"].is_string())
        .count();
    assert_eq!(with_items, 19);
}

#[test]
fn json_array_and_csv_items_parse_and_run() {
    let dir = setup("layouts", "");
    std::fs::write(
        dir.join("items.json"),
        "[\n  {\"id\": 1, \"ticket\": \"a\", \"priority\": 2},\n  {\"id\": 2, \"inputs\": {\"ticket\": \"b\"}, \"priority\": 1}\n]\n",
    )
    .unwrap();
    std::fs::write(dir.join("items.csv"), "id,ticket,priority,labels\nc1,c,,x;y\nc2,d,5,\n").unwrap();
    let out = run_pool(&dir, "items.json", &["--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = item_ids(&report, None);
    assert_eq!(ids, ["2", "1"]);
    let out = run_pool(&dir, "items.csv", &["--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = item_ids(&report, None);
    assert_eq!(ids, ["c2", "c1"]);
    assert_eq!(report["items"][1]["labels"], serde_json::json!(["x", "y"]));
    assert_eq!(report["totals"]["succeeded"], 2);
    let starts = std::fs::read_to_string(dir.join("starts.log")).unwrap();
    assert_eq!(starts, "b\na\nd\nc\n");
}

#[test]
fn a_failed_item_fails_the_pool_and_the_report_says_which() {
    let dir = setup("failed", "");
    std::fs::write(
        dir.join("items.jsonl"),
        "{\"id\": \"ok\", \"ticket\": \"fine\"}\n{\"id\": \"bad\", \"ticket\": \"broken\"}\n",
    )
    .unwrap();
    let out = run_pool(&dir, "items.jsonl", &["--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["items"][0]["outcome"], "succeeded");
    assert_ne!(report["items"][1]["outcome"], "succeeded");
    let t = &report["totals"];
    assert_eq!(
        (t["run"].as_u64(), t["succeeded"].as_u64(), t["failed"].as_u64()),
        (Some(2), Some(1), Some(1))
    );
    assert_eq!(t["success_rate"], 0.5);
}

#[test]
fn items_from_a_command_reads_gh_style_json() {
    let dir = setup("gh", "id = \"number\"\nselect = \"'maintenance' in labels\"");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let gh = bin.join("gh");
    std::fs::write(
        &gh,
        "#!/bin/sh\necho '[{\"number\": 12, \"title\": \"tidy\", \"labels\": [{\"name\": \"maintenance\"}]}, {\"number\": 13, \"title\": \"new\", \"labels\": [{\"name\": \"feature\"}]}]'\n",
    )
    .unwrap();
    std::fs::write(bin.join("failing"), "#!/bin/sh\necho 'gh: not logged in' >&2\nexit 4\n").unwrap();
    for f in ["gh", "failing"] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(bin.join(f), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap()))).unwrap();
    let args = [
        "run",
        "spec.yaml",
        "--bindings",
        "bindings.toml",
        "--items-from",
        "gh issue list --json number,title,labels",
        "--input",
        "target=calc.py",
        "--input",
        "ticket=from-gh",
        "--format",
        "json",
    ];
    let out = loopc_with_path(&dir, &args, Some(&path));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["items"][0]["id"], "12");
    assert_eq!(report["items"][0]["outcome"], "succeeded");
    assert_eq!(report["items"][0]["labels"], serde_json::json!(["maintenance"]));
    assert_eq!(report["items"][1]["outcome"], "skipped");
    assert_eq!(std::fs::read_to_string(dir.join("starts.log")).unwrap(), "from-gh\n");

    let failing = [
        "run",
        "spec.yaml",
        "--bindings",
        "bindings.toml",
        "--items-from",
        "failing",
        "--input",
        "target=calc.py",
    ];
    let out = loopc_with_path(&dir, &failing, Some(&path));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("--items-from `failing` failed") && text(&out).contains("gh: not logged in"),
        "{}",
        text(&out)
    );
}

#[test]
fn missing_and_duplicate_ids_and_bad_rules_are_usage_errors() {
    let dir = setup("errors", "");
    std::fs::write(dir.join("items.jsonl"), "{\"id\": \"a\", \"ticket\": \"a\"}\n{\"ticket\": \"b\"}\n").unwrap();
    let out = run_pool(&dir, "items.jsonl", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("items.jsonl:2: the item has no `id`"), "{}", text(&out));
    std::fs::write(dir.join("dup.csv"), "id,ticket\na,a\nb,b\na,c\n").unwrap();
    let out = run_pool(&dir, "dup.csv", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("dup.csv:4: duplicate id `a` (first at line 2)"),
        "{}",
        text(&out)
    );
    assert!(!dir.join("starts.log").exists(), "nothing ran");

    let bad = setup("bad-rule", "select = \"labels in in\"");
    std::fs::write(bad.join("items.jsonl"), "{\"id\": \"a\", \"ticket\": \"a\"}\n").unwrap();
    let out = run_pool(&bad, "items.jsonl", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("bindings.toml [pool] select:") && text(&out).contains("column 11"),
        "{}",
        text(&out)
    );

    let out = loopc(
        &dir,
        &["run", "spec.yaml", "--items", "items.jsonl", "--inputs-file", "items.jsonl"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

/// An item whose run waits for a person makes the pool exit 3 and counts
/// as waiting; once a person decides, `loopc pool` reports it as it ended.
#[test]
fn an_item_waiting_for_a_person_makes_the_pool_exit_3_until_it_is_decided() {
    let dir = setup("waiting", "");
    // The evaluator fails the `ask` item's work, and one failed iteration
    // escalates to a person instead of halting.
    std::fs::write(
        dir.join("pass.py"),
        "import json, sys\ninv = json.load(sys.stdin)\nsys.exit(1 if 'worked on ask' in json.dumps(inv['payload']['outputs']) else 0)\n",
    )
    .unwrap();
    let spec = std::fs::read_to_string(dir.join("spec.yaml")).unwrap();
    std::fs::write(
        dir.join("spec.yaml"),
        spec.replace("value: 5, action: halt", "value: 1, action: escalate_human"),
    )
    .unwrap();
    std::fs::write(
        dir.join("items.jsonl"),
        "{\"id\": \"a1\", \"ticket\": \"a\"}\n{\"id\": \"ask\", \"ticket\": \"ask\"}\n{\"id\": \"a2\", \"ticket\": \"b\"}\n",
    )
    .unwrap();
    let out = run_pool(&dir, "items.jsonl", &["--format", "json"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(item_ids(&report, Some("awaiting_human")), ["ask"], "{report}");
    assert_eq!(item_ids(&report, Some("succeeded")), ["a1", "a2"], "{report}");
    let t = &report["totals"];
    assert_eq!(
        (t["run"].as_u64(), t["succeeded"].as_u64(), t["waiting"].as_u64()),
        (Some(3), Some(2), Some(1)),
        "{t}"
    );

    let waiting = report["items"].as_array().unwrap().iter().find(|l| l["id"] == "ask").unwrap();
    let run = waiting["run_id"].as_str().unwrap();
    let approved = loopc(&dir, &["approve", run, "--note", "good enough"]);
    assert_eq!(approved.status.code(), Some(0), "{}", text(&approved));
    let pool_id = report["pool_id"].as_str().unwrap();
    let again = loopc(&dir, &["pool", pool_id, "--format", "json"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    let after: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(item_ids(&after, Some("succeeded")), ["a1", "ask", "a2"], "{after}");
    assert_eq!(after["totals"]["waiting"], 0, "{after}");
}
