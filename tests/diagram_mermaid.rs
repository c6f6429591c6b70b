//! The Mermaid that `loopc diagram` emits is read by the real `mermaid`
//! package (tests/mermaid, pinned by its package-lock.json) exactly as we
//! meant it, top-down and left-right, whole and compact: it parses, it sets
//! no Mermaid configuration, Mermaid sees the same nodes and edges as
//! `--format json`, every node class has its own text colour, Mermaid's
//! layout engine ranks every phase of an iteration (composition children
//! included) before the termination check and the exits after it, and
//! hostile spec text comes out in the labels character for character.
//!
//! Needs `node` (>= 20.19) and, on first run, the npm registry: the test runs
//! `npm ci` in tests/mermaid when its node_modules is missing or stale.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn mermaid_dir() -> PathBuf {
    root().join("tests/mermaid")
}

/// A fresh scratch directory under the target directory.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("diagram-mermaid").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

/// `node_modules` of tests/mermaid, installed with `npm ci` once per run when
/// missing or not at the versions package.json pins.
fn node_ready() {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    let ready = READY.get_or_init(|| {
        match Command::new("node").arg("--version").output() {
            Ok(o) if o.status.success() => {}
            _ => {
                return Err(
                    "`node` is not on PATH: tests/diagram_mermaid.rs parses `loopc diagram` output with the npm \
                            `mermaid` package and needs Node.js >= 20.19 (CI has node 20); install node and npm"
                        .into(),
                )
            }
        }
        let dir = mermaid_dir();
        if !support::npm_pins_installed(&dir) {
            support::npm_ci(&dir)?;
        }
        Ok(())
    });
    if let Err(e) = ready {
        panic!("{e}");
    }
}

/// The validator's verdict on some .mmd files.
struct Verdict {
    ok: bool,
    failures: Vec<String>,
    passed: usize,
    failed: usize,
    output: String,
}

fn validate(files: &[PathBuf], flags: &[&str]) -> Verdict {
    node_ready();
    // One validator at a time: each loads all of mermaid, and CI has two cores.
    static ONE: Mutex<()> = Mutex::new(());
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let out = Command::new("node")
        .arg(mermaid_dir().join("validate.mjs"))
        .args(flags)
        .args(files)
        .output()
        .expect("run node");
    let stdout = text(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default().to_owned();
    let counts: Vec<usize> = last
        .strip_prefix("mermaid-parse: ")
        .and_then(|s| s.split_once(" passed, "))
        .and_then(|(p, f)| Some(vec![p.parse().ok()?, f.strip_suffix(" failed")?.parse().ok()?]))
        .unwrap_or_else(|| panic!("validate.mjs printed no summary line:\n{stdout}{}", text(&out.stderr)));
    Verdict {
        ok: out.status.success(),
        failures: stdout.lines().filter(|l| l.starts_with("FAIL ")).map(str::to_owned).collect(),
        passed: counts[0],
        failed: counts[1],
        output: format!("{stdout}{}", text(&out.stderr)),
    }
}

fn loopc(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loopc")).args(args).output().expect("run loopc")
}

/// How a diagram is drawn: `loopc diagram` flags, and what they leave out.
struct Mode {
    name: &'static str,
    flags: &'static [&'static str],
    hide_inputs: bool,
    hide_memory: bool,
    /// Checks of the same workers merged into one node.
    merged: bool,
}

const WHOLE: Mode = Mode {
    name: "tb",
    flags: &[],
    hide_inputs: false,
    hide_memory: false,
    merged: false,
};

/// Every way the corpus is drawn.
const MODES: [Mode; 5] = [
    WHOLE,
    Mode {
        name: "lr",
        flags: &["--direction", "LR"],
        ..WHOLE
    },
    Mode {
        name: "hide",
        flags: &["--hide", "inputs,memory"],
        hide_inputs: true,
        hide_memory: true,
        merged: false,
    },
    Mode {
        name: "compact",
        flags: &["--compact"],
        hide_inputs: true,
        hide_memory: true,
        merged: true,
    },
    Mode {
        name: "compact-lr",
        flags: &["--compact", "--direction", "LR"],
        hide_inputs: true,
        hide_memory: true,
        merged: true,
    },
];

