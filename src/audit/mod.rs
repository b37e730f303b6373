//! The audit: every flow of an [`Analysis`] judged for a [`Topology`], with the tallies and the
//! rule coverage that reports render.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::analysis::Analysis;
use crate::diagnose::Diagnosis;
use crate::flow::Flow;
use crate::judge::{
    interface_label, service_label, Coverage, FlowFacts, Judge, Judgement, Judgements, Verdict,
};
use crate::matrix::Matrix;
use crate::select::Selection;
use crate::topology::Topology;

mod headline;
pub use headline::{Answer, Headline};

/// Flows and bytes of one group.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Tally {
    pub flows: u64,
    pub packets: u64,
    pub bytes: u64,
}

impl Tally {
    fn add(&mut self, f: &Flow) {
        self.flows += 1;
        self.packets += f.packets();
        self.bytes += f.wire_bytes();
    }
}

/// Where the topology an audit used came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// The user's file (--topology).
    File,
    /// No --topology and no Edge in the capture: the bundled sample stands in.
    BundledSample,
    /// No --topology: the site was inferred from the capture (`edgewise topology infer`).
    Inferred,
}

impl Origin {
    /// A given file, or the bundled sample when `assumed`.
    pub fn of(assumed: bool) -> Origin {
        if assumed {
            Origin::BundledSample
        } else {
            Origin::File
        }
    }
}

/// How the topology came to be used.
#[derive(Debug, Clone, Serialize)]
pub struct TopologyUsed {
    pub name: String,
    pub source: String,
    pub product: String,
    pub scenario: String,
    /// No --topology was given: the bundled sample was assumed.
    pub assumed: bool,
    /// Where the topology came from; `inferred` when the capture itself stood in for it.
    pub origin: Origin,
}

/// The audit of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Audit {
    pub topology: TopologyUsed,
    /// One judgement per flow of the analysis, in the same order.
    #[serde(skip)]
    pub judgements: Judgements,
    pub by_interface: BTreeMap<String, Tally>,
    pub by_service: BTreeMap<String, Tally>,
    pub by_protocol: BTreeMap<String, Tally>,
    pub by_verdict: BTreeMap<String, Tally>,
    /// Flows the matrix does not permit that reached the Edge: for a firewall log, the violating
    /// flows it did not deny on every line.
    pub violations: u64,
    /// Violating flows a firewall log says were denied on every line: they never reached the
    /// Edge, so they are the firewall doing its job (FW2), not violations. By verdict.
    pub blocked: BTreeMap<String, Tally>,
    pub coverage: Coverage,
    pub applicable_rules: usize,
    /// By flow index, the flows a firewall log says were denied on every line; empty for
    /// captures, which see only what got through.
    #[serde(skip)]
    pub denied: Vec<bool>,
    /// The federation partners the topology names (domain, addresses), for grouping.
    #[serde(skip)]
    pub partners: Vec<(String, Vec<std::net::IpAddr>)>,
    /// Findings across flows and federated call timelines (reports write them at top level).
    #[serde(skip)]
    pub diagnosis: crate::diagnose::Diagnosis,
    /// The site the flows were judged for (the user's, the inferred one or the bundled
    /// sample): the map of the Edge draws its nodes and addresses.
    #[serde(skip)]
    pub site: std::sync::Arc<Topology>,
}

/// What the judge needs of a flow; the payload's protocol counts only when it is certain.
pub fn facts(f: &Flow, id: Option<&crate::identify::Identification>) -> FlowFacts {
    FlowFacts {
        transport: f.protocol,
        initiator: (f.initiator.ip, f.initiator.port),
        responder: (f.responder.ip, f.responder.port),
        initiator_certain: f.initiator_by.is_certain(),
        identified: id
            .filter(|i| i.confidence == crate::identify::Confidence::Certain)
            .map(|i| i.protocol),
    }
}

/// Judges every flow; `assumed` says the bundled sample stands in for the user's topology.
pub fn audit(analysis: &Analysis, topology: &Topology, matrix: &Matrix, assumed: bool) -> Audit {
    audit_from(
        analysis,
        topology,
        matrix,
        Origin::of(assumed),
        LogOutcomes::default(),
    )
}

/// What a firewall log tells of its flows beyond a capture's facts, by flow index.
#[derive(Debug, Clone, Default)]
pub struct LogOutcomes {
    /// The log did not record how the flow went (see [`crate::diagnose::Inputs::unrecorded`]).
    pub unrecorded: Vec<bool>,
    /// Every line of the flow says the firewall denied it: it never reached the Edge.
    pub denied: Vec<bool>,
}

