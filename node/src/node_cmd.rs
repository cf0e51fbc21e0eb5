//! `mirage node` (run a cluster member) and `mirage cluster status` (ask one for the cluster).
//!
//! A node serves one tonic server on its `grpc_addr` with:
//!
//! - the internal `RaftInternal` (openraft's RPCs and forwarded client writes/reads as JSON
//!   payloads), admitted only with the cluster secret in the `x-mirage-cluster-secret`
//!   header;
//! - the public services of [`crate::api`]: `ClusterService` (status) and `JobService`.
//!
//! Beside it run the node's actors ([`NodeRuntime`]): its node supervisor, which registers
//! the node through the replicated state (forwarded to the leader), heartbeats and runs the
//! jobs the scheduler assigns it with the real runners of [`crate::jobs`]; and, while this
//! node leads Raft, the scheduler.
//!
//! The member with the lowest id bootstraps the membership when its log is empty (a restart
//! finds it initialized and skips that).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use mirage_actors::runtime::{ActorGroups, ActorNet};
use mirage_actors::{NodeSpec, StateClient};
use mirage_core::config::NodeConfig;
use mirage_core::ids::NodeId as ActorNodeId;
use mirage_core::records::JobCounts;
use mirage_proto::v1::cluster_service_client::ClusterServiceClient;
use mirage_proto::v1::cluster_service_server::ClusterServiceServer;
use mirage_proto::v1::{ClusterStatus, GetClusterStatusRequest, NodeRole};
use serde::Serialize;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use crate::api::ClusterApi;
use crate::cluster::{ClusterMachine, ClusterNode, Members, RaftStateClient, RetryPolicy};
use crate::gateway::Gateway;
use crate::gateway::flight;
use crate::jobs::catalog::Catalog;
use crate::jobs::{NodeJobRunner, ObjectStorage};
use crate::node_runtime::{NodeRuntime, RuntimeParts};
use crate::raft::{ClusterSecret, GrpcTransport, NodeId, RaftGrpcServer, RaftNode, RaftNodeConfig};

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

/// The Raft settings from the node's `[cluster]` timings.
fn raft_config(config: &NodeConfig) -> RaftNodeConfig {
    let timing = &config.cluster;
    RaftNodeConfig {
        heartbeat_interval_ms: timing.raft_heartbeat_ms,
        election_timeout_min_ms: timing.election_timeout_min_ms,
        election_timeout_max_ms: timing.election_timeout_max_ms,
        snapshot_after_logs: timing.snapshot_after_logs,
        logs_kept_after_snapshot: timing.snapshot_after_logs.min(1000),
        ..RaftNodeConfig::default()
    }
}

