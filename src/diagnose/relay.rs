//! Relay addresses handed out by TURN Allocate responses, from a flow's payload evidence.

use std::net::SocketAddr;

use super::Inputs;

/// The relayed (and mapped) addresses an allocation flow's Allocate responses carried.
pub fn relay_addresses(inputs: &Inputs<'_>, flow: usize) -> Vec<SocketAddr> {
    let _ = (inputs, flow);
    Vec::new()
}