/// `loopc diagram SPEC -o OUT FLAGS` (and the JSON graph beside it); false
/// when the spec does not parse.
fn diagram(spec: &Path, out: &Path, flags: &[&str]) -> bool {
    let mut args: Vec<&std::ffi::OsStr> = vec!["diagram".as_ref(), spec.as_os_str(), "-o".as_ref(), out.as_os_str()];
    args.extend(flags.iter().map(std::ffi::OsStr::new));
    let o = loopc(&args);
    if !o.status.success() {
        eprintln!(
            "skipped {}: `loopc diagram` exited {:?}: {}",
            spec.display(),
            o.status.code(),
            text(&o.stderr)
        );
        return false;
    }
    let json = loopc(&["diagram".as_ref(), spec.as_os_str(), "--format".as_ref(), "json".as_ref()]);
    assert!(json.status.success(), "{}", text(&json.stderr));
    std::fs::write(out.with_extension("graph.json"), &json.stdout).unwrap();
    true
}

fn yaml_files(dir: &Path, into: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            yaml_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            into.push(path);
        }
    }
}

/// A YAML double-quoted scalar holding exactly `s`.
fn yq(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A single-loop spec whose every free-text field the diagram shows is
/// taken from `t` (ids, input name, model, memory and optimizer types,
/// feedback id and condition, metric name).
fn hostile_loop(t: &BTreeMap<&str, String>) -> String {
    let q = |k: &str| yq(&t[k]);
    let w1 = &t["worker"];
    let w2 = &t["worker2"];
    let ev = &t["evaluator"];
    format!(
        r#"loop_name: {name}
version: "1.0.0"
objective: Draw hostile text.
inputs:
  schema:
    {input}:
      type: string
      required: true
memory:
  type: {memory}
  write_policy:
    allowed_writers: [{w1q}]
workers:
  - id: {w1q}
    role: first
    model:
      provider: {provider}
      name: {model}
    inputs:
      - from: {from_input}
    outputs: {{name: a, format: text}}
  - id: {w2q}
    role: second
    depends_on: [{w1q}]
    inputs:
      - from: {from_memory}
    outputs: {{name: b, format: text}}
evaluators:
  - id: {evq}
    type: llm_rubric
    runs_after: ["*"]
feedback_channels:
  - id: {channel}
    source: {fb_source}
    destination: {fb_dest}
    when: {when}
optimization_strategy:
  type: {optimizer}
  max_steps: 3
  refinement_target: {refine}
metrics:
  - name: {metric}
    source: {fb_source}
termination_conditions:
  success:
    - metric: {metric}
      operator: gte
      value: 0.8
  failure:
    - type: max_iterations
      value: 5
      action: escalate_human
"#,
        name = q("name"),
        input = q("input"),
        memory = q("memory"),
        w1q = yq(w1),
        w2q = yq(w2),
        evq = yq(ev),
        provider = q("provider"),
        model = q("model"),
        from_input = yq(&format!("inputs.{}", t["input"])),
        from_memory = yq(&format!("memory.{}", t["input"])),
        channel = q("channel"),
        fb_source = yq(&format!("evaluators.{ev}")),
        fb_dest = yq(&format!("workers.{w2}")),
        when = q("when"),
        optimizer = q("optimizer"),
        refine = yq(&format!("workers.{w1}")),
        metric = q("metric"),
    )
}

/// A sequential composition with hostile child ids, references and adapter
/// targets.
fn hostile_composition(child1: &str, child2: &str, reference: &str, port: &str) -> String {
    format!(
        r#"loop_name: hostile-composition
version: "1.0.0"
objective: Draw hostile children.
workers:
  - id: root
    role: root
    outputs: {{name: r, format: text}}
evaluators:
  - id: gate
    type: deterministic
    runs_after: [root]
termination_conditions:
  failure:
    - type: max_iterations
      value: 2
      action: halt
composition:
  type: sequential
  children:
    - id: {c1}
      ref: {r}
      role: stage
    - id: {c2}
      ref: ../plain.yaml
      role: stage
  adapters:
    - from: {from}
      to: {to}
"#,
        c1 = yq(child1),
        c2 = yq(child2),
        r = yq(reference),
        from = yq(&format!("children.{child1}.outputs.out")),
        to = yq(&format!("children.{child2}.inputs.{port}")),
    )
}

const HOSTILE: &str = "we \"quote\" 'single' <b>bold</b> <script>alert(1)</script> #1 #quot; &lt; &amp; |pipe| `tick` [x] {y} (z) ;";
const ARROWS: &str = "a --> b -.-> c ==> d ::: end %% subgraph ]] )) }} /] \\ \t tab";
const UNICODE: &str = "ünïcødé 模型 العربية 🚀👩‍💻 e\u{301} \u{200b}zw \u{a0}nbsp";
/// The end of HOSTILE on its own, so that labels stay under the renderer's
/// 60-character clip and every character is checked verbatim.
const HOSTILE_TAIL: &str = "#1 #quot; &lt; &amp; |pipe| `tick` [x] {y} (z) ;";

fn cases() -> Vec<(&'static str, String)> {
    let hostile: BTreeMap<&str, String> = [
        ("name", format!("hostile {HOSTILE}")),
        ("input", format!("in {HOSTILE}")),
        ("memory", format!("mem {ARROWS}")),
        ("worker", format!("w1 {HOSTILE}")),
        ("worker2", "end".to_owned()),
        ("provider", format!("prov {ARROWS}")),
        ("model", format!("model {UNICODE}")),
        ("evaluator", format!("ev {ARROWS}")),
        ("channel", format!("fb {HOSTILE}")),
        (
            "when",
            "score < 0.8 && passed != \"yes\" || x > y # not a comment `code` |a|b|".to_owned(),
        ),
        ("optimizer", format!("opt {UNICODE}")),
        ("metric", format!("metric {HOSTILE}")),
    ]
    .into();
    let long_word = "x".repeat(400);
    let long_text = "the quick brown fox jumps over the lazy dog ".repeat(25);
    let long: BTreeMap<&str, String> = [
        ("name", long_text.clone()),
        ("input", long_word.clone()),
        ("memory", long_word.clone()),
        ("worker", format!("worker_{long_word}")),
        ("worker2", long_text.trim().to_owned()),
        ("provider", long_word.clone()),
        ("model", long_text.clone()),
        ("evaluator", long_text.trim().to_owned()),
        ("channel", long_word.clone()),
        ("when", long_text.clone()),
        ("optimizer", long_text.clone()),
        ("metric", long_word.clone()),
    ]
    .into();
    let unicode: BTreeMap<&str, String> = hostile.keys().map(|&k| (k, format!("{k} {UNICODE}"))).collect();
    let tail: BTreeMap<&str, String> = hostile
        .keys()
        .map(|&k| {
            (
                k,
                if k == "worker2" {
                    "end".to_owned()
                } else {
                    format!("{k} {HOSTILE_TAIL}")
                },
            )
        })
        .collect();
    vec![
        ("hostile-text", hostile_loop(&hostile)),
        ("hostile-tail", hostile_loop(&tail)),
        ("long-text", hostile_loop(&long)),
        ("unicode-text", hostile_loop(&unicode)),
        (
            "hostile-composition",
            hostile_composition(
                &format!("c1 {HOSTILE}"),
                &format!("c2 {UNICODE}"),
                &format!("../{ARROWS}.yaml"),
                &format!("port {HOSTILE}"),
            ),
        ),
    ]
}

fn parsed(mmd: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(format!("{}.parsed.json", mmd.display())).unwrap()).unwrap()
}

