//! `mirage node` (run a cluster member) and `mirage cluster status` (ask one for the cluster).
//!
//! A node serves one tonic server on its `grpc_addr` with two services:
//!
//! - the internal `RaftInternal` (openraft's RPCs as JSON payloads), admitted only with the
//!   cluster secret in the `x-mirage-cluster-secret` header;
//! - the public `ClusterService`: the Raft view from [`RaftNode::metrics`] and the registered
//!   nodes' resources from the replicated [`ClusterState`](mirage_actors::ClusterState),
//!   read locally (no quorum round trip, so a status answers even without a leader).
//!
//! The member with the lowest id bootstraps the membership when its log is empty (a restart
//! finds it initialized and skips that). Registration: whichever node leads writes
//! `RegisterNode` through its [`RaftStateClient`] for every voter not yet in the state — its
//! own resources from its config, a peer's from that peer's `GetClusterStatus` (every node
//! reports itself there, registered or not). So each node ends up registered by the first
//! leader that can reach it, and a new leader fills in whoever is still missing.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use mirage_actors::{Command, NodeSpec, StateClient};
use mirage_core::config::NodeConfig;
use mirage_core::ids::NodeId as ActorNodeId;
use mirage_proto::v1::cluster_service_client::ClusterServiceClient;
use mirage_proto::v1::cluster_service_server::{ClusterService, ClusterServiceServer};
use mirage_proto::v1::{
    ClusterStatus, GetClusterStatusRequest, GetClusterStatusResponse, GpuInfo, ListNodesRequest,
    ListNodesResponse, NodeInfo, NodeRole,
};
use serde::Serialize;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Endpoint, Server};
use tonic::{Request, Response, Status};

use crate::cluster::{ClusterMachine, ClusterNode, Members, RaftStateClient, RetryPolicy};
use crate::raft::{
    ClusterSecret, GrpcTransport, NodeId, RaftNode, RaftNodeConfig, RaftRole, raft_internal_service,
};

/// How often the leader looks for members that are not registered yet.
const REGISTER_EVERY: Duration = Duration::from_millis(500);

/// How long a status call may take, connection included.
const STATUS_TIMEOUT: Duration = Duration::from_secs(5);

/// The environment variable holding the cluster secret.
pub const SECRET_VARIABLE: &str = "MIRAGE_CLUSTER_SECRET";

/// `mirage node --config FILE`: runs a member until Ctrl-C or SIGTERM.
pub fn run_node(file: &Path) -> anyhow::Result<()> {
    let config = crate::config::load(Some(file), |name| std::env::var(name).ok())?;
    let secret = cluster_secret(
        &config,
        std::env::var(SECRET_VARIABLE).ok(),
        &file.display().to_string(),
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(config, secret))
}

/// The secret from `MIRAGE_CLUSTER_SECRET` or the config; a random one for a single node
/// (nobody else needs to know it). A node with peers and no secret is refused.
fn cluster_secret(
    config: &NodeConfig,
    from_env: Option<String>,
    origin: &str,
) -> anyhow::Result<String> {
    let secret = match from_env {
        Some(value) => {
            mirage_core::config::validate_secret(&value)
                .map_err(|reason| anyhow::anyhow!("{SECRET_VARIABLE} {reason}"))?;
            Some(value)
        }
        None => config.cluster_secret.clone(),
    };
    match secret {
        Some(secret) => Ok(secret),
        None if config.peers.is_empty() => {
            use rand::Rng;
            let bytes: [u8; 24] = rand::rng().random();
            Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
        }
        None => anyhow::bail!(
            "node {} in {origin} has {} peer(s) but no cluster secret: set {SECRET_VARIABLE} \
             (or cluster_secret in the file) to the same value on every node",
            config.node_id,
            config.peers.len()
        ),
    }
}