/// Judges every flow of a firewall log, with what the log says of each flow's outcome.
pub fn audit_with(
    analysis: &Analysis,
    topology: &Topology,
    matrix: &Matrix,
    assumed: bool,
    log: LogOutcomes,
) -> Audit {
    audit_from(analysis, topology, matrix, Origin::of(assumed), log)
}

/// Judges every flow for a topology of the given origin. The checks that need the user's site
/// are skipped only for the bundled sample: an inferred site is this capture's own.
pub fn audit_from(
    analysis: &Analysis,
    topology: &Topology,
    matrix: &Matrix,
    origin: Origin,
    log: LogOutcomes,
) -> Audit {
    let LogOutcomes { unrecorded, denied } = log;
    let assumed = origin == Origin::BundledSample;
    let judge = Judge::new(topology, matrix);
    // Both cores: judging a flow reads only that flow (the judge's shared texts sit behind a
    // lock), and rayon keeps the order.
    use rayon::prelude::*;
    let judgements: Judgements = analysis
        .flows
        .par_iter()
        .enumerate()
        .map(|(i, f)| judge.judge(&facts(f, analysis.identifications.get(i))))
        .collect::<Vec<_>>()
        .into();
    let Tallies {
        by_interface,
        by_service,
        by_protocol,
        by_verdict,
        violations,
        blocked,
    } = Tallies::of(
        analysis
            .flows
            .iter()
            .zip(&judgements)
            .enumerate()
            .map(|(i, (f, j))| (f, j, denied.get(i).copied().unwrap_or(false))),
    );
    let coverage = Coverage::compute(&judge, &judgements);
    let diagnosis = crate::diagnose::diagnose(&crate::diagnose::Inputs {
        analysis,
        judgements: &judgements,
        topology,
        topology_assumed: assumed,
        unrecorded: &unrecorded,
    });
    Audit {
        topology: TopologyUsed {
            name: topology.name.clone(),
            source: topology.source.clone(),
            product: format!("{:?}", topology.product).to_lowercase(),
            // As users write it in the topology file (`scaled-dns`).
            scenario: match serde_json::to_value(topology.scenario) {
                Ok(serde_json::Value::String(s)) => s,
                _ => format!("{:?}", topology.scenario).to_lowercase(),
            },
            assumed,
            origin,
        },
        judgements,
        by_interface,
        by_service,
        by_protocol,
        by_verdict,
        violations,
        blocked,
        coverage,
        applicable_rules: judge.applicable().len(),
        denied,
        partners: topology
            .partners
            .iter()
            .map(|p| {
                (
                    p.domain.clone(),
                    p.access_edge.iter().chain(&p.av_edge).copied().collect(),
                )
            })
            .collect(),
        diagnosis,
        site: std::sync::Arc::new(topology.clone()),
    }
}

/// What makes `edgewise audit` exit with status 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    /// Any violation or error finding.
    Error,
    /// Any violation, error or warning finding.
    Warning,
    /// Any verdict that the matrix does not permit.
    Violation,
    /// Only an internal NAT hairpin.
    Hairpin,
    /// Never: exit 0 whatever the verdicts.
    Never,
}

impl FailOn {
    pub fn fails(self, audit: &Audit) -> bool {
        self.fails_on(&audit.tallies(), &audit.diagnosis)
    }
}

/// The audit's tallies of some of its flows: the whole run's are [`Audit`]'s own fields, a
/// display filter's selection has its own ([`Audit::tallies_for`]).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tallies {
    pub by_interface: BTreeMap<String, Tally>,
    pub by_service: BTreeMap<String, Tally>,
    pub by_protocol: BTreeMap<String, Tally>,
    pub by_verdict: BTreeMap<String, Tally>,
    /// Violating flows that reached the Edge.
    pub violations: u64,
    /// Violating flows a firewall log says it denied, by verdict (see [`Audit::blocked`]).
    pub blocked: BTreeMap<String, Tally>,
}

