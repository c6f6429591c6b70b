//! The safety engine: construction, scopes, and each enforced constraint type.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use loopc_plan::SafetyCheck;
use loopc_runtime::executor::ToolCall;
use loopc_runtime::safety::{glob_match, Finding, SafetyEngine, Scope, Subject};
use serde_json::{json, Value};

fn tmp_root(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("safety-{name}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst)));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    fs::canonicalize(dir).unwrap()
}

fn check(id: &str, kind: &str, scope: &str, applies_to: &[&str], action: &str, config: Value) -> SafetyCheck {
    SafetyCheck::from_lss(id, kind, scope, applies_to, action, config).unwrap()
}

fn engine(checks: Vec<SafetyCheck>) -> SafetyEngine {
    SafetyEngine::new(&checks, Path::new(env!("CARGO_TARGET_TMPDIR")), false).unwrap()
}

fn tool(name: &str, args: Value) -> ToolCall {
    ToolCall { tool: name.into(), args }
}

fn ids(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.check_id.as_str()).collect()
}

#[test]
fn engine_is_shareable_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SafetyEngine>();
}

#[test]
fn scope_names_round_trip() {
    for &s in Scope::ALL {
        assert_eq!(Scope::parse(s.as_str()), Some(s));
    }
    assert_eq!(Scope::parse("pre_memory_write"), Some(Scope::PreMemoryWrite));
    assert_eq!(Scope::parse("post_output"), None);
}

#[test]
fn construction_errors_are_clear() {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
    // Configs are typed: a wrong key or value fails when the check is built
    // from LSS words (`loopc check` L424 reports them with a position first);
    // what the types cannot say fails when the engine is built.
    let cases = [
        (
            "tool_allowlist",
            "pre_worker",
            "halt",
            json!({"allowed": "read_file"}),
            "expected a sequence",
        ),
        ("output_bounds", "post_worker", "halt", json!({"note": 1}), "unknown field `note`"),
        ("output_bounds", "post_worker", "halt", json!({}), "sets no bound"),
        ("output_bounds", "post_worker", "halt", json!({"max_chars": -3}), "expected u64"),
        ("output_bounds", "post_worker", "halt", json!({"max_chars": 1.5}), "expected u64"),
        ("rate_limit", "pre_worker", "halt", json!({}), "requests_per_minute"),
        ("schema_enforce", "post_worker", "halt", json!({}), "missing field `schema`"),
        (
            "schema_enforce",
            "post_worker",
            "halt",
            json!({"schema_ref": "nope/missing.json"}),
            "unknown field `schema_ref`",
        ),
        (
            "schema_enforce",
            "post_worker",
            "halt",
            json!({"schema": {"type": 12}}),
            "invalid schema",
        ),
        ("human_gate", "post_worker", "halt", json!({"message": 3}), "expected a string"),
        ("secret_scan", "post_output", "halt", Value::Null, "unknown scope"),
        ("secret_scan", "post_worker", "explode", Value::Null, "unknown action"),
        ("secret_scan", "post_worker", "halt", json!("strict"), "expected struct"),
        ("secret_scan", "post_worker", "halt", json!({"min_length": 3}), "at least 8"),
        ("egress_monitor", "post_worker", "halt", Value::Null, "external enforcer"),
        ("made_up", "post_worker", "halt", Value::Null, "unknown variant `made_up`"),
    ];
    for (kind, scope, action, config, expected) in cases {
        let err = SafetyCheck::from_lss("a", kind, scope, &["w"], action, config)
            .and_then(|c| SafetyEngine::new(&[c], root, false).map(drop))
            .unwrap_err();
        assert!(err.contains(expected), "{kind}: {expected:?} not in {err:?}");
        assert!(err.contains("`a`"), "the error names the constraint: {err}");
    }
    assert!(SafetyEngine::new(&[], &root.join("no-such-root"), false).is_err());
    // An allowlist without its own list defers to the workers' declared tools
    // (the sandbox enforces those with this constraint's action).
    let own_tools = SafetyEngine::new(
        &[check("a", "tool_allowlist", "pre_worker", &["w"], "halt", json!({}))],
        root,
        false,
    )
    .unwrap();
    let call = loopc_runtime::executor::ToolCall {
        tool: "anything".into(),
        args: Value::Null,
    };
    assert!(own_tools.check(Scope::PreWorker, "w", &Subject::ToolCall(&call)).is_empty());
    // Every type the plan says is enforced can be built.
    for kind in loopc_plan::SafetyKind::ALL.iter().filter(|k| k.is_enforced()).map(|k| k.as_str()) {
        let config = match kind {
            "tool_allowlist" => json!({"allowed": ["read_file"]}),
            "output_bounds" => json!({"max_chars": 10}),
            "schema_enforce" => json!({"schema": {"type": "object"}}),
            "rate_limit" => json!({"max_calls": 1}),
            _ => Value::Null,
        };
        SafetyEngine::new(&[check("c", kind, "post_worker", &["w"], "warn", config)], root, false).unwrap();
    }
}

