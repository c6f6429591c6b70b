//! Completion of ids where a reference is expected.
//!
//! The place is read from the text around the cursor, not from the parsed
//! tree: while a reference is being typed the document is often not valid
//! YAML (`depends_on: [pl`), and the names offered are those of the last
//! version that parsed. What each field may name is rule L201's grammar
//! (see [`crate::symbols`]).

use std::path::Path;

use crate::symbols::{IdKind, Symbols};

/// What a field being written takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// A worker id; `star`: or `*` for every worker.
    Worker { star: bool },
    /// `workers.<id>`.
    WorkerPath,
    /// `evaluators.<id>` or `workers.<id>` (feedback and metric `source`).
    Source,
    /// `workers.<id>` or `optimization_strategy[.<type>]`.
    Destination,
    /// A metric name.
    Metric,
    /// `workers.<id>` or `inputs.<field>` (a worker's `inputs[].from`).
    InputFrom,
    /// One end of a composition adapter: `children.<id>.outputs.` (`from`)
    /// or `children.<id>.inputs.` (`to`).
    AdapterEnd { to: bool },
    /// A composition child's `ref`: a spec file, relative to this one.
    FileRef,
}

/// Where completion was asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    pub slot: Slot,
    /// Where the word being typed starts: an item replaces from here to the cursor.
    pub start: usize,
    pub partial: String,
}

/// What an item is, for its icon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemKind {
    Id,
    Value,
    File,
    Folder,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub label: String,
    pub detail: String,
    pub kind: ItemKind,
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '*' | '/' | '~')
}

