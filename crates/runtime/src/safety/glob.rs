//! Path globs for `output_bounds.forbidden_paths`, matched by hand.
//!
//! Paths and patterns are `/`-separated and relative to the workspace root
//! (a leading `/` or `./` anchors a pattern there and is otherwise ignored). In a segment, `*` matches any run of
//! characters, `?` one character, `[abc]`/`[a-z]`/`[!x]` one of a set; a
//! segment `**` matches any number of segments (zero included); `{a,b}`
//! alternatives are expanded. As in `.gitignore`, a pattern without a `/`
//! matches a name at any depth, and a pattern that matches a directory
//! matches everything below it (`tests` and `tests/**` both cover
//! `tests/unit/a.py`).

/// Whether `path` is matched by `pattern` (see the module docs).
pub fn glob_match(pattern: &str, path: &str) -> bool {
    let path_segs = segments(path);
    expand_braces(pattern).iter().any(|p| {
        let trimmed = p.trim_end_matches('/');
        let mut pat_segs = segments(trimmed);
        if !trimmed.contains('/') && !pat_segs.is_empty() {
            pat_segs.insert(0, "**");
        }
        match_prefix(&pat_segs, &path_segs)
    })
}

fn segments(s: &str) -> Vec<&str> {
    s.split('/').filter(|seg| !seg.is_empty() && *seg != ".").collect()
}

/// Whether the pattern matches the whole path or one of its ancestors.
fn match_prefix(pat: &[&str], path: &[&str]) -> bool {
    match pat.split_first() {
        None => true,
        Some((&"**", rest)) => (0..=path.len()).any(|skip| match_prefix(rest, &path[skip..])),
        Some((seg, rest)) => match path.split_first() {
            Some((name, path_rest)) => match_segment(seg.as_bytes(), name.as_bytes()) && match_prefix(rest, path_rest),
            None => false,
        },
    }
}

fn match_segment(pat: &[u8], name: &[u8]) -> bool {
    match pat.first() {
        None => name.is_empty(),
        Some(b'*') => {
            let rest = &pat[pat.iter().take_while(|b| **b == b'*').count()..];
            (0..=name.len()).any(|skip| match_segment(rest, &name[skip..]))
        }
        Some(b'?') => !name.is_empty() && match_segment(&pat[1..], &name[1..]),
        Some(b'[') => match (class_end(pat), name.first()) {
            (Some(end), Some(c)) => class_matches(&pat[1..end], *c) && match_segment(&pat[end + 1..], &name[1..]),
            (Some(_), None) => false,
            (None, Some(c)) => *c == b'[' && match_segment(&pat[1..], &name[1..]),
            (None, None) => false,
        },
        Some(p) => name.first() == Some(p) && match_segment(&pat[1..], &name[1..]),
    }
}

fn class_end(pat: &[u8]) -> Option<usize> {
    // `]` right after `[` or `[!` is a member.
    let start = if pat.get(1) == Some(&b'!') || pat.get(1) == Some(&b'^') {
        2
    } else {
        1
    };
    (start + 1..pat.len()).find(|i| pat[*i] == b']')
}

fn class_matches(class: &[u8], c: u8) -> bool {
    let (negated, set) = match class.first() {
        Some(b'!') | Some(b'^') => (true, &class[1..]),
        _ => (false, class),
    };
    let mut i = 0;
    let mut hit = false;
    while i < set.len() {
        if i + 2 < set.len() && set[i + 1] == b'-' {
            hit |= set[i] <= c && c <= set[i + 2];
            i += 3;
        } else {
            hit |= set[i] == c;
            i += 1;
        }
    }
    hit != negated
}

/// `a/{b,c}/*.{rs,toml}` → the four plain patterns (nesting supported).
fn expand_braces(pattern: &str) -> Vec<String> {
    let Some(open) = pattern.find('{') else {
        return vec![pattern.to_owned()];
    };
    let bytes = pattern.as_bytes();
    let mut depth = 0;
    let mut close = None;
    let mut commas = Vec::new();
    for (i, b) in bytes.iter().enumerate().skip(open) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            b',' if depth == 1 => commas.push(i),
            _ => {}
        }
    }
    let Some(close) = close else {
        return vec![pattern.to_owned()];
    };
    let (head, tail) = (&pattern[..open], &pattern[close + 1..]);
    let mut bounds = vec![open];
    bounds.extend(&commas);
    bounds.push(close);
    let mut out = Vec::new();
    for w in bounds.windows(2) {
        let alt = &pattern[w[0] + 1..w[1]];
        out.extend(expand_braces(&format!("{head}{alt}{tail}")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn double_star() {
        assert!(glob_match("tests/**", "tests/a.py"));
        assert!(glob_match("tests/**", "tests/unit/deep/a.py"));
        assert!(glob_match("tests/**", "tests"));
        assert!(!glob_match("tests/**", "src/tests.py"));
        assert!(!glob_match("tests/**", "testsuite/a.py"));
        assert!(glob_match("**/secrets/*.json", "a/b/secrets/x.json"));
        assert!(glob_match("**/secrets/*.json", "secrets/x.json"));
        assert!(glob_match("src/**/mod.rs", "src/mod.rs"));
        assert!(glob_match("src/**/mod.rs", "src/a/b/mod.rs"));
        assert!(!glob_match("src/**/mod.rs", "src/a/b/lib.rs"));
    }

    #[test]
    fn single_star_and_classes() {
        assert!(glob_match("src/*.rs", "src/lib.rs"));
        assert!(!glob_match("src/*.rs", "src/lib.toml"));
        assert!(!glob_match("src/*.rs", "other/src/lib.rs"));
        assert!(glob_match("*.env", "config/prod.env"));
        assert!(glob_match(".env*", ".env.local"));
        assert!(glob_match("file?.txt", "file1.txt"));
        assert!(!glob_match("file?.txt", "file12.txt"));
        assert!(glob_match("v[0-9].txt", "v7.txt"));
        assert!(!glob_match("v[!0-9].txt", "v7.txt"));
        assert!(glob_match("**/*.{key,pem}", "certs/a.pem"));
        assert!(!glob_match("**/*.{key,pem}", "certs/a.crt"));
    }

    #[test]
    fn normalization() {
        assert!(glob_match("/tests/**", "./tests/a.py"));
        assert!(glob_match("tests/", "tests/a.py"));
        assert!(glob_match("tests", "x/tests/a.py"));
        assert!(!glob_match("/tests", "x/tests/a.py"));
        assert!(glob_match("/tests", "tests/a.py"));
        assert!(!glob_match("tests", "x/tests2/a.py"));
        assert_eq!(expand_braces("a{b,{c,d}}e"), vec!["abe", "ace", "ade"]);
    }
}
