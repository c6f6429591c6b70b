//! The `when` condition language of feedback channels (docs/semantics.md §4):
//! parsed here with byte offsets for diagnostics (`loopc compile` lowers it
//! into the plan's expression).

/// A parsed condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Number(f64),
    Text(String),
    Bool(bool),
    Null,
    /// A dotted name, with the byte offset of its first character in the source text.
    Path(Vec<String>, usize),
    Not(Box<Expr>),
    /// `a and b and …`: a chain is one node, however long (two or more operands).
    And(Vec<Expr>),
    /// `a or b or …` (two or more operands).
    Or(Vec<Expr>),
    Compare(Box<Expr>, CompareOp, Box<Expr>),
    /// `item in collection`: membership in an array, or a substring of a string.
    In(Box<Expr>, Box<Expr>),
}

/// Deepest nesting of `(` and `not` a condition may have. Written
/// conditions nest two or three levels; the limit keeps the parser's
/// recursion, and every walk over the tree, far from the stack's end.
pub const MAX_NESTING: usize = 32;

/// Most operands (names and literals) a condition may have: a chain of
/// 512 comparisons, whose plan is about 0.6 MB.
pub const MAX_OPERANDS: usize = 1024;

/// Deepest a condition may be once compiled into the plan, where a chain
/// becomes a balanced tree of binary `and`/`or` (depth ⌈log₂ n⌉). Each
/// level is two levels of JSON; the plan must stay well under the
/// 128 levels a JSON reader accepts.
pub const MAX_PLAN_DEPTH: usize = 48;

impl Expr {
    /// The depth of this condition once compiled into the plan (a leaf is 1).
    pub fn plan_depth(&self) -> usize {
        match self {
            Expr::Not(a) => 1 + a.plan_depth(),
            Expr::Compare(a, _, b) | Expr::In(a, b) => 1 + a.plan_depth().max(b.plan_depth()),
            Expr::And(xs) | Expr::Or(xs) => chain_depth(xs),
            _ => 1,
        }
    }
}

/// A comparison of the condition language (and of LSS success rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl CompareOp {
    /// LSS success operators (`gte`, `lte`, `eq`, `gt`, `lt`).
    pub fn from_lss(op: &str) -> Option<Self> {
        Some(match op {
            "gte" => CompareOp::Ge,
            "lte" => CompareOp::Le,
            "eq" => CompareOp::Eq,
            "gt" => CompareOp::Gt,
            "lt" => CompareOp::Lt,
            _ => return None,
        })
    }
}

/// How a chain of two or more operands is split into the plan's binary
/// nodes: the first half (rounded up) on the left. `loopc compile` builds its
/// balanced tree with this, and [`Expr::plan_depth`] measures with it, so the
/// depth checked here is the depth written.
pub fn split_chain<T>(terms: &[T]) -> (&[T], &[T]) {
    terms.split_at(terms.len().div_ceil(2))
}

/// The compiled depth of a chain: its balanced tree of binary nodes.
fn chain_depth(terms: &[Expr]) -> usize {
    match terms {
        [] => 1,
        [one] => one.plan_depth(),
        _ => {
            let (left, right) = split_chain(terms);
            1 + chain_depth(left).max(chain_depth(right))
        }
    }
}

/// A syntax error at a byte offset of the expression text.
#[derive(Clone, Debug, PartialEq)]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Number(f64),
    Text(String),
    Name(String),
    Op(CompareOp),
    In,
    And,
    Or,
    Not,
    Open,
    Close,
}

/// Most tokens read from a condition. A condition within the limits has at
/// most [`MAX_OPERANDS`] operands, each a few tokens; reading a 10,000-term
/// chain to its end only to refuse it at term 1,025 is wasted work.
const MAX_TOKENS: usize = 8 * MAX_OPERANDS;

