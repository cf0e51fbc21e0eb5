//! How a forwarded client call's refusal travels: the node's [`RaftNodeError`] as a gRPC
//! status whose details hold [`ClientCallError`] as serde_json, and back.
//!
//! Only the variants a client's routing acts on survive the trip exactly (not the leader,
//! no quorum, stopped, timed out, membership refused); anything else arrives as `Failed`
//! with its message. A status without such details comes from the transport itself
//! (connection refused, wrong secret, a cut connection) and is classified by its code.

use openraft::error::Fatal;
use serde::{Deserialize, Serialize};
use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::{Code, Status};

use super::super::error::RaftNodeError;
use super::super::types::NodeId;

/// The metadata header naming the leader's id on a "not the leader" refusal.
pub const LEADER_ID_HEADER: &str = "x-mirage-leader-id";

/// The metadata header naming the leader's address on a "not the leader" refusal.
pub const LEADER_ADDRESS_HEADER: &str = "x-mirage-leader-address";

/// A node's refusal of a forwarded client call, as it travels in a status's details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(super) enum ClientCallError {
    /// [`RaftNodeError::NotLeader`].
    NotLeader {
        node_id: NodeId,
        leader_id: Option<NodeId>,
        leader_address: Option<String>,
    },
    /// [`RaftNodeError::QuorumUnavailable`].
    QuorumUnavailable { node_id: NodeId, reason: String },
    /// [`RaftNodeError::Stopped`].
    Stopped {
        node_id: NodeId,
        fatal: Fatal<NodeId>,
    },
    /// [`RaftNodeError::Timeout`].
    Timeout { node_id: NodeId, what: String },
    /// [`RaftNodeError::Membership`].
    Membership { reason: String },
    /// Any other error, which a client cannot act on but report.
    Failed { node_id: NodeId, message: String },
}

impl ClientCallError {
    /// What node `node_id` answers for `error`.
    pub(super) fn from_node_error(node_id: NodeId, error: RaftNodeError) -> Self {
        match error {
            RaftNodeError::NotLeader {
                node_id,
                leader_id,
                leader_address,
            } => Self::NotLeader {
                node_id,
                leader_id,
                leader_address,
            },
            RaftNodeError::QuorumUnavailable { node_id, reason } => {
                Self::QuorumUnavailable { node_id, reason }
            }
            RaftNodeError::Stopped { node_id, source } => Self::Stopped {
                node_id,
                fatal: *source,
            },
            RaftNodeError::Timeout { node_id, what } => Self::Timeout { node_id, what },
            RaftNodeError::Membership { reason } => Self::Membership { reason },
            other => Self::Failed {
                node_id,
                message: other.to_string(),
            },
        }
    }

    /// The node error the caller sees; `address` names the node that answered.
    pub(super) fn into_node_error(self, address: &str) -> RaftNodeError {
        match self {
            Self::NotLeader {
                node_id,
                leader_id,
                leader_address,
            } => RaftNodeError::NotLeader {
                node_id,
                leader_id,
                leader_address,
            },
            Self::QuorumUnavailable { node_id, reason } => {
                RaftNodeError::QuorumUnavailable { node_id, reason }
            }
            Self::Stopped { node_id, fatal } => RaftNodeError::Stopped {
                node_id,
                source: Box::new(fatal),
            },
            Self::Timeout { node_id, what } => RaftNodeError::Timeout { node_id, what },
            Self::Membership { reason } => RaftNodeError::Membership { reason },
            // No variant of the caller's fits a failure it cannot act on; this one stops the
            // call at once with the remote message.
            Self::Failed { node_id, message } => RaftNodeError::InvalidConfig {
                reason: format!("node {node_id} at {address} failed: {message}"),
            },
        }
    }

    fn code(&self) -> Code {
        match self {
            Self::NotLeader { .. } | Self::QuorumUnavailable { .. } | Self::Stopped { .. } => {
                Code::Unavailable
            }
            Self::Timeout { .. } => Code::DeadlineExceeded,
            Self::Membership { .. } => Code::FailedPrecondition,
            Self::Failed { .. } => Code::Internal,
        }
    }

    /// The status that carries this refusal.
    pub(super) fn into_status(self, message: String) -> Status {
        let details = serde_json::to_vec(&self).unwrap_or_default();
        let mut metadata = MetadataMap::new();
        if let Self::NotLeader {
            leader_id,
            leader_address,
            ..
        } = &self
        {
            if let Some(leader_id) = leader_id {
                metadata.insert(LEADER_ID_HEADER, AsciiMetadataValue::from(*leader_id));
            }
            if let Some(value) = leader_address
                .as_deref()
                .and_then(|address| AsciiMetadataValue::try_from(address).ok())
            {
                metadata.insert(LEADER_ADDRESS_HEADER, value);
            }
        }
        Status::with_details_and_metadata(self.code(), message, details.into(), metadata)
    }

