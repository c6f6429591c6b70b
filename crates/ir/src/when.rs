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
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Compare(Box<Expr>, CompareOp, Box<Expr>),
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
    And,
    Or,
    Not,
    Open,
    Close,
}

fn tokenize(text: &str) -> Result<Vec<(Token, usize)>, ParseError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
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
    Ok(tokens)
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    position: usize,
    end: usize,
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
    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.and()?;
        while self.peek() == Some(&Token::Or) {
            self.position += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }
    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.not()?;
        while self.peek() == Some(&Token::And) {
            self.position += 1;
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }
    fn not(&mut self) -> Result<Expr, ParseError> {
        if self.peek() == Some(&Token::Not) {
            self.position += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
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
        Ok(left)
    }
    fn operand(&mut self) -> Result<Expr, ParseError> {
        let offset = self.offset();
        let Some(token) = self.peek().cloned() else {
            return self.error("expected a value, found the end of the condition");
        };
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
                let inner = self.or()?;
                if self.peek() != Some(&Token::Close) {
                    return self.error("expected `)`");
                }
                self.position += 1;
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
    let tokens = tokenize(text)?;
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
    };
    let expr = parser.or()?;
    if parser.position < parser.tokens.len() {
        return parser.error("unexpected text after the condition");
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
            Expr::And(a, b) | Expr::Or(a, b) | Expr::Compare(a, _, b) => {
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
    fn reports_errors_with_offsets() {
        assert_eq!(parse("score <").unwrap_err().offset, 7);
        assert_eq!(parse("score < < 1").unwrap_err().offset, 8);
        assert_eq!(parse("(score < 1").unwrap_err().message, "expected `)`");
        assert_eq!(parse("score ~ 1").unwrap_err().offset, 6);
        assert!(parse("").is_err());
        assert!(parse("a..b < 1").is_err());
        assert!(parse("score < 1 2").is_err());
    }
}