/// The tokens of `text`, and whether it was cut at [`MAX_TOKENS`].
fn tokenize(text: &str) -> Result<(Vec<(Token, usize)>, bool), ParseError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if tokens.len() >= MAX_TOKENS && !c.is_ascii_whitespace() {
            return Ok((tokens, true));
        }
        let start = i;
        let two = text.get(i..i + 2).unwrap_or("");
        let token = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' => Token::Open,
            b')' => Token::Close,
            _ if two == "<=" => Token::Op(CompareOp::Le),
            _ if two == ">=" => Token::Op(CompareOp::Ge),
            _ if two == "==" => Token::Op(CompareOp::Eq),
            _ if two == "!=" => Token::Op(CompareOp::Ne),
            _ if two == "&&" => Token::And,
            _ if two == "||" => Token::Or,
            b'<' => Token::Op(CompareOp::Lt),
            b'>' => Token::Op(CompareOp::Gt),
            b'!' => Token::Not,
            b'"' | b'\'' => {
                let close = text[i + 1..].find(c as char).ok_or(ParseError {
                    offset: i,
                    message: "unterminated string".into(),
                })?;
                let s = text[i + 1..i + 1 + close].to_owned();
                i += close + 2;
                tokens.push((Token::Text(s), start));
                continue;
            }
            b'0'..=b'9' | b'-' | b'.' => {
                let end = text[i..]
                    .find(|ch: char| !(ch.is_ascii_digit() || ch == '.' || ch == '-' || ch == 'e' || ch == 'E'))
                    .map_or(text.len(), |n| i + n);
                let n = text[i..end].parse::<f64>().map_err(|_| ParseError {
                    offset: i,
                    message: format!("`{}` is not a number", &text[i..end]),
                })?;
                i = end;
                tokens.push((Token::Number(n), start));
                continue;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let end = text[i..]
                    .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_' || ch == '.' || ch == '-'))
                    .map_or(text.len(), |n| i + n);
                let word = &text[i..end];
                i = end;
                let token = match word {
                    "and" => Token::And,
                    "or" => Token::Or,
                    "not" => Token::Not,
                    "in" => Token::In,
                    _ => Token::Name(word.to_owned()),
                };
                tokens.push((token, start));
                continue;
            }
            other => {
                return Err(ParseError {
                    offset: i,
                    message: format!("unexpected character `{}`", other as char),
                })
            }
        };
        i += match token {
            Token::Op(CompareOp::Lt | CompareOp::Gt) | Token::Not | Token::Open | Token::Close => 1,
            _ => 2,
        };
        tokens.push((token, start));
    }
    Ok((tokens, false))
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    position: usize,
    end: usize,
    /// `(` and `not` open around the current position.
    nesting: usize,
    operands: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.position).map(|(t, _)| t)
    }
    fn offset(&self) -> usize {
        self.tokens.get(self.position).map_or(self.end, |(_, o)| *o)
    }
    fn error<T>(&self, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError {
            offset: self.offset(),
            message: message.into(),
        })
    }
    /// Enter a `(` or `not`; refused past [`MAX_NESTING`].
    fn enter(&mut self) -> Result<(), ParseError> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return self.error(format!("the condition nests `(` and `not` deeper than {MAX_NESTING} levels"));
        }
        Ok(())
    }
    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut terms = vec![self.and()?];
        while self.peek() == Some(&Token::Or) {
            self.position += 1;
            terms.push(self.and()?);
        }
        Ok(if terms.len() == 1 {
            terms.pop().expect("one term")
        } else {
            Expr::Or(terms)
        })
    }
    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut terms = vec![self.not()?];
        while self.peek() == Some(&Token::And) {
            self.position += 1;
            terms.push(self.not()?);
        }
        Ok(if terms.len() == 1 {
            terms.pop().expect("one term")
        } else {
            Expr::And(terms)
        })
    }
    fn not(&mut self) -> Result<Expr, ParseError> {
        if self.peek() == Some(&Token::Not) {
            self.enter()?;
            self.position += 1;
            let inner = self.not()?;
            self.nesting -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.compare()
    }
    fn compare(&mut self) -> Result<Expr, ParseError> {
        let left = self.operand()?;
        if let Some(Token::Op(op)) = self.peek().cloned() {
            self.position += 1;
            let right = self.operand()?;
            return Ok(Expr::Compare(Box::new(left), op, Box::new(right)));
        }
        if self.peek() == Some(&Token::In) {
            self.position += 1;
            let right = self.operand()?;
            return Ok(Expr::In(Box::new(left), Box::new(right)));
        }
        Ok(left)
    }
    fn operand(&mut self) -> Result<Expr, ParseError> {
        let offset = self.offset();
        let Some(token) = self.peek().cloned() else {
            return self.error("expected a value, found the end of the condition");
        };
        if token != Token::Open {
            self.operands += 1;
            if self.operands > MAX_OPERANDS {
                return self.error(format!("the condition has more than {MAX_OPERANDS} operands"));
            }
        }
        self.position += 1;
        Ok(match token {
            Token::Number(n) => Expr::Number(n),
            Token::Text(s) => Expr::Text(s),
            Token::Name(name) => match name.as_str() {
                "true" => Expr::Bool(true),
                "false" => Expr::Bool(false),
                "null" => Expr::Null,
                _ => {
                    if name.split('.').any(str::is_empty) {
                        self.position -= 1;
                        return self.error(format!("`{name}` is not a valid name"));
                    }
                    Expr::Path(name.split('.').map(str::to_owned).collect(), offset)
                }
            },
            Token::Open => {
                self.position -= 1;
                self.enter()?;
                self.position += 1;
                let inner = self.or()?;
                if self.peek() != Some(&Token::Close) {
                    return self.error("expected `)`");
                }
                self.position += 1;
                self.nesting -= 1;
                inner
            }
            _ => {
                self.position -= 1;
                return self.error("expected a value");
            }
        })
    }
}

