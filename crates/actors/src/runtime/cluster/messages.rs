//! Messages to a [`super::ClusterSupervisor`]. They cross nodes (workers relay their events
//! from wherever they run), so this is a versioned contract: add variants at the end and
//! never rename one (the variant name is its tag on the wire).

use ractor_cluster::RactorClusterMessage;

use crate::runtime::wire::EventPayload;

/// What the cluster supervisor is told.
#[derive(Debug, RactorClusterMessage)]
pub enum ClusterMsg {
    /// Run one scheduling round now (the timer sends this too).
    Tick,
    /// A worker or node supervisor, here or on another node, reports what happened; the
    /// scheduler passes it on to its own [`crate::runtime::EventSink`].
    Event {
        /// What happened.
        event: EventPayload,
    },
}
