//! `edgewise matrix`: the documented rules that apply to a site, as concrete firewall rules with
//! its addresses and ports filled in, like the Planning Tool's firewall report.

use std::io::{self, Write};
use std::net::IpAddr;

use serde::Serialize;

use crate::judge::{interface_label, Judge};
use crate::matrix::{PortSpec, Role, Rule};
use crate::topology::{role_label, Topology};

/// One concrete firewall rule.
#[derive(Debug, Serialize)]
pub struct FirewallRule {
    pub id: String,
    pub interface: &'static str,
    pub protocol: String,
    pub transport: String,
    pub source: Vec<String>,
    pub source_port: String,
    pub destination: Vec<String>,
    pub destination_port: String,
    pub direction: String,
    pub verdict: String,
    pub feature: Option<String>,
    pub document: String,
    pub note: String,
    pub decisions: Vec<String>,
}

fn addresses(topo: &Topology, roles: &[Role], internal_side: bool) -> Vec<String> {
    let mut out = Vec::new();
    for r in roles {
        match r {
            Role::Any if internal_side => out.push("any internal host".to_string()),
            Role::Any => out.push("any".to_string()),
            Role::ExternalClient => out.push("any (remote users)".to_string()),
            Role::FederatedPartner => {
                let ips: Vec<String> = topo
                    .partners
                    .iter()
                    .flat_map(|p| p.access_edge.iter().chain(&p.av_edge))
                    .map(IpAddr::to_string)
                    .collect();
                if ips.is_empty() {
                    out.push("any (federated partners)".into());
                } else {
                    out.push(format!("any (federated partners, e.g. {})", ips.join(", ")));
                }
            }
            Role::InternalClient => {
                if topo.client_subnets.is_empty() {
                    out.push("internal clients (no client_subnets given)".into());
                } else {
                    out.extend(topo.client_subnets.iter().map(|n| n.to_string()));
                }
            }
            role => {
                let ips: Vec<String> = topo
                    .roles
                    .iter()
                    .filter(|(_, rs)| rs.contains(role))
                    .map(|(ip, _)| ip.to_string())
                    .collect();
                if ips.is_empty() {
                    out.push(format!("({} not in the topology)", role_label(*role)));
                } else {
                    out.extend(ips);
                }
            }
        }
    }
    out.dedup();
    out
}

fn port(topo: &Topology, p: &PortSpec) -> String {
    match p {
        PortSpec::Named(sp) => topo.port(*sp).to_string(),
        other => other.to_string(),
    }
}

pub fn firewall_rules(judge: &Judge<'_>) -> Vec<FirewallRule> {
    let topo = judge.topology;
    judge
        .applicable()
        .iter()
        .map(|r: &&Rule| {
            let internal = matches!(
                r.interface,
                crate::matrix::Interface::Internal
                    | crate::matrix::Interface::InternalVip
                    | crate::matrix::Interface::ReverseProxyInternal
            );
            FirewallRule {
                id: r.id.clone(),
                interface: interface_label(r.interface),
                protocol: r.protocol.clone(),
                transport: format!("{:?}", r.transport).to_uppercase(),
                source: addresses(topo, &r.src, internal),
                source_port: port(topo, &r.src_port),
                destination: addresses(topo, &r.dst, internal),
                destination_port: port(topo, &r.dst_port),
                direction: serde_json::to_value(r.direction)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                verdict: serde_json::to_value(r.verdict)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                feature: r.feature.map(|f| {
                    let on = topo.feature(f);
                    format!(
                        "{}{}",
                        format!("{f:?}").to_lowercase(),
                        if on { "" } else { " (off)" }
                    )
                }),
                document: r
                    .sources
                    .iter()
                    .map(|s| format!("{} {}", s.doc, s.table))
                    .collect::<Vec<_>>()
                    .join("; "),
                note: r.note.clone(),
                decisions: r.decisions.clone(),
            }
        })
        .collect()
}

pub fn write_text(judge: &Judge<'_>, out: &mut dyn Write) -> io::Result<()> {
    let t = judge.topology;
    let rules = firewall_rules(judge);
    writeln!(
        out,
        "{} documented firewall rules for site '{}' ({:?}, {:?}) from {}",
        rules.len(),
        t.name,
        t.product,
        t.scenario,
        t.source
    )?;
    let mut last = "";
    for r in &rules {
        if r.interface != last {
            writeln!(out, "\n{} interface", r.interface)?;
            last = r.interface;
        }
        writeln!(
            out,
            "  {:<11} {} {} port {} -> {} port {}  [{}{}] {}",
            r.protocol,
            r.transport,
            r.source.join(", "),
            r.source_port,
            r.destination.join(", "),
            r.destination_port,
            r.verdict,
            r.feature
                .as_ref()
                .map(|f| format!(", needs {f}"))
                .unwrap_or_default(),
            r.id
        )?;
    }
    Ok(())
}

pub fn write_csv(judge: &Judge<'_>, out: &mut dyn Write) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "id",
        "interface",
        "protocol",
        "transport",
        "source",
        "source_port",
        "destination",
        "destination_port",
        "direction",
        "verdict",
        "feature",
        "document",
        "note",
    ])?;
    for r in firewall_rules(judge) {
        w.write_record([
            r.id,
            r.interface.to_string(),
            r.protocol,
            r.transport,
            r.source.join(" "),
            r.source_port,
            r.destination.join(" "),
            r.destination_port,
            r.direction,
            r.verdict,
            r.feature.unwrap_or_default(),
            r.document,
            r.note,
        ])?;
    }
    w.flush()
}

pub fn write_json(judge: &Judge<'_>, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &firewall_rules(judge))?;
    writeln!(out)
}
