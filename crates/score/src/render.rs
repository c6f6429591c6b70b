//! Compact human table of spec scores.

use crate::spec::SpecScore;
use std::fmt::Write;

/// Column headers of the eight categories, in LES order.
const ABBREV: [&str; 8] = ["EFF", "SPD", "CST", "ROB", "SCL", "SAF", "ADP", "AUT"];

/// Renders spec scores as a table (file, LES, the eight categories), then
/// per spec its weakest category with the main reason, the best improvement
/// and the notes. Deterministic: rows keep the given order.
pub fn render_table(scores: &[(String, SpecScore)]) -> String {
    let width = scores.iter().map(|(f, _)| f.chars().count()).max().unwrap_or(0).max(4);
    let mut out = String::new();
    let _ = write!(out, "{:<width$}  {:>5}", "FILE", "LES");
    for a in ABBREV {
        let _ = write!(out, "  {a:>4}");
    }
    out.push('\n');
    for (file, s) in scores {
        let _ = write!(out, "{file:<width$}  {:>5.1}", s.les);
        for c in &s.categories {
            let _ = write!(out, "  {:>4.2}", c.score);
        }
        out.push('\n');
    }
    for (file, s) in scores {
        let _ = writeln!(out, "\n{file}");
        // Weakest: the largest weighted shortfall w * (1 - score).
        let weakest = s.categories.iter().max_by(|a, b| {
            (a.weight * (1.0 - a.score))
                .total_cmp(&(b.weight * (1.0 - b.score)))
                .then(std::cmp::Ordering::Greater)
        });
        if let Some(c) = weakest {
            let reason = c
                .explanation
                .iter()
                .find(|l| l.starts_with("+0.00") || l.starts_with('-'))
                .or_else(|| c.explanation.first())
                .map(|l| l.trim())
                .unwrap_or("");
            let _ = writeln!(out, "  weakest: {} {:.2} (w {:.2}): {reason}", c.name, c.score, c.weight);
        }
        match &s.best_improvement {
            Some(i) => {
                let _ = writeln!(out, "  best change: {} (+{:.1} LES, {})", i.change, i.gain, i.category);
            }
            None => out.push_str("  best change: none found\n"),
        }
        if let Some(e) = &s.reference_error {
            let _ = writeln!(out, "  reference error: {e}");
        }
        for n in &s.notes {
            let _ = writeln!(out, "  note: {n}");
        }
    }
    out
}
