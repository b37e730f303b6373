//! The evaluator: one compiled expression against one flow's facts.

use std::net::IpAddr;

use serde::Serialize;

use super::parse::{Expr, Op, Val};
use super::{Field, Filter, FilterError, FlowView};
use crate::identify::Protocol;

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
    let (init, resp) = (f.initiator, f.responder);
    let v6 = |ips: &[IpAddr]| -> Vec<Actual> {
        ips.iter()
            .filter(|ip| ip.is_ipv6())
            .map(|ip| Actual::Ip(*ip))
            .collect()
    };
    // Ports of one transport only: the ends' ports when the flow is of it, else none.
    let ports = |protocol: u8, which: &[u16]| -> Vec<Actual> {
        if f.protocol == protocol {
            which.iter().map(|p| Actual::Num(u64::from(*p))).collect()
        } else {
            Vec::new()
        }
    };
    match field {
        Field::Ip => vec![Actual::Ip(init.ip), Actual::Ip(resp.ip)],
        Field::IpSrc => vec![Actual::Ip(init.ip)],
        Field::IpDst => vec![Actual::Ip(resp.ip)],
        Field::Ipv6 => v6(&[init.ip, resp.ip]),
        Field::Ipv6Src => v6(&[init.ip]),
        Field::Ipv6Dst => v6(&[resp.ip]),
        Field::IpProto => vec![Actual::Num(u64::from(f.protocol))],
        Field::Port => vec![
            Actual::Num(u64::from(init.port)),
            Actual::Num(u64::from(resp.port)),
        ],
        Field::PortSrc => vec![Actual::Num(u64::from(init.port))],
        Field::PortDst => vec![Actual::Num(u64::from(resp.port))],
        Field::TcpPort => ports(6, &[init.port, resp.port]),
        Field::TcpSrcPort => ports(6, &[init.port]),
        Field::TcpDstPort => ports(6, &[resp.port]),
        Field::UdpPort => ports(17, &[init.port, resp.port]),
        Field::UdpSrcPort => ports(17, &[init.port]),
        Field::UdpDstPort => ports(17, &[resp.port]),
        Field::Sni => v
            .identification
            .and_then(|id| id.evidence.tls.as_ref())
            .and_then(|tls| tls.sni.as_ref())
            .map(|sni| Actual::Text(sni.to_ascii_lowercase()))
            .into_iter()
            .collect(),
        Field::Transport => vec![Actual::Text(crate::net::transport_name(f.protocol))],
        Field::Protocol => {
            let mut out = Vec::new();
            if let Some(id) = v.identification {
                if id.protocol != Protocol::Unknown {
                    out.push(Actual::Text(id.protocol.label().to_ascii_lowercase()));
                }
                if let Some(s) = id.zeek_service() {
                    out.push(Actual::Text(s.to_string()));
                }
            }
            if let Some(j) = v.judgement {
                if !j.documented.is_empty() {
                    out.push(Actual::Text(j.documented.to_ascii_lowercase()));
                }
            }
            out
        }
        Field::Payload => v
            .identification
            .and_then(|id| id.protocol.payload_id())
            .map(|p| Actual::Text(p.to_string()))
            .into_iter()
            .collect(),
        Field::Documented => v
            .judgement
            .filter(|j| !j.documented.is_empty())
            .map(|j| Actual::Text(j.documented.to_ascii_lowercase()))
            .into_iter()
            .collect(),
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
        Field::Blocked => {
            if v.blocked {
                vec![Actual::Num(1)]
            } else {
                Vec::new()
            }
        }
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

/// `contains` and `matches` (text actuals are compared lower-case, as the values are).
fn text_match(a: &Actual, op: Op, v: &Val) -> bool {
    match (a, op, v) {
        (Actual::Text(t), Op::Contains, Val::Text(s)) => t.to_lowercase().contains(s.as_str()),
        (Actual::Text(t), Op::Matches, Val::Regex(re)) => re.0.is_match(t),
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

pub(super) fn eval(e: &Expr, v: &FlowView<'_>) -> bool {
    match e {
        Expr::Or(terms) => terms.iter().any(|t| eval(t, v)),
        Expr::And(terms) => terms.iter().all(|t| eval(t, v)),
        Expr::Not(a) => !eval(a, v),
        Expr::Always => true,
        Expr::Family { v6 } => v.flow.initiator.ip.is_ipv6() == *v6,
        Expr::Has { field, .. } => !actuals(*field, v).is_empty(),
        Expr::Cmp {
            field, op, value, ..
        } => {
            let acts = actuals(*field, v);
            if acts.is_empty() && field.absent_is_false() {
                return false;
            }
            match op {
                Op::Eq => acts.iter().any(|a| equal(a, value)),
                Op::Ne => !acts.iter().any(|a| equal(a, value)),
                Op::Contains | Op::Matches => acts.iter().any(|a| text_match(a, *op, value)),
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
        Expr::Or(terms) | Expr::And(terms) => terms.iter().find_map(first_audit_field),
        Expr::Not(a) => first_audit_field(a),
        Expr::Always | Expr::Family { .. } => None,
        Expr::Cmp { field, column, .. }
        | Expr::In { field, column, .. }
        | Expr::Has { field, column } => field.needs_audit().then_some((*field, *column)),
    }
}

impl Filter {
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
