//! The part of the POSIX shell language loopc reads to see what a
//! `sh -c` script runs: words (quotes, escapes, `$NAME`, `${…}`, `$(…)`,
//! backticks, `~`, globs), control operators, redirections and here-documents.
//!
//! This is not a shell. It splits a script into simple commands and marks
//! everything whose meaning depends on run time (a variable loopc does not
//! know, a command substitution, a compound command) so that the policy can
//! refuse what it cannot analyse instead of guessing.

/// Longest script read; a longer one is refused as not analysable.
pub(crate) const MAX_SCRIPT_CHARS: usize = 256 * 1024;

/// One piece of a word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Seg {
    /// Text as the shell passes it (quotes removed, escapes applied).
    Lit(String),
    /// `$NAME`, `${NAME}` or a special parameter (`$1`, `$?`, `$@`); `quoted`
    /// when inside double quotes (no field splitting).
    Param { name: String, quoted: bool },
    /// `$(…)` or a backtick substitution, with the script inside.
    Subst(String),
    /// A value loopc cannot compute: `${NAME:-x}` and other modifiers, `$((…))`.
    Unknown(String),
    /// An unquoted `~` or `~user` at the start of a word: a home directory.
    Tilde,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Word {
    pub segs: Vec<Seg>,
    /// Whether an unquoted `*`, `?` or `[` makes this a glob pattern.
    pub glob: bool,
}

impl Word {
    /// The word's text when it is all literal.
    pub fn literal(&self) -> Option<String> {
        let mut out = String::new();
        for s in &self.segs {
            match s {
                Seg::Lit(t) => out.push_str(t),
                _ => return None,
            }
        }
        Some(out)
    }

    fn push_lit(&mut self, c: char) {
        if let Some(Seg::Lit(t)) = self.segs.last_mut() {
            t.push(c);
        } else {
            self.segs.push(Seg::Lit(c.to_string()));
        }
    }

    fn push_str(&mut self, s: &str) {
        for c in s.chars() {
            self.push_lit(c);
        }
    }
}

/// A redirection: its operator (`>`, `>>`, `<`, `<<`, `>&`, …) and target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Redirect {
    pub op: String,
    pub target: Word,
}

/// One simple command of a script.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Simple {
    /// `NAME=value` words before the command name.
    pub assigns: Vec<(String, Word)>,
    pub words: Vec<Word>,
    pub redirects: Vec<Redirect>,
    /// Here-document bodies the command reads on stdin.
    pub heredocs: Vec<HereDoc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HereDoc {
    pub body: String,
    /// Whether the body undergoes expansion and contains `$` or a backtick.
    pub dynamic: bool,
}

/// A parsed script: its simple commands in order, and the constructs that
/// make it more than a list of simple commands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Script {
    pub commands: Vec<Simple>,
    /// Compound commands, function definitions, subshells seen (by name).
    pub compound: Vec<String>,
}

/// Why a script could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ParseError(pub String);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Word(Word),
    /// A control operator: `;`, `&`, `&&`, `||`, `|`, `|&`, `;;`, `(`, `)`, newline.
    Op(&'static str),
    Redir(String),
}

const RESERVED_OPENERS: &[&str] = &["if", "then", "else", "elif", "do", "while", "until", "!", "{", "time"];
const RESERVED_CLOSERS: &[&str] = &["fi", "done", "}", "esac"];
const RESERVED_HEADS: &[&str] = &["for", "select", "case", "function", "[[", "coproc"];

struct Lexer {
    chars: Vec<char>,
    i: usize,
    /// Here-documents announced on the current line: (delimiter, strip tabs, expands).
    pending: Vec<(String, bool, bool)>,
    /// Bodies read, in order of their `<<`.
    bodies: Vec<HereDoc>,
}

impl Lexer {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    fn peek_at(&self, k: usize) -> Option<char> {
        self.chars.get(self.i + k).copied()
    }

