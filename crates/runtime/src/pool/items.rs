//! Reading work items: a JSON array, JSON lines, or CSV, each item an
//! object with an `id`, an optional `priority` and `labels`, its inputs and
//! any other metadata.

use serde_json::{Map, Value};

/// One work item as read.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// The id as text (a number id `42` is `"42"`).
    pub id: String,
    pub priority: Option<f64>,
    pub labels: Vec<String>,
    /// Every field of the item (labels normalised to strings), which pool rules read.
    pub fields: Map<String, Value>,
    /// The line of the file it starts on (1-based), for messages.
    pub line: usize,
}

/// The layouts an items file can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    JsonArray,
    JsonLines,
    Csv,
}

impl Layout {
    /// By extension (`.json`, `.jsonl`, `.csv`); otherwise JSON array when
    /// the text starts with `[`, else JSON lines.
    pub fn of(path: &str, text: &str) -> Layout {
        match path.rsplit('.').next() {
            Some("json") => Layout::JsonArray,
            Some("jsonl" | "ndjson") => Layout::JsonLines,
            Some("csv") => Layout::Csv,
            _ if text.trim_start().starts_with('[') => Layout::JsonArray,
            _ => Layout::JsonLines,
        }
    }
}

/// Parse items from `text`; `source` names it in messages (`items.csv`,
/// or the command they came from); `id_field` is the field holding the id.
pub fn parse(text: &str, layout: Layout, source: &str, id_field: &str) -> Result<Vec<Item>, String> {
    let raw = match layout {
        Layout::JsonArray => json_array(text, source)?,
        Layout::JsonLines => json_lines(text, source)?,
        Layout::Csv => csv(text, source)?,
    };
    let mut items: Vec<Item> = Vec::with_capacity(raw.len());
    for (line, value) in raw {
        let Value::Object(mut fields) = value else {
            return Err(format!("{source}:{line}: an item must be a JSON object"));
        };
        let id = match fields.get(id_field) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(other) => {
                return Err(format!(
                    "{source}:{line}: the item's `{id_field}` must be a string or a number, not {other}"
                ))
            }
            None => return Err(format!("{source}:{line}: the item has no `{id_field}` (every item needs one)")),
        };
        if let Some(first) = items.iter().find(|i| i.id == id) {
            return Err(format!("{source}:{line}: duplicate id `{id}` (first at line {})", first.line));
        }
        let priority = match fields.get("priority") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_f64()
                    .ok_or_else(|| format!("{source}:{line}: `priority` must be a number, not {v}"))?,
            ),
        };
        let labels = match fields.get("labels") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(xs)) => xs
                .iter()
                .map(|x| match x {
                    Value::String(s) => Ok(s.clone()),
                    // gh's `labels: [{name: ...}]`.
                    Value::Object(o) => o
                        .get("name")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .ok_or_else(|| format!("{source}:{line}: a label object needs a `name`")),
                    other => Err(format!("{source}:{line}: a label must be a string, not {other}")),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(format!("{source}:{line}: `labels` must be an array of strings, not {other}")),
        };
        fields.insert("labels".into(), labels.iter().cloned().map(Value::String).collect());
        fields.insert("id".into(), Value::String(id.clone()));
        items.push(Item {
            id,
            priority,
            labels,
            fields,
            line,
        });
    }
    Ok(items)
}

/// Items in the order they run: by priority, lower first; items without
/// one after those with one; ties in file order.
pub fn by_priority(items: &mut [Item]) {
    items.sort_by(|a, b| match (a.priority, b.priority) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
}

fn json_array(text: &str, source: &str) -> Result<Vec<(usize, Value)>, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("{source}:{}: not a JSON array: {e}", e.line()))?;
    let Value::Array(items) = value else {
        return Err(format!("{source}:1: expected a JSON array of items"));
    };
    // The line each element starts on: found by streaming the elements' spans.
    let starts = element_lines(text);
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(n, v)| (starts.get(n).copied().unwrap_or(1), v))
        .collect())
}

/// The line of each top-level element of a JSON array text (1-based).
fn element_lines(text: &str) -> Vec<usize> {
    let (mut depth, mut line, mut in_string, mut escaped) = (0usize, 1usize, false, false);
    let mut starts = Vec::new();
    let mut expecting = false;
    for c in text.chars() {
        if c == '\n' {
            line += 1;
        }
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if depth == 1 && expecting && !c.is_whitespace() && c != ']' {
            starts.push(line);
            expecting = false;
        }
        match c {
            '"' => in_string = true,
            '[' | '{' => {
                depth += 1;
                if depth == 1 {
                    expecting = true;
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            ',' if depth == 1 => expecting = true,
            _ => {}
        }
    }
    starts
}

fn json_lines(text: &str, source: &str) -> Result<Vec<(usize, Value)>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let value = serde_json::from_str(line).map_err(|e| format!("{source}:{}: not a JSON object: {e}", n + 1))?;
        out.push((n + 1, value));
    }
    Ok(out)
}

