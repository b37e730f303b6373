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

pub(super) fn eval(e: &Expr, v: &FlowView<'_>) -> bool {
    match e {
        Expr::Or(terms) => terms.iter().any(|t| eval(t, v)),
        Expr::And(terms) => terms.iter().all(|t| eval(t, v)),
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
        Expr::Or(terms) | Expr::And(terms) => terms.iter().find_map(first_audit_field),
        Expr::Not(a) => first_audit_field(a),
        Expr::Cmp { field, column, .. } | Expr::In { field, column, .. } => {
            field.needs_audit().then_some((*field, *column))
        }
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