/// What this node offers, from its config with unset values detected.
fn own_spec(config: &NodeConfig) -> NodeSpec {
    let cpu_cores = config.resources.cpu_cores.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| u32::try_from(n.get()).unwrap_or(u32::MAX))
    });
    let memory_bytes = config
        .resources
        .memory_mib
        .map_or_else(detect_memory_bytes, |mib| mib.saturating_mul(1024 * 1024));
    NodeSpec {
        id: ActorNodeId(config.node_id),
        address: config.grpc_addr.to_string(),
        cpu_cores,
        memory_bytes,
        gpus: config
            .resources
            .gpus
            .iter()
            .map(|gpu| mirage_actors::Gpu {
                index: gpu.index,
                memory_bytes: gpu.memory_mib.saturating_mul(1024 * 1024),
            })
            .collect(),
    }
}

/// Total memory from `/proc/meminfo` (0 where it cannot be read).
fn detect_memory_bytes() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("MemTotal:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
        })
        .map_or(0, |kib| kib.saturating_mul(1024))
}

async fn serve(config: NodeConfig, secret: String) -> anyhow::Result<()> {
    let checked = ClusterSecret::new(&secret)
        .with_context(|| format!("{SECRET_VARIABLE} or cluster_secret"))?;
    let address = config.grpc_addr;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on grpc_addr {address}"))?;
    let raft_dir = config.data_dir.join("raft");
    let node = Arc::new(
        RaftNode::start(
            config.node_id,
            &raft_dir,
            &RaftNodeConfig::default(),
            ClusterMachine::default(),
            GrpcTransport::new(checked.clone()),
        )
        .await
        .with_context(|| format!("cannot start node {}", config.node_id))?,
    );
    let spec = own_spec(&config);

    let internal = raft_internal_service(config.node_id, node.raft().clone(), checked.clone());
    let public = ClusterServiceServer::new(PublicService {
        node: Arc::clone(&node),
        own: spec.clone(),
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let mut server = tokio::spawn(
        Server::builder()
            .add_service(internal)
            .add_service(public)
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stopped.await;
            }),
    );
    eprintln!(
        "mirage node {} serving on {address} (data in {})",
        config.node_id,
        config.data_dir.display()
    );

    bootstrap_if_first(&node, &config).await?;

    let members = Members::new();
    members.insert(Arc::clone(&node));
    let client = Arc::new(RaftStateClient::new(
        config.node_id,
        members,
        RetryPolicy::default(),
    ));
    let registrar = tokio::spawn(register_members(Arc::clone(&node), client, spec));

    let outcome = tokio::select! {
        signal = shutdown_signal() => signal,
        joined = &mut server => match joined {
            Ok(Ok(())) => Err(anyhow::anyhow!("the gRPC server on {address} stopped by itself")),
            Ok(Err(error)) => Err(anyhow::Error::new(error).context(format!("the gRPC server on {address} failed"))),
            Err(error) => Err(anyhow::anyhow!("the gRPC server task on {address} ended abnormally: {error}")),
        },
    };
    eprintln!("mirage node {} shutting down", config.node_id);
    registrar.abort();
    let _ = stop.send(());
    if !server.is_finished()
        && tokio::time::timeout(Duration::from_secs(2), &mut server)
            .await
            .is_err()
    {
        // Idle HTTP/2 connections can hold a graceful shutdown open; cut them.
        server.abort();
        let _ = server.await;
    }
    node.shutdown()
        .await
        .with_context(|| format!("shutting down node {}", config.node_id))?;
    outcome
}

/// Waits for Ctrl-C or (on Unix) SIGTERM.
async fn shutdown_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot listen for SIGTERM")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("cannot listen for Ctrl-C"),
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
            .await
            .context("cannot listen for Ctrl-C")
    }
}

