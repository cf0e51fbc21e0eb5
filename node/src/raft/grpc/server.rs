//! [`RaftGrpcServer`]: serves `mirage.v1.RaftInternal` for one node's openraft handle.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mirage_proto::v1::RaftMessage;
use mirage_proto::v1::raft_internal_server::{RaftInternal, RaftInternalServer};
use openraft::Raft;
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

use super::super::error::RaftNodeError;
use super::super::node::RaftNode;
use super::super::types::{NodeId, StateMachine, TypeConfig};
use super::forward::{ClientCalls, NodeCalls, call_limit, with_deadline};
use super::wire::ClientCallError;
use super::{ClusterSecret, DEFAULT_MAX_MESSAGE_BYTES, RaftGrpcError};

/// How long [`RaftGrpcServer::shutdown`] lets calls in flight finish before cutting them off.
const GRACEFUL_SHUTDOWN: Duration = Duration::from_secs(2);

/// The `RaftInternal` service: checks the secret, hands the request to openraft, and answers
/// with the handler's result serialized as `Result<response, RaftError>`; forwarded client
/// calls go to the node's own write and read (when the service was built with the node).
struct RaftService {
    node_id: NodeId,
    raft: Raft<TypeConfig>,
    secret: ClusterSecret,
    /// `None` when only the openraft handle was given: client calls are then unimplemented.
    client_calls: Option<Arc<dyn ClientCalls>>,
}

impl RaftService {
    /// Refuses a request that does not carry the cluster secret.
    fn authorize<T>(&self, request: &Request<T>) -> Result<(), Status> {
        if self.secret.admits(request.metadata()) {
            return Ok(());
        }
        tracing::warn!(
            node_id = self.node_id,
            remote = ?request.remote_addr(),
            "refused a raft call without the cluster secret"
        );
        Err(Status::unauthenticated(
            "the cluster secret is missing or wrong; give every node the same cluster secret",
        ))
    }

    /// Checks the secret and decodes the openraft request.
    fn accept<T: DeserializeOwned>(&self, request: Request<RaftMessage>) -> Result<T, Status> {
        self.authorize(&request)?;
        serde_json::from_slice(&request.into_inner().payload).map_err(|error| {
            Status::invalid_argument(format!(
                "the raft request cannot be decoded: {error}; are both nodes running the same version?"
            ))
        })
    }
}

impl RaftService {
    /// Checks the secret and hands out the node's client calls, with how long they may take.
    fn accept_client_call<T>(
        &self,
        request: &Request<T>,
        rpc: &str,
    ) -> Result<(Arc<dyn ClientCalls>, Duration), Status> {
        self.authorize(request)?;
        let calls = self.client_calls.clone().ok_or_else(|| {
            Status::unimplemented(format!(
                "node {} serves raft replication only, not {rpc}; start it with the node's handle",
                self.node_id
            ))
        })?;
        Ok((calls, call_limit(request.metadata())))
    }

    /// The answer to a forwarded call: the bytes, or the node's refusal as a status.
    fn client_answer(
        &self,
        rpc: &str,
        result: Result<Vec<u8>, RaftNodeError>,
    ) -> Result<Response<RaftMessage>, Status> {
        match result {
            Ok(payload) => Ok(Response::new(RaftMessage { payload })),
            Err(error) => {
                tracing::debug!(node_id = self.node_id, rpc, %error, "forwarded call refused");
                let message = error.to_string();
                Err(ClientCallError::from_node_error(self.node_id, error).into_status(message))
            }
        }
    }
}

/// Serializes a handler's result for the caller.
fn answer<T: Serialize>(result: &T) -> Result<Response<RaftMessage>, Status> {
    let payload = serde_json::to_vec(result).map_err(|error| {
        Status::internal(format!("the raft response cannot be encoded: {error}"))
    })?;
    Ok(Response::new(RaftMessage { payload }))
}

#[tonic::async_trait]
impl RaftInternal for RaftService {
    #[tracing::instrument(skip_all, fields(node_id = self.node_id))]
    async fn append_entries(
        &self,
        request: Request<RaftMessage>,
    ) -> Result<Response<RaftMessage>, Status> {
        let request: AppendEntriesRequest<TypeConfig> = self.accept(request)?;
        answer(&self.raft.append_entries(request).await)
    }

    #[tracing::instrument(skip_all, fields(node_id = self.node_id))]
    async fn vote(&self, request: Request<RaftMessage>) -> Result<Response<RaftMessage>, Status> {
        let request: VoteRequest<NodeId> = self.accept(request)?;
        answer(&self.raft.vote(request).await)
    }

    #[tracing::instrument(skip_all, fields(node_id = self.node_id))]
    async fn install_snapshot(
        &self,
        request: Request<RaftMessage>,
    ) -> Result<Response<RaftMessage>, Status> {
        let request: InstallSnapshotRequest<TypeConfig> = self.accept(request)?;
        answer(&self.raft.install_snapshot(request).await)
    }

    #[tracing::instrument(skip_all, fields(node_id = self.node_id, request_id = crate::request_id::from_metadata(request.metadata())))]
    async fn client_write(
        &self,
        request: Request<RaftMessage>,
    ) -> Result<Response<RaftMessage>, Status> {
        let (calls, limit) = self.accept_client_call(&request, "ClientWrite")?;
        let command = request.into_inner().payload;
        let result = with_deadline(self.node_id, "a write", limit, calls.write(command)).await;
        self.client_answer("ClientWrite", result)
    }

