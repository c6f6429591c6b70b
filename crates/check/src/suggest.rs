//! "Did you mean …?" suggestions.

/// The candidate closest to `word` by edit distance, if it is close enough
/// to be a plausible typo (at most a third of the word's length, min 1).
pub fn closest<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let length = word.chars().count();
    // Nobody mistypes a name into a paragraph; and edit distance is
    // quadratic, which a 200 KB key would turn into seconds per lookup.
    if length > MAX_WORD_CHARS {
        return None;
    }
    let budget = (length / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != word)
        // The distance is at least the difference in length.
        .filter(|c| c.chars().count().abs_diff(length) <= budget)
        .map(|c| (levenshtein(word, c), c))
        .filter(|(d, _)| *d <= budget)
        .min_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(b.1)))
        .map(|(_, c)| c)
}

/// Longest word a suggestion is looked for.
const MAX_WORD_CHARS: usize = 128;

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb { diagonal } else { 1 + diagonal.min(above).min(row[j]) };
            diagonal = above;
        }
    }
    row[b.len()]
}

/// "a, b and c" for help texts, at most `max` names then "…".
pub fn list(names: &[&str], max: usize) -> String {
    let shown: Vec<String> = names.iter().take(max).map(|n| format!("`{n}`")).collect();
    let mut text = shown.join(", ");
    if names.len() > max {
        text.push_str(&format!(" and {} more", names.len() - max));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(closest("runs_afer", ["runs_after", "role"]), Some("runs_after"));
        assert_eq!(closest(&"x".repeat(200_000), ["runs_after", "role"]), None);
        assert_eq!(closest("planer", ["planner", "coder"]), Some("planner"));
        assert_eq!(closest("xyz", ["planner", "coder"]), None);
    }
}