#[test]
fn unenforced_types_report_once_when_allowed() {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let checks = [
        check("egress", "egress_monitor", "post_worker", &["w"], "halt", Value::Null),
        check("inj", "injection_detect", "pre_worker", &["w"], "quarantine", Value::Null),
    ];
    let e = SafetyEngine::new(&checks, root, true).unwrap();
    assert_eq!(
        e.unenforced(),
        vec![
            ("egress", loopc_plan::SafetyKind::EgressMonitor),
            ("inj", loopc_plan::SafetyKind::InjectionDetect)
        ]
    );
    let out = json!("anything");
    // Not at its scope: nothing.
    assert!(e.check(Scope::PreOutput, "w", &Subject::Output(&out)).is_empty());
    let first = e.check(Scope::PostWorker, "w", &Subject::Output(&out));
    assert_eq!(ids(&first), vec!["egress"]);
    assert_eq!(first[0].action, "warn", "an unenforced type never blocks");
    assert_eq!(first[0].kind_name(), "egress_monitor");
    assert!(first[0].message.contains("not enforced"), "{}", first[0].message);
    assert!(e.check(Scope::PostWorker, "w", &Subject::Output(&out)).is_empty(), "reported once");
    assert_eq!(ids(&e.check(Scope::PreWorker, "w", &Subject::Invocation)), vec!["inj"]);
    assert!(e.check(Scope::PreWorker, "w", &Subject::Invocation).is_empty());
}

#[test]
fn pii_detect_finds_personal_data_and_strips_it_by_category() {
    let out = json!({"summary": "reach jane@acme.io or +44 20 7946 0958", "ref": "release 1.2.3 on 2026-12-02"});
    let halt = engine(vec![check("pii", "pii_detect", "post_worker", &["w"], "halt", Value::Null)]);
    let found = halt.check(Scope::PostWorker, "w", &Subject::Output(&out));
    assert_eq!(ids(&found), vec!["pii"]);
    assert_eq!(found[0].action, "halt");
    assert!(found[0].message.contains("2 item(s) of personal data"), "{}", found[0].message);
    assert!(found[0].message.contains("email at $.summary"), "{}", found[0].message);

    let strip = engine(vec![check(
        "pii",
        "pii_detect",
        "post_worker",
        &["w"],
        "strip",
        json!({"categories": ["email"]}),
    )]);
    let found = strip.check(Scope::PostWorker, "w", &Subject::Output(&out));
    assert_eq!(
        found[0].redacted,
        Some(json!({"summary": "reach [PII:email] or +44 20 7946 0958", "ref": "release 1.2.3 on 2026-12-02"})),
        "only the listed categories"
    );
    let clean = json!({"ref": "release 1.2.3 on 2026-12-02, card-shaped 4111111111111112"});
    assert!(halt.check(Scope::PostWorker, "w", &Subject::Output(&clean)).is_empty());
    // An unknown category is refused when the check is built.
    let err = SafetyCheck::from_lss("p", "pii_detect", "post_worker", &["w"], "halt", json!({"categories": ["address"]})).unwrap_err();
    assert!(err.contains("unknown variant `address`"), "{err}");
}

#[test]
fn checks_apply_at_their_scope_to_their_workers() {
    let e = engine(vec![
        check(
            "bounds",
            "output_bounds",
            "post_worker",
            &["fixer"],
            "halt",
            json!({"max_chars": 5}),
        ),
        check("all", "output_bounds", "pre_output", &["*"], "warn", json!({"max_chars": 5})),
    ]);
    let long = json!("far too long");
    assert_eq!(ids(&e.check(Scope::PostWorker, "fixer", &Subject::Output(&long))), vec!["bounds"]);
    assert!(e.check(Scope::PostWorker, "planner", &Subject::Output(&long)).is_empty());
    assert!(e.check(Scope::PreMemoryWrite, "fixer", &Subject::Output(&long)).is_empty());
    assert_eq!(ids(&e.check(Scope::PreOutput, "planner", &Subject::Output(&long))), vec!["all"]);
    assert!(e.check(Scope::PostWorker, "fixer", &Subject::Output(&json!("ok"))).is_empty());
    assert!(e.check(Scope::PostWorker, "fixer", &Subject::Invocation).is_empty());
}

