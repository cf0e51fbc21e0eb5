//! Three members in one process that reach each other only over gRPC on loopback, as
//! `mirage node` processes would: each member's client holds its own node and reaches the
//! other two as remote members (`ClientWrite`, `ClientRead` with the cluster secret).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use mirage_actors::{ClientError, ClusterState, Command, Outcome, Settings, StateClient};
use mirage_proto::v1::RaftMessage;
use mirage_proto::v1::raft_internal_client::RaftInternalClient;
use tempfile::TempDir;
use tokio::net::TcpListener;

use super::ledger::{budgeted_dataset, burst, burst_killing_the_leader, check_ledgers};
use super::{TestCluster, dataset_id, fast_config, register_dataset};
use crate::cluster::{ClusterMachine, ClusterNode, Members, RaftStateClient, RetryPolicy};
use crate::raft::{
    ClusterSecret, GrpcTransport, NodeId, RaftGrpcServer, RaftNode, RaftNodeConfig, RaftNodeError,
};

const SECRET: &str = "cluster-test-secret";

/// A running member and the server in front of it.
struct Running {
    node: Arc<ClusterNode>,
    server: RaftGrpcServer,
}

/// Members serving `RaftInternal` on loopback ports; member `id`'s clients use
/// `registries[id]`: `id` itself local, the others remote.
pub struct GrpcStateCluster {
    _dir: TempDir,
    pub addresses: BTreeMap<NodeId, SocketAddr>,
    running: Mutex<BTreeMap<NodeId, Running>>,
    registries: BTreeMap<NodeId, Members>,
}

impl GrpcStateCluster {
    /// Starts `ids` on ephemeral loopback ports and bootstraps them as the initial voters.
    pub async fn start(ids: &[NodeId], config: RaftNodeConfig) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let secret = ClusterSecret::new(SECRET)?;
        let mut listeners = BTreeMap::new();
        for &id in ids {
            listeners.insert(id, TcpListener::bind("127.0.0.1:0").await?);
        }
        let mut addresses = BTreeMap::new();
        for (&id, listener) in &listeners {
            addresses.insert(id, listener.local_addr()?);
        }
        let mut running = BTreeMap::new();
        let mut registries = BTreeMap::new();
        for (id, listener) in listeners {
            let machine = ClusterMachine::new(ClusterState::new(Settings::default()));
            let transport = GrpcTransport::new(secret.clone());
            let data_dir = dir.path().join(format!("node-{id}"));
            let node = Arc::new(RaftNode::start(id, &data_dir, &config, machine, transport).await?);
            let server = RaftGrpcServer::serve_node(listener, &node, secret.clone())?;
            let members = Members::new();
            members.insert(node.clone());
            for (&other, address) in &addresses {
                if other != id {
                    members.insert_remote(other, &address.to_string(), secret.clone())?;
                }
            }
            registries.insert(id, members);
            running.insert(id, Running { node, server });
        }
        let voters = addresses
            .iter()
            .map(|(&id, address)| (id, address.to_string()))
            .collect();
        let first = *ids.first().context("no nodes")?;
        running
            .get(&first)
            .context("the first node")?
            .node
            .bootstrap(voters)
            .await?;
        let cluster = Self {
            _dir: dir,
            addresses,
            running: Mutex::new(running),
            registries,
        };
        cluster.leader(Duration::from_secs(5)).await?;
        Ok(cluster)
    }

    /// A client on member `id`.
    pub fn client(&self, id: NodeId, policy: RetryPolicy) -> anyhow::Result<Arc<RaftStateClient>> {
        let members = self.registries.get(&id).context("unknown member")?;
        Ok(Arc::new(RaftStateClient::new(id, members.clone(), policy)))
    }

    pub async fn shutdown(&self) -> anyhow::Result<()> {
        for (id, _) in self.nodes() {
            self.kill(id).await?;
        }
        Ok(())
    }

    /// One client per member, in id order.
    fn clients(&self) -> anyhow::Result<Vec<Arc<RaftStateClient>>> {
        self.registries
            .keys()
            .map(|&id| self.client(id, RetryPolicy::default()))
            .collect()
    }

    /// The members that are not the leader.
    async fn followers(&self) -> anyhow::Result<Vec<NodeId>> {
        let leader = self.leader(Duration::from_secs(5)).await?;
        Ok(self
            .registries
            .keys()
            .copied()
            .filter(|&id| id != leader)
            .collect())
    }
}