/// The lowest-id member creates the cluster when its log is empty; elsewhere, or once the
/// log holds anything, nothing happens.
async fn bootstrap_if_first(node: &ClusterNode, config: &NodeConfig) -> anyhow::Result<()> {
    let lowest = config
        .peers
        .iter()
        .map(|peer| peer.node_id)
        .min()
        .is_none_or(|peer| config.node_id < peer);
    if !lowest {
        return Ok(());
    }
    let metrics = node.metrics().await.context("reading the raft state")?;
    if metrics.last_log_index.is_some() || !metrics.voters.is_empty() {
        tracing::info!(node_id = config.node_id, "cluster already initialized");
        return Ok(());
    }
    let mut members: BTreeMap<NodeId, String> = config
        .peers
        .iter()
        .map(|peer| (peer.node_id, peer.grpc_addr.to_string()))
        .collect();
    members.insert(config.node_id, config.grpc_addr.to_string());
    node.bootstrap(members)
        .await
        .with_context(|| format!("bootstrapping the cluster from node {}", config.node_id))
}

/// While this node leads, registers every voter that the state does not hold yet.
async fn register_members(node: Arc<ClusterNode>, client: Arc<RaftStateClient>, own: NodeSpec) {
    let mut ticks = tokio::time::interval(REGISTER_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Ok(metrics) = node.metrics().await else {
            return;
        };
        if metrics.role != RaftRole::Leader {
            continue;
        }
        let Ok(registered) = node.read_local(|machine| {
            machine
                .state()
                .nodes()
                .keys()
                .map(|id| id.0)
                .collect::<Vec<_>>()
        }) else {
            return;
        };
        for (&id, address) in &metrics.voters {
            if registered.contains(&id) {
                continue;
            }
            let spec = if id == own.id.0 {
                Some(own.clone())
            } else {
                fetch_spec(id, address).await
            };
            let Some(spec) = spec else { continue };
            match client.apply(Command::RegisterNode(spec)).await {
                Ok(Ok(_)) => tracing::info!(node_id = id, "node registered"),
                Ok(Err(refusal)) => tracing::warn!(node_id = id, %refusal, "registration refused"),
                Err(error) => tracing::debug!(node_id = id, %error, "registration failed"),
            }
        }
    }
}

/// A peer's own description of itself, from its `GetClusterStatus`.
async fn fetch_spec(id: NodeId, address: &str) -> Option<NodeSpec> {
    let status = match fetch_status(address, Duration::from_secs(1)).await {
        Ok(status) => status,
        Err(error) => {
            tracing::debug!(node_id = id, address, %error, "peer not reachable yet");
            return None;
        }
    };
    let info = status.nodes.into_iter().find(|info| info.id == id)?;
    Some(NodeSpec {
        id: ActorNodeId(id),
        address: if info.address.is_empty() {
            address.to_owned()
        } else {
            info.address
        },
        cpu_cores: info.cpu_cores,
        memory_bytes: info.memory_bytes,
        gpus: info
            .gpus
            .into_iter()
            .map(|gpu| mirage_actors::Gpu {
                index: gpu.index,
                memory_bytes: gpu.memory_bytes,
            })
            .collect(),
    })
}

/// The public `ClusterService` of one node.
struct PublicService {
    node: Arc<ClusterNode>,
    own: NodeSpec,
}