impl Tallies {
    /// Groups flows with their judgements; the one place tallies are computed. Keys are
    /// borrowed while counting and owned once per group, not once per flow.
    fn of<'a>(flows: impl IntoIterator<Item = (&'a Flow, &'a Judgement, bool)>) -> Tallies {
        use std::borrow::Cow;
        type Groups<'k> = rustc_hash::FxHashMap<Cow<'k, str>, Tally>;
        let (mut iface, mut svc, mut proto, mut verdict) = (
            Groups::default(),
            Groups::default(),
            Groups::default(),
            Groups::default(),
        );
        let mut violations = 0;
        let mut blocked = Groups::default();
        for (f, j, denied) in flows {
            let i = j.edge_interface.map_or("none", interface_label);
            iface.entry(Cow::Borrowed(i)).or_default().add(f);
            let sv = j.edge_service.map_or("none", service_label);
            svc.entry(Cow::Borrowed(sv)).or_default().add(f);
            let p = if j.documented.is_empty() {
                crate::net::IpProto(f.protocol).name()
            } else {
                Cow::Borrowed(&*j.documented)
            };
            proto.entry(p).or_default().add(f);
            verdict
                .entry(Cow::Borrowed(j.verdict.label()))
                .or_default()
                .add(f);
            if j.verdict.is_violation() {
                if denied {
                    blocked
                        .entry(Cow::Borrowed(j.verdict.label()))
                        .or_default()
                        .add(f);
                } else {
                    violations += 1;
                }
            }
        }
        let owned = |g: Groups<'_>| g.into_iter().map(|(k, t)| (k.into_owned(), t)).collect();
        Tallies {
            by_interface: owned(iface),
            by_service: owned(svc),
            by_protocol: owned(proto),
            by_verdict: owned(verdict),
            violations,
            blocked: owned(blocked),
        }
    }

    /// Flows of a verdict that reached the Edge: those a firewall log says it denied are left
    /// out.
    pub fn passed(&self, v: Verdict) -> u64 {
        let all = self.by_verdict.get(v.label()).map_or(0, |t| t.flows);
        let blocked = self.blocked.get(v.label()).map_or(0, |t| t.flows);
        all.saturating_sub(blocked)
    }

    /// Violating flows the firewall denied.
    pub fn blocked_total(&self) -> u64 {
        self.blocked.values().map(|t| t.flows).sum()
    }
}

impl Audit {
    /// The tallies of the whole run.
    pub fn tallies(&self) -> Tallies {
        Tallies {
            by_interface: self.by_interface.clone(),
            by_service: self.by_service.clone(),
            by_protocol: self.by_protocol.clone(),
            by_verdict: self.by_verdict.clone(),
            violations: self.violations,
            blocked: self.blocked.clone(),
        }
    }

    /// Whether a firewall log says flow `i` was denied on every line.
    pub fn is_denied(&self, i: usize) -> bool {
        self.denied.get(i).copied().unwrap_or(false)
    }

    /// Whether a firewall log says this flow of the analysis was denied on every line.
    pub fn flow_denied(&self, analysis: &Analysis, f: &Flow) -> bool {
        !self.denied.is_empty() && analysis.index_of(f).is_some_and(|i| self.is_denied(i))
    }

    /// The tallies of the flows a display filter kept, grouped as for the whole run.
    pub fn tallies_for(&self, analysis: &Analysis, selection: &Selection) -> Tallies {
        Tallies::of(selection.kept.iter().filter_map(|&i| {
            Some((
                analysis.flows.get(i)?,
                self.judgements.get(i)?,
                self.is_denied(i),
            ))
        }))
    }
}

impl FailOn {
    /// Whether the flows a display filter kept fail: the exit status follows what the report
    /// shows.
    pub fn fails_for(self, analysis: &Analysis, audit: &Audit, selection: &Selection) -> bool {
        self.fails_on(
            &audit.tallies_for(analysis, selection),
            &selection.diagnosis(&audit.diagnosis),
        )
    }

    /// Only flows that reached the Edge count: a violating flow the firewall denied is FW2's
    /// (info), the firewall doing its job.
    fn fails_on(self, t: &Tallies, d: &Diagnosis) -> bool {
        let violations = t.violations;
        match self {
            FailOn::Violation => violations > 0,
            FailOn::Hairpin => t.passed(Verdict::InternalHairpin) > 0,
            FailOn::Error => violations > 0 || d.count(crate::diagnose::Severity::Error) > 0,
            FailOn::Warning => {
                violations > 0
                    || d.worst()
                        .is_some_and(|s| s <= crate::diagnose::Severity::Warning)
            }
            FailOn::Never => false,
        }
    }
}