    /// The refusal a status carries, if a node's handler sent it.
    fn from_status(status: &Status) -> Option<Self> {
        if status.details().is_empty() {
            return None;
        }
        serde_json::from_slice(status.details()).ok()
    }
}

/// The node error for a failed forwarded call to node `target` at `address`: the node's own
/// refusal when it sent one, else a transport failure. Failures a retry elsewhere can cure
/// (unreachable, cut off, late) become [`RaftNodeError::Timeout`]; a wrong secret or a node
/// that cannot serve forwarded calls become [`RaftNodeError::InvalidConfig`], which stops the
/// call at once.
pub(super) fn status_to_node_error(
    target: NodeId,
    address: &str,
    status: &Status,
) -> RaftNodeError {
    if let Some(refusal) = ClientCallError::from_status(status) {
        return refusal.into_node_error(address);
    }
    match status.code() {
        Code::Unauthenticated => RaftNodeError::InvalidConfig {
            reason: format!(
                "node {target} at {address} refused the call ({}); give every node the same cluster secret",
                status.message()
            ),
        },
        Code::Unimplemented | Code::InvalidArgument => RaftNodeError::InvalidConfig {
            reason: format!(
                "node {target} at {address} cannot serve forwarded calls ({:?}: {}); run the same mirage version on every node",
                status.code(),
                status.message()
            ),
        },
        code => RaftNodeError::Timeout {
            node_id: target,
            what: format!("an answer from {address} ({code:?}: {})", status.message()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(error: RaftNodeError) -> RaftNodeError {
        let status = ClientCallError::from_node_error(2, error).into_status("refused".to_owned());
        status_to_node_error(2, "10.0.0.2:7000", &status)
    }

    #[test]
    fn the_errors_routing_acts_on_survive_the_trip() {
        let not_leader = RaftNodeError::NotLeader {
            node_id: 2,
            leader_id: Some(3),
            leader_address: Some("10.0.0.3:7000".to_owned()),
        };
        let status =
            ClientCallError::from_node_error(2, not_leader).into_status("not leader".to_owned());
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(
            status
                .metadata()
                .get(LEADER_ADDRESS_HEADER)
                .and_then(|value| value.to_str().ok()),
            Some("10.0.0.3:7000")
        );
        assert!(matches!(
            status_to_node_error(2, "10.0.0.2:7000", &status),
            RaftNodeError::NotLeader { node_id: 2, leader_id: Some(3), leader_address: Some(address) }
                if address == "10.0.0.3:7000"
        ));
        assert!(matches!(
            round_trip(RaftNodeError::QuorumUnavailable {
                node_id: 2,
                reason: "cut off".to_owned()
            }),
            RaftNodeError::QuorumUnavailable { node_id: 2, reason } if reason == "cut off"
        ));
        assert!(matches!(
            round_trip(RaftNodeError::Stopped {
                node_id: 2,
                source: Box::new(Fatal::Stopped)
            }),
            RaftNodeError::Stopped { node_id: 2, source } if *source == Fatal::Stopped
        ));
        assert!(matches!(
            round_trip(RaftNodeError::Timeout {
                node_id: 2,
                what: "a commit".to_owned()
            }),
            RaftNodeError::Timeout { node_id: 2, what } if what == "a commit"
        ));
        let other = round_trip(RaftNodeError::CorruptStore {
            what: "entry 7".to_owned(),
        });
        assert!(
            matches!(&other, RaftNodeError::InvalidConfig { reason } if reason.contains("entry 7")),
            "{other:?}"
        );
    }

    #[test]
    fn transport_failures_are_classified_by_code() {
        let refused = status_to_node_error(2, "a:1", &Status::unauthenticated("wrong secret"));
        assert!(
            matches!(&refused, RaftNodeError::InvalidConfig { reason } if reason.contains("same cluster secret")),
            "{refused:?}"
        );
        let old = status_to_node_error(2, "a:1", &Status::unimplemented("ClientWrite"));
        assert!(
            matches!(&old, RaftNodeError::InvalidConfig { reason } if reason.contains("version")),
            "{old:?}"
        );
        for status in [
            Status::unavailable("connection refused"),
            Status::cancelled("Timeout expired"),
            Status::unknown("h2 protocol error"),
            Status::internal("stream reset"),
        ] {
            assert!(matches!(
                status_to_node_error(2, "a:1", &status),
                RaftNodeError::Timeout { node_id: 2, .. }
            ));
        }
    }
}
