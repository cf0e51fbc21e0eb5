//! [`GrpcTransport`]: a node's outgoing Raft RPCs over tonic.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mirage_proto::v1::RaftMessage;
use mirage_proto::v1::raft_internal_client::RaftInternalClient;
use openraft::BasicNode;
use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Request, Status};

use super::super::network::{Delivery, RaftTransport, TransportError};
use super::super::types::{NodeId, TypeConfig};
use super::faults::FaultFilter;
use super::{ClusterSecret, DEFAULT_MAX_MESSAGE_BYTES};

/// Connection settings of a [`GrpcTransport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcTransportConfig {
    /// How long to wait for a TCP connection to a target.
    pub connect_timeout: Duration,
    /// How often an idle connection is probed with HTTP/2 pings, so a dead peer is noticed.
    pub keep_alive_interval: Duration,
    /// The largest message sent or accepted, in bytes.
    pub max_message_bytes: usize,
}

impl Default for GrpcTransportConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_millis(500),
            keep_alive_interval: Duration::from_secs(10),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

/// The RPCs of `RaftInternal`.
#[derive(Debug, Clone, Copy)]
pub(super) enum Rpc {
    AppendEntries,
    Vote,
    InstallSnapshot,
    ClientWrite,
    ClientRead,
}

struct Shared {
    secret: ClusterSecret,
    config: GrpcTransportConfig,
    /// One channel per target address, created on first use; a channel reconnects by itself.
    channels: Mutex<HashMap<String, Channel>>,
    /// The peers chaos tests cut this node off from (`MIRAGE_FAULTS_FILE`); `None` in normal
    /// operation.
    faults: Option<FaultFilter>,
    /// With TLS, targets are dialled with `https` and checked against this config's CA.
    tls: Option<ClientTlsConfig>,
}

/// Delivers Raft RPCs to other nodes' [`RaftGrpcServer`](super::RaftGrpcServer)s, presenting
/// the cluster secret. Clones share their connections.
#[derive(Clone)]
pub struct GrpcTransport {
    shared: Arc<Shared>,
}

impl fmt::Debug for GrpcTransport {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("GrpcTransport")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl GrpcTransport {
    /// A transport that presents `secret` with default connection settings.
    pub fn new(secret: ClusterSecret) -> Self {
        Self::with_config(secret, GrpcTransportConfig::default())
    }

    /// A transport that presents `secret` with the given connection settings.
    ///
    /// When the environment sets `MIRAGE_FAULTS_FILE`, calls to the peers that file lists
    /// fail as unreachable: a chaos-test facility, see `faults.rs`.
    pub fn with_config(secret: ClusterSecret, config: GrpcTransportConfig) -> Self {
        Self::with_faults(secret, config, FaultFilter::from_env())
    }

    /// A transport whose calls `faults` may block.
    pub(super) fn with_faults(
        secret: ClusterSecret,
        config: GrpcTransportConfig,
        faults: Option<FaultFilter>,
    ) -> Self {
        Self::build(secret, config, faults, None)
    }

    /// A transport that presents `secret` and, given `tls` (from the node's `[tls]`),
    /// dials every target with `https`, checking its certificate and presenting the node's.
    pub fn with_tls(secret: ClusterSecret, tls: Option<ClientTlsConfig>) -> Self {
        Self::build(
            secret,
            GrpcTransportConfig::default(),
            FaultFilter::from_env(),
            tls,
        )
    }

