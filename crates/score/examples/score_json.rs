//! Scores JSON spec files; prints one JSON line per file:
//! `{"file", "les", "parity_les", "reference_error", "notes"}`.
//!
//! `les` is the default (corrected) score, `parity_les` the reference-parity
//! score (`null` when the reference `loopctl score` would fail). Used by
//! `bench/score/differential.py`.
//!
//! ```text
//! cargo run -p loopc-score --example score_json -- a.json b.json
//! ```

use loopc_score::{score_spec, SpecScoreOptions};
use serde_json::{json, Value};

fn main() {
    for path in std::env::args().skip(1) {
        let line = match std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<Value>(&t).map_err(|e| e.to_string()))
        {
            Err(e) => json!({"file": path, "error": e}),
            Ok(doc) => {
                let def = score_spec(&doc, &SpecScoreOptions { reference_parity: false });
                let par = score_spec(&doc, &SpecScoreOptions { reference_parity: true });
                json!({
                    "file": path,
                    "les": def.les,
                    "parity_les": if par.reference_error.is_some() { Value::Null } else { json!(par.les) },
                    "reference_error": par.reference_error,
                    "notes": def.notes,
                })
            }
        };
        println!("{line}");
    }
}