#[test]
fn tool_allowlist_blocks_other_tools_at_any_scope() {
    let e = engine(vec![check(
        "tools",
        "tool_allowlist",
        "pre_worker",
        &["fixer"],
        "halt",
        json!({"allowed": ["read_file", "apply_patch"]}),
    )]);
    let read = tool("read_file", json!({"path": "a"}));
    let write = tool("write_file", json!({"path": "a", "content": "x"}));
    for &scope in Scope::ALL {
        assert!(e.check(scope, "fixer", &Subject::ToolCall(&read)).is_empty());
        let f = e.check(scope, "fixer", &Subject::ToolCall(&write));
        assert_eq!(ids(&f), vec!["tools"], "{scope:?}");
        assert_eq!(f[0].action, "halt");
        assert_eq!(f[0].kind_name(), "tool_allowlist");
        assert!(
            f[0].message.contains("write_file") && f[0].message.contains("apply_patch"),
            "{}",
            f[0].message
        );
    }
    assert!(
        e.check(Scope::PreWorker, "other", &Subject::ToolCall(&write)).is_empty(),
        "applies_to"
    );
    assert!(e.check(Scope::PreWorker, "fixer", &Subject::Invocation).is_empty());
    assert!(e
        .check(Scope::PreWorker, "fixer", &Subject::Output(&json!("write_file")))
        .is_empty());
}

#[test]
fn output_bounds_sizes() {
    let e = engine(vec![check(
        "size",
        "output_bounds",
        "post_worker",
        &["w"],
        "quarantine",
        json!({"max_chars": 10, "max_bytes": 12, "max_lines": 2, "max_items": 3}),
    )]);
    let run = |v: Value| e.check(Scope::PostWorker, "w", &Subject::Output(&v));
    assert!(run(json!("short")).is_empty());
    assert!(run(json!("a\nb")).is_empty());
    let f = run(json!("eleven char"));
    assert_eq!(f.len(), 1);
    assert!(
        f[0].message.contains("11 characters") && f[0].message.contains("max_chars 10"),
        "{}",
        f[0].message
    );
    assert_eq!(f[0].action, "quarantine");
    assert_eq!(f[0].redacted, None);
    assert!(run(json!("ééééé")).is_empty(), "5 chars, 10 bytes");
    assert!(run(json!("éééééé")).is_empty(), "6 chars, 12 bytes");
    assert!(run(json!("ééééééé"))[0].message.contains("14 bytes"));
    assert!(run(json!("a\nb\nc"))[0].message.contains("3 lines"));
    assert!(run(json!([1, 2, 3])).is_empty());
    assert!(run(json!([1, 2, 3, 4]))[0].message.contains("array at $ has 4 items"));
    let f = run(json!({"k": [[1], [1, 2, 3, 4]]}));
    assert!(f[0].message.contains("$.k[1]"), "{}", f[0].message);
    // A JSON output is measured as compact JSON; its lines are its strings' lines.
    let f = run(json!({"text": "x\ny\nz"}));
    assert!(
        f[0].message.contains("3 lines") && f[0].message.contains("characters"),
        "{}",
        f[0].message
    );
}

#[test]
fn output_bounds_lines_changed() {
    let e = engine(vec![check(
        "patch",
        "output_bounds",
        "post_worker",
        &["w"],
        "halt",
        json!({"max_lines_changed": 2}),
    )]);
    let small = "--- a/x.py\n+++ b/x.py\n@@ -1,2 +1,2 @@\n-old\n+new\n context\n";
    let big = "--- a/x.py\n+++ b/x.py\n@@ -1,3 +1,3 @@\n-a\n-b\n+c\n+d\n";
    assert!(e.check(Scope::PostWorker, "w", &Subject::Output(&json!(small))).is_empty());
    let f = e.check(Scope::PostWorker, "w", &Subject::Output(&json!({"patch": big})));
    assert!(f[0].message.contains("4 changed lines"), "{}", f[0].message);
}

