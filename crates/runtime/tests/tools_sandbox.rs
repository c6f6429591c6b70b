//! The sandbox's path boundary and the built-in file tools, on real directories.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use loopc_runtime::bindings::SandboxConfig;
use loopc_runtime::executor::ToolCall;
use loopc_runtime::tools::{table, BlockRule, Sandbox, ToolFailure};
use serde_json::{json, Value};

/// `<tmp>/<name>-<n>/{root,outside}` with a file in each.
struct Fixture {
    base: PathBuf,
    root: PathBuf,
    outside: PathBuf,
    sandbox: Sandbox,
}

fn fixture(name: &str) -> Fixture {
    static N: AtomicUsize = AtomicUsize::new(0);
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "tools-sandbox-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = fs::remove_dir_all(&base);
    let root = base.join("root");
    let outside = base.join("outside");
    fs::create_dir_all(root.join("src")).unwrap();
    fs::create_dir_all(&outside).unwrap();
    fs::write(root.join("src/lib.rs"), "fn main() {}\n").unwrap();
    fs::write(outside.join("secret.txt"), "outside data\n").unwrap();
    let sandbox = Sandbox::new(root.clone(), &SandboxConfig::default()).unwrap();
    Fixture {
        base,
        root: fs::canonicalize(&root).unwrap(),
        outside: fs::canonicalize(&outside).unwrap(),
        sandbox,
    }
}

/// Every path under `dir` with its content (files) or a marker (dirs, links).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let meta = fs::symlink_metadata(&p).unwrap();
            if meta.file_type().is_symlink() {
                out.insert(p.clone(), format!("link -> {}", fs::read_link(&p).unwrap().display()));
            } else if meta.is_dir() {
                out.insert(p.clone(), "dir".into());
                walk(&p, out);
            } else {
                out.insert(p.clone(), fs::read_to_string(&p).unwrap_or_else(|_| "<binary>".into()));
            }
        }
    }
    walk(dir, &mut out);
    out
}

fn all_tools() -> Vec<String> {
    table::names().filter(|n| *n != "remember").map(str::to_owned).collect()
}

fn call(tool: &str, args: Value) -> ToolCall {
    ToolCall { tool: tool.into(), args }
}

fn blocked_rule(r: Result<Value, ToolFailure>) -> BlockRule {
    match r {
        Err(ToolFailure::Blocked(b)) => b.rule,
        other => panic!("expected a block, got {other:?}"),
    }
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) {
    std::os::unix::fs::symlink(target, link).unwrap();
}

#[test]
fn new_canonicalizes_and_requires_a_directory() {
    let f = fixture("new");
    let dotted = f.base.join("root/src/..");
    let sb = Sandbox::new(dotted, &SandboxConfig::default()).unwrap();
    assert_eq!(sb.root(), f.root.as_path());
    assert!(matches!(
        Sandbox::new(f.base.join("missing"), &SandboxConfig::default()),
        Err(loopc_runtime::Error::Io {
            context: "sandbox root",
            ..
        })
    ));
    let file = Sandbox::new(f.root.join("src/lib.rs"), &SandboxConfig::default()).unwrap_err();
    assert!(matches!(&file, loopc_runtime::Error::SandboxRoot { .. }), "{file}");
    assert!(file.to_string().contains("not a directory"));
}

#[test]
fn resolve_inside_root() {
    let f = fixture("resolve-in");
    assert_eq!(f.sandbox.resolve("src/lib.rs").unwrap(), f.root.join("src/lib.rs"));
    assert_eq!(f.sandbox.resolve("./src/../src/lib.rs").unwrap(), f.root.join("src/lib.rs"));
    assert_eq!(f.sandbox.resolve("").unwrap(), f.root);
    assert_eq!(f.sandbox.resolve(".").unwrap(), f.root);
    assert_eq!(f.sandbox.resolve("new/dir/file.txt").unwrap(), f.root.join("new/dir/file.txt"));
    let abs = f.root.join("src/lib.rs");
    assert_eq!(f.sandbox.resolve(abs.to_str().unwrap()).unwrap(), abs);
    // `..` that comes back into the root is harmless.
    assert_eq!(f.sandbox.resolve("../root/src/lib.rs").unwrap(), f.root.join("src/lib.rs"));
}

