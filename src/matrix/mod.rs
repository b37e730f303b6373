//! The documented Edge port matrix, as data with provenance.
//!
//! Every row of every Edge port and firewall table of the specification documents is one
//! [`Rule`] in `data/matrix.toml`, with its source document, table heading and the row as written.
//! Where the documents disagree, the decision taken is a [`Decision`] recorded beside the rules
//! that depend on it and shown to the user as a note. Outputs cite the documents by their own
//! titles ([`documents`]).

pub mod documents;
pub mod rules;

pub use documents::{Citation, Document, DOCUMENTS};
pub use rules::*;
