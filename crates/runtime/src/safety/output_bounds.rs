//! `output_bounds`: sizes of an output — `max_chars`, `max_bytes`,
//! `max_lines`, `max_items` (any array), `max_lines_changed` (`+`/`-` lines
//! of a unified diff) — and `forbidden_paths` (globs, see
//! [`super::glob_match`]) that `write_file`, `append_file` and
//! `delete_file` may not touch. A non-string output is measured as compact
//! JSON; its lines are the lines of its strings. A `strip` cuts a string
//! (ending in `[REDACTED]` when that fits) or drops excess array items.

use std::path::Path;

use loopc_plan::OutputBounds as Bounds;
use serde_json::Value;

use super::constraint::{Constraint, Context, Found};
use super::secrets::REDACTED;
use super::{glob_match, json_path_child};
use crate::executor::ToolCall;

/// Tool calls whose `path` argument `forbidden_paths` guards.
pub const PATH_WRITING_TOOLS: &[&str] = &["write_file", "append_file", "delete_file"];

pub(crate) struct OutputBounds {
    bounds: Bounds,
}

impl OutputBounds {
    pub fn new(config: &Bounds) -> Result<Self, String> {
        if !config.has_size_bounds() && config.forbidden_paths.is_empty() {
            return Err("sets no bound: give one of max_chars, max_bytes, max_lines, max_items, max_lines_changed, forbidden_paths".into());
        }
        Ok(OutputBounds { bounds: config.clone() })
    }
}

impl Constraint for OutputBounds {
    fn guards_tool_calls(&self) -> bool {
        !self.bounds.forbidden_paths.is_empty()
    }

    fn tool_call(&self, cx: &Context<'_>, call: &ToolCall) -> Option<Found> {
        if !PATH_WRITING_TOOLS.contains(&call.tool.as_str()) {
            return None;
        }
        let path = call.args.get("path")?.as_str()?;
        let candidates = relative_paths(cx.root, path);
        let pattern = self
            .bounds
            .forbidden_paths
            .iter()
            .find(|p| candidates.iter().any(|rel| glob_match(p, rel)))?;
        Some(Found::new(format!(
            "`{}` on `{path}` touches forbidden path `{pattern}`",
            call.tool
        )))
    }

    fn guards_changes(&self) -> bool {
        !self.bounds.forbidden_paths.is_empty() || self.bounds.max_lines_changed.is_some()
    }

    /// `forbidden_paths` on every path a tool call (a command above all)
    /// changed, and `max_lines_changed` on the lines it changed in all.
    fn changes(&self, _cx: &Context<'_>, changes: &[crate::tools::changes::Change]) -> Option<Found> {
        for c in changes {
            if let Some(pattern) = self.bounds.forbidden_paths.iter().find(|p| glob_match(p, &c.path)) {
                return Some(Found::new(format!(
                    "a tool call changed `{}`, a forbidden path (`{pattern}`)",
                    c.path
                )));
            }
        }
        let max = self.bounds.max_lines_changed?;
        let lines: u64 = changes.iter().map(|c| c.lines()).sum();
        (lines > max).then(|| {
            Found::new(format!(
                "a tool call changed {lines} lines in {} file(s), more than max_lines_changed {max}",
                changes.len()
            ))
        })
    }

    fn output(&self, cx: &Context<'_>, value: &Value) -> Option<Found> {
        if !self.bounds.has_size_bounds() {
            return None;
        }
        let problems = bound_violations(&self.bounds, value);
        if problems.is_empty() {
            return None;
        }
        Some(Found {
            redacted: if cx.strips() { cut_to_bounds(&self.bounds, value) } else { None },
            ..Found::new(format!("output exceeds its bounds: {}", problems.join("; ")))
        })
    }
}

/// The root-relative spellings of a tool path: lexical, and through symlinks.
fn relative_paths(root: &Path, path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let p = Path::new(path);
    let lexical = if p.is_absolute() {
        p.strip_prefix(root).ok().map(Path::to_path_buf)
    } else {
        Some(p.to_path_buf())
    };
    if let Some(rel) = lexical {
        let mut segs: Vec<String> = Vec::new();
        for c in rel.components() {
            match c {
                std::path::Component::Normal(n) => segs.push(n.to_string_lossy().into_owned()),
                std::path::Component::ParentDir => {
                    segs.pop();
                }
                _ => {}
            }
        }
        out.push(segs.join("/"));
    }
    if let Ok(resolved) = crate::tools::resolve_in(root, path) {
        if let Ok(rel) = resolved.strip_prefix(root) {
            let rel = rel.to_string_lossy().replace('\\', "/");
            if !out.contains(&rel) {
                out.push(rel);
            }
        }
    }
    out
}

struct Measure {
    chars: u64,
    bytes: u64,
    lines: u64,
}

fn measure(value: &Value) -> Measure {
    match value {
        Value::String(s) => Measure {
            chars: s.chars().count() as u64,
            bytes: s.len() as u64,
            lines: unix_lines(s).lines().count() as u64,
        },
        other => {
            let text = other.to_string();
            let mut lines = 0;
            visit_strings(other, &mut |s| lines += unix_lines(s).lines().count() as u64);
            Measure {
                chars: text.chars().count() as u64,
                bytes: text.len() as u64,
                lines,
            }
        }
    }
}