/// CSV with a header row; quoted cells (`"a, b"`, `""` for a quote) may
/// span lines. A cell is JSON when it parses as JSON (numbers, `true`,
/// `false`, arrays), else a string; an empty cell is absent. The `labels`
/// cell is split on `,` or `;` unless it is a JSON array.
fn csv(text: &str, source: &str) -> Result<Vec<(usize, Value)>, String> {
    let rows = csv_rows(text).map_err(|line| format!("{source}:{line}: unterminated quoted cell"))?;
    let mut rows = rows.into_iter();
    let Some((_, header)) = rows.next() else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for (line, cells) in rows {
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if cells.len() > header.len() {
            return Err(format!(
                "{source}:{line}: {} cells, but the header has {}",
                cells.len(),
                header.len()
            ));
        }
        let mut item = Map::new();
        for (name, cell) in header.iter().zip(&cells) {
            let cell = cell.trim();
            if cell.is_empty() {
                continue;
            }
            let parsed = serde_json::from_str::<Value>(cell)
                .ok()
                .filter(|v| !v.is_string() && !v.is_object());
            let value = match (name.as_str(), parsed) {
                ("labels", Some(v @ Value::Array(_))) => v,
                ("labels", _) => cell
                    .split([',', ';'])
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(|l| Value::String(l.to_owned()))
                    .collect(),
                (_, Some(v)) => v,
                (_, None) => Value::String(cell.to_owned()),
            };
            item.insert(name.trim().to_owned(), value);
        }
        out.push((line, Value::Object(item)));
    }
    Ok(out)
}

/// The rows of a CSV text with the line each starts on; `Err(line)` for a
/// quote left open.
fn csv_rows(text: &str) -> Result<Vec<(usize, Vec<String>)>, usize> {
    let mut rows = Vec::new();
    let (mut row, mut cell) = (Vec::new(), String::new());
    let (mut line, mut row_line, mut quoted, mut at_start) = (1, 1, false, true);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    cell.push(c);
                }
                _ => cell.push(c),
            }
            continue;
        }
        match c {
            '"' if at_start => quoted = true,
            ',' => {
                row.push(std::mem::take(&mut cell));
                at_start = true;
                continue;
            }
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut cell));
                rows.push((row_line, std::mem::take(&mut row)));
                line += 1;
                row_line = line;
                at_start = true;
                continue;
            }
            _ => cell.push(c),
        }
        at_start = false;
    }
    if quoted {
        return Err(row_line);
    }
    if !cell.is_empty() || !row.is_empty() {
        row.push(cell);
        rows.push((row_line, row));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_three_layouts_alike() {
        let array = "[\n  {\"id\": \"a\", \"priority\": 2, \"labels\": [\"x\"]},\n  {\"id\": 7, \"labels\": [{\"name\": \"bug\"}]}\n]";
        let lines = "{\"id\": \"a\", \"priority\": 2, \"labels\": [\"x\"]}\n\n{\"id\": 7, \"labels\": [{\"name\": \"bug\"}]}\n";
        let csv = "id,priority,labels\na,2,x\n7,,bug\n";
        for (text, layout) in [(array, Layout::JsonArray), (lines, Layout::JsonLines), (csv, Layout::Csv)] {
            let items = parse(text, layout, "f", "id").unwrap();
            assert_eq!(items.len(), 2, "{layout:?}");
            assert_eq!(
                (items[0].id.as_str(), items[0].priority, &items[0].labels[..]),
                ("a", Some(2.0), &["x".to_owned()][..])
            );
            assert_eq!(
                (items[1].id.as_str(), items[1].priority, &items[1].labels[..]),
                ("7", None, &["bug".to_owned()][..])
            );
        }
        assert_eq!(parse(array, Layout::JsonArray, "f", "id").unwrap()[1].line, 3);
        assert_eq!(parse(lines, Layout::JsonLines, "f", "id").unwrap()[1].line, 3);
    }

    #[test]
    fn csv_cells_are_json_when_they_parse() {
        let items = parse(
            "id,files_changed,urgent,title,labels\n1,3,true,\"fix, now\",\"a; b,c\"\n",
            Layout::Csv,
            "f.csv",
            "id",
        )
        .unwrap();
        let f = &items[0].fields;
        assert_eq!(f["files_changed"], json!(3));
        assert_eq!(f["urgent"], json!(true));
        assert_eq!(f["title"], json!("fix, now"));
        assert_eq!(items[0].labels, ["a", "b", "c"]);
    }

    #[test]
    fn missing_and_duplicate_ids_name_the_line() {
        let e = parse("{\"id\": 1}\n{\"title\": \"x\"}\n", Layout::JsonLines, "items.jsonl", "id").unwrap_err();
        assert_eq!(e, "items.jsonl:2: the item has no `id` (every item needs one)");
        let e = parse("id\na\nb\na\n", Layout::Csv, "items.csv", "id").unwrap_err();
        assert_eq!(e, "items.csv:4: duplicate id `a` (first at line 2)");
        let e = parse("[{\"number\": 1}, {\"number\": 1}]", Layout::JsonArray, "gh", "number").unwrap_err();
        assert!(e.contains("duplicate id `1`"), "{e}");
    }

    #[test]
    fn priority_orders_with_the_unprioritised_last_and_ties_stable() {
        let mut items = parse("id,priority\nn1,\np3,3\np1a,1\nn2,\np1b,1\n", Layout::Csv, "f", "id").unwrap();
        by_priority(&mut items);
        let order: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(order, ["p1a", "p1b", "p3", "n1", "n2"]);
    }

    #[test]
    fn layout_by_extension_then_by_content() {
        assert_eq!(Layout::of("a.csv", "["), Layout::Csv);
        assert_eq!(Layout::of("a.json", "{"), Layout::JsonArray);
        assert_eq!(Layout::of("a.txt", " [ {} ]"), Layout::JsonArray);
        assert_eq!(Layout::of("a", "{}"), Layout::JsonLines);
    }
}
