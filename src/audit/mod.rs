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
    pub violations: u64,
    pub coverage: Coverage,
    pub applicable_rules: usize,
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
    audit_from(analysis, topology, matrix, Origin::of(assumed), &[])
}

/// Judges every flow of an input that did not record every flow's outcome (a firewall log):
/// `unrecorded[i]` marks flow `i` (see [`crate::diagnose::Inputs::unrecorded`]).
pub fn audit_with(
    analysis: &Analysis,
    topology: &Topology,
    matrix: &Matrix,
    assumed: bool,
    unrecorded: &[bool],
) -> Audit {
    audit_from(analysis, topology, matrix, Origin::of(assumed), unrecorded)
}

/// Judges every flow for a topology of the given origin. The checks that need the user's site
/// are skipped only for the bundled sample: an inferred site is this capture's own.
pub fn audit_from(
    analysis: &Analysis,
    topology: &Topology,
    matrix: &Matrix,
    origin: Origin,
    unrecorded: &[bool],
) -> Audit {
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
    } = Tallies::of(analysis.flows.iter().zip(&judgements));
    let coverage = Coverage::compute(&judge, &judgements);
    let diagnosis = crate::diagnose::diagnose(&crate::diagnose::Inputs {
        analysis,
        judgements: &judgements,
        topology,
        topology_assumed: assumed,
        unrecorded,
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
        coverage,
        applicable_rules: judge.applicable().len(),
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
        self.fails_on(audit.violations, audit.judgements.iter(), &audit.diagnosis)
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
    pub violations: u64,
}

impl Tallies {
    /// Groups flows with their judgements; the one place tallies are computed. Keys are
    /// borrowed while counting and owned once per group, not once per flow.
    fn of<'a>(flows: impl IntoIterator<Item = (&'a Flow, &'a Judgement)>) -> Tallies {
        use std::borrow::Cow;
        type Groups<'k> = rustc_hash::FxHashMap<Cow<'k, str>, Tally>;
        let (mut iface, mut svc, mut proto, mut verdict) = (
            Groups::default(),
            Groups::default(),
            Groups::default(),
            Groups::default(),
        );
        let mut violations = 0;
        for (f, j) in flows {
            let i = j.edge_interface.map_or("none", interface_label);
            iface.entry(Cow::Borrowed(i)).or_default().add(f);
            let sv = j.edge_service.map_or("none", service_label);
            svc.entry(Cow::Borrowed(sv)).or_default().add(f);
            let p = if j.protocol.is_empty() {
                crate::net::IpProto(f.protocol).name()
            } else {
                Cow::Borrowed(&*j.protocol)
            };
            proto.entry(p).or_default().add(f);
            verdict
                .entry(Cow::Borrowed(j.verdict.label()))
                .or_default()
                .add(f);
            if j.verdict.is_violation() {
                violations += 1;
            }
        }
        let owned = |g: Groups<'_>| g.into_iter().map(|(k, t)| (k.into_owned(), t)).collect();
        Tallies {
            by_interface: owned(iface),
            by_service: owned(svc),
            by_protocol: owned(proto),
            by_verdict: owned(verdict),
            violations,
        }
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
        }
    }

    /// The tallies of the flows a display filter kept, grouped as for the whole run.
    pub fn tallies_for(&self, analysis: &Analysis, selection: &Selection) -> Tallies {
        Tallies::of(
            selection
                .kept
                .iter()
                .filter_map(|&i| Some((analysis.flows.get(i)?, self.judgements.get(i)?))),
        )
    }
}

impl FailOn {
    /// Whether the flows a display filter kept fail: the exit status follows what the report
    /// shows.
    pub fn fails_for(self, analysis: &Analysis, audit: &Audit, selection: &Selection) -> bool {
        let judgements = selection
            .kept
            .iter()
            .filter_map(|&i| audit.judgements.get(i));
        let violations = audit.tallies_for(analysis, selection).violations;
        self.fails_on(
            violations,
            judgements,
            &selection.diagnosis(&audit.diagnosis),
        )
    }

    fn fails_on<'a>(
        self,
        violations: u64,
        mut judgements: impl Iterator<Item = &'a Judgement>,
        d: &Diagnosis,
    ) -> bool {
        match self {
            FailOn::Violation => violations > 0,
            FailOn::Hairpin => judgements.any(|j| j.verdict == Verdict::InternalHairpin),
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