#[test]
fn resolve_refuses_escapes() {
    let f = fixture("resolve-out");
    for p in [
        "..",
        "../outside/secret.txt",
        "src/../../outside/x",
        "a/b/../../../x",
        "/etc/passwd",
    ] {
        let err = f.sandbox.resolve(p).unwrap_err();
        assert_eq!(err.rule, BlockRule::PathOutsideRoot, "{p}");
        assert!(err.message.contains(p), "message names the path: {}", err.message);
    }
    let abs_out = f.outside.join("secret.txt");
    assert_eq!(
        f.sandbox.resolve(abs_out.to_str().unwrap()).unwrap_err().rule,
        BlockRule::PathOutsideRoot
    );
    // A sibling whose name starts with the root's name is not inside it.
    let sibling = format!("{}-evil/x", f.root.display());
    assert_eq!(f.sandbox.resolve(&sibling).unwrap_err().rule, BlockRule::PathOutsideRoot);
}

#[cfg(unix)]
#[test]
fn resolve_refuses_symlinks_that_leave() {
    let f = fixture("resolve-link");
    symlink(&f.outside, &f.root.join("out_dir"));
    symlink(&f.outside.join("secret.txt"), &f.root.join("out_file"));
    symlink(&f.outside.join("not-yet"), &f.root.join("dangling"));
    symlink(&f.root.join("src"), &f.root.join("src_link"));
    for p in [
        "out_dir",
        "out_dir/secret.txt",
        "out_dir/new/deep.txt",
        "out_file",
        "dangling",
        "dangling/x",
    ] {
        assert_eq!(f.sandbox.resolve(p).unwrap_err().rule, BlockRule::PathOutsideRoot, "{p}");
    }
    // A symlink that stays inside resolves to its target.
    assert_eq!(f.sandbox.resolve("src_link/lib.rs").unwrap(), f.root.join("src/lib.rs"));
}

