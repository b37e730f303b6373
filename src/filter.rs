//! The display filter (`-Y EXPR`): a small tshark-like expression language over finished flows.
//!
//! It runs after the analysis, like tshark's `-Y` ("applied before printing a decoded form of
//! packets", `man tshark`): the packet accounting still covers every packet read, and reports
//! say how many flows the filter kept.
//!
//! ```text
//! expr       := or
//! or         := and (("or" | "||") and)*
//! and        := unary (("and" | "&&") unary)*
//! unary      := ("not" | "!") unary | primary
//! primary    := "(" expr ")" | field op value | field "in" "{" value ([","] value)* "}"
//! op         := "==" | "!=" | "<" | ">" | "<=" | ">="   (or eq ne lt gt le ge)
//! value      := word | "quoted text"        (in sets, numbers may be ranges: 50000..59999)
//! ```
//!
//! `not` binds tighter than `and`, which binds tighter than `or`, as in Wireshark. Fields that
//! look at both ends of a flow (`ip`, `port`) and multi-valued fields (`protocol`, `severity`)
//! are true when any value matches; `a != b` is always `not (a == b)` (Wireshark 3.6's
//! "all not equal" reading), so `ip != 10.0.0.1` keeps the flows that do not touch 10.0.0.1.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

use crate::analysis::Analysis;
use crate::audit::{Audit, Tally};
use crate::diagnose::{Diagnosis, Severity};
use crate::flow::Flow;
use crate::identify::{Identification, Protocol};
use crate::judge::{interface_label, service_label, Judgement};

/// What a report says about the filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FilterSummary {
    pub expression: String,
    /// Flows the filter kept.
    pub kept: usize,
    /// Flows before filtering.
    pub total: usize,
}

/// A bad filter, pointing at the token that made it bad.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    pub message: String,
    /// 1-based column (in characters) of the bad token.
    pub column: usize,
    /// Length of the bad token in characters (at least 1).
    pub len: usize,
    pub source: String,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "display filter: {} at column {}: '{}'",
            self.message, self.column, self.source
        )?;
        writeln!(f, "    {}", self.source)?;
        write!(
            f,
            "    {}^{}",
            " ".repeat(self.column.saturating_sub(1)),
            "~".repeat(self.len.saturating_sub(1))
        )
    }
}

impl std::error::Error for FilterError {}

/// The fields a filter can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Ip,
    IpSrc,
    IpDst,
    Port,
    PortSrc,
    PortDst,
    Transport,
    Protocol,
    Interface,
    Service,
    Verdict,
    State,
    Packets,
    Bytes,
    Duration,
    Severity,
}

impl Field {
    const ALL: [(&'static str, Field); 16] = [
        ("ip", Field::Ip),
        ("ip.src", Field::IpSrc),
        ("ip.dst", Field::IpDst),
        ("port", Field::Port),
        ("port.src", Field::PortSrc),
        ("port.dst", Field::PortDst),
        ("transport", Field::Transport),
        ("protocol", Field::Protocol),
        ("interface", Field::Interface),
        ("service", Field::Service),
        ("verdict", Field::Verdict),
        ("state", Field::State),
        ("packets", Field::Packets),
        ("bytes", Field::Bytes),
        ("duration", Field::Duration),
        ("severity", Field::Severity),
    ];

    fn from_name(s: &str) -> Option<Field> {
        let s = s.to_ascii_lowercase();
        Field::ALL.iter().find(|(n, _)| *n == s).map(|(_, f)| *f)
    }

    pub fn name(self) -> &'static str {
        Field::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("?", |(n, _)| n)
    }

    /// Fields that only an audit can answer.
    pub fn needs_audit(self) -> bool {
        matches!(
            self,
            Field::Interface | Field::Service | Field::Verdict | Field::Severity
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

/// A parsed comparison value.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Net(IpNet),
    /// An inclusive range (a single number is `n..n`).
    Num(u64, u64),
    Secs(f64),
    Text(String),
    Rank(u8),
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp {
        field: Field,
        column: usize,
        op: Op,
        value: Val,
    },
    In {
        field: Field,
        column: usize,
        values: Vec<Val>,
    },
}

/// A compiled display filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    expr: Expr,
    source: String,
}

/// What the filter sees of one flow.
#[derive(Debug, Clone, Copy)]
pub struct FlowView<'a> {
    pub flow: &'a Flow,
    pub identification: Option<&'a Identification>,
    /// `None` for `edgewise flows` (no audit ran).
    pub judgement: Option<&'a Judgement>,
    /// Severities of the findings this flow is evidence of (bit 0 info, 1 warning, 2 error).
    pub severities: u8,
}