/// `s` with every line ending as `\n`: `\r\n` and a lone `\r` end a line
/// too (as editors, terminals and YAML count them), and `str::lines` does
/// not split at a lone `\r`, which would let a thousand lines pass as one.
fn unix_lines(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('\r') {
        std::borrow::Cow::Owned(s.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

fn visit_strings(value: &Value, f: &mut dyn FnMut(&str)) {
    match value {
        Value::String(s) => f(s),
        Value::Array(items) => items.iter().for_each(|v| visit_strings(v, f)),
        Value::Object(map) => map.values().for_each(|v| visit_strings(v, f)),
        _ => {}
    }
}

/// Path and length of the first array longer than `max`.
fn long_array(value: &Value, path: &str, max: u64) -> Option<(String, usize)> {
    match value {
        Value::Array(items) => {
            if items.len() as u64 > max {
                return Some((path.to_owned(), items.len()));
            }
            items
                .iter()
                .enumerate()
                .find_map(|(i, v)| long_array(v, &format!("{path}[{i}]"), max))
        }
        Value::Object(map) => map.iter().find_map(|(k, v)| long_array(v, &json_path_child(path, k), max)),
        _ => None,
    }
}

/// `+`/`-` lines of unified diffs in the output's strings (not `+++`/`---` headers).
fn lines_changed(value: &Value) -> u64 {
    let mut n = 0;
    visit_strings(value, &mut |s| {
        n += unix_lines(s)
            .lines()
            .filter(|l| (l.starts_with('+') && !l.starts_with("+++")) || (l.starts_with('-') && !l.starts_with("---")))
            .count() as u64;
    });
    n
}

fn bound_violations(b: &Bounds, value: &Value) -> Vec<String> {
    let m = measure(value);
    let mut out = Vec::new();
    let mut over = |name: &str, actual: u64, max: Option<u64>, unit: &str| {
        if let Some(max) = max {
            if actual > max {
                out.push(format!("{actual} {unit}, more than {name} {max}"));
            }
        }
    };
    over("max_chars", m.chars, b.max_chars, "characters");
    over("max_bytes", m.bytes, b.max_bytes, "bytes");
    over("max_lines", m.lines, b.max_lines, "lines");
    if b.max_lines_changed.is_some() {
        over("max_lines_changed", lines_changed(value), b.max_lines_changed, "changed lines");
    }
    if let Some(max) = b.max_items {
        if let Some((path, len)) = long_array(value, "$", max) {
            out.push(format!("array at {path} has {len} items, more than max_items {max}"));
        }
    }
    out
}

fn within(b: &Bounds, value: &Value) -> bool {
    bound_violations(b, value).is_empty()
}

/// The output cut down to its bounds, where that is meaningful: a string is
/// truncated (ending in `[REDACTED]` when that fits), arrays lose their
/// excess items. `None` when the result would still break a bound.
fn cut_to_bounds(b: &Bounds, value: &Value) -> Option<Value> {
    if b.max_lines_changed.is_some_and(|max| lines_changed(value) > max) {
        return None;
    }
    match value {
        Value::String(s) => {
            let chars: Vec<(usize, char)> = s.char_indices().collect();
            for marker in [REDACTED, ""] {
                let fits = |k: usize| {
                    let end = chars.get(k).map(|(i, _)| *i).unwrap_or(s.len());
                    within(b, &Value::String(format!("{}{marker}", &s[..end])))
                };
                if !fits(0) {
                    continue;
                }
                let (mut lo, mut hi) = (0usize, chars.len());
                while lo < hi {
                    let mid = (lo + hi).div_ceil(2);
                    if fits(mid) {
                        lo = mid;
                    } else {
                        hi = mid - 1;
                    }
                }
                let end = chars.get(lo).map(|(i, _)| *i).unwrap_or(s.len());
                return Some(Value::String(format!("{}{marker}", &s[..end])));
            }
            None
        }
        other => {
            let max = b.max_items?;
            let cut = truncate_arrays(other, max as usize);
            within(b, &cut).then_some(cut)
        }
    }
}

fn truncate_arrays(value: &Value, max: usize) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().take(max).map(|v| truncate_arrays(v, max)).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), truncate_arrays(v, max))).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_line_ending_counts() {
        for (text, lines) in [
            ("a\nb\nc", 3),
            ("a\r\nb\r\n", 2),
            ("a\rb\rc\r", 3),
            ("a\r\rb", 3),
            ("", 0),
            ("one", 1),
        ] {
            assert_eq!(measure(&json!(text)).lines, lines, "{text:?}");
        }
        let diff = "--- a/f\r+++ b/f\r@@ -1 +1,3 @@\r-old\r+new\r+more\r+again";
        assert_eq!(lines_changed(&json!(diff)), 4, "a diff with lone CRs is still counted");
        assert_eq!(lines_changed(&json!({"patch": diff.replace('\r', "\n")})), 4);
    }
}