/// Parse a `when` condition.
pub fn parse(text: &str) -> Result<Expr, ParseError> {
    let (tokens, cut) = tokenize(text)?;
    let cut_at = cut.then(|| tokens.last().map_or(0, |t| t.1));
    if tokens.is_empty() {
        return Err(ParseError {
            offset: 0,
            message: "the condition is empty".into(),
        });
    }
    let mut parser = Parser {
        tokens,
        position: 0,
        end: text.len(),
        nesting: 0,
        operands: 0,
    };
    let too_long = |offset: usize| ParseError {
        offset,
        message: format!("the condition is longer than {MAX_TOKENS} tokens"),
    };
    // An error before the cut is the error the whole condition has; one at
    // the cut (or none) only says the text ran out where it was cut.
    let expr = match (parser.or(), cut_at) {
        (Err(e), Some(at)) if e.offset >= at => return Err(too_long(at)),
        (Ok(_), Some(at)) => return Err(too_long(at)),
        (result, _) => result?,
    };
    if parser.position < parser.tokens.len() {
        return parser.error("unexpected text after the condition");
    }
    let depth = expr.plan_depth();
    if depth > MAX_PLAN_DEPTH {
        return Err(ParseError {
            offset: 0,
            message: format!("the condition is nested {depth} levels deep once compiled, more than {MAX_PLAN_DEPTH}; split it"),
        });
    }
    Ok(expr)
}

/// Every name the expression reads, with its byte offset.
pub fn names(expr: &Expr) -> Vec<(&[String], usize)> {
    let mut out = Vec::new();
    fn walk<'a>(e: &'a Expr, out: &mut Vec<(&'a [String], usize)>) {
        match e {
            Expr::Path(p, offset) => out.push((p, *offset)),
            Expr::Not(a) => walk(a, out),
            Expr::And(xs) | Expr::Or(xs) => xs.iter().for_each(|x| walk(x, out)),
            Expr::Compare(a, _, b) | Expr::In(a, b) => {
                walk(a, out);
                walk(b, out);
            }
            _ => {}
        }
    }
    walk(expr, &mut out);
    out
}