    fn build(
        secret: ClusterSecret,
        config: GrpcTransportConfig,
        faults: Option<FaultFilter>,
        tls: Option<ClientTlsConfig>,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                secret,
                config,
                channels: Mutex::new(HashMap::new()),
                faults,
                tls,
            }),
        }
    }

    /// The channel to `address` (`host:port` or a full `http://` URI), created lazily: the
    /// connection is made by the first call.
    fn channel(&self, target: NodeId, address: &str) -> Result<Channel, TransportError> {
        // The map is only ever inserted into, so a panic elsewhere cannot leave it half-changed.
        let mut channels = self
            .shared
            .channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(channel) = channels.get(address) {
            return Ok(channel.clone());
        }
        let tls = self.shared.tls.as_ref();
        let uri = if address.contains("://") {
            address.to_owned()
        } else if tls.is_some() {
            format!("https://{address}")
        } else {
            format!("http://{address}")
        };
        let config = &self.shared.config;
        let mut endpoint =
            Endpoint::from_shared(uri).map_err(|error| TransportError::Unreachable {
                target,
                reason: format!("the address {address:?} is not valid: {error}"),
            })?;
        if let Some(tls) = tls {
            endpoint =
                endpoint
                    .tls_config(tls.clone())
                    .map_err(|error| TransportError::Unreachable {
                        target,
                        reason: format!("cannot set up TLS to {address}: {error}"),
                    })?;
        }
        let channel = endpoint
            .connect_timeout(config.connect_timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(config.keep_alive_interval)
            .keep_alive_while_idle(true)
            .connect_lazy();
        channels.insert(address.to_owned(), channel.clone());
        Ok(channel)
    }

    /// Creates the channel to node `target` at `address` now (it still connects on first
    /// use), so a malformed address is reported before any call.
    pub fn prepare(&self, target: NodeId, address: &str) -> Result<(), TransportError> {
        self.channel(target, address).map(drop)
    }

    /// Sends `payload` as `rpc` to `target` at `address` with the cluster secret, waiting at
    /// most `timeout`; answers the reply's payload.
    pub(super) async fn send(
        &self,
        rpc: Rpc,
        target: NodeId,
        address: &str,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, SendError> {
        let channel = self.channel(target, address).map_err(SendError::Address)?;
        if let Some(faults) = &self.shared.faults
            && faults.blocks(target)
        {
            return Err(SendError::Status(faults.refusal(target)));
        }
        let max_message_bytes = self.shared.config.max_message_bytes;
        let mut client = RaftInternalClient::new(channel)
            .max_decoding_message_size(max_message_bytes)
            .max_encoding_message_size(max_message_bytes);
        let mut request = Request::new(RaftMessage { payload });
        // Tells the server how long the answer is worth waiting for.
        request.set_timeout(timeout);
        self.shared.secret.attach(request.metadata_mut());
        crate::request_id::attach(request.metadata_mut());
        let sent = async {
            match rpc {
                Rpc::AppendEntries => client.append_entries(request).await,
                Rpc::Vote => client.vote(request).await,
                Rpc::InstallSnapshot => client.install_snapshot(request).await,
                Rpc::ClientWrite => client.client_write(request).await,
                Rpc::ClientRead => client.client_read(request).await,
            }
        };
        let response = tokio::time::timeout(timeout, sent)
            .await
            .map_err(|_| SendError::Timeout)?
            .map_err(SendError::Status)?;
        Ok(response.into_inner().payload)
    }

    /// Sends `request` to `target` and decodes the remote handler's result.
    async fn call<Req, Res>(
        &self,
        rpc: Rpc,
        target: NodeId,
        target_node: &BasicNode,
        request: &Req,
        timeout: Duration,
    ) -> Result<Res, TransportError>
    where
        Req: Serialize,
        Res: DeserializeOwned,
    {
        let payload = serde_json::to_vec(request).map_err(|error| TransportError::Failed {
            target,
            reason: format!("the request cannot be encoded: {error}"),
        })?;
        let answer = self
            .send(rpc, target, &target_node.addr, payload, timeout)
            .await
            .map_err(|error| match error {
                SendError::Address(error) => error,
                SendError::Timeout => TransportError::Timeout { target, timeout },
                SendError::Status(status) => status_error(target, timeout, &status),
            })?;
        serde_json::from_slice(&answer).map_err(|error| TransportError::Failed {
            target,
            reason: format!(
                "the answer cannot be decoded: {error}; are both nodes running the same version?"
            ),
        })
    }
}

/// Why [`GrpcTransport::send`] got no answer.
#[derive(Debug)]
pub(super) enum SendError {
    /// The target's address is malformed.
    Address(TransportError),
    /// No answer within the timeout.
    Timeout,
    /// The call failed: refused by the server, or the connection failed.
    Status(Status),
}

/// Maps a gRPC failure to the transport's error kinds.
fn status_error(target: NodeId, timeout: Duration, status: &Status) -> TransportError {
    match status.code() {
        Code::Unavailable => TransportError::Unreachable {
            target,
            reason: status.message().to_owned(),
        },
        Code::DeadlineExceeded => TransportError::Timeout { target, timeout },
        // tonic reports its own request timeout as CANCELLED "Timeout expired".
        Code::Cancelled if status.message().contains("Timeout expired") => {
            TransportError::Timeout { target, timeout }
        }
        Code::Unauthenticated => TransportError::Failed {
            target,
            reason: format!(
                "refused: {}; this node's cluster secret differs from the target's",
                status.message()
            ),
        },
        code => TransportError::Failed {
            target,
            reason: format!("{code:?}: {}", status.message()),
        },
    }
}

impl RaftTransport for GrpcTransport {
    async fn append_entries(
        &self,
        target: NodeId,
        target_node: &BasicNode,
        request: AppendEntriesRequest<TypeConfig>,
        timeout: Duration,
    ) -> Delivery<AppendEntriesResponse<NodeId>> {
        self.call::<_, Result<_, RaftError<NodeId>>>(
            Rpc::AppendEntries,
            target,
            target_node,
            &request,
            timeout,
        )
        .await
    }

    async fn vote(
        &self,
        target: NodeId,
        target_node: &BasicNode,
        request: VoteRequest<NodeId>,
        timeout: Duration,
    ) -> Delivery<VoteResponse<NodeId>> {
        self.call::<_, Result<_, RaftError<NodeId>>>(
            Rpc::Vote,
            target,
            target_node,
            &request,
            timeout,
        )
        .await
    }

    async fn install_snapshot(
        &self,
        target: NodeId,
        target_node: &BasicNode,
        request: InstallSnapshotRequest<TypeConfig>,
        timeout: Duration,
    ) -> Delivery<InstallSnapshotResponse<NodeId>, InstallSnapshotError> {
        self.call::<_, Result<_, RaftError<NodeId, InstallSnapshotError>>>(
            Rpc::InstallSnapshot,
            target,
            target_node,
            &request,
            timeout,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_failures_map_to_transport_errors() {
        let timeout = Duration::from_millis(50);
        let unreachable = status_error(7, timeout, &Status::unavailable("connection refused"));
        assert!(matches!(
            unreachable,
            TransportError::Unreachable { target: 7, .. }
        ));
        for status in [
            Status::deadline_exceeded("late"),
            Status::cancelled("Timeout expired"),
        ] {
            assert_eq!(
                status_error(7, timeout, &status),
                TransportError::Timeout { target: 7, timeout }
            );
        }
        let refused = status_error(7, timeout, &Status::unauthenticated("no secret"));
        assert!(
            matches!(&refused, TransportError::Failed { reason, .. } if reason.contains("secret"))
        );
        assert!(matches!(
            status_error(7, timeout, &Status::internal("boom")),
            TransportError::Failed { target: 7, .. }
        ));
    }
}