// ---------------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Sym(&'static str),
    End,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// 0-based character offset.
    at: usize,
    len: usize,
}

impl Token {
    fn describe(&self) -> String {
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

fn lex(src: &str) -> Result<Vec<Token>, FilterError> {
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
        let sym1 = ["<", ">", "!", "(", ")", "{", "}", ","]
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

// ---------------------------------------------------------------------------------------------
// Parser

struct Parser<'s> {
    toks: Vec<Token>,
    pos: usize,
    src: &'s str,
}

const INTERFACES: [&str; 7] = [
    "external",
    "internal",
    "external-vip",
    "internal-vip",
    "reverse-proxy-external",
    "reverse-proxy-internal",
    "none",
];
const SERVICES: [&str; 7] = [
    "access",
    "webconf",
    "av",
    "internal",
    "xmpp-proxy",
    "reverse-proxy",
    "none",
];
const STATES: [&str; 13] = [
    "S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH",
];
const TRANSPORTS: [&str; 6] = ["tcp", "udp", "icmp", "icmpv6", "gre", "esp"];
const SEVERITIES: [&str; 3] = ["info", "warning", "error"];

impl<'s> Parser<'s> {
    fn peek(&self) -> &Token {
        // lex always ends with Tok::End, and the parser never moves past it.
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if t.tok != Tok::End {
            self.pos += 1;
        }
        t
    }

    fn error(&self, t: &Token, message: String) -> FilterError {
        FilterError {
            message,
            column: t.at + 1,
            len: t.len.max(1),
            source: self.src.to_string(),
        }
    }

    fn is_word(&self, words: &[&str]) -> bool {
        matches!(&self.peek().tok, Tok::Word(w) if words.iter().any(|x| w.eq_ignore_ascii_case(x)))
    }

    fn is_sym(&self, s: &str) -> bool {
        matches!(&self.peek().tok, Tok::Sym(x) if *x == s)
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.and()?;
        while self.is_word(&["or"]) || self.is_sym("||") {
            self.next();
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.unary()?;
        while self.is_word(&["and"]) || self.is_sym("&&") {
            self.next();
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, FilterError> {
        if self.is_word(&["not"]) || self.is_sym("!") {
            self.next();
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, FilterError> {
        let t = self.next();
        match &t.tok {
            Tok::Sym("(") => {
                let e = self.or()?;
                let close = self.next();
                if close.tok != Tok::Sym(")") {
                    return Err(self.error(
                        &close,
                        format!(
                            "expected ')' (to close '(' from column {}) but found {}",
                            t.at + 1,
                            close.describe()
                        ),
                    ));
                }
                Ok(e)
            }
            Tok::Word(w) => {
                let Some(field) = Field::from_name(w) else {
                    let names: Vec<&str> = Field::ALL.iter().map(|(n, _)| *n).collect();
                    return Err(self.error(
                        &t,
                        format!("unknown field '{w}' (fields: {})", names.join(", ")),
                    ));
                };
                self.comparison(field, t.at + 1)
            }
            _ => Err(self.error(
                &t,
                format!("expected a field, 'not' or '(' but found {}", t.describe()),
            )),
        }
    }

    fn comparison(&mut self, field: Field, column: usize) -> Result<Expr, FilterError> {
        let t = self.next();
        let op = match &t.tok {
            Tok::Sym("==") => Op::Eq,
            Tok::Sym("!=") => Op::Ne,
            Tok::Sym("<") => Op::Lt,
            Tok::Sym(">") => Op::Gt,
            Tok::Sym("<=") => Op::Le,
            Tok::Sym(">=") => Op::Ge,
            Tok::Word(w) => match w.to_ascii_lowercase().as_str() {
                "eq" => Op::Eq,
                "ne" => Op::Ne,
                "lt" => Op::Lt,
                "gt" => Op::Gt,
                "le" => Op::Le,
                "ge" => Op::Ge,
                "in" => return self.set(field, column),
                _ => return Err(self.expected_operator(&t, field)),
            },
            _ => return Err(self.expected_operator(&t, field)),
        };
        if !matches!(op, Op::Eq | Op::Ne) && !ordered(field) {
            return Err(self.error(
                &t,
                format!("'{}' can only be compared with ==, != or in", field.name()),
            ));
        }
        let v = self.next();
        let value = self.value(field, &v, false)?;
        Ok(Expr::Cmp {
            field,
            column,
            op,
            value,
        })
    }

    fn expected_operator(&self, t: &Token, field: Field) -> FilterError {
        self.error(
            t,
            format!(
                "expected a comparison (==, !=, <, >, <=, >=, in) after '{}' but found {}",
                field.name(),
                t.describe()
            ),
        )
    }

    fn set(&mut self, field: Field, column: usize) -> Result<Expr, FilterError> {
        let open = self.next();
        if open.tok != Tok::Sym("{") {
            return Err(self.error(
                &open,
                format!("expected '{{' after 'in' but found {}", open.describe()),
            ));
        }
        let mut values = Vec::new();
        loop {
            let t = self.next();
            match &t.tok {
                Tok::Sym("}") if !values.is_empty() => break,
                Tok::Sym(",") if !values.is_empty() => continue,
                Tok::Word(_) | Tok::Quoted(_) => values.push(self.value(field, &t, true)?),
                _ => {
                    return Err(self.error(
                        &t,
                        format!(
                            "expected a value or '}}' in the set but found {}",
                            t.describe()
                        ),
                    ))
                }
            }
        }
        Ok(Expr::In {
            field,
            column,
            values,
        })
    }

    fn value(&self, field: Field, t: &Token, in_set: bool) -> Result<Val, FilterError> {
        let text = match &t.tok {
            Tok::Word(w) => w.clone(),
            Tok::Quoted(q) => q.clone(),
            _ => {
                return Err(self.error(
                    t,
                    format!(
                        "expected a value after '{}' but found {}",
                        field.name(),
                        t.describe()
                    ),
                ))
            }
        };
        let one_of = |what: &str, list: &[&str]| -> Result<Val, FilterError> {
            match list.iter().find(|x| x.eq_ignore_ascii_case(&text)) {
                Some(x) => Ok(Val::Text(x.to_string())),
                None => Err(self.error(
                    t,
                    format!("unknown {what} '{text}' (one of: {})", list.join(", ")),
                )),
            }
        };
        match field {
            Field::Ip | Field::IpSrc | Field::IpDst => parse_net(&text)
                .map(Val::Net)
                .ok_or_else(|| self.error(t, "expected an IP address or CIDR".into())),
            Field::Port | Field::PortSrc | Field::PortDst | Field::Packets | Field::Bytes => {
                let max = if matches!(field, Field::Port | Field::PortSrc | Field::PortDst) {
                    u64::from(u16::MAX)
                } else {
                    u64::MAX
                };
                let range = if in_set { text.split_once("..") } else { None };
                let (lo, hi) = match range {
                    Some((a, b)) => (a, b),
                    None => (text.as_str(), text.as_str()),
                };
                match (lo.parse::<u64>(), hi.parse::<u64>()) {
                    (Ok(a), Ok(b)) if a <= b && b <= max => Ok(Val::Num(a, b)),
                    (Ok(_), Ok(b)) if b > max => {
                        Err(self.error(t, format!("{text} is out of range (at most {max})")))
                    }
                    (Ok(_), Ok(_)) => Err(self.error(t, "empty range".into())),
                    _ => Err(self.error(t, "expected a number".into())),
                }
            }
            Field::Duration => parse_secs(&text).map(Val::Secs).ok_or_else(|| {
                self.error(
                    t,
                    "expected a duration in seconds (1.5, 1.5s, 200ms)".into(),
                )
            }),
            Field::Transport => {
                if let Some(n) = text.strip_prefix("ip-").and_then(|n| n.parse::<u8>().ok()) {
                    return Ok(Val::Text(format!("ip-{n}")));
                }
                one_of("transport", &TRANSPORTS)
            }
            Field::Interface => one_of("interface", &INTERFACES),
            Field::Service => one_of("service", &SERVICES),
            Field::State => one_of("state", &STATES),
            Field::Verdict => {
                let labels: Vec<&str> = crate::judge::Verdict::ALL
                    .iter()
                    .map(|v| v.label())
                    .collect();
                one_of("verdict", &labels)
            }
            Field::Severity => match one_of("severity", &SEVERITIES)? {
                Val::Text(s) => Ok(Val::Rank(severity_rank_of(&s))),
                v => Ok(v),
            },
            Field::Protocol => Ok(Val::Text(text.to_ascii_lowercase())),
        }
    }
}

fn ordered(field: Field) -> bool {
    matches!(
        field,
        Field::Port
            | Field::PortSrc
            | Field::PortDst
            | Field::Packets
            | Field::Bytes
            | Field::Duration
            | Field::Severity
    )
}

fn parse_net(s: &str) -> Option<IpNet> {
    if s.contains('/') {
        return s.parse::<IpNet>().ok().map(|n| n.trunc());
    }
    s.parse::<IpAddr>().ok().map(IpNet::from)
}

fn parse_secs(s: &str) -> Option<f64> {
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else {
        (s, 1.0)
    };
    num.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| v * scale)
}

fn severity_rank_of(s: &str) -> u8 {
    match s {
        "error" => 3,
        "warning" => 2,
        _ => 1,
    }
}

/// The bit of a severity in [`FlowView::severities`].
pub fn severity_bit(s: Severity) -> u8 {
    match s {
        Severity::Info => 1,
        Severity::Warning => 2,
        Severity::Error => 4,
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/// One actual value of a field for a flow.
enum Actual {
    Ip(IpAddr),
    Num(u64),
    Secs(f64),
    Text(String),
}

fn kebab<T: Serialize>(v: T) -> Option<String> {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => Some(s),
        _ => None,
    }
}

fn actuals(field: Field, v: &FlowView<'_>) -> Vec<Actual> {
    let f = v.flow;
    match field {
        Field::Ip => vec![Actual::Ip(f.initiator.ip), Actual::Ip(f.responder.ip)],
        Field::IpSrc => vec![Actual::Ip(f.initiator.ip)],
        Field::IpDst => vec![Actual::Ip(f.responder.ip)],
        Field::Port => vec![
            Actual::Num(u64::from(f.initiator.port)),
            Actual::Num(u64::from(f.responder.port)),
        ],
        Field::PortSrc => vec![Actual::Num(u64::from(f.initiator.port))],
        Field::PortDst => vec![Actual::Num(u64::from(f.responder.port))],
        Field::Transport => vec![Actual::Text(crate::report::transport_name(f.protocol))],
        Field::Protocol => {
            let mut out = Vec::new();
            if let Some(id) = v.identification {
                if id.protocol != Protocol::Unknown {
                    out.push(Actual::Text(id.protocol.label().to_ascii_lowercase()));
                }
                if let Some(s) = crate::report::zeek::service(Some(id)) {
                    out.push(Actual::Text(s.to_string()));
                }
            }
            if let Some(j) = v.judgement {
                if !j.protocol.is_empty() {
                    out.push(Actual::Text(j.protocol.to_ascii_lowercase()));
                }
            }
            out
        }
        Field::Interface => v
            .judgement
            .map(|j| {
                Actual::Text(
                    j.edge_interface
                        .and_then(kebab)
                        .unwrap_or_else(|| "none".into()),
                )
            })
            .into_iter()
            .collect(),
        Field::Service => v
            .judgement
            .map(|j| {
                Actual::Text(
                    j.edge_service
                        .and_then(kebab)
                        .unwrap_or_else(|| "none".into()),
                )
            })
            .into_iter()
            .collect(),
        Field::Verdict => v
            .judgement
            .map(|j| Actual::Text(j.verdict.label().to_string()))
            .into_iter()
            .collect(),
        Field::State => vec![Actual::Text(f.conn_state().to_string())],
        Field::Packets => vec![Actual::Num(f.packets())],
        Field::Bytes => vec![Actual::Num(f.wire_bytes())],
        Field::Duration => vec![Actual::Secs(
            (f.last_ts_ns() - f.first_ts_ns()) as f64 / 1e9,
        )],
        Field::Severity => [(4u8, 3u64), (2, 2), (1, 1)]
            .into_iter()
            .filter(|(bit, _)| v.severities & bit != 0)
            .map(|(_, rank)| Actual::Num(rank))
            .collect(),
    }
}

fn equal(a: &Actual, v: &Val) -> bool {
    match (a, v) {
        (Actual::Ip(ip), Val::Net(n)) => n.contains(ip),
        (Actual::Num(x), Val::Num(lo, hi)) => lo <= x && x <= hi,
        (Actual::Num(x), Val::Rank(r)) => *x == u64::from(*r),
        (Actual::Secs(x), Val::Secs(s)) => (x - s).abs() < 1e-9,
        (Actual::Text(t), Val::Text(s)) => t.eq_ignore_ascii_case(s),
        _ => false,
    }
}

fn compare(a: &Actual, op: Op, v: &Val) -> bool {
    let ord = match (a, v) {
        (Actual::Num(x), Val::Num(n, _)) => x.partial_cmp(n),
        (Actual::Num(x), Val::Rank(r)) => x.partial_cmp(&u64::from(*r)),
        (Actual::Secs(x), Val::Secs(s)) => x.partial_cmp(s),
        _ => None,
    };
    use std::cmp::Ordering::*;
    matches!(
        (op, ord),
        (Op::Lt, Some(Less))
            | (Op::Gt, Some(Greater))
            | (Op::Le, Some(Less | Equal))
            | (Op::Ge, Some(Greater | Equal))
    )
}

fn eval(e: &Expr, v: &FlowView<'_>) -> bool {
    match e {
        Expr::Or(a, b) => eval(a, v) || eval(b, v),
        Expr::And(a, b) => eval(a, v) && eval(b, v),
        Expr::Not(a) => !eval(a, v),
        Expr::Cmp {
            field, op, value, ..
        } => {
            let acts = actuals(*field, v);
            match op {
                Op::Eq => acts.iter().any(|a| equal(a, value)),
                Op::Ne => !acts.iter().any(|a| equal(a, value)),
                _ => acts.iter().any(|a| compare(a, *op, value)),
            }
        }
        Expr::In { field, values, .. } => actuals(*field, v)
            .iter()
            .any(|a| values.iter().any(|x| equal(a, x))),
    }
}

fn first_audit_field(e: &Expr) -> Option<(Field, usize)> {
    match e {
        Expr::Or(a, b) | Expr::And(a, b) => first_audit_field(a).or_else(|| first_audit_field(b)),
        Expr::Not(a) => first_audit_field(a),
        Expr::Cmp { field, column, .. } | Expr::In { field, column, .. } => {
            field.needs_audit().then_some((*field, *column))
        }
    }
}

impl Filter {
    /// Parses an expression; the error points at the bad token.
    pub fn parse(src: &str) -> Result<Filter, FilterError> {
        let toks = lex(src)?;
        let mut p = Parser { toks, pos: 0, src };
        if p.peek().tok == Tok::End {
            let t = p.peek().clone();
            return Err(p.error(&t, "empty filter: expected a field, 'not' or '('".into()));
        }
        let expr = p.or()?;
        let t = p.next();
        if t.tok != Tok::End {
            return Err(p.error(
                &t,
                format!("expected 'and', 'or' or the end but found {}", t.describe()),
            ));
        }
        Ok(Filter {
            expr,
            source: src.to_string(),
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// For `edgewise flows`: an error on the first field that needs the audit's judgements
    /// (interface, service, verdict, severity).
    pub fn check_without_audit(&self) -> Result<(), FilterError> {
        match first_audit_field(&self.expr) {
            None => Ok(()),
            Some((field, column)) => Err(FilterError {
                message: format!(
                    "'{}' comes from the audit: use `edgewise audit -Y ...` (flows has no {})",
                    field.name(),
                    if field == Field::Severity {
                        "findings"
                    } else {
                        "judgements"
                    }
                ),
                column,
                len: field.name().chars().count(),
                source: self.source.clone(),
            }),
        }
    }

    pub fn matches(&self, v: &FlowView<'_>) -> bool {
        eval(&self.expr, v)
    }
}

// ---------------------------------------------------------------------------------------------
// Applying a filter to a run

/// The severities of the findings each flow is evidence of (bits of [`severity_bit`]).
pub fn severities_by_flow(diagnosis: &Diagnosis, flows: usize) -> Vec<u8> {
    let mut out = vec![0u8; flows];
    for f in &diagnosis.findings {
        for e in &f.evidence {
            if let Some(s) = out.get_mut(e.flow) {
                *s |= severity_bit(f.severity);
            }
        }
    }
    out
}

fn retain<T>(v: &mut Vec<T>, keep: &[bool]) {
    let mut i = 0;
    v.retain(|_| {
        let k = keep.get(i).copied().unwrap_or(false);
        i += 1;
        k
    });
}

fn retain_analysis(analysis: &mut Analysis, keep: &[bool]) {
    retain(&mut analysis.flows, keep);
    retain(&mut analysis.identifications, keep);
}

/// Keeps the flows of `edgewise flows` that match. The caller checks
/// [`Filter::check_without_audit`] first (audit fields match nothing here).
pub fn apply_to_flows(filter: &Filter, analysis: &mut Analysis) -> FilterSummary {
    let keep: Vec<bool> = analysis
        .flows
        .iter()
        .enumerate()
        .map(|(i, f)| {
            filter.matches(&FlowView {
                flow: f,
                identification: analysis.identifications.get(i),
                judgement: None,
                severities: 0,
            })
        })
        .collect();
    let total = keep.len();
    retain_analysis(analysis, &keep);
    FilterSummary {
        expression: filter.source.clone(),
        kept: analysis.flows.len(),
        total,
    }
}

/// Keeps the flows of an audit that match, with their judgements, and returns the mask (for
/// side tables indexed by flow, such as a firewall log's). The tallies are recomputed over the
/// kept flows. The rule coverage stays that of the whole capture: a filter must not make a rule
/// look never exercised. A finding is kept when the filter keeps some of its evidence flows,
/// with only those as evidence; a federated call timeline is kept only when the filter keeps
/// all its legs, since a partial timeline would misplace where the call failed.
pub fn apply_to_audit(
    filter: &Filter,
    analysis: &mut Analysis,
    audit: &mut Audit,
) -> (FilterSummary, Vec<bool>) {
    let sev = severities_by_flow(&audit.diagnosis, analysis.flows.len());
    let keep: Vec<bool> = analysis
        .flows
        .iter()
        .enumerate()
        .map(|(i, f)| {
            filter.matches(&FlowView {
                flow: f,
                identification: analysis.identifications.get(i),
                judgement: audit.judgements.get(i),
                severities: sev.get(i).copied().unwrap_or(0),
            })
        })
        .collect();
    let total = keep.len();
    // Old index -> new index.
    let mut remap: Vec<Option<usize>> = Vec::with_capacity(total);
    let mut n = 0;
    for k in &keep {
        remap.push(k.then(|| {
            n += 1;
            n - 1
        }));
    }
    retain_analysis(analysis, &keep);
    retain(&mut audit.judgements, &keep);
    retally(analysis, audit);

    let d = &mut audit.diagnosis;
    for finding in &mut d.findings {
        finding
            .evidence
            .retain_mut(|e| match remap.get(e.flow).copied().flatten() {
                Some(i) => {
                    e.flow = i;
                    true
                }
                None => false,
            });
    }
    d.findings.retain(|f| !f.evidence.is_empty());
    d.calls.retain_mut(|c| {
        let all = c
            .legs
            .iter()
            .all(|l| remap.get(l.flow).copied().flatten().is_some());
        if all {
            for l in &mut c.legs {
                l.flow = remap.get(l.flow).copied().flatten().unwrap_or(l.flow);
            }
        }
        all
    });
    (
        FilterSummary {
            expression: filter.source.clone(),
            kept: analysis.flows.len(),
            total,
        },
        keep,
    )
}

/// Applies a mask returned by [`apply_to_audit`] to a side table indexed by flow.
pub fn retain_by_mask<T>(v: &mut Vec<T>, keep: &[bool]) {
    retain(v, keep);
}

fn add(t: &mut Tally, f: &Flow) {
    t.flows += 1;
    t.packets += f.packets();
    t.bytes += f.wire_bytes();
}

/// The audit's tallies over the kept flows, grouped as `audit::audit` groups them.
fn retally(analysis: &Analysis, audit: &mut Audit) {
    let mut by_interface: BTreeMap<String, Tally> = BTreeMap::new();
    let mut by_service: BTreeMap<String, Tally> = BTreeMap::new();
    let mut by_protocol: BTreeMap<String, Tally> = BTreeMap::new();
    let mut by_verdict: BTreeMap<String, Tally> = BTreeMap::new();
    let mut violations = 0;
    for (f, j) in analysis.flows.iter().zip(&audit.judgements) {
        add(
            by_interface
                .entry(j.edge_interface.map_or("none", interface_label).to_string())
                .or_default(),
            f,
        );
        add(
            by_service
                .entry(j.edge_service.map_or("none", service_label).to_string())
                .or_default(),
            f,
        );
        let proto = if j.protocol.is_empty() {
            crate::report::transport_name(f.protocol)
        } else {
            j.protocol.to_string()
        };
        add(by_protocol.entry(proto).or_default(), f);
        add(
            by_verdict.entry(j.verdict.label().to_string()).or_default(),
            f,
        );
        if j.verdict.is_violation() {
            violations += 1;
        }
    }
    audit.by_interface = by_interface;
    audit.by_service = by_service;
    audit.by_protocol = by_protocol;
    audit.by_verdict = by_verdict;
    audit.violations = violations;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{DirStats, Endpoint, FlowEnd, InitiatorEvidence};
    use crate::judge::Verdict;
    use crate::matrix::{Interface, Service};

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn dir(packets: u64, bytes: u64, ts: i64) -> DirStats {
        DirStats {
            packets,
            wire_bytes: bytes,
            payload_bytes: bytes / 2,
            first_ts_ns: (packets > 0).then_some(ts),
            last_ts_ns: (packets > 0).then_some(ts + 2_500_000_000),
            ..DirStats::default()
        }
    }

    /// A UDP or TCP flow with the given ends; 3 packets and 300 bytes each way, 2.5 s long.
    fn flow(protocol: u8, src: (&str, u16), dst: (&str, u16), answered: bool) -> Flow {
        let (a, b) = ((ip(src.0), src.1), (ip(dst.0), dst.1));
        Flow {
            id: 1,
            protocol,
            initiator: Endpoint { ip: a.0, port: a.1 },
            responder: Endpoint { ip: b.0, port: b.1 },
            initiator_by: InitiatorEvidence::FirstPacket,
            orig: dir(3, 300, 1_000_000_000),
            resp: if answered {
                dir(3, 300, 1_100_000_000)
            } else {
                DirStats::default()
            },
            head: Default::default(),
            tcp: None,
            interfaces: 0,
            vlan: None,
            icmp_errors: 0,
            icmp_notes: Vec::new(),
            icmp: None,
            fragments: 0,
            truncated_packets: 0,
            end: FlowEnd::EndOfCapture,
        }
    }

    fn judgement(interface: Interface, service: Service, verdict: Verdict) -> Judgement {
        Judgement {
            edge_interface: Some(interface),
            edge_service: Some(service),
            direction: None,
            protocol: "SIP/MTLS".into(),
            verdict,
            rules: Vec::new().into(),
            reason: Default::default(),
            notes: Vec::new().into(),
            judged_reversed: false,
            identified: None,
        }
    }

    fn eval_on(src: &str, f: &Flow, j: Option<&Judgement>, severities: u8) -> bool {
        let filter = Filter::parse(src).unwrap_or_else(|e| panic!("{e}"));
        filter.matches(&FlowView {
            flow: f,
            identification: None,
            judgement: j,
            severities,
        })
    }

    fn is(src: &str, f: &Flow) -> bool {
        eval_on(src, f, None, 0)
    }

    fn err(src: &str) -> FilterError {
        match Filter::parse(src) {
            Ok(f) => panic!("{src:?} parsed as {f:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn comparisons_on_addresses_ports_and_counts() {
        let f = flow(17, ("10.45.16.10", 50000), ("203.0.113.5", 3478), true);
        assert!(is("ip == 10.45.16.10", &f));
        assert!(is("ip == 203.0.113.5", &f));
        assert!(!is("ip == 10.45.16.11", &f));
        assert!(is("ip.src == 10.45.16.10", &f));
        assert!(!is("ip.dst == 10.45.16.10", &f));
        assert!(is("ip != 1.2.3.4", &f));
        assert!(!is("ip != 10.45.16.10", &f));
        assert!(is("port == 3478", &f));
        assert!(is("port.dst == 3478 && port.src >= 50000", &f));
        assert!(!is("port.src == 3478", &f));
        assert!(is("port < 4000", &f));
        assert!(!is("port > 60000", &f));
        assert!(is("transport == udp", &f));
        assert!(is("transport == UDP", &f));
        assert!(!is("transport == tcp", &f));
        assert!(is("packets == 6 and bytes >= 600 and bytes <= 600", &f));
        assert!(is("duration > 2 and duration < 3s", &f));
        assert!(is("duration >= 2600ms", &f));
        assert!(is("state == SF", &f));
        assert!(is("state == sf", &f));
        let oneway = flow(17, ("10.45.16.10", 50000), ("203.0.113.5", 3478), false);
        assert!(is("state == S0", &oneway));
        assert!(is("port eq 3478 and packets gt 5", &f));
    }

    #[test]
    fn cidr_and_sets() {
        let f = flow(6, ("192.168.20.55", 50100), ("172.25.33.10", 5061), true);
        assert!(is("ip == 172.25.33.0/24", &f));
        assert!(is("ip == 192.168.0.0/16", &f));
        assert!(!is("ip == 10.0.0.0/8", &f));
        // Host bits in a CIDR are ignored, as in Wireshark.
        assert!(is("ip.dst == 172.25.33.99/24", &f));
        assert!(is("port in {443, 5061}", &f));
        assert!(is("port in {443 5061}", &f));
        assert!(!is("port in {443, 3478}", &f));
        assert!(is("port.src in {50000..59999}", &f));
        assert!(is("ip in {10.0.0.0/8, 172.16.0.0/12}", &f));
        assert!(is("transport in {tcp, udp}", &f));
        let v6 = flow(17, ("2001:db8::1", 1000), ("2001:db8:1::2", 3478), true);
        assert!(is("ip == 2001:db8:1::/48", &v6));
        assert!(!is("ip == 10.0.0.0/8", &v6));
    }

    #[test]
    fn precedence_and_grouping() {
        let f = flow(17, ("10.0.0.1", 1000), ("10.0.0.2", 53), true);
        // a or (b and c): true because a is.
        assert!(is("port == 53 or port == 1 and port == 2", &f));
        // (a or b) and c: false because c is not.
        assert!(!is("(port == 53 or port == 1) and port == 2", &f));
        // not binds tighter than and.
        assert!(is("not port == 80 and port == 53", &f));
        assert!(!is("not (port == 80 or port == 53)", &f));
        assert!(is("!(port == 80) && port == 53 || port == 9", &f));
        assert!(is("not not port == 53", &f));
        // Left to right within one level: (a and b) or (c and d).
        assert!(is(
            "port == 1 and port == 2 or port == 53 and port == 1000",
            &f
        ));
        assert!(!is(
            "port == 1 and (port == 2 or port == 53) and port == 1000",
            &f
        ));
    }

    #[test]
    fn audit_fields() {
        let f = flow(6, ("192.168.20.55", 50100), ("172.25.33.10", 5061), true);
        let j = judgement(Interface::Internal, Service::Internal, Verdict::WrongSource);
        assert!(eval_on(
            "verdict != permitted and interface == internal",
            &f,
            Some(&j),
            0
        ));
        assert!(eval_on("verdict == wrong-source", &f, Some(&j), 0));
        assert!(eval_on("service == internal", &f, Some(&j), 0));
        assert!(!eval_on("interface == external", &f, Some(&j), 0));
        assert!(eval_on("protocol == sip/mtls", &f, Some(&j), 0));
        let ext = judgement(Interface::ExternalVip, Service::Av, Verdict::Permitted);
        assert!(eval_on(
            "interface == external-vip and service == av",
            &f,
            Some(&ext),
            0
        ));
        // Severity: the flow is evidence of a warning finding.
        let warn = severity_bit(Severity::Warning);
        assert!(eval_on("severity == warning", &f, Some(&j), warn));
        assert!(eval_on("severity >= warning", &f, Some(&j), warn));
        assert!(!eval_on("severity >= error", &f, Some(&j), warn));
        assert!(!eval_on("severity == warning", &f, Some(&j), 0));
        assert!(eval_on("severity != error", &f, Some(&j), warn));
    }

    #[test]
    fn audit_fields_are_refused_without_an_audit() {
        let Ok(f) = Filter::parse("port == 443 and severity == error") else {
            panic!("parses")
        };
        let e = f.check_without_audit().err().map(|e| (e.column, e.message));
        let Some((column, message)) = e else {
            panic!("severity needs the audit")
        };
        assert_eq!(column, 17);
        assert!(message.contains("edgewise audit"), "{message}");
        let Ok(ok) = Filter::parse("port == 443 and state == S0") else {
            panic!("parses")
        };
        assert!(ok.check_without_audit().is_ok());
    }

    #[test]
    fn errors_point_at_the_bad_token() {
        let e = err("port == 50x");
        assert_eq!((e.column, e.len), (9, 3));
        assert_eq!(
            e.to_string().lines().next(),
            Some("display filter: expected a number at column 9: 'port == 50x'")
        );
        assert_eq!(e.to_string().lines().nth(2), Some("            ^~~"));
        assert_eq!(err("prot == 1").column, 1);
        assert!(err("prot == 1").message.starts_with("unknown field 'prot'"));
        assert_eq!(err("port = 1").column, 6);
        assert_eq!(err("port == 70000").column, 9);
        assert_eq!(
            err("ip == 10.0.0.300").message,
            "expected an IP address or CIDR"
        );
        assert_eq!(err("(port == 1").column, 11);
        assert_eq!(err("port == 1 port == 2").column, 11);
        assert_eq!(err("port == 1 and").column, 14);
        assert_eq!(err("").column, 1);
        assert_eq!(err("verdict < permitted").column, 9);
        assert_eq!(err("transport == sctpx").column, 14);
        assert_eq!(err("port in {}").column, 10);
        assert_eq!(err("port in 443").column, 9);
        assert_eq!(err("state == \"S0").column, 10);
        assert_eq!(err("port == 1 & port == 2").column, 11);
    }
}
