//! The trace model against the canonical Loop Trace 1.0 schema: the
//! friendly validator agrees with the schema's verdict on a systematic set
//! of valid and broken documents, and what the types write is valid.

use loopc_trace::{validate, IterationRecord, Trace, SCHEMA};
use serde_json::{json, Map, Value};

fn canonical() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    jsonschema::options().should_validate_formats(true).build(&schema).unwrap()
}

fn base() -> Value {
    json!({
        "trace_version": "1.0", "loop_id": "r1", "loop_name": "fix-ci", "spec_path": "spec.yaml",
        "started_at": "2026-12-01T10:00:00Z", "ended_at": "2026-12-01T10:05:00.250+01:00",
        "success": true, "termination_reason": "success", "total_cost_usd": 0.5,
        "iterations": [
            {"iteration": 1, "timestamp": "2026-12-01T10:01:00Z", "worker_id": "fixer", "worker_output": "patch",
             "evaluator_scores": {"tests": 1.0}, "cost_usd": 0.25, "feedback": ["ok"], "decision": "continue"}
        ],
        "metadata": {"runtime": "loopc"}
    })
}

/// Every document the test tries: the base, each top-level and iteration
/// field removed or given each kind of wrong value, and boundary values.
fn variants() -> Vec<Value> {
    let wrong = [
        json!(null),
        json!(true),
        json!(-1),
        json!(1.5),
        json!(""),
        json!("x"),
        json!([]),
        json!({}),
    ];
    let mut out = vec![base(), json!([]), json!("trace"), json!({})];
    let top = base();
    for key in top.as_object().unwrap().keys() {
        let mut removed = top.clone();
        removed.as_object_mut().unwrap().remove(key);
        out.push(removed);
        for w in &wrong {
            let mut v = top.clone();
            v[key] = w.clone();
            out.push(v);
        }
    }
    let record = top["iterations"][0].clone();
    for key in record.as_object().unwrap().keys() {
        let mut removed = top.clone();
        removed["iterations"][0].as_object_mut().unwrap().remove(key);
        out.push(removed);
        for w in &wrong {
            let mut v = top.clone();
            v["iterations"][0][key] = w.clone();
            out.push(v);
        }
    }
    for (pointer, value) in [
        ("/iterations/0/evaluator_scores/tests", json!("high")),
        ("/iterations/0/feedback/0", json!(3)),
        ("/iterations/0/iteration", json!(0)),
        ("/iterations/0/iteration", json!(2.0)),
        ("/started_at", json!("2026-13-01T00:00:00Z")),
        ("/started_at", json!("2026-02-30T00:00:00Z")),
        ("/started_at", json!("2026-12-01 10:00:00Z")),
        ("/started_at", json!("2026-12-01T10:00:00")),
        ("/iterations/0/timestamp", json!("2026-12-01T25:00:00Z")),
        ("/total_cost_usd", json!(0)),
    ] {
        let mut v = top.clone();
        *v.pointer_mut(pointer).unwrap() = value;
        out.push(v);
    }
    let mut empty = top.clone();
    empty["iterations"] = json!([]);
    out.push(empty);
    let mut not_record = top.clone();
    not_record["iterations"] = json!(["x"]);
    out.push(not_record);
    out
}

#[test]
fn the_validator_agrees_with_the_canonical_schema() {
    let schema = canonical();
    let mut disagreements = Vec::new();
    let cases = variants();
    for v in &cases {
        let ours = validate(v).is_empty();
        let theirs = schema.is_valid(v);
        if ours != theirs {
            disagreements.push(format!("ours {ours}, schema {theirs}: {v} {:?}", validate(v)));
        }
    }
    assert!(cases.len() > 150, "{} cases", cases.len());
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

#[test]
fn what_the_types_write_is_valid() {
    let trace = Trace {
        trace_version: loopc_trace::TRACE_VERSION.into(),
        loop_id: "r20261201T100000-0a1b2c3d".into(),
        loop_name: "fix-ci".into(),
        spec_path: Some("spec.yaml".into()),
        started_at: "2026-12-01T10:00:00.000Z".into(),
        ended_at: None,
        success: Some(false),
        termination_reason: Some("running".into()),
        total_cost_usd: Some(0.0),
        iterations: vec![IterationRecord {
            iteration: 1,
            timestamp: "2026-12-01T10:00:01.000Z".into(),
            worker_id: None,
            worker_output: None,
            evaluator_scores: Map::new(),
            cost_usd: Some(0.0),
            feedback: vec![],
            extra: Map::from_iter([("decision".to_owned(), json!("continue"))]),
        }],
        metadata: Map::new(),
        extra: Map::new(),
    };
    let value = trace.to_value();
    assert!(canonical().is_valid(&value), "{value}");
    assert!(validate(&value).is_empty());
    let back: Trace = serde_json::from_value(value).unwrap();
    assert_eq!(back, trace);
}
