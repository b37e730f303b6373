//! The parser: tokens to an [`Expr`] tree, each value checked against its field's domain.
//!
//! Recursion is bounded: parentheses nest at most [`MAX_DEPTH`] deep, `and`/`or` chains are
//! flat lists, and a run of `not` folds to at most one, so neither parsing, evaluating nor
//! dropping an expression can exhaust the stack, whatever the input.

use std::net::IpAddr;

use ipnet::IpNet;

use super::lex::{lex, Tok, Token};
use super::{Field, Filter, FilterError};

/// How deep parentheses may nest; far beyond any filter written by hand, far below the
/// stack a thread gets.
pub const MAX_DEPTH: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    /// Text containing the value (case-insensitive).
    Contains,
    /// Text matching a regular expression (case-insensitive, as Wireshark's `matches`).
    Matches,
}

/// A compiled regular expression, compared by its source.
#[derive(Debug, Clone)]
pub(super) struct Pattern(pub(super) regex_lite::Regex);

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

/// A parsed comparison value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Val {
    Net(IpNet),
    /// An inclusive range (a single number is `n..n`).
    Num(u64, u64),
    Secs(f64),
    Text(String),
    Rank(u8),
    Regex(Pattern),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    /// Every flow (Wireshark's bare `frame`: every packet has one).
    Always,
    /// Flows of one IP version: bare `ip` (IPv4) or `ipv6`.
    Family {
        v6: bool,
    },
    /// The flow has a value for the field (a field named alone).
    Has {
        field: Field,
        column: usize,
    },
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

struct Parser<'s> {
    toks: Vec<Token>,
    pos: usize,
    src: &'s str,
    /// Parentheses open around the current token.
    depth: usize,
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

/// Wireshark's protocol names, named alone, and the payload protocols (as `protocol` gives
/// them) that Wireshark would dissect under that name: TURN and MS-TURN are STUN messages to
/// Wireshark, SRTP shows as RTP.
const PAYLOADS: [(&str, &[&str]); 12] = [
    ("tls", &["tls"]),
    ("ssl", &["tls"]),
    ("stun", &["stun", "turn", "ms-turn"]),
    ("rtp", &["rtp", "srtp"]),
    ("rtcp", &["rtcp"]),
    ("sip", &["sip"]),
    ("xmpp", &["xmpp"]),
    ("http", &["http"]),
    ("dns", &["dns"]),
    ("ssh", &["ssh"]),
    ("rdp", &["rdp"]),
    ("smb", &["smb"]),
];

/// Words a filter accepts alone besides the field names.
const PRESENCE_WORDS: [&str; 9] = [
    "frame", "ip", "ipv6", "tcp", "udp", "icmp", "icmpv6", "gre", "esp",
];

/// Prefixes of Wireshark's per-packet fields: a name under one of them that edgewise does not
/// answer is a packet's field, not a flow's.
const PACKET_FIELD_PREFIXES: [&str; 14] = [
    "frame.", "eth.", "vlan.", "ip.", "ipv6.", "tcp.", "udp.", "icmp.", "icmpv6.", "tls.", "sip.",
    "stun.", "rtp.", "dns.",
];

