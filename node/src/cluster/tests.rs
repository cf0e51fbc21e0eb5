//! Tests of the replicated cluster state: the state machine's codec, and three Raft nodes
//! on the in-process network with clients attached to each.

mod bench;
mod grpc;
mod jobs;
mod ledger;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use mirage_actors::{ClusterState, Command, DatasetSpec, Outcome, Settings, StateError};
use mirage_core::{DatasetId, TenantId};
use mirage_privacy::Spend;
use tempfile::TempDir;
use uuid::Uuid;

use super::{ClusterMachine, ClusterNode, Members, RaftStateClient, RetryPolicy, decode_response};
use crate::raft::test_support::wait_for_leader;
use crate::raft::{InProcessNetwork, NodeId, RaftNode, RaftNodeConfig, RaftRole, StateMachine};

pub fn fast_config() -> RaftNodeConfig {
    RaftNodeConfig {
        cluster_name: "cluster-test".to_owned(),
        heartbeat_interval_ms: 50,
        election_timeout_min_ms: 150,
        election_timeout_max_ms: 300,
        snapshot_after_logs: 1000,
        logs_kept_after_snapshot: 100,
        flush_on_write: true,
    }
}

pub fn address(id: NodeId) -> String {
    format!("in-process:{id}")
}

pub fn dataset_id(n: u128) -> DatasetId {
    DatasetId::from_uuid(Uuid::from_u128(n))
}

pub fn tenant_id(n: u128) -> TenantId {
    TenantId::from_uuid(Uuid::from_u128(n))
}

pub fn register_dataset(n: u128) -> Command {
    Command::RegisterDataset(DatasetSpec {
        id: dataset_id(n),
        tenant: tenant_id(1),
        name: format!("dataset-{n}"),
        url: format!("file:///data/{n}.parquet"),
    })
}

/// Three (or more) Raft members holding the cluster state, on the in-process network.
pub struct RaftCluster {
    pub network: InProcessNetwork,
    pub dir: TempDir,
    pub config: RaftNodeConfig,
    pub settings: Settings,
    pub members: Members,
}

impl RaftCluster {
    /// Starts `ids`, bootstraps the first alone, adds the others as learners, then makes
    /// all of them voters.
    pub async fn start(
        ids: &[NodeId],
        config: RaftNodeConfig,
        settings: Settings,
    ) -> anyhow::Result<Self> {
        let cluster = Self {
            network: InProcessNetwork::new(),
            dir: tempfile::tempdir()?,
            config,
            settings,
            members: Members::new(),
        };
        for &id in ids {
            cluster.start_node(id).await?;
        }
        let (&first, rest) = ids.split_first().context("no nodes")?;
        let node = cluster.node(first)?;
        node.bootstrap(BTreeMap::from([(first, address(first))]))
            .await?;
        node.wait_for_leader(Duration::from_secs(5)).await?;
        for &id in rest {
            node.add_learner(id, &address(id)).await?;
        }
        node.change_membership(ids.iter().copied().collect())
            .await?;
        Ok(cluster)
    }

    pub fn node(&self, id: NodeId) -> anyhow::Result<Arc<RaftNode<ClusterMachine>>> {
        self.members
            .get(id)
            .with_context(|| format!("node {id} is not running"))
    }

    /// Starts (or restarts) node `id` from its data directory and serves it.
    pub async fn start_node(&self, id: NodeId) -> anyhow::Result<()> {
        let data_dir = self.dir.path().join(format!("node-{id}"));
        let machine = ClusterMachine::new(ClusterState::new(self.settings.clone()));
        let node = RaftNode::start(
            id,
            &data_dir,
            &self.config,
            machine,
            self.network.transport(id),
        )
        .await?;
        self.network.serve(id, node.raft().clone());
        self.members.insert(Arc::new(node));
        Ok(())
    }

    /// A client attached to node `id`.
    pub fn client(&self, id: NodeId, policy: RetryPolicy) -> Arc<RaftStateClient> {
        Arc::new(RaftStateClient::new(id, self.members.clone(), policy))
    }

    pub async fn shutdown(&self) -> anyhow::Result<()> {
        for id in self.members.ids() {
            self.kill(id).await?;
        }
        Ok(())
    }
}

/// What the cluster tests ask of a cluster, in process or over gRPC.
pub trait TestCluster {
    /// The running members.
    fn nodes(&self) -> Vec<(NodeId, Arc<ClusterNode>)>;