#[test]
fn read_write_append_delete_list() {
    let f = fixture("ops");
    let tools = all_tools();
    let sb = &f.sandbox;
    let r = sb
        .call(&call("write_file", json!({"path": "out/deep/a.txt", "content": "hello"})), &tools)
        .unwrap();
    assert_eq!(r["path"], "out/deep/a.txt");
    assert_eq!(fs::read_to_string(f.root.join("out/deep/a.txt")).unwrap(), "hello");
    sb.call(&call("append_file", json!({"path": "out/deep/a.txt", "content": " world"})), &tools)
        .unwrap();
    sb.call(&call("append_file", json!({"path": "log.txt", "content": "one\n"})), &tools)
        .unwrap();
    assert_eq!(fs::read_to_string(f.root.join("log.txt")).unwrap(), "one\n");
    let read = sb.call(&call("read_file", json!({"path": "out/deep/a.txt"})), &tools).unwrap();
    assert_eq!(read, json!({"content": "hello world"}));
    sb.call(
        &call("write_file", json!({"path": "out/deep/a.txt", "content": "replaced"})),
        &tools,
    )
    .unwrap();
    assert_eq!(fs::read_to_string(f.root.join("out/deep/a.txt")).unwrap(), "replaced");
    let listing = sb.call(&call("list_dir", json!({})), &tools).unwrap();
    let names: Vec<&str> = listing["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["log.txt", "out", "src"]);
    assert_eq!(listing["entries"][1]["kind"], "dir");
    assert_eq!(listing["entries"][0]["size"], 4);
    let sub = sb.call(&call("list_dir", json!({"path": "out/deep"})), &tools).unwrap();
    assert_eq!(sub["entries"], json!([{"name": "a.txt", "kind": "file", "size": 8}]));
    sb.call(&call("delete_file", json!({"path": "out/deep/a.txt"})), &tools).unwrap();
    assert!(!f.root.join("out/deep/a.txt").exists());
    // No temporary files are left behind by write_file.
    assert!(fs::read_dir(f.root.join("out/deep")).unwrap().next().is_none());
}

#[test]
fn tool_failures_are_not_blocks() {
    let f = fixture("fail");
    let tools = all_tools();
    let sb = &f.sandbox;
    let failed = |r: Result<Value, ToolFailure>| matches!(r, Err(ToolFailure::Failed(_)));
    assert!(failed(sb.call(&call("read_file", json!({"path": "missing.txt"})), &tools)));
    assert!(failed(sb.call(&call("read_file", json!({"path": "src"})), &tools)));
    assert!(failed(sb.call(&call("read_file", json!({})), &tools)));
    assert!(failed(sb.call(&call("write_file", json!({"path": "x.txt"})), &tools)));
    assert!(failed(sb.call(&call("write_file", json!({"path": "x.txt", "content": 3})), &tools)));
    assert!(failed(sb.call(&call("write_file", json!({"path": "src", "content": "x"})), &tools)));
    assert!(failed(sb.call(&call("delete_file", json!({"path": "src"})), &tools)));
    assert!(failed(sb.call(&call("delete_file", json!({"path": "."})), &tools)));
    assert!(failed(sb.call(&call("delete_file", json!({"path": "nothing"})), &tools)));
    assert!(failed(sb.call(&call("list_dir", json!({"path": "src/lib.rs"})), &tools)));
    assert!(f.root.join("src/lib.rs").is_file());
}

#[test]
fn tools_outside_the_workers_list_are_blocked() {
    let f = fixture("allow");
    let only_read = vec!["read_file".to_string()];
    let r = f
        .sandbox
        .call(&call("write_file", json!({"path": "a.txt", "content": "x"})), &only_read);
    match r {
        Err(ToolFailure::Blocked(b)) => {
            assert_eq!(b.rule, BlockRule::ToolNotAllowed);
            assert!(b.message.contains("write_file") && b.message.contains("read_file"), "{}", b.message);
        }
        other => panic!("{other:?}"),
    }
    assert!(!f.root.join("a.txt").exists());
    // Unknown and not declared: blocked. Declared but unknown: a failure.
    assert_eq!(
        blocked_rule(f.sandbox.call(&call("curl", json!({})), &only_read)),
        BlockRule::ToolNotAllowed
    );
    let r = f.sandbox.call(&call("curl", json!({})), &["curl".to_string()]);
    assert!(matches!(&r, Err(ToolFailure::Failed(m)) if m.contains("unknown tool")), "{r:?}");
    assert_eq!(
        blocked_rule(f.sandbox.call(&call("read_file", json!({"path": "src/lib.rs"})), &[])),
        BlockRule::ToolNotAllowed
    );
}

#[test]
fn writes_never_leave_the_root() {
    let f = fixture("escape");
    let tools = all_tools();
    let before = snapshot(&f.outside);
    let outside_abs = f.outside.join("secret.txt").display().to_string();
    let new_abs = f.outside.join("new.txt").display().to_string();
    let attempts = [
        ("write_file", json!({"path": "../outside/secret.txt", "content": "pwned"})),
        ("write_file", json!({"path": "../outside/new.txt", "content": "pwned"})),
        ("write_file", json!({"path": "src/../../outside/new.txt", "content": "pwned"})),
        ("write_file", json!({"path": outside_abs, "content": "pwned"})),
        ("write_file", json!({"path": new_abs, "content": "pwned"})),
        ("append_file", json!({"path": "../outside/secret.txt", "content": "pwned"})),
        ("append_file", json!({"path": outside_abs, "content": "pwned"})),
        ("delete_file", json!({"path": "../outside/secret.txt"})),
        ("delete_file", json!({"path": outside_abs})),
        ("read_file", json!({"path": "../outside/secret.txt"})),
        ("list_dir", json!({"path": ".."})),
        ("write_file", json!({"path": "../outside/dir/new.txt", "content": "pwned"})),
    ];
    for (tool, args) in attempts {
        let r = f.sandbox.call(&call(tool, args.clone()), &tools);
        assert_eq!(blocked_rule(r), BlockRule::PathOutsideRoot, "{tool} {args}");
    }
    assert_eq!(snapshot(&f.outside), before);
    assert!(!f.outside.join("dir").exists());
}

#[cfg(unix)]
#[test]
fn writes_through_symlinks_never_leave_the_root() {
    let f = fixture("escape-link");
    let tools = all_tools();
    symlink(&f.outside, &f.root.join("out_dir"));
    symlink(&f.outside.join("secret.txt"), &f.root.join("out_file"));
    symlink(&f.outside.join("created-by-dangling.txt"), &f.root.join("dangling"));
    let before = snapshot(&f.outside);
    let attempts = [
        ("write_file", json!({"path": "out_dir/secret.txt", "content": "pwned"})),
        ("write_file", json!({"path": "out_dir/new.txt", "content": "pwned"})),
        ("write_file", json!({"path": "out_dir/sub/new.txt", "content": "pwned"})),
        ("write_file", json!({"path": "out_file", "content": "pwned"})),
        ("write_file", json!({"path": "dangling", "content": "pwned"})),
        ("append_file", json!({"path": "out_file", "content": "pwned"})),
        ("append_file", json!({"path": "dangling", "content": "pwned"})),
        ("delete_file", json!({"path": "out_dir/secret.txt"})),
        ("delete_file", json!({"path": "out_file"})),
        ("read_file", json!({"path": "out_file"})),
        ("list_dir", json!({"path": "out_dir"})),
    ];
    for (tool, args) in attempts {
        let r = f.sandbox.call(&call(tool, args.clone()), &tools);
        assert_eq!(blocked_rule(r), BlockRule::PathOutsideRoot, "{tool} {args}");
    }
    assert_eq!(snapshot(&f.outside), before);
    assert!(!f.outside.join("created-by-dangling.txt").exists());
    assert!(fs::symlink_metadata(f.root.join("out_file")).unwrap().file_type().is_symlink());
}

#[cfg(unix)]
#[test]
fn hard_links_do_not_carry_writes_outside() {
    let f = fixture("hardlink");
    let tools = all_tools();
    let target = f.outside.join("secret.txt");
    if fs::hard_link(&target, f.root.join("linked.txt")).is_err() {
        // Filesystems without hard links have nothing to test here.
        return;
    }
    let before = snapshot(&f.outside);
    // Appending in place would change the outside file: refused.
    let r = f
        .sandbox
        .call(&call("append_file", json!({"path": "linked.txt", "content": "pwned"})), &tools);
    assert_eq!(blocked_rule(r), BlockRule::PathOutsideRoot);
    // Writing replaces the name inside the root, not the shared file.
    f.sandbox
        .call(&call("write_file", json!({"path": "linked.txt", "content": "mine"})), &tools)
        .unwrap();
    assert_eq!(fs::read_to_string(f.root.join("linked.txt")).unwrap(), "mine");
    // Deleting removes only the name inside the root.
    f.sandbox.call(&call("delete_file", json!({"path": "linked.txt"})), &tools).unwrap();
    assert_eq!(snapshot(&f.outside), before);
}

#[cfg(unix)]
#[test]
fn a_hard_link_to_an_outside_file_is_not_read() {
    let f = fixture("hardlink-read");
    let tools = all_tools();
    if fs::hard_link(f.outside.join("secret.txt"), f.root.join("linked.txt")).is_err() {
        return;
    }
    let r = f.sandbox.call(&call("read_file", json!({"path": "linked.txt"})), &tools);
    assert_eq!(blocked_rule(r), BlockRule::PathOutsideRoot);
    let r = f
        .sandbox
        .call(&call("append_file", json!({"path": "linked.txt", "content": "x"})), &tools);
    assert_eq!(blocked_rule(r), BlockRule::PathOutsideRoot);
    // Two names for one file, both inside the root: read and appended as usual.
    fs::hard_link(f.root.join("src/lib.rs"), f.root.join("lib-copy.rs")).unwrap();
    let read = f.sandbox.call(&call("read_file", json!({"path": "lib-copy.rs"})), &tools).unwrap();
    assert_eq!(read["content"], "fn main() {}\n");
    f.sandbox
        .call(&call("append_file", json!({"path": "src/lib.rs", "content": "// more\n"})), &tools)
        .unwrap();
    assert_eq!(fs::read_to_string(f.root.join("lib-copy.rs")).unwrap(), "fn main() {}\n// more\n");
}

#[cfg(unix)]
#[test]
fn write_keeps_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let f = fixture("perms");
    let script = f.root.join("run.sh");
    fs::write(&script, "#!/bin/sh\n").unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    f.sandbox
        .call(
            &call("write_file", json!({"path": "run.sh", "content": "#!/bin/sh\necho hi\n"})),
            &all_tools(),
        )
        .unwrap();
    assert_eq!(fs::metadata(&script).unwrap().permissions().mode() & 0o777, 0o755);
}