#[test]
fn output_bounds_strip_cuts_to_fit() {
    let e = engine(vec![check(
        "size",
        "output_bounds",
        "pre_output",
        &["w"],
        "strip",
        json!({"max_chars": 20, "max_lines": 2, "max_items": 2}),
    )]);
    let run = |v: Value| e.check(Scope::PreOutput, "w", &Subject::Output(&v));
    let f = run(json!("0123456789abcdefghijklmnop"));
    assert_eq!(f[0].redacted, Some(json!("0123456789[REDACTED]")));
    let f = run(json!("one\ntwo\nthree\nfour"));
    let cut = f[0].redacted.clone().unwrap();
    assert_eq!(cut, json!("one\ntwo[REDACTED]"));
    let f = run(json!([1, [2, 3, 4], 5]));
    assert_eq!(f[0].redacted, Some(json!([1, [2, 3]])));
    // Cannot be cut apart: no redacted value (the interpreter withholds it).
    let f = run(json!({"a": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}));
    assert_eq!(f[0].redacted, None);
    // Tiny bounds: no room for the marker.
    let e = engine(vec![check(
        "tiny",
        "output_bounds",
        "pre_output",
        &["w"],
        "strip",
        json!({"max_chars": 4}),
    )]);
    let f = e.check(Scope::PreOutput, "w", &Subject::Output(&json!("abcdefgh")));
    assert_eq!(f[0].redacted, Some(json!("abcd")));
}