impl PublicService {
    async fn status(&self) -> Result<ClusterStatus, Status> {
        let metrics = self
            .node
            .metrics()
            .await
            .map_err(|error| Status::unavailable(error.to_string()))?;
        let registered = self
            .node
            .read_local(|machine| machine.state().nodes().clone())
            .map_err(|error| Status::unavailable(error.to_string()))?;
        let mut ids: Vec<NodeId> = metrics
            .voters
            .keys()
            .chain(metrics.learners.keys())
            .copied()
            .chain(registered.keys().map(|id| id.0))
            .chain([self.own.id.0])
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let nodes = ids
            .into_iter()
            .map(|id| {
                let role = if metrics.leader == Some(id) {
                    NodeRole::Leader
                } else if metrics.voters.contains_key(&id) {
                    NodeRole::Follower
                } else if metrics.learners.contains_key(&id) {
                    NodeRole::Learner
                } else {
                    NodeRole::Unspecified
                };
                let membership_address = metrics
                    .voters
                    .get(&id)
                    .or_else(|| metrics.learners.get(&id))
                    .cloned();
                let node = registered.get(&ActorNodeId(id));
                // A node always describes itself, registered or not: the leader registers
                // its peers from this.
                let spec = node
                    .map(|node| &node.spec)
                    .or((id == self.own.id.0).then_some(&self.own));
                let mut info = NodeInfo {
                    id,
                    address: membership_address.unwrap_or_default(),
                    role: role as i32,
                    ..NodeInfo::default()
                };
                if let Some(spec) = spec {
                    if info.address.is_empty() {
                        info.address.clone_from(&spec.address);
                    }
                    info.cpu_cores = spec.cpu_cores;
                    info.memory_bytes = spec.memory_bytes;
                    info.gpus = spec
                        .gpus
                        .iter()
                        .map(|gpu| GpuInfo {
                            index: gpu.index,
                            name: String::new(),
                            memory_bytes: gpu.memory_bytes,
                        })
                        .collect();
                }
                if let Some(node) = node {
                    info.last_heartbeat_at_ms =
                        i64::try_from(node.last_heartbeat_ms).unwrap_or(i64::MAX);
                }
                info
            })
            .collect();
        Ok(ClusterStatus {
            leader_id: metrics.leader,
            term: metrics.term,
            commit_index: metrics.commit_index.unwrap_or(0),
            nodes,
        })
    }
}

#[tonic::async_trait]
impl ClusterService for PublicService {
    async fn get_cluster_status(
        &self,
        _request: Request<GetClusterStatusRequest>,
    ) -> Result<Response<GetClusterStatusResponse>, Status> {
        Ok(Response::new(GetClusterStatusResponse {
            status: Some(self.status().await?),
        }))
    }

    async fn list_nodes(
        &self,
        _request: Request<ListNodesRequest>,
    ) -> Result<Response<ListNodesResponse>, Status> {
        Ok(Response::new(ListNodesResponse {
            nodes: self.status().await?.nodes,
        }))
    }
}

/// Asks the node at `address` (`host:port`) for the cluster status.
async fn fetch_status(address: &str, timeout: Duration) -> anyhow::Result<ClusterStatus> {
    let uri = if address.contains("://") {
        address.to_owned()
    } else {
        format!("http://{address}")
    };
    let endpoint = Endpoint::from_shared(uri)
        .with_context(|| format!("{address:?} is not a valid node address (use HOST:PORT)"))?
        .connect_timeout(timeout)
        .timeout(timeout);
    let channel = endpoint
        .connect()
        .await
        .with_context(|| format!("cannot connect to a mirage node at {address}"))?;
    let response = ClusterServiceClient::new(channel)
        .get_cluster_status(GetClusterStatusRequest {})
        .await
        .map_err(|status| {
            anyhow::anyhow!(
                "the node at {address} did not answer the status call: {}",
                status.message()
            )
        })?;
    response
        .into_inner()
        .status
        .ok_or_else(|| anyhow::anyhow!("the node at {address} sent an empty status"))
}

/// One member in `mirage cluster status --json`.
#[derive(Debug, Serialize)]
struct MemberView {
    id: u64,
    address: String,
    role: &'static str,
    cpu_cores: u32,
    memory_bytes: u64,
    gpus: Vec<GpuView>,
    last_heartbeat_at_ms: i64,
}

#[derive(Debug, Serialize)]
struct GpuView {
    index: u32,
    memory_bytes: u64,
}

/// `mirage cluster status --json`.
#[derive(Debug, Serialize)]
struct StatusView {
    address: String,
    leader_id: Option<u64>,
    term: u64,
    commit_index: u64,
    nodes: Vec<MemberView>,
}

fn role_name(role: i32) -> &'static str {
    match NodeRole::try_from(role) {
        Ok(NodeRole::Leader) => "leader",
        Ok(NodeRole::Follower) => "follower",
        Ok(NodeRole::Learner) => "learner",
        Ok(NodeRole::Unspecified) | Err(_) => "unknown",
    }
}

