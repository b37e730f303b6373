//! The lexer: words, quoted text and symbols, each with the column a bad one is reported at.

use super::FilterError;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Word(String),
    Quoted(String),
    Sym(&'static str),
    End,
}

#[derive(Debug, Clone)]
pub(super) struct Token {
    pub(super) tok: Tok,
    /// 0-based character offset.
    pub(super) at: usize,
    pub(super) len: usize,
}

impl Token {
    pub(super) fn describe(&self) -> String {
        match &self.tok {
            Tok::Word(w) => format!("'{w}'"),
            Tok::Quoted(q) => format!("\"{q}\""),
            Tok::Sym(s) => format!("'{s}'"),
            Tok::End => "the end".into(),
        }
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | ':' | '/' | '-' | '_')
}

/// The tokens of `src`, always ending with [`Tok::End`].
pub(super) fn lex(src: &str) -> Result<Vec<Token>, FilterError> {
    let chars: Vec<char> = src.chars().collect();
    let err = |message: String, at: usize, len: usize| FilterError {
        message,
        column: at + 1,
        len: len.max(1),
        source: src.to_string(),
    };
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
        let sym2 = ["==", "!=", "<=", ">=", "&&", "||"]
            .into_iter()
            .find(|s| *s == two);
        if let Some(s) = sym2 {
            toks.push(Token {
                tok: Tok::Sym(s),
                at: i,
                len: 2,
            });
            i += 2;
            continue;
        }
        let sym1 = ["<", ">", "!", "(", ")", "{", "}", ",", "~"]
            .into_iter()
            .find(|s| s.starts_with(c));
        if let Some(s) = sym1 {
            toks.push(Token {
                tok: Tok::Sym(s),
                at: i,
                len: 1,
            });
            i += 1;
            continue;
        }
        if c == '"' {
            let start = i;
            i += 1;
            let mut text = String::new();
            loop {
                match chars.get(i) {
                    None => {
                        return Err(err(
                            "unterminated quoted string".into(),
                            start,
                            chars.len() - start,
                        ))
                    }
                    Some('"') => break,
                    Some('\\') if chars.get(i + 1).is_some() => {
                        text.push(chars[i + 1]);
                        i += 2;
                    }
                    Some(ch) => {
                        text.push(*ch);
                        i += 1;
                    }
                }
            }
            i += 1;
            toks.push(Token {
                tok: Tok::Quoted(text),
                at: start,
                len: i - start,
            });
            continue;
        }
        if is_word_char(c) {
            let start = i;
            while i < chars.len() && is_word_char(chars[i]) {
                i += 1;
            }
            toks.push(Token {
                tok: Tok::Word(chars[start..i].iter().collect()),
                at: start,
                len: i - start,
            });
            continue;
        }
        let hint = if c == '=' {
            " (compare with '==')"
        } else if c == '&' || c == '|' {
            " (use '&&'/'and' or '||'/'or')"
        } else {
            ""
        };
        return Err(err(format!("unexpected character '{c}'{hint}"), i, 1));
    }
    toks.push(Token {
        tok: Tok::End,
        at: chars.len(),
        len: 1,
    });
    Ok(toks)
}