    #[tracing::instrument(skip_all, fields(node_id = self.node_id, request_id = crate::request_id::from_metadata(request.metadata())))]
    async fn client_read(
        &self,
        request: Request<RaftMessage>,
    ) -> Result<Response<RaftMessage>, Status> {
        let (calls, limit) = self.accept_client_call(&request, "ClientRead")?;
        let result = with_deadline(self.node_id, "a read", limit, calls.read_snapshot()).await;
        self.client_answer("ClientRead", result)
    }
}

/// The `RaftInternal` service of one node, ready to add to a tonic server beside other
/// services (the node serves it and the public API on one port). It carries Raft
/// replication only: `ClientWrite` and `ClientRead` answer UNIMPLEMENTED; serve
/// [`RaftGrpcServer::node_service`] to accept forwarded client calls too.
pub fn raft_internal_service(
    node_id: NodeId,
    raft: Raft<TypeConfig>,
    secret: ClusterSecret,
) -> RaftInternalServer<impl RaftInternal> {
    service(RaftService {
        node_id,
        raft,
        secret,
        client_calls: None,
    })
}

fn service(service: RaftService) -> RaftInternalServer<RaftService> {
    RaftInternalServer::new(service)
        .max_decoding_message_size(DEFAULT_MAX_MESSAGE_BYTES)
        .max_encoding_message_size(DEFAULT_MAX_MESSAGE_BYTES)
}

/// A running `RaftInternal` server for one node. Dropping it stops the server in the
/// background; [`shutdown`](Self::shutdown) also waits until the node's handle is released.
pub struct RaftGrpcServer {
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
}

impl fmt::Debug for RaftGrpcServer {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("RaftGrpcServer")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl RaftGrpcServer {
    /// Binds `address` (port 0 picks a free port) and serves node `node_id`'s `raft` there.
    pub async fn bind(
        address: SocketAddr,
        node_id: NodeId,
        raft: Raft<TypeConfig>,
        secret: ClusterSecret,
    ) -> Result<Self, RaftGrpcError> {
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| RaftGrpcError::Bind { address, source })?;
        Self::serve(listener, node_id, raft, secret)
    }

    /// The whole `RaftInternal` service of `node`, ready to add to a tonic server beside
    /// other services: Raft replication, and the client calls other members forward to it
    /// (`ClientWrite`, `ClientRead`), each bounded by the caller's deadline and at most ten
    /// seconds. The service holds the node weakly: once every other `Arc` of it is dropped,
    /// forwarded calls answer "stopped" and its store is released.
    pub fn node_service<S: StateMachine>(
        node: &Arc<RaftNode<S>>,
        secret: ClusterSecret,
    ) -> RaftInternalServer<impl RaftInternal> {
        service(Self::node_raft_service(node, secret))
    }

    fn node_raft_service<S: StateMachine>(
        node: &Arc<RaftNode<S>>,
        secret: ClusterSecret,
    ) -> RaftService {
        let node_id = node.id();
        RaftService {
            node_id,
            raft: node.raft().clone(),
            secret,
            client_calls: Some(Arc::new(NodeCalls {
                node_id,
                node: Arc::downgrade(node),
            })),
        }
    }

    /// Serves node `node_id`'s `raft` on an already bound listener (bind first to learn the
    /// address a node announces before the node starts). Replication only; see
    /// [`RaftGrpcServer::serve_node`].
    pub fn serve(
        listener: TcpListener,
        node_id: NodeId,
        raft: Raft<TypeConfig>,
        secret: ClusterSecret,
    ) -> Result<Self, RaftGrpcError> {
        let service = RaftService {
            node_id,
            raft,
            secret,
            client_calls: None,
        };
        Self::serve_service(listener, service)
    }

    /// Serves `node` on an already bound listener: Raft replication and forwarded client
    /// calls (see [`RaftGrpcServer::node_service`]).
    pub fn serve_node<S: StateMachine>(
        listener: TcpListener,
        node: &Arc<RaftNode<S>>,
        secret: ClusterSecret,
    ) -> Result<Self, RaftGrpcError> {
        Self::serve_service(listener, Self::node_raft_service(node, secret))
    }

    fn serve_service(listener: TcpListener, service: RaftService) -> Result<Self, RaftGrpcError> {
        let address = listener
            .local_addr()
            .map_err(|source| RaftGrpcError::LocalAddress { source })?;
        let node_id = service.node_id;
        let service = self::service(service);
        // Raft messages are small and latency-bound: never wait for Nagle.
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(
            Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(incoming, async {
                    // A dropped sender stops the server too.
                    let _ = stopped.await;
                }),
        );
        tracing::info!(node_id, %address, "raft gRPC server listening");
        Ok(Self {
            address,
            stop: Some(stop),
            task,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Stops accepting calls, lets calls in flight finish for a moment, and releases the
    /// node's openraft handle.
    pub async fn shutdown(mut self) -> Result<(), RaftGrpcError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let address = self.address;
        let outcome = match tokio::time::timeout(GRACEFUL_SHUTDOWN, &mut self.task).await {
            Ok(joined) => joined,
            Err(_) => {
                // Idle HTTP/2 connections can hold a graceful shutdown open; cut them.
                self.task.abort();
                (&mut self.task).await
            }
        };
        match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(RaftGrpcError::Serve { address, source }),
            Err(join_error) if join_error.is_cancelled() => Ok(()),
            Err(join_error) => Err(RaftGrpcError::ServerTask {
                address,
                reason: join_error.to_string(),
            }),
        }
    }
}