fn view(address: &str, status: ClusterStatus) -> StatusView {
    StatusView {
        address: address.to_owned(),
        leader_id: status.leader_id,
        term: status.term,
        commit_index: status.commit_index,
        nodes: status
            .nodes
            .into_iter()
            .map(|node| MemberView {
                id: node.id,
                address: node.address,
                role: role_name(node.role),
                cpu_cores: node.cpu_cores,
                memory_bytes: node.memory_bytes,
                gpus: node
                    .gpus
                    .into_iter()
                    .map(|gpu| GpuView {
                        index: gpu.index,
                        memory_bytes: gpu.memory_bytes,
                    })
                    .collect(),
                last_heartbeat_at_ms: node.last_heartbeat_at_ms,
            })
            .collect(),
    }
}

fn render(view: &StatusView) -> String {
    const MIB: u64 = 1024 * 1024;
    let mut text = format!("cluster as seen by {}\n", view.address);
    text.push_str(&format!(
        "leader: {}\nterm: {}\ncommit index: {}\nmembers:\n",
        view.leader_id
            .map_or_else(|| "none known".to_owned(), |id| format!("node {id}")),
        view.term,
        view.commit_index
    ));
    for node in &view.nodes {
        let gpus = if node.gpus.is_empty() {
            "no GPUs".to_owned()
        } else {
            node.gpus
                .iter()
                .map(|gpu| format!("gpu{} {} MiB", gpu.index, gpu.memory_bytes / MIB))
                .collect::<Vec<_>>()
                .join(", ")
        };
        text.push_str(&format!(
            "  node {:<3} {:<22} {:<9} {} cores, {} MiB, {gpus}\n",
            node.id,
            node.address,
            node.role,
            node.cpu_cores,
            node.memory_bytes / MIB
        ));
    }
    text
}

/// `mirage cluster status`: prints the cluster as the node at `address` sees it.
pub fn run_status(address: &str, json: bool) -> anyhow::Result<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let status = runtime.block_on(fetch_status(address, STATUS_TIMEOUT))?;
    let view = view(address, status);
    if json {
        Ok(serde_json::to_string_pretty(&view)?)
    } else {
        Ok(render(&view))
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;

    #[test]
    fn a_multi_node_config_needs_a_secret_and_a_single_node_makes_one() {
        let mut config = NodeConfig::default();
        let single = cluster_secret(&config, None, "x.toml").expect("single node");
        assert!(ClusterSecret::new(&single).is_ok());
        config.peers.push(mirage_core::config::PeerConfig {
            node_id: 2,
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 7720)),
        });
        let error = cluster_secret(&config, None, "x.toml").expect_err("no secret");
        assert!(error.to_string().contains(SECRET_VARIABLE), "{error}");
        assert_eq!(
            cluster_secret(&config, Some("s3cret".into()), "x.toml").expect("env"),
            "s3cret"
        );
        config.cluster_secret = Some("from-file".into());
        assert_eq!(
            cluster_secret(&config, None, "x.toml").expect("file"),
            "from-file"
        );
        let error = cluster_secret(&config, Some("two words".into()), "x.toml").expect_err("bad");
        assert!(error.to_string().contains(SECRET_VARIABLE), "{error}");
    }

    #[test]
    fn configured_resources_win_over_detection() {
        let mut config = NodeConfig::default();
        config.resources.cpu_cores = Some(3);
        config.resources.memory_mib = Some(2048);
        config.resources.gpus.push(mirage_core::config::GpuConfig {
            index: 0,
            memory_mib: 1024,
        });
        let spec = own_spec(&config);
        assert_eq!(spec.cpu_cores, 3);
        assert_eq!(spec.memory_bytes, 2048 * 1024 * 1024);
        assert_eq!(spec.gpus.len(), 1);
        assert_eq!(spec.address, "127.0.0.1:7700");
    }
}
