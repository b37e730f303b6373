//! Types of the matrix data (`data/matrix.toml`) and its loading and validation.
//!
//! (Filled in together with the data.)

use serde::{Deserialize, Serialize};

/// Which side of the Edge (or reverse proxy) a rule is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Interface {
    External,
    Internal,
    ExternalVip,
    InternalVip,
    ReverseProxyExternal,
    ReverseProxyInternal,
}

/// The Edge service a rule belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Service {
    Access,
    Webconf,
    Av,
    /// The internal interface's own services: CMS replica agent 4443, CLS 50001-50003.
    Internal,
    XmppProxy,
    ReverseProxy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Tcp,
    Udp,
}

/// Who opens the connection (TCP) or sends the first datagram (UDP), relative to the Edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    InboundToEdge,
    OutboundFromEdge,
    InboundToReverseProxy,
    OutboundFromReverseProxy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Version {
    Lync2010,
    Lync2013,
    Sfb2015,
    Sfb2019,
}

/// Deployment scenario a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// Single Edge, or a DNS-load-balanced pool (002's and 000's non-HLB tables).
    Single,
    ScaledDns,
    /// Real node addresses of a hardware-load-balanced pool.
    HlbServer,
    /// The load balancer's virtual addresses.
    HlbVip,
    Any,
}

/// A feature a rule depends on (`[features]` of the topology).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    Federation,
    Xmpp,
    PublicIm,
    Cls,
    LegacyInterop,
}

/// What matching the rule means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleVerdict {
    Permit,
    /// Permitted only when `feature` is on.
    PermitIf,
    /// Permitted, with the rule's note shown.
    PermitNote,
    /// Documented in one seed but contradicted: suspicious.
    Flag,
}