/// The names a `when` condition may use besides metric names (semantics §4).
pub const RESULT_FIELDS: &[&str] = &[
    "score",
    "passed",
    "failed",
    "pass_threshold",
    "failure_codes",
    "dimension_scores",
    "remediation_hints",
    "raw_output",
    "summary",
    "iteration",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_corpus_forms() {
        assert!(matches!(parse("score < pass_threshold"), Ok(Expr::Compare(_, CompareOp::Lt, _))));
        assert!(matches!(parse("passed == false"), Ok(Expr::Compare(_, CompareOp::Eq, _))));
        let e = parse("not passed and (score <= 0.5 || iteration >= 3)").unwrap();
        let names: Vec<String> = names(&e).iter().map(|(p, _)| p.join(".")).collect();
        assert_eq!(names, ["passed", "score", "iteration"]);
        assert!(parse("dimension_scores.accuracy < 0.7").is_ok());
        assert!(parse("summary == 'ok'").is_ok());
    }

    #[test]
    fn parses_membership() {
        let e = parse("'maintenance' in labels and files_changed < 5").unwrap();
        let Expr::And(terms) = &e else { panic!("{e:?}") };
        assert!(matches!(&terms[0], Expr::In(a, b)
            if **a == Expr::Text("maintenance".into()) && matches!(&**b, Expr::Path(p, 17) if p == &["labels"])));
        assert!(matches!(parse("not (x in y)"), Ok(Expr::Not(_))));
        // `in` needs a value on both sides, and is a keyword, not a name.
        assert_eq!(parse("'a' in").unwrap_err().offset, 6);
        assert!(parse("in labels").is_err());
    }

    #[test]
    fn reports_errors_with_offsets() {
        assert_eq!(parse("score <").unwrap_err().offset, 7);
        assert_eq!(parse("score < < 1").unwrap_err().offset, 8);
        assert_eq!(parse("(score < 1").unwrap_err().message, "expected `)`");
        assert_eq!(parse("score ~ 1").unwrap_err().offset, 6);
        assert!(parse("").is_err());
        assert!(parse("a..b < 1").is_err());
        assert!(parse("score < 1 2").is_err());
    }

    #[test]
    fn chains_are_one_node() {
        let e = parse("a and b and c or d").unwrap();
        let Expr::Or(terms) = &e else { panic!("{e:?}") };
        assert!(matches!(&terms[0], Expr::And(xs) if xs.len() == 3));
        // or(and(a, b, c), d): the or, the and's two levels, a name.
        assert_eq!(e.plan_depth(), 1 + 2 + 1);
    }

    #[test]
    fn hostile_conditions_are_errors_not_crashes() {
        let deep_parens = format!("{}score{}", "(".repeat(10_000), ")".repeat(10_000));
        let err = parse(&deep_parens).unwrap_err();
        assert!(err.message.contains("deeper than 32"), "{err:?}");
        assert_eq!(err.offset, MAX_NESTING, "at the first `(` too many");
        // Past the token limit, an error found before the cut is reported as such.
        let cut = parse(&vec!["x"; 10_000].join(" and ")).unwrap_err();
        assert!(cut.message.contains("more than 1024 operands"), "{}", cut.message);
        let long = parse(&vec!["((((a))))"; 1_000].join(" and ")).unwrap_err();
        assert!(long.message.contains("longer than"), "{}", long.message);
        let nots = format!("{}passed", "not ".repeat(40_000));
        assert!(parse(&nots).unwrap_err().message.contains("deeper than 32"));
        let bangs = format!("{}passed", "!".repeat(40_000));
        assert!(parse(&bangs).unwrap_err().message.contains("deeper than 32"));
        let chain = vec!["score > 0"; 10_000].join(" and ");
        assert!(parse(&chain)
            .unwrap_err()
            .message
            .contains(&format!("more than {MAX_OPERANDS} operands")));
        // Within the limits, a long chain compiles shallow.
        let chain = vec!["score > 0"; 400].join(" and ");
        assert_eq!(parse(&chain).unwrap().plan_depth(), 9 + 2);
        // Nesting that alternates chains grows the compiled depth: refused
        // past 48, measured exactly (the last operand of a chain of four sits
        // two levels down).
        let nest = |levels: usize| (0..levels).fold("x".to_owned(), |inner, _| format!("(a or b or c or {inner})"));
        assert_eq!(parse(&nest(23)).unwrap().plan_depth(), 2 * 23 + 1);
        assert!(
            parse(&nest(24)).unwrap_err().message.contains("49 levels deep once compiled"),
            "{}",
            nest(24)
        );
        // The limits leave every written condition alone.
        assert!(parse(&format!("{}score < 1{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING))).is_ok());
    }
}
