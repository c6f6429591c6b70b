//! The template engine (minijinja) as `loopc new` uses it: every value a
//! template writes with `{{ … }}` goes through [`format_value`], so text is
//! a plain scalar only when it is a bare word that YAML reads back as the
//! same string, and a double-quoted scalar otherwise: a value cannot end its
//! line, open a mapping or start a comment. In the JSON files (responses,
//! inputs) text is always a JSON string, which is also a YAML 1.2
//! double-quoted scalar, so one quoting serves both.

use std::fmt::Write as _;

use minijinja::value::ValueKind;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, Output, State, UndefinedBehavior, Value};

/// The environment every template is rendered in: a template named
/// `*.json` writes JSON, any other YAML.
pub(crate) fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Block tags on lines of their own leave no blank line or indentation behind.
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .expect("the default delimiters are valid");
    env.set_syntax(syntax);
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".json") {
            AutoEscape::Custom("json".into())
        } else {
            AutoEscape::Custom("yaml".into())
        }
    });
    env.set_formatter(format_value);
    env
}

/// How a value is written into the output: strings quoted (bare in YAML
/// where that is safe), numbers and booleans as they are, sequences and maps
/// as flow sequences and mappings with quoted keys (which JSON reads too),
/// `none` as `null`. Strings a template marks `|safe` are its own
/// text and go out as they are.
fn format_value(out: &mut Output<'_>, state: &mut State<'_, '_>, value: &Value) -> Result<(), Error> {
    let json = matches!(state.auto_escape(), AutoEscape::Custom(name) if name == "json");
    let mut text = String::new();
    write_value(&mut text, value, json)?;
    out.write_str(&text).map_err(Error::from)
}

fn write_value(text: &mut String, value: &Value, json: bool) -> Result<(), Error> {
    match value.kind() {
        ValueKind::String if value.is_safe() => text.push_str(value.as_str().unwrap_or_default()),
        ValueKind::String => {
            let s = value.as_str().unwrap_or_default();
            if !json && is_bare_word(s) {
                text.push_str(s);
            } else {
                text.push_str(&quote(s));
            }
        }
        ValueKind::Bool => text.push_str(if value.is_true() { "true" } else { "false" }),
        ValueKind::Number => {
            let _ = write!(text, "{value}");
        }
        ValueKind::None => text.push_str("null"),
        ValueKind::Seq => {
            text.push('[');
            for (i, item) in value.try_iter()?.enumerate() {
                if i > 0 {
                    text.push_str(", ");
                }
                write_value(text, &item, json)?;
            }
            text.push(']');
        }
        ValueKind::Map => {
            text.push('{');
            for (i, key) in value.try_iter()?.enumerate() {
                if i > 0 {
                    text.push_str(", ");
                }
                let item = value.get_item(&key)?;
                text.push_str(&quote(&key.to_string()));
                text.push_str(": ");
                write_value(text, &item, json)?;
            }
            text.push('}');
        }
        kind => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("a template can write strings, numbers, booleans, lists and maps, not a {kind}"),
            ))
        }
    }
    Ok(())
}

/// Whether YAML reads `s`, written bare, as exactly the string `s`: a letter
/// (or a relative path's `./`, `../`), then letters, digits, `_`, `.`, `/`
/// and `-` (no space, `:`, `#`, quote, bracket or flow indicator), and not a
/// word YAML 1.1 or 1.2 reads as a boolean or null.
fn is_bare_word(s: &str) -> bool {
    const WORDS: &[&str] = &["true", "false", "null", "yes", "no", "on", "off", "y", "n"];
    (s.starts_with(|c: char| c.is_ascii_alphabetic()) || s.starts_with("./") || s.starts_with("../"))
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-'))
        && !WORDS.iter().any(|w| w.eq_ignore_ascii_case(s))
}

/// `text` as a double-quoted scalar that YAML 1.2 and JSON both read back
/// as exactly `text`: `"` and `\` escaped, and every character that is not
/// printable in YAML (C0 and C1 controls, DEL, the Unicode line and
/// paragraph separators, the byte-order mark, U+FFFE/U+FFFF) as `\uXXXX`.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn needs_escape(c: char) -> bool {
    matches!(c as u32, 0..=0x1f | 0x7f..=0x9f | 0x2028 | 0x2029 | 0xfeff | 0xfffe | 0xffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(name: &str, source: &str, ctx: Value) -> String {
        let mut env = environment();
        env.add_template_owned(name.to_owned(), source.to_owned()).unwrap();
        env.get_template(name).unwrap().render(ctx).unwrap()
    }

    #[test]
    fn text_is_quoted_and_round_trips_through_json() {
        for text in [
            "plain",
            "a: b # c",
            "two\nlines",
            "quote \" and \\",
            "\u{85}\u{2028}\u{7}\u{feff}",
            "é 😀",
        ] {
            let quoted = quote(text);
            let back: String = serde_json::from_str(&quoted).unwrap();
            assert_eq!(back, text);
            assert!(!quoted.contains('\n'));
        }
    }

    #[test]
    fn values_are_formatted_by_kind() {
        let ctx = minijinja::context! { s => "x: y", n => 2.5, i => 3, b => true, l => vec!["a", "b c"], w => "gpt-4.1" };
        let source = "{{ s }} {{ n }} {{ i }} {{ b }} {{ l }} {{ w }}";
        assert_eq!(render("t.yaml", source, ctx.clone()), "\"x: y\" 2.5 3 true [a, \"b c\"] gpt-4.1");
        assert_eq!(render("t.json", source, ctx), "\"x: y\" 2.5 3 true [\"a\", \"b c\"] \"gpt-4.1\"");
        assert_eq!(render("t.yaml", "{{ 'raw: text' | safe }}", Value::UNDEFINED), "raw: text");
        assert_eq!(render("t.yaml", "{{ none }}", Value::UNDEFINED), "null");
    }

    #[test]
    fn words_yaml_reads_as_something_else_are_quoted() {
        for word in [
            "yes", "No", "null", "TRUE", "off", "y", "1.5", "-x", ".inf", ".", "..", ".nan", "a b", "a:b", "a#b", "a,b", "", "é",
        ] {
            assert!(!is_bare_word(word), "{word:?}");
        }
        for word in [
            "claude-sonnet-4",
            "gpt-4.1",
            "tests/test_x.py",
            "ci_tests",
            "yesterday",
            "../a.yaml",
            "./b",
        ] {
            assert!(is_bare_word(word), "{word:?}");
        }
    }

    #[test]
    fn undefined_names_are_errors() {
        let mut env = environment();
        env.add_template("a.yaml", "{{ missing }}").unwrap();
        assert!(env.get_template("a.yaml").unwrap().render(Value::UNDEFINED).is_err());
    }

    #[test]
    fn maps_are_flow_mappings_that_json_reads() {
        let ctx = minijinja::context! { m => minijinja::context! { a => 1, b => vec!["x: y"], c => "two\nlines" } };
        let written = render("t.json", "{{ m }}", ctx);
        assert_eq!(written, "{\"a\": 1, \"b\": [\"x: y\"], \"c\": \"two\\nlines\"}");
        let back: serde_json::Value = serde_json::from_str(&written).unwrap();
        assert_eq!(back["c"], "two\nlines");
    }
}
