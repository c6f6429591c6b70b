//! The shell reader on scripts agents write and scripts that try to hide what they run.
use super::*;

fn words(src: &str) -> Vec<Vec<String>> {
    parse(src)
        .unwrap()
        .commands
        .iter()
        .map(|c| c.words.iter().map(|w| w.literal().unwrap_or_else(|| "<dyn>".into())).collect())
        .collect()
}

#[test]
fn lists_and_pipelines_split_into_simple_commands() {
    assert_eq!(
        words("cd x && rm  -r -f 'a b' ; echo \"q;\" | wc -l\nls"),
        vec![
            vec!["cd", "x"],
            vec!["rm", "-r", "-f", "a b"],
            vec!["echo", "q;"],
            vec!["wc", "-l"],
            vec!["ls"]
        ]
    );
    assert_eq!(words("r\\m -rf x"), vec![vec!["rm", "-rf", "x"]]);
    assert_eq!(words("\"r\"'m' -rf x # comment"), vec![vec!["rm", "-rf", "x"]]);
    assert_eq!(words("$'\\x72m' -rf x"), vec![vec!["rm", "-rf", "x"]]);
}

#[test]
fn expansions_are_marked() {
    let s = parse("echo $(whoami) `id` ${X:-/} $HOME ~/x \"$1\"").unwrap();
    let w = &s.commands[0].words;
    assert_eq!(w[1].segs, vec![Seg::Subst("whoami".into())]);
    assert_eq!(w[2].segs, vec![Seg::Subst("id".into())]);
    assert!(matches!(w[3].segs[0], Seg::Unknown(_)));
    assert_eq!(
        w[4].segs,
        vec![Seg::Param {
            name: "HOME".into(),
            quoted: false
        }]
    );
    assert_eq!(w[5].segs[0], Seg::Tilde);
    assert_eq!(
        w[6].segs,
        vec![Seg::Param {
            name: "1".into(),
            quoted: true
        }]
    );
}

#[test]
fn compound_commands_are_named() {
    for src in [
        "if true; then rm x; fi",
        "{ rm x; }",
        "! rm x",
        "f() { rm x; }; f",
        "(rm x)",
        "for a in b; do rm $a; done",
    ] {
        let s = parse(src).unwrap();
        assert!(!s.compound.is_empty(), "{src}");
        assert!(
            s.commands
                .iter()
                .any(|c| c.words.first().and_then(Word::literal).as_deref() == Some("rm")),
            "{src}"
        );
    }
    assert!(parse("a && b || c; d | e").unwrap().compound.is_empty());
}

#[test]
fn redirections_and_heredocs() {
    let s = parse("cat > out.txt 2>&1 <<EOF\nhello $X\nEOF\necho done").unwrap();
    assert_eq!(s.commands.len(), 2);
    let c = &s.commands[0];
    assert_eq!(c.redirects.iter().map(|r| r.op.as_str()).collect::<Vec<_>>(), [">", ">&", "<<"]);
    assert_eq!(c.heredocs[0].body, "hello $X\n");
    assert!(c.heredocs[0].dynamic);
    let s = parse("cat <<'EOF'\n$X\nEOF").unwrap();
    assert!(!s.commands[0].heredocs[0].dynamic);
    assert!(parse("cat <<EOF\nnever closed").is_err());
}

#[test]
fn what_bash_expands_is_not_taken_literally() {
    assert_eq!(words("$'\\u0072m' -r x"), vec![vec!["rm", "-r", "x"]]);
    assert_eq!(words("$\"rm\" -r x"), vec![vec!["rm", "-r", "x"]]);
    assert_eq!(words("time -p rm x"), vec![vec!["rm", "x"]]);
    assert_eq!(words("echo {a} x{}"), vec![vec!["echo", "{a}", "x{}"]]);
    let s = parse("{rm,-r,x}").unwrap();
    assert!(matches!(s.commands[0].words[0].segs[0], Seg::Unknown(_)));
    // A here-document ends at its delimiter as written: `touch m` runs.
    let s = parse("cat <<'EOF'\nEOF\ntouch m\n\necho").unwrap();
    assert_eq!(s.commands[0].heredocs[0].body, "");
    assert_eq!(s.commands[1].words[0].literal().as_deref(), Some("touch"));
    // A delimiter with quotes or expansions inside is not guessed at.
    for src in [
        "cat <<\"$X\"\n$X\ntouch m\n",
        "cat <<'E\"F'\nE\"F\nrm -rf v\nEF\n",
        "cat <<E\\F\nEF\n",
    ] {
        assert!(parse(src).is_err(), "{src}");
    }
}

#[test]
fn assignments_before_the_command() {
    let s = parse("FOO=1 BAR=\"a b\" make test").unwrap();
    assert_eq!(s.commands[0].assigns.len(), 2);
    assert_eq!(s.commands[0].words.len(), 2);
}

#[test]
fn broken_scripts_are_errors_not_panics() {
    for src in ["echo 'x", "echo \"x", "echo $(x", "echo `x", "cat >", "echo ${x"] {
        assert!(parse(src).is_err(), "{src}");
    }
}