    fn tokens(&mut self) -> Result<Vec<Tok>, ParseError> {
        let mut out = Vec::new();
        loop {
            while matches!(self.peek(), Some(' ' | '\t')) || (self.peek() == Some('\\') && self.peek_at(1) == Some('\n')) {
                self.i += if self.peek() == Some('\\') { 2 } else { 1 };
            }
            let Some(c) = self.peek() else { break };
            if c == '#' {
                while !matches!(self.peek(), None | Some('\n')) {
                    self.i += 1;
                }
                continue;
            }
            if c == '\n' {
                self.i += 1;
                out.push(Tok::Op("\n"));
                self.read_heredocs()?;
                continue;
            }
            if let Some(op) = self.operator() {
                if op.starts_with('<') || op.starts_with('>') || op.starts_with("&>") {
                    out.push(Tok::Redir(op.to_owned()));
                } else {
                    out.push(Tok::Op(op));
                }
                continue;
            }
            let start = self.i;
            let word = self.word()?;
            // `2>file`: digits right before a redirection are its descriptor.
            let is_fd = matches!(self.peek(), Some('<' | '>'))
                && word
                    .literal()
                    .is_some_and(|t| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()));
            if is_fd {
                continue;
            }
            out.push(Tok::Word(word));
            if let [.., Tok::Redir(op), Tok::Word(_)] = out.as_slice() {
                if op == "<<" || op == "<<-" {
                    // A quoted delimiter (`'EOF'`, `\EOF`) makes the body literal.
                    let raw = &self.chars[start..self.i];
                    let quoted = raw.iter().any(|c| matches!(c, '\'' | '"' | '\\'));
                    // Only a plain delimiter, or one quoted whole (`'EOF'`,
                    // `"EOF"`, `\EOF`), is read: quote removal inside one
                    // (`'E"F'`) is where a reader and the shell part ways.
                    let inner = match raw {
                        ['\'', inner @ .., '\''] | ['"', inner @ .., '"'] => inner,
                        ['\\', inner @ ..] => inner,
                        other => other,
                    };
                    if inner.iter().any(|c| matches!(c, '\'' | '"' | '\\' | '$' | '`')) {
                        return Err(ParseError("a here-document delimiter with quotes or expansions inside it".into()));
                    }
                    // The delimiter is the word as written, quotes removed
                    // (not expanded: `<<"$X"` ends at a line `$X`).
                    let delim: String = raw.iter().filter(|c| !matches!(c, '\'' | '"' | '\\')).collect();
                    self.pending.push((delim, op == "<<-", !quoted));
                }
            }
        }
        if !self.pending.is_empty() {
            self.read_heredocs()?;
        }
        Ok(out)
    }

    fn read_heredocs(&mut self) -> Result<(), ParseError> {
        for (delim, strip, expands) in std::mem::take(&mut self.pending) {
            let mut body = String::new();
            let mut closed = false;
            while self.i < self.chars.len() {
                let start = self.i;
                while !matches!(self.peek(), None | Some('\n')) {
                    self.i += 1;
                }
                let line: String = self.chars[start..self.i].iter().collect();
                if self.peek() == Some('\n') {
                    self.i += 1;
                }
                let shown = if strip { line.trim_start_matches('\t') } else { line.as_str() };
                if shown == delim {
                    closed = true;
                    break;
                }
                body.push_str(shown);
                body.push('\n');
            }
            if !closed {
                return Err(ParseError(format!("here-document `{delim}` is not closed")));
            }
            let dynamic = expands && (body.contains('$') || body.contains('`'));
            self.bodies.push(HereDoc { body, dynamic });
        }
        Ok(())
    }

    fn operator(&mut self) -> Option<&'static str> {
        const OPS: &[&str] = &[
            "&>>", "<<<", "<<-", "&&", "||", ";;", ";&", "|&", "&>", "<<", "<>", "<&", ">>", ">|", ">&", ";", "&", "|", "(", ")", "<", ">",
        ];
        for op in OPS {
            if op.chars().enumerate().all(|(k, c)| self.peek_at(k) == Some(c)) {
                self.i += op.chars().count();
                return Some(op);
            }
        }
        None
    }

    fn word(&mut self) -> Result<Word, ParseError> {
        let mut w = Word::default();
        let mut first = true;
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\n' | ';' | '&' | '|' | '<' | '>' | '(' | ')' => break,
                '\\' => {
                    self.i += 1;
                    match self.peek() {
                        Some('\n') => self.i += 1,
                        Some(n) => {
                            w.push_lit(n);
                            self.i += 1;
                        }
                        None => w.push_lit('\\'),
                    }
                }
                '\'' => {
                    self.i += 1;
                    let start = self.i;
                    while self.peek().is_some_and(|c| c != '\'') {
                        self.i += 1;
                    }
                    if self.peek().is_none() {
                        return Err(ParseError("a single quote is not closed".into()));
                    }
                    let text: String = self.chars[start..self.i].iter().collect();
                    w.push_str(&text);
                    if text.is_empty() {
                        w.segs.push(Seg::Lit(String::new()));
                    }
                    self.i += 1;
                }
                '"' => {
                    self.i += 1;
                    self.double_quoted(&mut w)?;
                }
                '$' if self.peek_at(1) == Some('"') => {
                    // `$"…"` (bash: a translatable string) is a double-quoted string.
                    self.i += 2;
                    self.double_quoted(&mut w)?;
                }
                '$' if self.peek_at(1) == Some('\'') => {
                    self.i += 2;
                    let text = self.ansi_c()?;
                    w.push_str(&text);
                }
                '$' => {
                    self.i += 1;
                    self.dollar(&mut w, false)?;
                }
                '`' => {
                    self.i += 1;
                    let inner = self.backtick()?;
                    w.segs.push(Seg::Subst(inner));
                }
                '~' if first => {
                    self.i += 1;
                    while self
                        .peek()
                        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '+')
                    {
                        self.i += 1;
                    }
                    w.segs.push(Seg::Tilde);
                }
                '*' | '?' | '[' => {
                    w.glob = true;
                    w.push_lit(c);
                    self.i += 1;
                }
                '{' if self.brace_expansion() => {
                    // bash, zsh and ksh expand `{rm,-r,x}` into words.
                    let start = self.i;
                    while !matches!(
                        self.peek(),
                        None | Some(' ' | '\t' | '\n' | ';' | '&' | '|' | '<' | '>' | '(' | ')')
                    ) {
                        self.i += 1;
                    }
                    let text: String = self.chars[start..self.i].iter().collect();
                    w.segs.push(Seg::Unknown(text));
                }
                _ => {
                    w.push_lit(c);
                    self.i += 1;
                }
            }
            first = false;
        }
        Ok(w)
    }
}