    /// Stops member `id`.
    async fn kill(&self, id: NodeId) -> anyhow::Result<()>;

    /// The running leader with the highest term.
    async fn leader(&self, timeout: Duration) -> anyhow::Result<NodeId> {
        wait_for_leader(timeout, || self.nodes()).await
    }

    /// Waits until every running member has applied the same index and holds the same
    /// state; returns each one's state (read locally).
    async fn converge(&self, timeout: Duration) -> anyhow::Result<BTreeMap<NodeId, ClusterState>> {
        converge(timeout, || self.nodes()).await
    }
}

impl TestCluster for RaftCluster {
    /// The running members.
    fn nodes(&self) -> Vec<(NodeId, Arc<ClusterNode>)> {
        self.members
            .ids()
            .into_iter()
            .filter_map(|id| self.members.get(id).map(|node| (id, node)))
            .collect()
    }

    /// Stops node `id`: it leaves the network and the registry, and its store is closed.
    async fn kill(&self, id: NodeId) -> anyhow::Result<()> {
        self.network.stop_serving(id);
        let node = self
            .members
            .remove(id)
            .with_context(|| format!("node {id} is not running"))?;
        node.shutdown().await?;
        Ok(())
    }
}

/// Waits until every node `nodes()` lists (asked again on every poll) has applied the same
/// index and holds the same state; returns each node's state (read locally).
pub async fn converge(
    timeout: Duration,
    nodes: impl Fn() -> Vec<(NodeId, Arc<ClusterNode>)>,
) -> anyhow::Result<BTreeMap<NodeId, ClusterState>> {
    let deadline = Instant::now() + timeout;
    loop {
        let mut applied = BTreeMap::new();
        let mut states = BTreeMap::new();
        for (id, node) in nodes() {
            applied.insert(id, node.metrics().await?.applied_index);
            states.insert(id, node.read_local(|machine| machine.state().clone())?);
        }
        let first = states.values().next().context("no nodes")?;
        let same_index = applied
            .values()
            .all(|index| Some(index) == applied.values().next());
        if same_index && states.values().all(|state| state == first) {
            return Ok(states);
        }
        if Instant::now() > deadline {
            bail!("nodes did not converge within {timeout:?}: applied {applied:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn answer(machine: &mut ClusterMachine, command: &[u8], now_ms: u64) -> mirage_actors::Response {
    decode_response(&machine.apply(command, now_ms)).expect("answers decode")
}

#[test]
fn undecodable_commands_are_refused_not_panicked_on() {
    let mut machine = ClusterMachine::default();
    for bytes in [
        &b""[..],
        b"{",
        b"\xff\xfe",
        br#"{"command":"no_such_command"}"#,
    ] {
        let response = answer(&mut machine, bytes, 5);
        assert!(
            matches!(&response, Err(StateError::InvalidField { field, .. }) if field == "command"),
            "{response:?}"
        );
    }
    assert_eq!(machine.state(), &ClusterState::default());
}

#[test]
fn snapshots_round_trip_and_corrupt_ones_are_refused() {
    let mut machine = ClusterMachine::default();
    let commands = [
        register_dataset(1),
        Command::SetBudget {
            dataset: dataset_id(1),
            budget: Spend::new(2.0, 1e-6),
        },
        Command::Reserve {
            dataset: dataset_id(1),
            request: "job-1".to_owned(),
            spend: Spend::new(1.0, 0.0),
        },
    ];
    for (now_ms, command) in (10..).zip(&commands) {
        let bytes = super::encode_command(command).expect("commands encode");
        assert_eq!(answer(&mut machine, &bytes, now_ms), Ok(Outcome::Applied));
    }
    let snapshot = machine.snapshot();

    let mut restored = ClusterMachine::default();
    restored.restore(&snapshot).expect("a snapshot restores");
    assert_eq!(restored, machine);

    // An altered ledger entry breaks the hash chain: refused, state left as it was.
    let text = String::from_utf8(snapshot).expect("json");
    let tampered = text.replacen("job-1", "job-2", 1);
    assert_ne!(tampered, text);
    let mut target = ClusterMachine::default();
    let error = target
        .restore(tampered.as_bytes())
        .expect_err("a tampered ledger is refused");
    assert!(error.contains("ledger"), "{error}");
    assert_eq!(target, ClusterMachine::default());
    assert!(target.restore(b"not json").is_err());
    assert!(target.restore(b"").is_err());
}
