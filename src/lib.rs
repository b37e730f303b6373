//! edgewise: reads captures taken at a Skype for Business / Lync Edge Server and turns them into
//! flows, for auditing against Microsoft's documented Edge port matrix.
//!
//! Data flows one way: [`source`] (capture files) -> [`decode`] (link, IP, transport) ->
//! [`flow`] (the flow table) -> [`analysis`] (the run, with its packet accounting) -> [`report`].

pub mod accounting;
pub mod analysis;
pub mod audit;
pub mod cli;
pub mod decode;
pub mod diagnose;
pub mod flow;
pub mod generate;
pub mod generate_cmd;
pub mod identify;
pub mod judge;
pub mod logs;
pub mod matrix;
pub mod report;
pub mod source;
pub mod topology;
pub mod tui;