fn list(v: &Value, k: &str) -> Vec<Value> {
    v[k].as_array().cloned().unwrap_or_default()
}

/// Check what Mermaid read against what `--format json` says the graph is,
/// less what `mode` leaves out.
fn check_structure(mmd: &Path, mode: &Mode, problems: &mut Vec<String>) {
    let parsed = parsed(mmd);
    let graph: Value = serde_json::from_str(&std::fs::read_to_string(mmd.with_extension("graph.json")).unwrap()).unwrap();
    let kind = |id: &Value| {
        list(&graph, "nodes")
            .into_iter()
            .find(|n| n["id"] == *id)
            .map(|n| n["kind"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_default()
    };
    let hidden = |id: &Value| match kind(id).as_str() {
        "input" => mode.hide_inputs,
        "memory" => mode.hide_memory,
        _ => false,
    };
    let edges: Vec<Value> = list(&graph, "edges")
        .into_iter()
        .filter(|e| !hidden(&e["from"]) && !hidden(&e["to"]))
        .collect();
    // What the renderer draws differently from the graph, on purpose: an
    // optimizer with no edges is left out; a worker's memory read and write
    // are one two-headed edge; when an iteration starts at several phases,
    // the loop goes back to one `start` node that leads to each of them; and
    // phases that lead nowhere get an invisible link to the termination
    // check. Subgraphs that get a `style` line are vertices to Mermaid's
    // database; they are not phases.
    let nodes: Vec<Value> = list(&graph, "nodes").into_iter().filter(|n| !hidden(&n["id"])).collect();
    let idle = nodes
        .iter()
        .filter(|n| n["kind"] == "optimizer" && !list(&graph, "edges").iter().any(|e| e["from"] == n["id"] || e["to"] == n["id"]))
        .count();
    let merged = edges
        .iter()
        .filter(|e| e["kind"] == "write" && e["to"] == "memory")
        .filter(|w| {
            edges
                .iter()
                .any(|r| r["kind"] == "data" && r["from"] == "memory" && r["to"] == w["from"])
        })
        .count();
    let fan_out = usize::from(edges.iter().filter(|e| e["kind"] == "next_iteration").count() > 1);
    let subgraphs: Vec<Value> = list(&parsed, "subgraphs").iter().map(|s| s["id"].clone()).collect();
    let vertices: Vec<Value> = list(&parsed, "vertices")
        .into_iter()
        .filter(|v| !subgraphs.contains(&v["id"]))
        .collect();
    let (invisible, drawn): (Vec<Value>, Vec<Value>) = list(&parsed, "edges").into_iter().partition(|e| e["stroke"] == "invisible");
    let decide = vertices.iter().find(|v| v["classes"][0] == "decide").map(|v| v["id"].clone());
    if invisible.iter().any(|e| Some(&e["end"]) != decide.as_ref()) {
        problems.push(format!(
            "{}: an invisible link that does not end at the termination check",
            mmd.display()
        ));
    }
    if mode.merged {
        // Merged checks are one node: count the phases that are not checks.
        let want = nodes.iter().filter(|n| n["kind"] != "evaluator").count() - idle + fan_out;
        let got = vertices.iter().filter(|v| v["classes"][0] != "evaluator").count();
        if got != want {
            problems.push(format!(
                "{}: Mermaid reads {got} nodes besides checks; the graph has {want}",
                mmd.display()
            ));
        }
        return;
    }
    let (want_vertices, want_edges) = (nodes.len() - idle + fan_out, edges.len() - merged + fan_out);
    if vertices.len() != want_vertices || drawn.len() != want_edges {
        problems.push(format!(
            "{}: Mermaid reads {} nodes and {} edges; the phase graph, as drawn, has {} and {}",
            mmd.display(),
            vertices.len(),
            drawn.len(),
            want_vertices,
            want_edges
        ));
    }
    let source = std::fs::read_to_string(mmd).unwrap();
    if source.contains('\r') {
        problems.push(format!(
            "{}: a carriage return in the output (Mermaid reads it as a line break)",
            mmd.display()
        ));
    }
}

/// Where Mermaid's layout puts each phase: along the flow, every worker,
/// check and composition child comes before the termination check (they
/// run in the iteration it ends) and every exit after it.
fn check_placement(mmd: &Path, problems: &mut Vec<String>) {
    let parsed = parsed(mmd);
    let axis = if std::fs::read_to_string(mmd).unwrap().starts_with("flowchart LR") {
        "x"
    } else {
        "y"
    };
    let at = |id: &Value| parsed["layout"][id.as_str().unwrap_or_default()][axis].as_f64();
    let vertices = list(&parsed, "vertices");
    let class = |v: &Value| v["classes"][0].as_str().unwrap_or_default().to_owned();
    let Some(decide) = vertices.iter().find(|v| class(v) == "decide").and_then(|v| at(&v["id"])) else {
        return;
    };
    for v in &vertices {
        let Some(pos) = at(&v["id"]) else { continue };
        let wrong = match class(v).as_str() {
            "worker" | "evaluator" | "child" => pos >= decide,
            "success" | "halt" | "escalate" => pos <= decide,
            _ => false,
        };
        if wrong {
            problems.push(format!(
                "{}: {} ({:?}) is at {axis} = {pos}, the termination check at {decide}",
                mmd.display(),
                v["id"],
                v["text"]
            ));
        }
    }
}

/// Every node class sets its fill, border and text colour: Mermaid's dark
/// theme (GitHub's dark mode) would draw light text on the light fills.
fn check_classes(mmd: &Path, problems: &mut Vec<String>) {
    let parsed = parsed(mmd);
    for v in list(&parsed, "vertices") {
        for class in v["classes"].as_array().into_iter().flatten() {
            let styles: Vec<String> = list(&parsed["classes"], class.as_str().unwrap_or_default())
                .iter()
                .map(|s| s.as_str().unwrap_or_default().to_owned())
                .collect();
            for key in ["fill:", "stroke:", "color:"] {
                if !styles.iter().any(|s| s.starts_with(key)) {
                    problems.push(format!("{}: class {class} of {} sets no {key} {styles:?}", mmd.display(), v["id"]));
                }
            }
        }
    }
}

/// What the renderer shows of a text: control characters as spaces, lines
/// over 60 characters cut to 59 and `…`.
fn as_shown(text: &str) -> String {
    let text: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if text.chars().count() <= 60 {
        text
    } else {
        text.chars().take(59).collect::<String>() + "…"
    }
}

/// Every piece of spec text must be shown verbatim, as the renderer clips it.
fn check_labels(mmd: &Path, wanted: &[String], problems: &mut Vec<String>) {
    let parsed: Value = serde_json::from_str(&std::fs::read_to_string(format!("{}.parsed.json", mmd.display())).unwrap()).unwrap();
    let mut shown: Vec<String> = Vec::new();
    for (list, key) in [("vertices", "text"), ("edges", "text"), ("subgraphs", "title")] {
        for item in parsed[list].as_array().into_iter().flatten() {
            shown.extend(item[key].as_str().unwrap_or_default().split("<br>").map(str::to_owned));
        }
    }
    for w in wanted {
        let w = as_shown(w);
        if !shown.iter().any(|s| s.contains(&w)) {
            problems.push(format!("{}: no label shows {w:?}; labels are {shown:?}", mmd.display()));
        }
    }
}

#[test]
fn validator_rejects_broken_mermaid() {
    let mut negative = Vec::new();
    for entry in std::fs::read_dir(mermaid_dir().join("negative")).unwrap() {
        negative.push(entry.unwrap().path());
    }
    negative.sort();
    assert!(negative.len() >= 8, "tests/mermaid/negative lost its cases");
    let v = validate(&negative, &["--forbid-config"]);
    assert!(!v.ok, "validate.mjs exited 0 on broken diagrams:\n{}", v.output);
    assert_eq!(
        (v.passed, v.failed),
        (0, negative.len()),
        "every negative case must fail:\n{}",
        v.output
    );

    let mut positive: Vec<PathBuf> = std::fs::read_dir(mermaid_dir().join("positive"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    positive.sort();
    let v = validate(&positive, &[]);
    assert!(v.ok && v.failed == 0 && v.passed == positive.len(), "{}", v.output);
}

#[test]
fn every_diagram_parses_as_mermaid() {
    let mut specs = Vec::new();
    yaml_files(&root().join("loop-library"), &mut specs);
    let shared = root().join("../shared/conformance/public");
    yaml_files(&shared, &mut specs);
    let mut mmd = Vec::new();
    let mut corpus: Vec<(PathBuf, &Mode)> = Vec::new();
    for mode in &MODES {
        let dir = scratch(&format!("specs-{}", mode.name));
        let before = corpus.len();
        for spec in &specs {
            let rel = spec
                .strip_prefix(root())
                .map_or_else(|_| spec.strip_prefix(root().join("..")).unwrap().to_path_buf(), Path::to_path_buf);
            let name = rel.to_string_lossy().replace(['/', '\\'], "__").replace("..", "up");
            let out = dir.join(format!("{name}.mmd"));
            if diagram(spec, &out, mode.flags) {
                mmd.push(out.clone());
                corpus.push((out, mode));
            }
        }
        assert!(
            corpus.len() - before >= 30,
            "only {} {} diagrams from {} specs (is ../shared/conformance/public at {}?)",
            corpus.len() - before,
            mode.name,
            specs.len(),
            shared.display()
        );
    }

    let adversarial = scratch("adversarial");
    let mut labelled = Vec::new();
    for (name, yaml) in cases() {
        let spec = adversarial.join(format!("{name}.yaml"));
        std::fs::write(&spec, &yaml).unwrap();
        let out = adversarial.join(format!("{name}.mmd"));
        assert!(diagram(&spec, &out, &[]), "generated spec {} does not parse", spec.display());
        labelled.push(out.clone());
        corpus.push((out.clone(), &WHOLE));
        mmd.push(out);
    }

    let v = validate(&mmd, &["--forbid-config", "--dump"]);
    eprintln!("{}", v.output.lines().last().unwrap_or_default());
    assert!(
        v.ok && v.failed == 0,
        "Mermaid rejects `loopc diagram` output:\n{}",
        v.failures.join("\n")
    );
    assert_eq!(v.passed, mmd.len());

    let mut problems = Vec::new();
    for (f, mode) in &corpus {
        check_structure(f, mode, &mut problems);
        check_placement(f, &mut problems);
        check_classes(f, &mut problems);
    }
    let hostile = adversarial.join("hostile-text.mmd");
    check_labels(
        &hostile,
        &[
            format!("input: in {HOSTILE}"),
            format!("worker: w1 {HOSTILE}"),
            "worker: end".into(),
            format!("prov {ARROWS}/model {UNICODE}"),
            format!("check: ev {ARROWS}"),
            format!("memory (mem {ARROWS})"),
            // The optimizer refines nothing in this loop, so it is not drawn.
            format!("metric {HOSTILE}"),
            format!("fb {HOSTILE} when score < 0.8 && passed != \"yes\" || x > y # not a comment `code` |a|b|"),
        ],
        &mut problems,
    );
    check_labels(
        &adversarial.join("hostile-composition.mmd"),
        &[
            format!("stage: c1 {HOSTILE}"),
            format!("../{ARROWS}.yaml"),
            format!("stage: c2 {UNICODE}"),
            format!("out → port {HOSTILE}"),
        ],
        &mut problems,
    );
    check_labels(
        &adversarial.join("hostile-tail.mmd"),
        &[
            format!("input: input {HOSTILE_TAIL}"),
            format!("worker: worker {HOSTILE_TAIL}"),
            "worker: end".into(),
            format!("check: evaluator {HOSTILE_TAIL}"),
            format!("memory (memory {HOSTILE_TAIL})"),
            format!("metric {HOSTILE_TAIL}"),
        ],
        &mut problems,
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Spec text that has broken the diagram before: empty labels, line breaks
/// and directives in the title comment, Mermaid's own `style…:#…;` rewrite.
#[test]
fn spec_text_cannot_break_the_diagram() {
    let dir = scratch("edge-cases");
    let plain = |name: &str, version: &str, channel: Option<&str>, metric: &str| {
        let channel = channel.map_or_else(String::new, |c| format!("    id: {}\n", yq(c)));
        format!(
            "loop_name: {}\nversion: {}\nobjective: x\nworkers:\n  - id: w\n    role: r\n    outputs: {{name: o, format: text}}\n\
             evaluators:\n  - id: e\n    type: deterministic\n    runs_after: [w]\nfeedback_channels:\n  - source: evaluators.e\n    destination: workers.w\n{channel}\
             metrics:\n  - name: {}\n    source: evaluators.e\ntermination_conditions:\n  failure:\n    - type: max_iterations\n      value: 3\n      action: halt\n",
            yq(name),
            yq(version),
            yq(metric)
        )
    };
    let cases = [
        ("feedback-without-id", plain("x", "1", None, "m"), vec![]),
        ("empty-metric-name", plain("x", "1", Some("fb"), ""), vec![]),
        ("cr-in-version", plain("x", "1.0\rn0 --> n0", Some("fb"), "m"), vec![]),
        ("cr-in-name", plain("x\rflowchart LR\r", "1", Some("fb"), "m"), vec![]),
        (
            "directive-in-name",
            plain(
                "x %%{init: {\"theme\": \"dark\", \"flowchart\": {\"curve\": \"step\"}}}%%",
                "1",
                Some("fb"),
                "m",
            ),
            vec![],
        ),
        (
            "style-rewrite",
            plain("x", "1", Some("style:#a; classDef:#b;"), "m"),
            vec!["style:#a; classDef:#b;".to_owned()],
        ),
    ];
    let mut files = Vec::new();
    for (name, yaml, _) in &cases {
        let spec = dir.join(format!("{name}.yaml"));
        std::fs::write(&spec, yaml).unwrap();
        let out = dir.join(format!("{name}.mmd"));
        assert!(diagram(&spec, &out, &[]), "generated spec {} does not parse", spec.display());
        files.push(out);
    }
    let v = validate(&files, &["--forbid-config", "--dump"]);
    let mut problems = v.failures.clone();
    for (file, (_, _, wanted)) in files.iter().zip(&cases) {
        if Path::new(&format!("{}.parsed.json", file.display())).exists() {
            check_structure(file, &WHOLE, &mut problems);
            check_labels(file, wanted, &mut problems);
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s) in {} edge cases:\n{}",
        problems.len(),
        files.len(),
        problems.join("\n")
    );
}

/// Where each composition child is along the flow, and where the
/// termination check is, as Mermaid's layout engine places them.
fn children_and_check(mmd: &Path) -> (Vec<(String, f64)>, f64) {
    let parsed = parsed(mmd);
    let axis = if std::fs::read_to_string(mmd).unwrap().starts_with("flowchart LR") {
        "x"
    } else {
        "y"
    };
    let at = |id: &Value| parsed["layout"][id.as_str().unwrap()][axis].as_f64().unwrap();
    let of = |class: &str| -> Vec<(String, f64)> {
        list(&parsed, "vertices")
            .iter()
            .filter(|v| v["classes"][0] == class)
            .map(|v| (v["text"].as_str().unwrap().to_owned(), at(&v["id"])))
            .collect()
    };
    (of("child"), of("decide")[0].1)
}

/// Composition children run first in each iteration of the parent, before
/// its workers and so before the termination check: in every composition
/// spec, top-down, left-right and compact, Mermaid ranks each child before
/// `terminate?`. The same measure finds the children below it in the
/// diagram loopc drew before (tests/mermaid/misplaced).
#[test]
fn composition_children_are_drawn_before_the_termination_check() {
    let dir = scratch("compositions");
    let mut specs = Vec::new();
    yaml_files(&root().join("loop-library/compositions"), &mut specs);
    yaml_files(&root().join("../shared/conformance/public"), &mut specs);
    specs.retain(|s| std::fs::read_to_string(s).unwrap().contains("\ncomposition:"));
    assert!(specs.len() >= 6, "composition specs: {specs:?}");
    let mut files = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        for (name, flags) in [("tb", &[][..]), ("lr", &["--direction", "LR"][..]), ("compact", &["--compact"][..])] {
            let out = dir.join(format!("{i}-{name}.mmd"));
            assert!(diagram(spec, &out, flags), "{}", spec.display());
            files.push((spec, out));
        }
    }
    let misplaced = dir.join("misplaced.mmd");
    std::fs::copy(mermaid_dir().join("misplaced/children-below-the-check.mmd"), &misplaced).unwrap();
    let mut all: Vec<PathBuf> = files.iter().map(|(_, f)| f.clone()).collect();
    all.push(misplaced.clone());
    let v = validate(&all, &["--dump"]);
    assert!(v.ok, "{}", v.output);

    let mut with_children = 0;
    for (spec, file) in &files {
        let (children, check) = children_and_check(file);
        with_children += usize::from(!children.is_empty());
        for (child, at) in &children {
            assert!(
                at < &check,
                "{} ({}): child {child:?} at {at}, terminate? at {check}",
                spec.display(),
                file.display()
            );
        }
    }
    assert!(with_children >= 3 * 6, "only {with_children} diagrams draw children");
    let (children, check) = children_and_check(&misplaced);
    assert_eq!(children.len(), 2);
    assert!(
        children.iter().all(|(_, at)| *at > check),
        "the old layout had both children below: {children:?} vs {check}"
    );
}