fn is_key(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// The completion site at `offset` in `text`, if a reference goes there.
pub fn site(text: &str, offset: usize) -> Option<Site> {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let line_start = text[..offset].rfind(['\n', '\r']).map_or(0, |i| i + 1);
    let before = &text[line_start..offset];
    let head = before.trim_end_matches(is_word);
    let start = line_start + head.len();
    let head = head.trim_end_matches(['"', '\'']).trim_end();
    let key = if head.trim_start() == "-" {
        block_item_key(&text[..line_start], head.len() - 1)?
    } else {
        key_before(head)?
    };
    let slot = slot(key, section(&text[..line_start]))?;
    Some(Site {
        slot,
        start,
        partial: text[start..offset].to_owned(),
    })
}

/// The key whose value starts at the end of `head`: `key:` or an item of
/// the flow sequence `key: [a, `.
fn key_before(head: &str) -> Option<&str> {
    if let Some(rest) = head.strip_suffix(':') {
        return word_at_end(rest);
    }
    if !(head.ends_with('[') || head.ends_with(',')) {
        return None;
    }
    let mut depth = 0usize;
    for (i, c) in head.char_indices().rev() {
        match c {
            ']' | '}' => depth += 1,
            '[' | '{' if depth > 0 => depth -= 1,
            '[' => return word_at_end(head[..i].trim_end().strip_suffix(':')?),
            '{' => return None,
            _ => {}
        }
    }
    None
}

/// The key written last in `s` (quotes around it allowed, as in JSON).
fn word_at_end(s: &str) -> Option<&str> {
    let s = s.trim_end().trim_end_matches(['"', '\'']);
    let word = &s[s.trim_end_matches(is_key).len()..];
    (!word.is_empty()).then_some(word)
}

/// Without any comment: a `#` after white space (or at the start) starts one.
fn code_of(line: &str) -> &str {
    let cut = line
        .char_indices()
        .find(|&(i, c)| c == '#' && (i == 0 || line[..i].ends_with([' ', '\t'])))
        .map_or(line.len(), |(i, _)| i);
    line[..cut].trim_end()
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// The key of the block sequence whose new item (`- `, its dash at column
/// `dash`) is being written: the nearest line above that is not a sibling
/// item, when it ends with `key:` at most as indented as the dash.
fn block_item_key(above: &str, dash: usize) -> Option<&str> {
    for line in above.lines().rev() {
        let code = code_of(line);
        if code.trim().is_empty() {
            continue;
        }
        let at = indent(code);
        if at == dash && code.trim_start().starts_with('-') {
            continue;
        }
        return (at <= dash).then(|| code.strip_suffix(':').and_then(word_at_end)).flatten();
    }
    None
}

/// The top-level key the cursor is under (`workers`, `composition`, …).
fn section(above: &str) -> Option<&str> {
    above
        .lines()
        .rev()
        .map(code_of)
        .find(|line| !line.is_empty() && indent(line) == 0 && !line.starts_with('-'))
        .and_then(|line| line.split_once(':'))
        .map(|(key, _)| key.trim_matches(['"', '\'', ' ']))
}

fn slot(key: &str, section: Option<&str>) -> Option<Slot> {
    let in_composition = section == Some("composition");
    Some(match key {
        "depends_on" => Slot::Worker { star: false },
        "runs_after" | "applies_to" | "allowed_writers" => Slot::Worker { star: true },
        "source" => Slot::Source,
        "destination" => Slot::Destination,
        "metric" => Slot::Metric,
        "refinement_target" | "secondary_targets" => Slot::WorkerPath,
        "from" if in_composition => Slot::AdapterEnd { to: false },
        "to" if in_composition => Slot::AdapterEnd { to: true },
        "from" => Slot::InputFrom,
        "ref" => Slot::FileRef,
        _ => return None,
    })
}

/// The optimisation types a feedback channel may be routed to.
const OPTIMIZATION_TYPES: &[&str] = &["prompt_refinement", "parameter_search", "memory_update", "structural", "manual"];

/// What may go at `site`: the ids `known` defines (the last version of
/// the document that parsed), or the spec files beside `spec_path`.
pub fn items(site: &Site, known: &Symbols, spec_path: Option<&Path>) -> Vec<Item> {
    // `workers.planner` where the field takes a path, `planner` where it takes the id.
    let named = |kind: IdKind, path: bool| -> Vec<Item> {
        let prefix = kind.prefix().filter(|_| path).map(|p| format!("{p}.")).unwrap_or_default();
        known
            .defined(kind)
            .into_iter()
            .map(|name| Item {
                label: format!("{prefix}{name}"),
                detail: kind.noun().to_owned(),
                kind: ItemKind::Id,
            })
            .collect()
    };
    let ids = |kind| named(kind, true);
    let bare = |kind| named(kind, false);
    let value = |label: String, detail: &str| Item {
        label,
        detail: detail.to_owned(),
        kind: ItemKind::Value,
    };
    match site.slot {
        Slot::Worker { star } => {
            let mut items = bare(IdKind::Worker);
            if star {
                items.push(value("*".into(), "every worker"));
            }
            items
        }
        Slot::WorkerPath => ids(IdKind::Worker),
        Slot::Source => [ids(IdKind::Evaluator), ids(IdKind::Worker)].concat(),
        Slot::Destination => {
            let mut items = ids(IdKind::Worker);
            items.push(value("optimization_strategy".into(), "the optimisation strategy"));
            items.extend(
                OPTIMIZATION_TYPES
                    .iter()
                    .map(|t| value(format!("optimization_strategy.{t}"), "the optimisation strategy")),
            );
            items
        }
        Slot::Metric => bare(IdKind::Metric),
        Slot::InputFrom => [ids(IdKind::Worker), ids(IdKind::Input)].concat(),
        Slot::AdapterEnd { to } => {
            let side = if to { "inputs" } else { "outputs" };
            let mut items = ids(IdKind::Child);
            for item in &mut items {
                item.label = format!("{}.{side}.", item.label);
            }
            items
        }
        Slot::FileRef => spec_path.map_or_else(Vec::new, |path| spec_files(path, &site.partial)),
    }
}

/// Most entries of a directory offered for a `ref`.
const MAX_FILES: usize = 200;

/// The spec files and directories in the directory `partial` names
/// (relative to the spec's own directory), the spec itself left out.
fn spec_files(spec_path: &Path, partial: &str) -> Vec<Item> {
    let (dir_part, _) = partial.rsplit_once('/').map_or(("", partial), |(dir, rest)| (dir, rest));
    let prefix = if dir_part.is_empty() && !partial.starts_with('/') {
        String::new()
    } else {
        format!("{dir_part}/")
    };
    let base = spec_path.parent().unwrap_or(Path::new("."));
    let Ok(entries) = std::fs::read_dir(base.join(&prefix)) else {
        return Vec::new();
    };
    let mut items: Vec<Item> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let path = entry.path();
            if name.starts_with('.') || path == spec_path {
                return None;
            }
            if path.is_dir() {
                return Some(Item {
                    label: format!("{prefix}{name}/"),
                    detail: "directory".into(),
                    kind: ItemKind::Folder,
                });
            }
            let lower = name.to_ascii_lowercase();
            [".yaml", ".yml", ".json"].iter().any(|e| lower.ends_with(e)).then(|| Item {
                label: format!("{prefix}{name}"),
                detail: "spec file".into(),
                kind: ItemKind::File,
            })
        })
        .collect();
    items.sort_by(|a, b| a.label.cmp(&b.label));
    items.truncate(MAX_FILES);
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot_at(text: &str) -> Option<(Slot, String)> {
        let offset = text.find('|').expect("a cursor");
        let text = text.replace('|', "");
        site(&text, offset).map(|s| (s.slot, s.partial))
    }

    #[test]
    fn the_field_being_written_is_read_from_the_text() {
        let worker = Slot::Worker { star: false };
        assert_eq!(slot_at("workers:\n  - id: a\n    depends_on: [|"), Some((worker, "".into())));
        assert_eq!(slot_at("workers:\n  - id: a\n    depends_on: [x, pl|"), Some((worker, "pl".into())));
        assert_eq!(
            slot_at("workers:\n  - id: a\n    depends_on:\n      - x\n      - |\n"),
            Some((worker, "".into()))
        );
        assert_eq!(slot_at("workers:\n  - id: a\n    depends_on:\n    - |"), Some((worker, "".into())));
        assert_eq!(slot_at("feedback_channels:\n  - source: \"ev|"), Some((Slot::Source, "ev".into())));
        assert_eq!(
            slot_at("workers:\n  - inputs: [{ from: work|"),
            Some((Slot::InputFrom, "work".into()))
        );
        assert_eq!(
            slot_at("composition:\n  adapters:\n    - from: |"),
            Some((Slot::AdapterEnd { to: false }, "".into()))
        );
        assert_eq!(
            slot_at("{\"evaluators\": [{\"runs_after\": [\"|"),
            Some((Slot::Worker { star: true }, "".into()))
        );
        assert_eq!(slot_at("  children:\n    - ref: sub/|"), Some((Slot::FileRef, "sub/".into())));
        // Not a reference: a key, another field, a flow mapping's key.
        assert_eq!(slot_at("workers:\n  - id: |"), None);
        assert_eq!(slot_at("workers:\n  - depends_on: [a]\n    role: |"), None);
        assert_eq!(slot_at("workers:\n  - inputs: [{ |"), None);
        assert_eq!(slot_at("workers:\n  - role: x\n    - |"), None);
    }

    #[test]
    fn items_are_the_defined_ids_in_the_fields_form() {
        let text =
            "loop_name: d\nworkers:\n  - id: planner\nevaluators:\n  - id: tests\n    type: deterministic\n    runs_after: [planner]\n";
        let parsed = loopc_syntax::load("x.yaml", text.as_bytes(), &loopc_syntax::Limits::default());
        let known = Symbols::collect(text, &loopc_ir::lower(parsed.root.as_ref().unwrap()));
        let labels = |slot| -> Vec<String> {
            let site = Site {
                slot,
                start: 0,
                partial: String::new(),
            };
            items(&site, &known, None).into_iter().map(|i| i.label).collect()
        };
        assert_eq!(labels(Slot::Worker { star: true }), ["planner", "*"]);
        assert_eq!(labels(Slot::Source), ["evaluators.tests", "workers.planner"]);
        assert_eq!(labels(Slot::Destination)[..2], ["workers.planner", "optimization_strategy"]);
        assert!(labels(Slot::FileRef).is_empty(), "no file, no directory to list");
    }

    #[test]
    fn refs_list_spec_files_beside_the_spec() {
        let dir = std::env::temp_dir().join(format!("loopc-lsp-refs-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("stages")).unwrap();
        for name in ["parent.yaml", "child.yml", "notes.md", "stages/one.json"] {
            std::fs::write(dir.join(name), "").unwrap();
        }
        let site = |partial: &str| Site {
            slot: Slot::FileRef,
            start: 0,
            partial: partial.into(),
        };
        let labels = |partial| -> Vec<String> {
            items(&site(partial), &Symbols::default(), Some(&dir.join("parent.yaml")))
                .into_iter()
                .map(|i| i.label)
                .collect()
        };
        assert_eq!(labels(""), ["child.yml", "stages/"]);
        assert_eq!(labels("stages/o"), ["stages/one.json"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