async fn serve(config: NodeConfig, secret: String) -> anyhow::Result<()> {
    let checked = ClusterSecret::new(&secret)
        .with_context(|| format!("{SECRET_VARIABLE} or cluster_secret"))?;
    let address = config.grpc_addr;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on grpc_addr {address}"))?;
    let server_tls = crate::gateway::auth::tls::server_config(&config.tls)?;
    let client_tls = crate::gateway::auth::tls::client_config(&config.tls)?;
    let raft_dir = config.data_dir.join("raft");
    let node = Arc::new(
        RaftNode::start(
            config.node_id,
            &raft_dir,
            &raft_config(&config),
            ClusterMachine::default(),
            GrpcTransport::with_tls(checked.clone(), client_tls.clone()),
        )
        .await
        .with_context(|| format!("cannot start node {}", config.node_id))?,
    );
    let spec = own_spec(&config);

    // The replicated state as this node's actors and services reach it: the local member,
    // and the peers over the internal service (writes are forwarded to the leader).
    let members = Members::new();
    members.insert(Arc::clone(&node));
    let transport = GrpcTransport::with_tls(checked.clone(), client_tls.clone());
    for peer in &config.peers {
        members
            .insert_remote_via(peer.node_id, &peer.grpc_addr.to_string(), transport.clone())
            .with_context(|| format!("peer {} at {}", peer.node_id, peer.grpc_addr))?;
    }
    let client = Arc::new(RaftStateClient::new(
        config.node_id,
        members,
        RetryPolicy::default(),
    ));
    let store_url = config.object_store_url();
    let mut storage = ObjectStorage::open(&store_url, tokio::runtime::Handle::current())
        .with_context(|| format!("node {}: object_store {store_url}", config.node_id))?;
    if config.object_store.trim().is_empty() && !config.peers.is_empty() {
        // Every node keeps its own objects: what a job or a reader lacks here is fetched
        // from the other members over Flight (and kept).
        let peers = config
            .peers
            .iter()
            .map(|peer| peer.flight_addr().to_string())
            .collect();
        storage = storage.with_remote(Arc::new(crate::gateway::peers::PeerObjects::new(
            peers,
            secret.clone(),
            client_tls.clone(),
            tokio::runtime::Handle::current(),
        )));
    }
    let runner = Arc::new(
        NodeJobRunner::new(storage.clone(), &config.data_dir).with_catalog(Catalog::new(
            Arc::clone(&client) as Arc<dyn StateClient>,
            tokio::runtime::Handle::current(),
        )),
    );
    let runtime = NodeRuntime::start(RuntimeParts {
        spec: spec.clone(),
        raft: Arc::clone(&node),
        client: Arc::clone(&client) as Arc<dyn StateClient>,
        runner,
        timing: config.cluster.clone(),
        groups: ActorGroups::default(),
    });
    // Actor links to the peers (ractor_cluster, the cluster secret as the cookie): the
    // scheduler on the leader reaches every node's supervisor through them.
    let actor_addr = config.actor_addr();
    let net = ActorNet::start(ActorNodeId(config.node_id), actor_addr, &secret)
        .await
        .with_context(|| format!("cannot listen for actors on actor_addr {actor_addr}"))?;
    for peer in &config.peers {
        net.connect(peer.actor_addr().to_string());
    }

    let internal = RaftGrpcServer::node_service(&node, checked.clone());
    let cluster = ClusterServiceServer::new(ClusterApi::new(
        Arc::clone(&node),
        spec.clone(),
        config.flight_addr.to_string(),
    ));
    // Models stay warm on this node for streaming (`SampleRows`, stream-mode generations).
    let cache = crate::gateway::serving::ModelCache::new(
        config.serving.clone(),
        storage.clone(),
        config.data_dir.join("serving-cache"),
    );
    let _sweeper = cache.spawn_sweeper();
    let gateway = Gateway::new(
        Arc::clone(&node),
        Arc::clone(&client) as Arc<dyn StateClient>,
        storage,
        runtime.hub().clone(),
    );
    let public = crate::api::PublicServices::new(gateway.clone(), cache.clone());
    // Every public call is authenticated, rate-limited and measured (gateway::auth).
    let rpc_metrics = Arc::new(crate::gateway::auth::RpcMetrics::new());
    let auth = crate::gateway::auth::AuthLayer::for_node(
        &config,
        Arc::clone(&node) as Arc<dyn crate::gateway::auth::KeyLookup>,
        checked.clone(),
        Arc::clone(&rpc_metrics),
    );
    let mut builder = Server::builder();
    let mut flight_builder = flight::builder();
    if let Some(tls) = server_tls {
        flight_builder = flight_builder
            .tls_config(tls.clone())
            .context("tls: cannot serve Flight with TLS")?;
        builder = builder.tls_config(tls).context("tls: cannot serve TLS")?;
    }
    let metrics_addr = config.metrics_addr();
    let metrics_listener = crate::api::metrics::bind(metrics_addr).await?;
    let (metrics_stop, metrics_stopped) = tokio::sync::oneshot::channel::<()>();
    let metrics = tokio::spawn(crate::api::metrics::serve(
        metrics_listener,
        crate::api::metrics::MetricsSource::new(Arc::clone(&node))
            .with_section({
                let rpc = Arc::clone(&rpc_metrics);
                Arc::new(move |out: &mut String| rpc.render(out))
            })
            .with_section({
                let cache = cache.clone();
                Arc::new(move |out: &mut String| cache.render(out))
            }),
        async {
            let _ = metrics_stopped.await;
        },
    ));
    // Arrow Flight on flight_addr: bulk upload and download (the gateway's flight module).
    let flight_listener = tokio::net::TcpListener::bind(config.flight_addr)
        .await
        .with_context(|| format!("cannot listen on flight_addr {}", config.flight_addr))?;
    let flight_service = flight::FlightGateway::new(gateway.clone(), flight::locations(&config))
        .with_scratch(config.data_dir.join("flight"));
    let (flight_stop, flight_stopped) = tokio::sync::oneshot::channel::<()>();
    let flight_incoming = TcpIncoming::from(flight_listener).with_nodelay(Some(true));
    // The same authentication, limits and metrics as the gRPC API.
    let flight_server = tokio::spawn(
        flight_builder
            .layer(auth.clone())
            .add_service(flight::flight_server(flight_service))
            .serve_with_incoming_shutdown(flight_incoming, async {
                let _ = flight_stopped.await;
            }),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let mut server = tokio::spawn(
        builder
            .layer(auth)
            .add_service(internal)
            .add_service(cluster)
            .add_service(public.jobs())
            .add_service(public.datasets())
            .add_service(public.models())
            .add_service(public.generations())
            .add_service(public.quality())
            .add_service(public.privacy())
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stopped.await;
            }),
    );
    eprintln!(
        "mirage node {} serving on {address}, metrics on http://{metrics_addr}/metrics (data in {})",
        config.node_id,
        config.data_dir.display()
    );

    if bootstrap_if_first(&node, &config).await? {
        let client = Arc::clone(&client) as Arc<dyn StateClient>;
        crate::admin_cmd::create_bootstrap_key(client, &config.data_dir).await?;
    }

    let outcome = tokio::select! {
        signal = shutdown_signal() => signal,
        joined = &mut server => match joined {
            Ok(Ok(())) => Err(anyhow::anyhow!("the gRPC server on {address} stopped by itself")),
            Ok(Err(error)) => Err(anyhow::Error::new(error).context(format!("the gRPC server on {address} failed"))),
            Err(error) => Err(anyhow::anyhow!("the gRPC server task on {address} ended abnormally: {error}")),
        },
    };
    eprintln!("mirage node {} shutting down", config.node_id);
    runtime.shutdown().await;
    net.shutdown().await;
    let _ = metrics_stop.send(());
    if tokio::time::timeout(Duration::from_secs(2), metrics)
        .await
        .is_err()
    {
        tracing::debug!("the metrics server did not stop in time");
    }
    let _ = flight_stop.send(());
    if tokio::time::timeout(Duration::from_secs(2), flight_server)
        .await
        .is_err()
    {
        tracing::debug!("the Flight server did not stop in time");
    }
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

