//! The client side of forwarded client calls: [`GrpcTransport::client_write`] and
//! [`GrpcTransport::client_read`] ask another member to write or read for this one, and
//! answer the same [`RaftNodeError`]s that member's [`RaftNode`](super::super::RaftNode)
//! would have returned in process, so a caller routes remote and local attempts alike.

use std::time::Duration;

use super::super::error::RaftNodeError;
use super::super::network::TransportError;
use super::super::types::NodeId;
use super::GrpcTransport;
use super::client::{Rpc, SendError};
use super::wire::status_to_node_error;

impl GrpcTransport {
    /// Has node `target` at `address` propose `command` to its Raft (it does not forward it
    /// further) and answers the state machine's response once applied there.
    ///
    /// Errors: the node's own refusal as it would be in process (not the leader, with the
    /// leader it knows of; stopped; no quorum; [`RaftNodeError::Timeout`] when the node gave
    /// up waiting for its Raft); [`RaftNodeError::Timeout`] too when the node cannot be
    /// reached, cut the call or did not answer within `timeout`, which a retry on another
    /// member may cure; [`RaftNodeError::InvalidConfig`] when the node refused the cluster
    /// secret or cannot serve forwarded calls, which no retry cures.
    pub async fn client_write(
        &self,
        target: NodeId,
        address: &str,
        command: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, RaftNodeError> {
        self.forward(Rpc::ClientWrite, target, address, command, timeout)
            .await
    }

    /// Has node `target` at `address` confirm with a quorum that it leads (read-index) and
    /// answers its state machine's snapshot once everything committed before the call is
    /// applied there; restore it with [`StateMachine::restore`](super::super::StateMachine).
    /// A node that is not the leader refuses with [`RaftNodeError::NotLeader`]. Other errors
    /// as for [`GrpcTransport::client_write`].
    pub async fn client_read(
        &self,
        target: NodeId,
        address: &str,
        timeout: Duration,
    ) -> Result<Vec<u8>, RaftNodeError> {
        self.forward(Rpc::ClientRead, target, address, Vec::new(), timeout)
            .await
    }

    async fn forward(
        &self,
        rpc: Rpc,
        target: NodeId,
        address: &str,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, RaftNodeError> {
        self.send(rpc, target, address, payload, timeout)
            .await
            .map_err(|error| match error {
                SendError::Status(status) => status_to_node_error(target, address, &status),
                SendError::Timeout => RaftNodeError::Timeout {
                    node_id: target,
                    what: format!("an answer from {address} within {timeout:?}"),
                },
                SendError::Address(TransportError::Unreachable { reason, .. }) => {
                    RaftNodeError::InvalidConfig {
                        reason: format!("the address of node {target} is unusable: {reason}"),
                    }
                }
                SendError::Address(other) => RaftNodeError::InvalidConfig {
                    reason: other.to_string(),
                },
            })
    }
}