#[test]
fn forbidden_paths_guard_writing_tool_calls() {
    let root = tmp_root("forbidden");
    fs::create_dir_all(root.join("tests/unit")).unwrap();
    fs::create_dir_all(root.join("src")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(root.join("tests"), root.join("t")).unwrap();
    let checks = [check(
        "no-test-edits",
        "output_bounds",
        "post_worker",
        &["fixer"],
        "halt",
        json!({"forbidden_paths": ["tests/**", "*.env"]}),
    )];
    let e = SafetyEngine::new(&checks, &root, false).unwrap();
    let abs = root.join("tests/unit/test_a.py").display().to_string();
    let forbidden = [
        tool("write_file", json!({"path": "tests/test_a.py", "content": ""})),
        tool("write_file", json!({"path": "./tests/unit/test_a.py", "content": ""})),
        tool("append_file", json!({"path": "src/../tests/x.py", "content": ""})),
        tool("delete_file", json!({"path": "tests/unit/test_a.py"})),
        tool("delete_file", json!({"path": abs})),
        tool("write_file", json!({"path": "config/prod.env", "content": ""})),
        tool("delete_file", json!({"path": "tests"})),
    ];
    for call in &forbidden {
        let f = e.check(Scope::PostWorker, "fixer", &Subject::ToolCall(call));
        assert_eq!(ids(&f), vec!["no-test-edits"], "{call:?}");
        assert!(f[0].message.contains("forbidden path"), "{}", f[0].message);
    }
    #[cfg(unix)]
    {
        let via_link = tool("write_file", json!({"path": "t/unit/test_a.py", "content": ""}));
        assert_eq!(
            ids(&e.check(Scope::PostWorker, "fixer", &Subject::ToolCall(&via_link))).len(),
            1,
            "through a symlink"
        );
    }
    let allowed = [
        tool("write_file", json!({"path": "src/lib.rs", "content": ""})),
        tool("write_file", json!({"path": "src/tests_helper.rs", "content": ""})),
        tool("read_file", json!({"path": "tests/test_a.py"})),
        tool("list_dir", json!({"path": "tests"})),
        tool("write_file", json!({"content": "no path"})),
    ];
    for call in &allowed {
        assert!(e.check(Scope::PostWorker, "fixer", &Subject::ToolCall(call)).is_empty(), "{call:?}");
    }
    assert!(
        e.check(Scope::PostWorker, "planner", &Subject::ToolCall(&forbidden[0])).is_empty(),
        "applies_to"
    );
    // Path bounds say nothing about outputs.
    assert!(e
        .check(Scope::PostWorker, "fixer", &Subject::Output(&json!("tests/test_a.py")))
        .is_empty());
}

#[test]
fn glob_matching_is_exported() {
    assert!(glob_match("tests/**", "tests/a/b.py"));
    assert!(glob_match("**/*.pem", "deploy/keys/server.pem"));
    assert!(!glob_match("src/*.rs", "src/a/b.rs"));
}

#[test]
fn schema_enforce_inline_and_embedded() {
    // `loopc compile` embeds a `schema_ref` file as `schema` + `source`
    // (crates/compile/tests/schemas.rs); the engine takes what it embedded.
    let root = tmp_root("schema");
    let schema = json!({
        "type": "object",
        "required": ["decision", "confidence"],
        "properties": {
            "decision": {"enum": ["fix", "close", "escalate"]},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1}
        },
        "$defs": {"Label": {"type": "string", "pattern": "^[a-z]+$"}}
    });
    let checks = [
        check(
            "file",
            "schema_enforce",
            "post_worker",
            &["triager"],
            "quarantine",
            json!({"schema": schema.clone(), "source": "schemas/triage.json"}),
        ),
        check(
            "inline",
            "schema_enforce",
            "pre_output",
            &["triager"],
            "halt",
            json!({"schema": {"type": "array", "maxItems": 1}}),
        ),
        check(
            "frag",
            "schema_enforce",
            "pre_memory_write",
            &["triager"],
            "warn",
            json!({"schema": {"$defs": schema["$defs"].clone(), "$ref": "#/$defs/Label"}, "source": "schemas/triage.json#/$defs/Label"}),
        ),
    ];
    let e = SafetyEngine::new(&checks, &root, false).unwrap();
    let post = |v: Value| e.check(Scope::PostWorker, "triager", &Subject::Output(&v));
    assert!(post(json!({"decision": "fix", "confidence": 0.9})).is_empty());
    // A string output holding JSON is parsed first.
    assert!(post(json!(r#"{"decision": "close", "confidence": 0.2}"#)).is_empty());
    let f = post(json!({"decision": "maybe", "confidence": 3}));
    assert_eq!(ids(&f), vec!["file"]);
    assert_eq!(f[0].action, "quarantine");
    assert!(f[0].message.contains("schemas/triage.json"), "{}", f[0].message);
    assert!(
        f[0].message.contains("/decision") && f[0].message.contains("/confidence"),
        "{}",
        f[0].message
    );
    assert!(post(json!({"decision": "fix"}))[0].message.contains("confidence"));
    assert_eq!(post(json!("not json at all")).len(), 1);
    let pre = |v: Value| e.check(Scope::PreOutput, "triager", &Subject::Output(&v));
    assert!(pre(json!([1])).is_empty());
    assert!(pre(json!("[1]")).is_empty());
    assert_eq!(ids(&pre(json!([1, 2]))), vec!["inline"]);
    let mem = |v: Value| e.check(Scope::PreMemoryWrite, "triager", &Subject::Output(&v));
    assert!(mem(json!("bug")).is_empty());
    assert_eq!(ids(&mem(json!("Bug!"))), vec!["frag"]);
}

#[test]
fn schema_messages_do_not_leak_secrets() {
    let e = engine(vec![check(
        "s",
        "schema_enforce",
        "post_worker",
        &["w"],
        "halt",
        json!({"schema": {"type": "object", "properties": {"n": {"type": "number"}}}}),
    )]);
    let key = format!("ghp_{}", "a1B2c3D4e5".repeat(4));
    let f = e.check(Scope::PostWorker, "w", &Subject::Output(&json!({"n": key})));
    assert_eq!(f.len(), 1);
    assert!(!f[0].message.contains(&key), "{}", f[0].message);
    assert!(f[0].message.contains("[REDACTED]"), "{}", f[0].message);
}

#[test]
fn human_gate_always_fires_at_its_scope() {
    let e = engine(vec![
        check(
            "approve",
            "human_gate",
            "pre_worker",
            &["deployer"],
            "halt",
            json!({"message": "confirm the deploy"}),
        ),
        check("review", "human_gate", "pre_output", &["writer"], "warn", Value::Null),
    ]);
    for _ in 0..2 {
        let f = e.check(Scope::PreWorker, "deployer", &Subject::Invocation);
        assert_eq!(ids(&f), vec!["approve"]);
        assert_eq!(f[0].action, "escalate_human", "the gate is the pause, whatever the declared action");
        assert!(f[0].message.contains("confirm the deploy"), "{}", f[0].message);
    }
    assert!(e.check(Scope::PostWorker, "deployer", &Subject::Invocation).is_empty());
    assert!(e.check(Scope::PreWorker, "writer", &Subject::Invocation).is_empty());
    let out = json!("draft");
    let f = e.check(Scope::PreOutput, "writer", &Subject::Output(&out));
    assert_eq!((f[0].check_id.as_str(), f[0].action.as_str()), ("review", "escalate_human"));
    // A gate is not per tool call.
    assert!(e
        .check(Scope::PreWorker, "deployer", &Subject::ToolCall(&tool("read_file", json!({}))))
        .is_empty());
}

/// A clock the test moves by hand.
fn manual_clock() -> (Arc<Mutex<i64>>, impl Fn() -> i64 + Send + Sync + 'static) {
    let now = Arc::new(Mutex::new(1_800_000_000_000_i64));
    let handle = now.clone();
    (now, move || *handle.lock().unwrap())
}

#[test]
fn rate_limit_sliding_window() {
    let (now, clock) = manual_clock();
    let e = engine(vec![check(
        "rate",
        "rate_limit",
        "pre_worker",
        &["caller", "other"],
        "halt",
        json!({"requests_per_minute": 3}),
    )])
    .with_clock(clock);
    let advance = |secs: i64| *now.lock().unwrap() += secs * 1000;
    let call = |w: &str| e.check(Scope::PreWorker, w, &Subject::Invocation);
    assert!(call("caller").is_empty()); // t=0
    advance(10);
    assert!(call("caller").is_empty()); // t=10
    advance(10);
    assert!(call("caller").is_empty()); // t=20
    let f = call("caller");
    assert_eq!(ids(&f), vec!["rate"]);
    assert_eq!(f[0].action, "halt");
    assert!(
        f[0].message.contains("3 calls in the last 60 s") && f[0].message.contains("40.0 s"),
        "{}",
        f[0].message
    );
    // Per worker.
    assert!(call("other").is_empty());
    // A refused call does not count: at t=60 the first call leaves the window.
    advance(39);
    assert_eq!(call("caller").len(), 1); // t=59
    advance(1);
    assert!(call("caller").is_empty()); // t=60
    assert_eq!(call("caller").len(), 1);
    advance(10);
    assert!(call("caller").is_empty()); // t=70: the t=10 call left
                                        // Not at its scope, not for others, not for outputs.
    assert!(e.check(Scope::PostWorker, "caller", &Subject::Invocation).is_empty());
    assert!(e.check(Scope::PreWorker, "stranger", &Subject::Invocation).is_empty());
    assert!(e.check(Scope::PreWorker, "caller", &Subject::Output(&json!("x"))).is_empty());
    e.reset_rate_limits();
    assert!(call("caller").is_empty());
}

#[test]
fn rate_limit_max_calls_and_warn() {
    let (_now, clock) = manual_clock();
    let e = engine(vec![
        check("budget", "rate_limit", "pre_worker", &["w"], "quarantine", json!({"max_calls": 2})),
        check(
            "soft",
            "rate_limit",
            "pre_worker",
            &["w"],
            "warn",
            json!({"requests_per_minute": 1}),
        ),
    ])
    .with_clock(clock);
    let call = || e.check(Scope::PreWorker, "w", &Subject::Invocation);
    assert!(call().is_empty());
    // The soft limit warns, and the warned call counts (it goes ahead).
    assert_eq!(ids(&call()), vec!["soft"]);
    let f = call();
    assert_eq!(ids(&f), vec!["budget", "soft"]);
    assert!(f[0].message.contains("all 2 calls"), "{}", f[0].message);
    assert!(f[1].message.contains("made 2 calls"), "{}", f[1].message);
}

#[test]
fn strips_accumulate_within_one_check_call() {
    let secret = format!("AKIA{}", "QWERTYUIOPASDFGH");
    let e = engine(vec![
        check("secrets", "secret_scan", "pre_output", &["w"], "strip", Value::Null),
        check("size", "output_bounds", "pre_output", &["w"], "strip", json!({"max_chars": 30})),
        check("after", "secret_scan", "pre_output", &["w"], "halt", Value::Null),
    ]);
    let out = json!(format!("key {secret} and then a long tail of text"));
    let f = e.check(Scope::PreOutput, "w", &Subject::Output(&out));
    assert_eq!(ids(&f), vec!["secrets", "size"], "the later scan sees the stripped output");
    assert_eq!(f[0].redacted, Some(json!("key [REDACTED] and then a long tail of text")));
    let last = f[1].redacted.clone().unwrap();
    let last = last.as_str().unwrap();
    assert!(
        last.starts_with("key [REDACTED] and") && last.ends_with("[REDACTED]") && last.chars().count() <= 30,
        "{last}"
    );
}
