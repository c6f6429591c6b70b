//! The lexer's quotes and expansions: double quotes, `$'…'`, `$NAME`,
//! `${…}`, `$(…)`, `$((…))`, backticks and bash brace expansion.

use super::{Lexer, ParseError, Seg, Word};

impl Lexer {
    /// Whether an unquoted `{` here opens a brace expansion: a `,` or `..`
    /// before its matching `}` on the same word.
    pub(super) fn brace_expansion(&self) -> bool {
        /// Past this many characters a `{` counts as an expansion (unknown):
        /// scanning every `{` of a huge word to its end would be quadratic.
        const MAX_SCAN: usize = 4096;
        let mut depth = 0usize;
        let mut k = self.i;
        while let Some(&c) = self.chars.get(k) {
            if k - self.i > MAX_SCAN {
                return true;
            }
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        return false;
                    }
                }
                ',' if depth == 1 => return true,
                '.' if depth == 1 && self.chars.get(k + 1) == Some(&'.') => return true,
                // bash expands quoted pieces too: `{'rm',-r,x}`.
                ' ' | '\t' | '\n' | ';' | '&' | '|' | '<' | '>' | '(' | ')' => return false,
                _ => {}
            }
            k += 1;
        }
        false
    }

    pub(super) fn double_quoted(&mut self, w: &mut Word) -> Result<(), ParseError> {
        let mut any = false;
        loop {
            let Some(c) = self.peek() else {
                return Err(ParseError("a double quote is not closed".into()));
            };
            self.i += 1;
            match c {
                '"' => break,
                '\\' => match self.peek() {
                    Some(n @ ('$' | '`' | '"' | '\\')) => {
                        w.push_lit(n);
                        self.i += 1;
                    }
                    Some('\n') => self.i += 1,
                    _ => w.push_lit('\\'),
                },
                '$' => self.dollar(w, true)?,
                '`' => {
                    let inner = self.backtick()?;
                    w.segs.push(Seg::Subst(inner));
                }
                _ => w.push_lit(c),
            }
            any = true;
        }
        if !any {
            w.segs.push(Seg::Lit(String::new()));
        }
        Ok(())
    }

    pub(super) fn ansi_c(&mut self) -> Result<String, ParseError> {
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(ParseError("a $'…' quote is not closed".into()));
            };
            self.i += 1;
            match c {
                '\'' => return Ok(out),
                '\\' => {
                    let Some(e) = self.peek() else { continue };
                    self.i += 1;
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        'x' => {
                            let mut hex = String::new();
                            while hex.len() < 2 && self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                                hex.push(self.peek().unwrap_or('0'));
                                self.i += 1;
                            }
                            out.extend(u8::from_str_radix(&hex, 16).ok().map(char::from));
                        }
                        '0'..='7' => {
                            let mut oct = e.to_string();
                            while oct.len() < 3 && self.peek().is_some_and(|c| c.is_digit(8)) {
                                oct.push(self.peek().unwrap_or('0'));
                                self.i += 1;
                            }
                            out.extend(u8::from_str_radix(&oct, 8).ok().map(char::from));
                        }
                        'a' => out.push('\u{7}'),
                        'b' => out.push('\u{8}'),
                        'e' | 'E' => out.push('\u{1b}'),
                        'f' => out.push('\u{c}'),
                        'v' => out.push('\u{b}'),
                        'u' | 'U' => {
                            let max = if e == 'u' { 4 } else { 8 };
                            let mut hex = String::new();
                            while hex.len() < max && self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                                hex.push(self.peek().unwrap_or('0'));
                                self.i += 1;
                            }
                            out.extend(u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32));
                        }
                        'c' => {
                            // `\cX`: a control character.
                            if let Some(x) = self.peek() {
                                self.i += 1;
                                out.extend(char::from_u32(x.to_ascii_uppercase() as u32 ^ 0x40));
                            }
                        }
                        other => out.push(other),
                    }
                }
                _ => out.push(c),
            }
        }
    }

    pub(super) fn dollar(&mut self, w: &mut Word, quoted: bool) -> Result<(), ParseError> {
        match self.peek() {
            Some('{') => {
                self.i += 1;
                let inner = self.until_close('{', '}')?;
                let name: String = inner.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                let special = inner.len() == 1 && "?#$!@*-".contains(inner.as_str());
                if special || (!name.is_empty() && name.len() == inner.len()) {
                    w.segs.push(Seg::Param { name: inner, quoted });
                } else {
                    w.segs.push(Seg::Unknown(format!("${{{inner}}}")));
                }
            }
            Some('(') if self.peek_at(1) == Some('(') => {
                self.i += 2;
                let inner = self.until_close('(', ')')?;
                // The arithmetic's closing `)` of `))`.
                if self.peek() == Some(')') {
                    self.i += 1;
                }
                w.segs.push(Seg::Unknown(format!("$(({inner}))")));
            }
            Some('(') => {
                self.i += 1;
                let inner = self.until_close('(', ')')?;
                w.segs.push(Seg::Subst(inner));
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let start = self.i;
                while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                    self.i += 1;
                }
                w.segs.push(Seg::Param {
                    name: self.chars[start..self.i].iter().collect(),
                    quoted,
                });
            }
            Some(c) if c.is_ascii_digit() || "?#$!@*-".contains(c) => {
                self.i += 1;
                w.segs.push(Seg::Param {
                    name: c.to_string(),
                    quoted,
                });
            }
            _ => w.push_lit('$'),
        }
        Ok(())
    }

    /// Text up to the bracket that closes an opened one, skipping quoted parts.
    fn until_close(&mut self, open: char, close: char) -> Result<String, ParseError> {
        let start = self.i;
        let mut depth = 1usize;
        while let Some(c) = self.peek() {
            self.i += 1;
            match c {
                '\\' => self.i += 1,
                '\'' => {
                    while self.peek().is_some_and(|c| c != '\'') {
                        self.i += 1;
                    }
                    self.i += 1;
                }
                '"' => {
                    while let Some(c) = self.peek() {
                        self.i += 1;
                        if c == '\\' {
                            self.i += 1;
                        } else if c == '"' {
                            break;
                        }
                    }
                }
                c if c == open => depth += 1,
                c if c == close => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(self.chars[start..self.i - 1].iter().collect());
                    }
                }
                _ => {}
            }
        }
        Err(ParseError(format!("`{open}` is not closed")))
    }

    pub(super) fn backtick(&mut self) -> Result<String, ParseError> {
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(ParseError("a backtick is not closed".into()));
            };
            self.i += 1;
            match c {
                '`' => return Ok(out),
                '\\' => match self.peek() {
                    Some(n @ ('`' | '\\' | '$')) => {
                        out.push(n);
                        self.i += 1;
                    }
                    _ => out.push('\\'),
                },
                _ => out.push(c),
            }
        }
    }
}
