//! edgewise: reads captures taken at a Skype for Business / Lync Edge Server and turns them into
//! flows, for auditing against Microsoft's documented Edge port matrix.
//!
//! Data flows one way: [`source`] (capture files) -> [`decode`] (link, IP, transport) ->
//! [`flow`] (the flow table) -> [`analysis`] (the run, with its packet accounting) ->
//! [`identify`] (payload) -> [`judge`] (verdicts for a [`topology`] against the [`matrix`]) ->
//! [`diagnose`] (findings) -> [`report`] and [`tui`]. Above them, [`app`] turns the command
//! line ([`cli`]) into settings, runs the pipeline for the CLI and the TUI alike, and decides
//! the exit status.
//!
//! Judging one flow for the sample site:
//! ```
//! use std::path::Path;
//! use edgewise::judge::{FlowFacts, Judge, Verdict};
//! use edgewise::matrix::Matrix;
//! use edgewise::topology::{Topology, SAMPLE};
//!
//! let site = Topology::parse(SAMPLE, Path::new("site.toml")).expect("the sample parses");
//! let judge = Judge::new(&site, Matrix::builtin().expect("built-in matrix"));
//! // A remote user's client connecting to the Access Edge on 443.
//! let j = judge.judge(&FlowFacts {
//!     transport: 6,
//!     initiator: ("203.0.113.25".parse().unwrap(), 51234),
//!     responder: ("10.45.16.10".parse().unwrap(), 443),
//!     initiator_certain: true,
//!     identified: None,
//! });
//! assert_eq!(j.verdict, Verdict::Permitted);
//! assert_eq!(&*j.documented, "SIP/TLS");
//! // A client on the internal side using 5061 towards the Edge's internal interface.
//! let j = judge.judge(&FlowFacts {
//!     transport: 6,
//!     initiator: ("192.168.20.55".parse().unwrap(), 50100),
//!     responder: ("172.25.33.10".parse().unwrap(), 5061),
//!     initiator_certain: true,
//!     identified: None,
//! });
//! assert_eq!(j.verdict, Verdict::WrongSource);
//! ```

pub mod accounting;
pub mod analysis;
#[cfg(feature = "analytics")]
pub mod analytics;
pub mod app;
pub mod audit;
pub mod cli;
pub mod decode;
pub mod diagnose;
pub mod export;
pub mod flow;
pub mod fuzzing;
pub mod generate;
pub mod generate_cmd;
pub mod identify;
pub mod infer;
pub mod judge;
pub mod live;
pub mod logs;
pub mod matrix;
pub mod net;
pub mod report;
pub mod select;
pub mod source;
pub mod topology;
pub mod tui;