impl TestCluster for GrpcStateCluster {
    /// The running members.
    fn nodes(&self) -> Vec<(NodeId, Arc<ClusterNode>)> {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        running
            .iter()
            .map(|(&id, member)| (id, member.node.clone()))
            .collect()
    }

    /// Stops member `id`: its server, then its node; its own client loses its local node
    /// and goes on through the remote members.
    async fn kill(&self, id: NodeId) -> anyhow::Result<()> {
        let member = {
            let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
            running.remove(&id).context("not running")?
        };
        if let Some(members) = self.registries.get(&id) {
            members.remove(id);
        }
        member.server.shutdown().await?;
        member.node.shutdown().await?;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_forward_writes_and_read_current_state_over_grpc() -> anyhow::Result<()> {
    let cluster = GrpcStateCluster::start(&[1, 2, 3], fast_config()).await?;
    let followers = cluster.followers().await?;
    let (&writer_id, &reader_id) = (
        followers.first().context("a follower")?,
        followers.last().context("another follower")?,
    );
    let writer = cluster.client(writer_id, RetryPolicy::default())?;
    let reader = cluster.client(reader_id, RetryPolicy::default())?;

    // Each write acknowledged through one follower is seen by a read through the other.
    for n in 1..=10 {
        let (from, to) = if n % 2 == 0 {
            (&reader, &writer)
        } else {
            (&writer, &reader)
        };
        assert_eq!(from.apply(register_dataset(n)).await?, Ok(Outcome::Applied));
        let state = to.read().await?;
        ensure!(
            state.datasets().contains_key(&dataset_id(n)),
            "dataset {n} acknowledged through node {} is missing from a read through node {}",
            from.local(),
            to.local()
        );
    }
    for client in [&writer, &reader] {
        let stats = client.stats();
        ensure!(stats.forwarded > 0, "node {}: {stats:?}", client.local());
        assert_eq!(stats.gave_up, 0);
    }

    // Every member applied the writes; a read equals the replicas' state.
    let states = cluster.converge(Duration::from_secs(5)).await?;
    assert_eq!(states.len(), 3);
    for state in states.values() {
        assert_eq!(state.datasets().len(), 10);
    }
    assert_eq!(Some(&reader.read().await?), states.values().next());
    cluster.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reservations_over_grpc_fill_the_budget_exactly() -> anyhow::Result<()> {
    let cluster = GrpcStateCluster::start(&[1, 2, 3], fast_config()).await?;
    let clients = cluster.clients()?;
    budgeted_dataset(&clients[0], 1).await;

    let succeeded = burst(&clients, 1, "burst", Duration::ZERO).await;
    assert_eq!(succeeded.len(), 20, "{succeeded:?}");
    let forwarded: u64 = clients.iter().map(|c| c.stats().forwarded).sum();
    assert!(forwarded > 0, "no write went through a follower");
    assert!(clients.iter().all(|c| c.stats().gave_up == 0));

    let states = cluster.converge(Duration::from_secs(5)).await?;
    assert_eq!(states.len(), 3);
    check_ledgers(&states, 1, &succeeded);
    cluster.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutting_the_leader_down_mid_burst_over_grpc_neither_overspends_nor_charges_twice()
-> anyhow::Result<()> {
    let cluster = GrpcStateCluster::start(&[1, 2, 3], fast_config()).await?;
    let clients = cluster.clients()?;
    budgeted_dataset(&clients[0], 1).await;

    let (_, succeeded) = burst_killing_the_leader(&cluster, &clients, 1, "go down").await?;

    let states = cluster.converge(Duration::from_secs(10)).await?;
    assert_eq!(states.len(), 2);
    check_ledgers(&states, 1, &succeeded);
    cluster.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_calls_with_the_wrong_secret_are_refused() -> anyhow::Result<()> {
    let cluster = GrpcStateCluster::start(&[1, 2, 3], fast_config()).await?;
    let leader = cluster.leader(Duration::from_secs(5)).await?;
    let address = cluster
        .addresses
        .get(&leader)
        .context("the leader's address")?
        .to_string();
    let command = crate::cluster::encode_command(&register_dataset(1))?;

    // At the gRPC level: no secret, or a wrong one, is UNAUTHENTICATED on both calls.
    let mut raw = RaftInternalClient::connect(format!("http://{address}")).await?;
    for secret in [None, Some("not-the-secret")] {
        let request = |payload: Vec<u8>| {
            let mut request = tonic::Request::new(RaftMessage { payload });
            if let Some(secret) = secret {
                let value = secret.parse().expect("ascii");
                request
                    .metadata_mut()
                    .insert("x-mirage-cluster-secret", value);
            }
            request
        };
        let write = raw.client_write(request(command.clone())).await;
        let read = raw.client_read(request(Vec::new())).await;
        for (rpc, answer) in [("ClientWrite", write.err()), ("ClientRead", read.err())] {
            let status = answer.with_context(|| format!("{rpc} with secret {secret:?}"))?;
            assert_eq!(status.code(), tonic::Code::Unauthenticated, "{rpc}");
        }
    }

    // Through the transport: a clear error that no retry cures.
    let intruder = GrpcTransport::new(ClusterSecret::new("not-the-secret")?);
    let refused = intruder
        .client_write(leader, &address, command, Duration::from_secs(1))
        .await;
    match refused {
        Err(RaftNodeError::InvalidConfig { reason }) => {
            assert!(reason.contains("cluster secret"), "{reason}");
        }
        other => bail!("a write with the wrong secret should be refused, got {other:?}"),
    }

    // A client whose remote members have the wrong secret gives up at once, saying why.
    let members = Members::new();
    let wrong = ClusterSecret::new("not-the-secret")?;
    for (&id, address) in &cluster.addresses {
        members.insert_remote(id, &address.to_string(), wrong.clone())?;
    }
    let client = RaftStateClient::new(leader, members, RetryPolicy::default());
    let started = Instant::now();
    for answer in [
        client.apply(register_dataset(2)).await.err(),
        client.read().await.err(),
    ] {
        match answer {
            Some(ClientError::Unavailable { reason }) => {
                assert!(reason.contains("cluster secret"), "{reason}");
            }
            other => bail!("expected a refusal, got {other:?}"),
        }
    }
    ensure!(
        started.elapsed() < Duration::from_secs(2),
        "a refusal must not be retried until the deadline ({:?})",
        started.elapsed()
    );
    let stats = client.stats();
    assert_eq!((stats.attempts, stats.gave_up), (2, 2), "{stats:?}");

    // Nothing was applied.
    let states = cluster.converge(Duration::from_secs(5)).await?;
    assert!(states.values().all(|state| state.datasets().is_empty()));
    cluster.shutdown().await
}

#[tokio::test]
async fn a_member_address_that_cannot_be_used_is_refused() -> anyhow::Result<()> {
    let members = Members::new();
    let secret = ClusterSecret::new(SECRET)?;
    let error = members
        .insert_remote(2, "not a uri", secret)
        .err()
        .context("a malformed address should be refused")?;
    assert!(error.to_string().contains("not a uri"), "{error}");
    assert!(members.ids().is_empty());
    Ok(())
}
