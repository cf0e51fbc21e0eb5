//! Three nodes in one process talking real gRPC on 127.0.0.1, each with its own sled store.

mod bench;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use mirage_proto::v1::RaftMessage;
use mirage_proto::v1::raft_internal_client::RaftInternalClient;
use openraft::raft::VoteRequest;
use openraft::{BasicNode, Vote};
use tempfile::TempDir;
use tokio::net::TcpListener;

use super::super::test_support::wait_for_leader;
use super::super::tests::{Counters, fast_config};
use super::super::{
    NodeId, RaftNode, RaftNodeConfig, RaftNodeError, RaftRole, RaftTransport, StateMachine,
    TransportError,
};
use super::{ClusterSecret, GrpcTransport, RaftGrpcServer};

const SECRET: &str = "test-cluster-secret";

/// A running node and the server in front of it.
struct Member {
    node: Arc<RaftNode<Counters>>,
    server: RaftGrpcServer,
}

/// A cluster whose nodes reach each other only through tonic.
struct GrpcCluster {
    dir: TempDir,
    config: RaftNodeConfig,
    addresses: BTreeMap<NodeId, SocketAddr>,
    members: BTreeMap<NodeId, Member>,
}

async fn bind_loopback() -> anyhow::Result<TcpListener> {
    Ok(TcpListener::bind("127.0.0.1:0").await?)
}

impl GrpcCluster {
    /// Starts `ids` on ephemeral ports and bootstraps them as the initial voters.
    async fn start(ids: &[NodeId], config: RaftNodeConfig) -> anyhow::Result<Self> {
        let mut cluster = Self {
            dir: tempfile::tempdir()?,
            config,
            addresses: BTreeMap::new(),
            members: BTreeMap::new(),
        };
        for &id in ids {
            let listener = bind_loopback().await?;
            cluster.addresses.insert(id, listener.local_addr()?);
            cluster.start_node_on(id, listener, SECRET).await?;
        }
        let members = cluster
            .addresses
            .iter()
            .map(|(&id, address)| (id, address.to_string()))
            .collect();
        let first = *ids.first().context("no nodes")?;
        cluster.node(first)?.bootstrap(members).await?;
        Ok(cluster)
    }

    /// Starts node `id` (or restarts it from its data directory) serving on `listener`.
    async fn start_node_on(
        &mut self,
        id: NodeId,
        listener: TcpListener,
        secret: &str,
    ) -> anyhow::Result<()> {
        let secret = ClusterSecret::new(secret)?;
        let data_dir = self.dir.path().join(format!("node-{id}"));
        let transport = GrpcTransport::new(secret.clone());
        let node = Arc::new(
            RaftNode::start(id, &data_dir, &self.config, Counters::default(), transport).await?,
        );
        let server = RaftGrpcServer::serve_node(listener, &node, secret)?;
        self.members.insert(id, Member { node, server });
        Ok(())
    }

    /// Restarts a killed node on its old address.
    async fn restart(&mut self, id: NodeId) -> anyhow::Result<()> {
        let address = *self.addresses.get(&id).context("unknown node")?;
        let listener = TcpListener::bind(address).await?;
        self.start_node_on(id, listener, SECRET).await
    }

    fn node(&self, id: NodeId) -> anyhow::Result<Arc<RaftNode<Counters>>> {
        self.members
            .get(&id)
            .map(|member| member.node.clone())
            .with_context(|| format!("node {id} is not running"))
    }

    /// Stops serving node `id`, then stops the node.
    async fn kill(&mut self, id: NodeId) -> anyhow::Result<()> {
        let member = self
            .members
            .remove(&id)
            .with_context(|| format!("node {id} is not running"))?;
        member.server.shutdown().await?;
        member.node.shutdown().await?;
        Ok(())
    }

    async fn shutdown(&mut self) -> anyhow::Result<()> {
        let ids: Vec<NodeId> = self.members.keys().copied().collect();
        for id in ids {
            self.kill(id).await?;
        }
        Ok(())
    }

    /// The leader with the highest term among the running nodes.
    async fn leader(&self, timeout: Duration) -> anyhow::Result<NodeId> {
        wait_for_leader(timeout, || {
            self.members
                .iter()
                .map(|(&id, member)| (id, &*member.node))
                .collect()
        })
        .await
    }

