//! What `check --format sarif` needs beyond the findings: the directory
//! `%SRCROOT%` stands for, where each file is relative to it, and every
//! rule's documentation with a link to its section of docs/rules.md.

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

use loopc_check::{all_rules, RuleInfo};
use loopc_diagnostics::render::{ArtifactPath, SarifRule};

use super::explain;

/// The repository loopc was built from: Cargo.toml's `repository`, or
/// loopc's own when the manifest has none.
pub fn repository_url() -> &'static str {
    let url = env!("CARGO_PKG_REPOSITORY").trim_end_matches('/');
    let url = url.strip_suffix(".git").unwrap_or(url);
    if url.is_empty() {
        "https://github.com/loopc/loopc"
    } else {
        url
    }
}

/// The web address of docs/rules.md: `LOOPC_DOCS_URL` when loopc was
/// built with it set, else the file on the main branch of [`repository_url`].
pub fn docs_url() -> String {
    match option_env!("LOOPC_DOCS_URL") {
        Some(url) if !url.is_empty() => url.to_owned(),
        _ => format!("{}/blob/main/docs/rules.md", repository_url()),
    }
}

/// The git top level of the working directory: the nearest directory
/// upward with a `.git` (a directory, or a file in a worktree or
/// submodule); the working directory itself when there is none.
pub fn repository_root(cwd: &Path) -> PathBuf {
    cwd.ancestors()
        .find(|dir| dir.join(".git").symlink_metadata().is_ok())
        .unwrap_or(cwd)
        .to_path_buf()
}

/// `path` with `.` dropped and `..` taken back, without asking the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Where `path` (as given, relative to `cwd`) is relative to `root` (absolute,
/// without symbolic links). The path as written decides first, so a
/// link inside the repository is named by where it is; a path that is
/// outside only as written (through a link) is resolved before giving up.
pub fn locate(root: &Path, cwd: &Path, path: &Path) -> ArtifactPath {
    let absolute = normalize(&cwd.join(path));
    if let Ok(relative) = absolute.strip_prefix(root) {
        return ArtifactPath::InRoot(relative.to_path_buf());
    }
    match std::fs::canonicalize(&absolute) {
        Ok(real) => match real.strip_prefix(root) {
            Ok(relative) => ArtifactPath::InRoot(relative.to_path_buf()),
            Err(_) => ArtifactPath::Outside(real),
        },
        Err(_) => ArtifactPath::Outside(absolute),
    }
}

/// GitHub's anchor for a heading's text: lowercased, with everything but
/// letters, digits, `-`, `_` and spaces dropped, and spaces made `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// Every ATX heading of a Markdown text outside fenced code, as (level,
/// text, anchor), anchors made unique the way GitHub does (`-1`, `-2`, …).
pub fn headings(markdown: &str) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    let mut taken: HashSet<String> = HashSet::new();
    let mut repeats: HashMap<String, usize> = HashMap::new();
    let mut fence: Option<&str> = None;
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        if let Some(marker) = ["```", "~~~"].into_iter().find(|m| trimmed.starts_with(m)) {
            fence = match fence {
                Some(open) if open == marker => None,
                None => Some(marker),
                other => other,
            };
            continue;
        }
        let level = trimmed.chars().take_while(|&c| c == '#').count();
        let rest = &trimmed[level..];
        if fence.is_some() || !(1..=6).contains(&level) || !(rest.is_empty() || rest.starts_with(' ')) {
            continue;
        }
        let text = rest.trim().trim_end_matches('#').trim().to_owned();
        let base = slug(&text);
        let mut anchor = base.clone();
        while taken.contains(&anchor) {
            let n = repeats.entry(base.clone()).or_default();
            *n += 1;
            anchor = format!("{base}-{n}");
        }
        taken.insert(anchor.clone());
        out.push((level, text, anchor));
    }
    out
}

/// The first paragraph of a rule's documentation, past its headings: the
/// lines up to the first blank line, joined, list items on lines of their own.
pub fn first_paragraph(docs: &str) -> String {
    let mut out = String::new();
    for line in docs.lines().map(str::trim_end) {
        let starts_block = line.starts_with('#') || line.starts_with("```");
        if out.is_empty() && (line.trim().is_empty() || line.starts_with('#')) {
            continue;
        }
        if line.trim().is_empty() || starts_block {
            break;
        }
        if !out.is_empty() {
            out.push(if line.starts_with("- ") || line.starts_with("* ") {
                '\n'
            } else {
                ' '
            });
        }
        out.push_str(line.trim());
    }
    out
}