/// Split `src` into simple commands.
pub(crate) fn parse(src: &str) -> Result<Script, ParseError> {
    if src.len() > MAX_SCRIPT_CHARS {
        return Err(ParseError(format!("the script is longer than {MAX_SCRIPT_CHARS} characters")));
    }
    let mut lexer = Lexer {
        chars: src.chars().collect(),
        i: 0,
        pending: Vec::new(),
        bodies: Vec::new(),
    };
    let tokens = lexer.tokens()?;
    let mut bodies = lexer.bodies.into_iter();
    let mut script = Script::default();
    let mut cur = Simple::default();
    let mut toks = tokens.into_iter().peekable();
    // Inside `for x in …` / `case … in` headers, until the next separator.
    let mut skipping_header = false;
    let mut skip_time_options = false;
    while let Some(tok) = toks.next() {
        match tok {
            Tok::Op(op) => {
                match op {
                    "(" if cur.words.len() == 1 && toks.peek() == Some(&Tok::Op(")")) => {
                        toks.next();
                        script.compound.push("a function definition".into());
                        cur.words.clear();
                    }
                    "(" => script.compound.push("a subshell `( … )`".into()),
                    ")" => {}
                    _ => {}
                }
                skipping_header = false;
                skip_time_options = false;
                finish(&mut script, &mut cur);
            }
            Tok::Redir(op) => {
                let Some(Tok::Word(target)) = toks.next() else {
                    return Err(ParseError(format!("`{op}` has no target")));
                };
                if op == "<<" || op == "<<-" {
                    cur.heredocs.extend(bodies.next());
                }
                cur.redirects.push(Redirect { op, target });
            }
            Tok::Word(w) => {
                if skipping_header {
                    if w.literal().as_deref() == Some("do") {
                        skipping_header = false;
                    }
                    continue;
                }
                if cur.words.is_empty() && skip_time_options {
                    if w.literal().is_some_and(|t| t.starts_with('-') && t != "--") {
                        continue;
                    }
                    skip_time_options = false;
                }
                if cur.words.is_empty() {
                    let lit = w.literal();
                    let lit = lit.as_deref();
                    if let Some(kw) = lit.filter(|k| RESERVED_OPENERS.contains(k) || RESERVED_CLOSERS.contains(k)) {
                        if kw == "time" {
                            // `time -p cmd`: the option is the keyword's.
                            skip_time_options = true;
                        } else {
                            script.compound.push(format!("`{kw}`"));
                        }
                        continue;
                    }
                    if let Some(kw) = lit.filter(|k| RESERVED_HEADS.contains(k)) {
                        script.compound.push(format!("`{kw}`"));
                        skipping_header = true;
                        continue;
                    }
                    if let Some((name, value)) = assignment(&w) {
                        cur.assigns.push((name, value));
                        continue;
                    }
                }
                cur.words.push(w);
            }
        }
    }
    finish(&mut script, &mut cur);
    Ok(script)
}

fn finish(script: &mut Script, cur: &mut Simple) {
    let done = std::mem::take(cur);
    if !done.words.is_empty() || !done.assigns.is_empty() || !done.redirects.is_empty() {
        script.commands.push(done);
    }
}

/// `NAME=value` as (name, value word).
fn assignment(w: &Word) -> Option<(String, Word)> {
    let Some(Seg::Lit(first)) = w.segs.first() else { return None };
    let (name, rest) = first.split_once('=')?;
    let ident =
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !name.starts_with(|c: char| c.is_ascii_digit());
    if !ident {
        return None;
    }
    let mut value = Word {
        segs: Vec::new(),
        glob: w.glob,
    };
    if !rest.is_empty() {
        value.segs.push(Seg::Lit(rest.to_owned()));
    }
    value.segs.extend(w.segs.iter().skip(1).cloned());
    Some((name.to_owned(), value))
}

mod quotes;
#[cfg(test)]
mod tests;