    /// Writes through the current leader, retrying only on "not the leader" (never proposed).
    async fn write(&self, command: &str, timeout: Duration) -> anyhow::Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let leader = self.leader(timeout).await?;
            match self.node(leader)?.write(command.as_bytes().to_vec()).await {
                Ok(response) => return Ok(String::from_utf8(response)?),
                Err(RaftNodeError::NotLeader { .. }) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Waits until every running node has applied the same index and holds the same state.
    async fn converge(&self, timeout: Duration) -> anyhow::Result<Counters> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut states = Vec::new();
            for member in self.members.values() {
                let applied = member.node.metrics().await?.applied_index;
                states.push((applied, member.node.read_local(Counters::clone)?));
            }
            let (first_applied, first_state) = states.first().cloned().context("no nodes")?;
            if states
                .iter()
                .all(|(applied, state)| *applied == first_applied && *state == first_state)
            {
                return Ok(first_state);
            }
            if Instant::now() > deadline {
                let applied: Vec<_> = states.iter().map(|(applied, _)| *applied).collect();
                bail!("nodes did not converge within {timeout:?}: applied {applied:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn counter(state: &Counters, name: &str) -> i64 {
    state.values.get(name).copied().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_replicate_over_grpc_and_survive_losing_the_leader() -> anyhow::Result<()> {
    let mut cluster = GrpcCluster::start(&[1, 2, 3], fast_config()).await?;
    let first_leader = cluster.leader(Duration::from_secs(5)).await?;
    let mut last = String::new();
    for _ in 0..30 {
        last = cluster.write("add hits 1", Duration::from_secs(5)).await?;
    }
    assert_eq!(last, "30");
    let state = cluster.converge(Duration::from_secs(5)).await?;
    assert_eq!(counter(&state, "hits"), 30);

    // Every node learned the members' real addresses.
    let metrics = cluster.node(first_leader)?.metrics().await?;
    let expected: BTreeMap<NodeId, String> = cluster
        .addresses
        .iter()
        .map(|(&id, address)| (id, address.to_string()))
        .collect();
    assert_eq!(metrics.voters, expected);

    let killed_at = Instant::now();
    cluster.kill(first_leader).await?;
    let answer = cluster.write("add hits 1", Duration::from_secs(10)).await?;
    let failover = killed_at.elapsed();
    assert_eq!(answer, "31");
    let new_leader = cluster.leader(Duration::from_secs(1)).await?;
    assert_ne!(new_leader, first_leader);
    ensure!(
        failover < Duration::from_secs(5),
        "the survivors took {failover:?} to commit after the leader died"
    );

    // The old leader comes back on its old address and catches up.
    cluster.restart(first_leader).await?;
    cluster.write("add hits 1", Duration::from_secs(5)).await?;
    let state = cluster.converge(Duration::from_secs(10)).await?;
    assert_eq!(counter(&state, "hits"), 32);
    cluster.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_the_wrong_secret_can_neither_vote_nor_join() -> anyhow::Result<()> {
    let mut cluster = GrpcCluster::start(&[1, 2, 3], fast_config()).await?;
    cluster.write("add hits 1", Duration::from_secs(5)).await?;
    let leader = cluster.leader(Duration::from_secs(5)).await?;
    let term_before = cluster.node(leader)?.metrics().await?.term;
    let leader_node = BasicNode::new(
        cluster
            .addresses
            .get(&leader)
            .context("leader address")?
            .to_string(),
    );

    // An intruder asking for votes with a far higher term is refused before Raft sees it.
    let intruder = GrpcTransport::new(ClusterSecret::new("not-the-secret")?);
    let delivery = intruder
        .vote(
            leader,
            &leader_node,
            VoteRequest::new(Vote::new(term_before + 100, 4), None),
            Duration::from_secs(1),
        )
        .await;
    match delivery {
        Err(TransportError::Failed { target, reason }) => {
            assert_eq!(target, leader);
            assert!(reason.contains("secret"), "{reason}");
        }
        other => bail!("a vote with the wrong secret should be refused, got {other:?}"),
    }

    // A call with no secret at all is UNAUTHENTICATED at the gRPC level.
    let mut raw = RaftInternalClient::connect(format!("http://{}", leader_node.addr)).await?;
    let status = raw
        .vote(RaftMessage {
            payload: b"{}".to_vec(),
        })
        .await
        .err()
        .context("a call without the secret should fail")?;
    assert_eq!(status.code(), tonic::Code::Unauthenticated);

    // A node started with the wrong secret refuses the leader's entries: added as a
    // learner, it never receives any of the log.
    let listener = bind_loopback().await?;
    let intruder_address = listener.local_addr()?;
    cluster.addresses.insert(4, intruder_address);
    cluster.start_node_on(4, listener, "not-the-secret").await?;
    cluster
        .node(leader)?
        .raft()
        .add_learner(4, BasicNode::new(intruder_address.to_string()), false)
        .await?;
    for _ in 0..5 {
        cluster.write("add hits 1", Duration::from_secs(5)).await?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let intruder_metrics = cluster.node(4)?.metrics().await?;
    assert_eq!(intruder_metrics.last_log_index, None);
    assert_eq!(intruder_metrics.leader, None);

    // The cluster was not disturbed: same leader, same term, writes still commit.
    let after = cluster.node(leader)?.metrics().await?;
    assert_eq!(after.role, RaftRole::Leader);
    assert_eq!(after.term, term_before);
    assert_eq!(
        cluster.write("add hits 1", Duration::from_secs(5)).await?,
        "7"
    );
    cluster.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_member_catches_up_from_a_snapshot_sent_over_grpc() -> anyhow::Result<()> {
    let config = RaftNodeConfig {
        snapshot_after_logs: 20,
        logs_kept_after_snapshot: 5,
        ..fast_config()
    };
    let mut cluster = GrpcCluster::start(&[1, 2, 3], config).await?;
    for _ in 0..60 {
        cluster.write("add hits 1", Duration::from_secs(5)).await?;
    }
    let leader = cluster.leader(Duration::from_secs(5)).await?;
    let purged = cluster.node(leader)?.metrics().await?.purged_index;
    ensure!(
        purged.is_some(),
        "the leader should have compacted its log, purged {purged:?}"
    );

    // The log's start is gone, so the newcomer can only start from a snapshot.
    let listener = bind_loopback().await?;
    let address = listener.local_addr()?;
    cluster.addresses.insert(4, address);
    cluster.start_node_on(4, listener, SECRET).await?;
    cluster
        .node(leader)?
        .add_learner(4, &address.to_string())
        .await?;
    let state = cluster.converge(Duration::from_secs(10)).await?;
    assert_eq!(counter(&state, "hits"), 60);
    let newcomer = cluster.node(4)?.metrics().await?;
    assert_eq!(newcomer.role, RaftRole::Learner);
    ensure!(
        newcomer.snapshot_index.is_some(),
        "the newcomer should hold the installed snapshot"
    );
    cluster.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_calls_run_on_the_node_they_reach() -> anyhow::Result<()> {
    let mut cluster = GrpcCluster::start(&[1, 2, 3], fast_config()).await?;
    let leader = cluster.leader(Duration::from_secs(5)).await?;
    let follower = *cluster
        .addresses
        .keys()
        .find(|&&id| id != leader)
        .context("a follower")?;
    let addresses: BTreeMap<NodeId, String> = cluster
        .addresses
        .iter()
        .map(|(&id, address)| (id, address.to_string()))
        .collect();
    let address = |id: NodeId| -> anyhow::Result<String> {
        addresses.get(&id).cloned().context("an address")
    };
    let transport = GrpcTransport::new(ClusterSecret::new(SECRET)?);
    let timeout = Duration::from_secs(2);

    // The leader applies a forwarded write; a follower refuses it and names the leader.
    let answer = transport
        .client_write(leader, &address(leader)?, b"add hits 5".to_vec(), timeout)
        .await?;
    assert_eq!(answer, b"5");
    match transport
        .client_write(
            follower,
            &address(follower)?,
            b"add hits 1".to_vec(),
            timeout,
        )
        .await
    {
        Err(RaftNodeError::NotLeader {
            node_id,
            leader_id,
            leader_address,
        }) => {
            assert_eq!(node_id, follower);
            assert_eq!(leader_id, Some(leader));
            assert_eq!(leader_address, Some(address(leader)?));
        }
        other => bail!("a follower should refuse a write, got {other:?}"),
    }

    // A read on the leader answers the current snapshot; a follower refuses it.
    let snapshot = transport
        .client_read(leader, &address(leader)?, timeout)
        .await?;
    let mut restored = Counters::default();
    restored.restore(&snapshot).map_err(anyhow::Error::msg)?;
    assert_eq!(counter(&restored, "hits"), 5);
    assert!(matches!(
        transport
            .client_read(follower, &address(follower)?, timeout)
            .await,
        Err(RaftNodeError::NotLeader { leader_id: Some(id), .. }) if id == leader
    ));

    // A leader cut off from its quorum answers a timeout instead of hanging.
    let others: Vec<NodeId> = addresses
        .keys()
        .copied()
        .filter(|&id| id != leader)
        .collect();
    for id in others {
        cluster.kill(id).await?;
    }
    let started = Instant::now();
    let cut_off = transport
        .client_write(
            leader,
            &address(leader)?,
            b"add hits 1".to_vec(),
            Duration::from_millis(300),
        )
        .await;
    assert!(
        matches!(cut_off, Err(RaftNodeError::Timeout { node_id, .. }) if node_id == leader),
        "{cut_off:?}"
    );
    ensure!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let unreachable = transport
        .client_write(
            follower,
            &address(follower)?,
            b"add hits 1".to_vec(),
            timeout,
        )
        .await;
    assert!(
        matches!(unreachable, Err(RaftNodeError::Timeout { node_id, .. }) if node_id == follower),
        "{unreachable:?}"
    );
    cluster.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replication_only_service_refuses_forwarded_calls() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let secret = ClusterSecret::new(SECRET)?;
    let node = RaftNode::start(
        1,
        dir.path(),
        &fast_config(),
        Counters::default(),
        GrpcTransport::new(secret.clone()),
    )
    .await?;
    let listener = bind_loopback().await?;
    let address = listener.local_addr()?.to_string();
    let server = RaftGrpcServer::serve(listener, 1, node.raft().clone(), secret.clone())?;
    let answer = GrpcTransport::new(secret)
        .client_read(1, &address, Duration::from_secs(1))
        .await;
    assert!(
        matches!(&answer, Err(RaftNodeError::InvalidConfig { reason }) if reason.contains("version")),
        "{answer:?}"
    );
    server.shutdown().await?;
    node.shutdown().await?;
    Ok(())
}