/// The lowest-id member creates the cluster when its log is empty (and says so); elsewhere,
/// or once the log holds anything, nothing happens.
async fn bootstrap_if_first(node: &ClusterNode, config: &NodeConfig) -> anyhow::Result<bool> {
    let lowest = config
        .peers
        .iter()
        .map(|peer| peer.node_id)
        .min()
        .is_none_or(|peer| config.node_id < peer);
    if !lowest {
        return Ok(false);
    }
    let metrics = node.metrics().await.context("reading the raft state")?;
    if metrics.last_log_index.is_some() || !metrics.voters.is_empty() {
        tracing::info!(node_id = config.node_id, "cluster already initialized");
        return Ok(false);
    }
    let mut members: BTreeMap<NodeId, String> = config
        .peers
        .iter()
        .map(|peer| (peer.node_id, peer.grpc_addr.to_string()))
        .collect();
    members.insert(config.node_id, config.grpc_addr.to_string());
    node.bootstrap(members)
        .await
        .with_context(|| format!("bootstrapping the cluster from node {}", config.node_id))?;
    Ok(true)
}

/// Asks the node at `address` (`host:port` or with a scheme) for the cluster status,
/// dialling it with `tls`.
async fn fetch_status(
    address: &str,
    tls: &mirage_tui::ClientTls,
    timeout: Duration,
) -> anyhow::Result<ClusterStatus> {
    // Plaintext against a TLS node fails with no hint of TLS: say what to try.
    let hint = if tls
        .uri(address)
        .to_ascii_lowercase()
        .starts_with("https://")
    {
        "; if the node requires client certificates ([tls] ca_file), pass --tls-cert and --tls-key"
    } else {
        "; if the node serves TLS ([tls] in its config), pass --tls-ca FILE or an https:// address"
    };
    let endpoint = tls
        .endpoint(address)?
        .connect_timeout(timeout)
        .timeout(timeout);
    let channel = endpoint.connect().await.map_err(|error| {
        let reason = mirage_tui::error_chain(&error);
        // Nothing listening (or no such host) has nothing to do with TLS.
        let hint = if reason.contains("tcp connect") || reason.contains("dns error") {
            ""
        } else {
            hint
        };
        anyhow::anyhow!("cannot connect to a mirage node at {address}: {reason}{hint}")
    })?;
    let mut request = tonic::Request::new(GetClusterStatusRequest {});
    crate::gateway::auth::attach_env_credentials(request.metadata_mut());
    let response = ClusterServiceClient::new(channel)
        .get_cluster_status(request)
        .await
        .map_err(|status| {
            // A transport failure carries its reason as the status's source.
            let local = std::error::Error::source(&status).is_some();
            anyhow::anyhow!(
                "the node at {address} did not answer the status call: {}{}",
                mirage_tui::error_chain(&status),
                if local { hint } else { "" }
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
    alive: bool,
    running_jobs: Vec<String>,
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
    answered_by: u64,
    last_applied: u64,
    jobs: JobCounts,
    ledgers: u32,
    ledgers_verified: bool,
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
        answered_by: status.answered_by,
        last_applied: status.last_applied,
        jobs: JobCounts::from(&status),
        ledgers: status.ledgers,
        ledgers_verified: status.ledgers_verified,
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
                alive: node.alive,
                running_jobs: node.running_jobs,
            })
            .collect(),
    }
}

