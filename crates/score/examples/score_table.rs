//! Prints the human table ([`loopc_score::render_table`]) for JSON spec
//! files; `--parity` scores with reference parity, `--json` prints the
//! full `SpecScore` of each file instead.
//!
//! ```text
//! cargo run -p loopc-score --example score_table -- [--parity] [--json] a.json b.json
//! ```

use loopc_score::{render_table, score_spec, SpecScoreOptions};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = SpecScoreOptions {
        reference_parity: args.iter().any(|a| a == "--parity"),
    };
    let as_json = args.iter().any(|a| a == "--json");
    let mut rows = Vec::new();
    for path in args.iter().filter(|a| !a.starts_with("--")) {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        let score = score_spec(&doc, &opts);
        if as_json {
            println!("{}", serde_json::to_string_pretty(&score).expect("serializable"));
        }
        rows.push((path.clone(), score));
    }
    if !as_json {
        print!("{}", render_table(&rows));
    }
}