/// Every rule, documented as `loopc explain` and docs/rules.md document it.
pub fn rules() -> Vec<SarifRule> {
    let anchors: HashMap<String, String> = headings(&explain::rules_markdown())
        .into_iter()
        .filter(|(level, _, _)| *level == 3)
        .map(|(_, text, anchor)| (text, anchor))
        .collect();
    let docs = docs_url();
    all_rules()
        .map(|rule: &RuleInfo| SarifRule {
            meta: rule.meta(),
            full_description: first_paragraph(&rule.documentation()),
            help_text: explain::explain(rule),
            help_markdown: explain::rule_markdown(rule),
            help_uri: match anchors.get(rule.code) {
                Some(anchor) => format!("{docs}#{anchor}"),
                None => docs.clone(),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_are_githubs_and_skip_code_blocks() {
        let md = "# A title\n## Why?\n```yaml\n# not a heading\n```\n## Why\n### L201\n#### `x.y` and z_1\n## why\n";
        let anchors: Vec<String> = headings(md).into_iter().map(|h| h.2).collect();
        assert_eq!(anchors, ["a-title", "why", "why-1", "l201", "xy-and-z_1", "why-2"]);
    }

    #[test]
    fn every_rule_links_to_its_own_heading_in_docs_rules_md() {
        let markdown = explain::rules_markdown();
        let anchors: HashSet<String> = headings(&markdown).into_iter().map(|h| h.2).collect();
        let rules = rules();
        assert_eq!(rules.len(), all_rules().len());
        for rule in &rules {
            let (base, anchor) = rule.help_uri.split_once('#').expect("a fragment");
            assert_eq!(base, docs_url());
            assert!(anchors.contains(anchor), "{}: no heading has the anchor #{anchor}", rule.meta.code);
            assert!(rule.help_markdown.starts_with(&format!("### {}\n", rule.meta.code)));
            assert!(
                markdown.contains(&rule.help_markdown),
                "{}: help.markdown is its docs/rules.md section",
                rule.meta.code
            );
            assert!(!rule.full_description.is_empty() && rule.full_description != rule.meta.summary);
        }
        // The table's links at the top of docs/rules.md resolve too.
        for link in markdown.split("](#").skip(1) {
            let target = &link[..link.find(')').unwrap()];
            assert!(anchors.contains(target), "docs/rules.md links to #{target}, which no heading has");
        }
    }

    #[test]
    fn the_first_paragraph_skips_headings_and_keeps_list_items_apart() {
        let docs = "## What it does\nChecks that every reference\nresolves:\n- worker ids;\n  and more\n- metrics.\n\n## Why\nBecause.";
        assert_eq!(
            first_paragraph(docs),
            "Checks that every reference resolves:\n- worker ids; and more\n- metrics."
        );
    }

    #[test]
    fn paths_are_placed_relative_to_the_root_as_written() {
        let root = Path::new("/repo");
        assert_eq!(
            locate(root, Path::new("/repo/sub"), Path::new("../specs/./a b.yaml")),
            ArtifactPath::InRoot("specs/a b.yaml".into())
        );
        assert_eq!(
            locate(root, Path::new("/repo"), Path::new("/elsewhere/x.yaml")),
            ArtifactPath::Outside("/elsewhere/x.yaml".into()),
            "outside the root and not on disk: the absolute path as written"
        );
    }

    #[test]
    fn the_root_is_the_nearest_directory_with_a_git_dir_or_file() {
        let top = std::env::temp_dir().join(format!("loopc-sarif-root-{}", std::process::id()));
        let deep = top.join("repo/sub/deeper");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(top.join("repo/.git"), "gitdir: elsewhere\n").unwrap();
        assert_eq!(repository_root(&deep), top.join("repo"), "a `.git` file counts (worktrees)");
        std::fs::create_dir_all(top.join("repo/sub/.git")).unwrap();
        assert_eq!(repository_root(&deep), top.join("repo/sub"), "the nearest wins");
        let _ = std::fs::remove_dir_all(&top);
    }
}