fn render(view: &StatusView) -> String {
    const MIB: u64 = 1024 * 1024;
    let mut text = format!(
        "cluster as seen by {} (node {})\n",
        view.address, view.answered_by
    );
    text.push_str(&format!(
        "leader: {}\nterm: {}\ncommit index: {} (applied here: {})\n",
        view.leader_id
            .map_or_else(|| "none known".to_owned(), |id| format!("node {id}")),
        view.term,
        view.commit_index,
        view.last_applied
    ));
    let jobs = &view.jobs;
    text.push_str(&format!(
        "jobs: {} queued, {} running, {} succeeded, {} failed, {} cancelled\n",
        jobs.queued, jobs.running, jobs.succeeded, jobs.failed, jobs.cancelled
    ));
    text.push_str(&format!(
        "privacy ledgers: {}{}\nmembers:\n",
        view.ledgers,
        match (view.ledgers, view.ledgers_verified) {
            (0, _) => "",
            (_, true) => " (hash chains verify)",
            (_, false) => " (A HASH CHAIN DOES NOT VERIFY)",
        }
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
        let jobs = if node.running_jobs.is_empty() {
            "idle".to_owned()
        } else {
            format!("running {}", node.running_jobs.join(", "))
        };
        text.push_str(&format!(
            "  node {:<3} {:<22} {:<9} {:<5} {} cores, {} MiB, {gpus}; {jobs}\n",
            node.id,
            node.address,
            node.role,
            if node.alive { "up" } else { "down" },
            node.cpu_cores,
            node.memory_bytes / MIB
        ));
    }
    text
}

/// `mirage cluster status`: prints the cluster as the node at `address` sees it, dialled
/// with the `--tls-*` options `tls`.
pub fn run_status(address: &str, json: bool, tls: &mirage_tui::TlsArgs) -> anyhow::Result<String> {
    let tls = mirage_tui::ClientTls::new(tls, &[address.to_owned()])?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let status = runtime.block_on(fetch_status(address, &tls, STATUS_TIMEOUT))?;
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
            actor_addr: None,
            flight_addr: None,
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