/// Restricted Damerau-Levenshtein (optimal string alignment) distance: a swapped pair of
/// letters (`prot` for `port`) is one edit, as a typist makes it.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// The candidate nearest to `word`, when it is near enough to be what was meant.
fn nearest<'c>(word: &str, candidates: impl Iterator<Item = &'c str>) -> Option<&'c str> {
    let w = word.to_ascii_lowercase();
    // Long words bear more typos; a two-letter word bears one.
    let limit = (w.chars().count() / 3).clamp(1, 3);
    candidates
        .map(|c| (edit_distance(&w, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, c.len()))
        .map(|(_, c)| c)
}

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
        let mut terms = vec![self.and()?];
        while self.is_word(&["or"]) || self.is_sym("||") {
            self.next();
            terms.push(self.and()?);
        }
        Ok(flat(terms, Expr::Or))
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut terms = vec![self.unary()?];
        while self.is_word(&["and"]) || self.is_sym("&&") {
            self.next();
            terms.push(self.unary()?);
        }
        Ok(flat(terms, Expr::And))
    }

    /// `not not x` is `x`: only the parity of a run of negations matters.
    fn unary(&mut self) -> Result<Expr, FilterError> {
        let mut negated = false;
        while self.is_word(&["not"]) || self.is_sym("!") {
            self.next();
            negated = !negated;
        }
        let e = self.primary()?;
        Ok(if negated { Expr::Not(Box::new(e)) } else { e })
    }

    fn primary(&mut self) -> Result<Expr, FilterError> {
        let t = self.next();
        match &t.tok {
            Tok::Sym("(") => {
                if self.depth >= MAX_DEPTH {
                    return Err(self.error(
                        &t,
                        format!("parentheses nested too deeply (at most {MAX_DEPTH} levels)"),
                    ));
                }
                self.depth += 1;
                let e = self.or()?;
                self.depth -= 1;
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
                if !self.operator_follows() {
                    return self.presence(&t, w);
                }
                let Some(field) = Field::from_name(w) else {
                    return Err(self.unknown_field(&t, w));
                };
                self.comparison(field, t.at + 1)
            }
            _ => Err(self.error(
                &t,
                format!("expected a field, 'not' or '(' but found {}", t.describe()),
            )),
        }
    }

    /// Does a comparison operator come next (so the word before it names a field)?
    fn operator_follows(&self) -> bool {
        match &self.toks.get(self.pos).map(|t| &t.tok) {
            Some(Tok::Sym(s)) => matches!(*s, "==" | "!=" | "<" | ">" | "<=" | ">=" | "~"),
            Some(Tok::Word(w)) => matches!(
                w.to_ascii_lowercase().as_str(),
                "eq" | "ne" | "lt" | "gt" | "le" | "ge" | "in" | "contains" | "matches"
            ),
            _ => false,
        }
    }

    /// A word alone: a protocol (`tcp`, `ipv6`, `tls`) or a field (`tcp.port`), true when the
    /// flow has it.
    fn presence(&self, t: &Token, word: &str) -> Result<Expr, FilterError> {
        let w = word.to_ascii_lowercase();
        let column = t.at + 1;
        let text = |v: &str| Val::Text(v.to_string());
        Ok(match w.as_str() {
            "frame" => Expr::Always,
            "ip" => Expr::Family { v6: false },
            "ipv6" => Expr::Family { v6: true },
            _ if TRANSPORTS.contains(&w.as_str()) => Expr::Cmp {
                field: Field::Transport,
                column,
                op: Op::Eq,
                value: text(&w),
            },
            _ => {
                if let Some((_, protocols)) = PAYLOADS.iter().find(|(n, _)| *n == w) {
                    return Ok(Expr::In {
                        field: Field::Protocol,
                        column,
                        values: protocols.iter().map(|p| text(p)).collect(),
                    });
                }
                match Field::from_name(&w) {
                    Some(field) => Expr::Has { field, column },
                    None => return Err(self.unknown_field(t, word)),
                }
            }
        })
    }

    /// An unknown field: "did you mean" when a name is near, the reason when it is one of
    /// Wireshark's per-packet fields, else the list of fields.
    fn unknown_field(&self, t: &Token, word: &str) -> FilterError {
        let candidates = Field::names()
            .chain(PRESENCE_WORDS)
            .chain(PAYLOADS.iter().map(|(n, _)| *n));
        if let Some(near) = nearest(word, candidates) {
            return self.error(t, format!("unknown field '{word}': did you mean `{near}`?"));
        }
        let lower = word.to_ascii_lowercase();
        let names: Vec<&str> = Field::names().collect();
        if PACKET_FIELD_PREFIXES.iter().any(|p| lower.starts_with(p)) {
            return self.error(
                t,
                format!(
                    "'{word}' is a field of single packets, which a flow does not have; a flow \
                     filter answers: {}",
                    names.join(", ")
                ),
            );
        }
        self.error(
            t,
            format!("unknown field '{word}' (fields: {})", names.join(", ")),
        )
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
            Tok::Sym("~") => Op::Matches,
            Tok::Word(w) => match w.to_ascii_lowercase().as_str() {
                "eq" => Op::Eq,
                "ne" => Op::Ne,
                "lt" => Op::Lt,
                "gt" => Op::Gt,
                "le" => Op::Le,
                "ge" => Op::Ge,
                "contains" => Op::Contains,
                "matches" => Op::Matches,
                "in" => return self.set(field, column),
                _ => return Err(self.expected_operator(&t, field)),
            },
            _ => return Err(self.expected_operator(&t, field)),
        };
        if matches!(op, Op::Contains | Op::Matches) {
            if !field.is_text() {
                return Err(self.error(
                    &t,
                    format!(
                        "'{}' is not text: contains and matches apply to transport, protocol, \
                         tls.handshake.extensions_server_name, interface, service, verdict and \
                         state",
                        field.name()
                    ),
                ));
            }
            let v = self.next();
            let Some(text) = self.text_of(&v) else {
                return Err(self.error(
                    &v,
                    format!(
                        "expected text after '{}' but found {}",
                        field.name(),
                        v.describe()
                    ),
                ));
            };
            let value = match op {
                Op::Contains => Val::Text(text.to_lowercase()),
                _ => Val::Regex(self.pattern(&v, &text)?),
            };
            return Ok(Expr::Cmp {
                field,
                column,
                op,
                value,
            });
        }
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

    fn text_of(&self, t: &Token) -> Option<String> {
        match &t.tok {
            Tok::Word(w) => Some(w.clone()),
            Tok::Quoted(q) => Some(q.clone()),
            _ => None,
        }
    }

    /// A `matches` pattern, compiled once, case-insensitive; its size is bounded so that no
    /// pattern can take the machine.
    fn pattern(&self, t: &Token, text: &str) -> Result<Pattern, FilterError> {
        regex_lite::RegexBuilder::new(text)
            .case_insensitive(true)
            .size_limit(1 << 20)
            .nest_limit(MAX_DEPTH as u32)
            .build()
            .map(Pattern)
            .map_err(|e| self.error(t, format!("bad regular expression: {e}")))
    }

    fn expected_operator(&self, t: &Token, field: Field) -> FilterError {
        self.error(
            t,
            format!(
                "expected a comparison (==, !=, <, >, <=, >=, in, contains, matches) after '{}' \
                 but found {}",
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
                None => {
                    let hint = match nearest(&text, list.iter().copied()) {
                        Some(near) => format!(": did you mean `{near}`?"),
                        None => String::new(),
                    };
                    Err(self.error(
                        t,
                        format!(
                            "unknown {what} '{text}'{hint} (one of: {})",
                            list.join(", ")
                        ),
                    ))
                }
            }
        };
        match field {
            Field::Ip | Field::IpSrc | Field::IpDst => parse_net(&text)
                .map(Val::Net)
                .ok_or_else(|| self.error(t, "expected an IP address or CIDR".into())),
            Field::Ipv6 | Field::Ipv6Src | Field::Ipv6Dst => match parse_net(&text) {
                Some(n @ IpNet::V6(_)) => Ok(Val::Net(n)),
                Some(IpNet::V4(_)) => Err(self.error(
                    t,
                    format!(
                        "'{}' holds IPv6 addresses, as in Wireshark: use ip.addr (or ip) for \
                         IPv4",
                        field.name()
                    ),
                )),
                None => Err(self.error(t, "expected an IPv6 address or CIDR".into())),
            },
            Field::Port
            | Field::PortSrc
            | Field::PortDst
            | Field::TcpPort
            | Field::TcpSrcPort
            | Field::TcpDstPort
            | Field::UdpPort
            | Field::UdpSrcPort
            | Field::UdpDstPort
            | Field::IpProto
            | Field::Packets
            | Field::Bytes => {
                let max = match field {
                    Field::Packets | Field::Bytes => u64::MAX,
                    Field::IpProto => u64::from(u8::MAX),
                    _ => u64::from(u16::MAX),
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
            Field::Protocol | Field::Payload | Field::Documented | Field::Sni => {
                Ok(Val::Text(text.to_ascii_lowercase()))
            }
            Field::Blocked => Err(self.error(
                t,
                "blocked is tested alone: `blocked` keeps the flows a firewall log says it \
                 denied, `!blocked` the others"
                    .into(),
            )),
        }
    }
}

fn ordered(field: Field) -> bool {
    matches!(
        field,
        Field::Port
            | Field::PortSrc
            | Field::PortDst
            | Field::TcpPort
            | Field::TcpSrcPort
            | Field::TcpDstPort
            | Field::UdpPort
            | Field::UdpSrcPort
            | Field::UdpDstPort
            | Field::IpProto
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

/// One term stays itself; more become one flat `and`/`or` node.
fn flat(mut terms: Vec<Expr>, node: fn(Vec<Expr>) -> Expr) -> Expr {
    if terms.len() == 1 {
        if let Some(e) = terms.pop() {
            return e;
        }
    }
    node(terms)
}

impl Filter {
    /// Parses an expression; the error points at the bad token.
    pub fn parse(src: &str) -> Result<Filter, FilterError> {
        let toks = lex(src)?;
        let mut p = Parser {
            toks,
            pos: 0,
            src,
            depth: 0,
        };
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
}
