//! Cluster tests: three nodes on the in-process network with sled stores in temp dirs.

mod bench;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail, ensure};
use serde::{Deserialize, Serialize};
use tempfile::TempDir;

use super::test_support::wait_for_leader;
use super::{
    InProcessNetwork, NodeId, RaftNode, RaftNodeConfig, RaftNodeError, RaftRole, StateMachine,
};

/// Named counters; the command `add NAME N` adds `N` and answers the new value.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub values: BTreeMap<String, i64>,
    pub applied: u64,
    pub last_now_ms: u64,
    pub clock_went_back: bool,
}

impl StateMachine for Counters {
    fn apply(&mut self, command: &[u8], now_ms: u64) -> Vec<u8> {
        self.applied += 1;
        self.clock_went_back |= now_ms < self.last_now_ms;
        self.last_now_ms = now_ms;
        let text = String::from_utf8_lossy(command);
        let parts: Vec<&str> = text.split(' ').collect();
        let ["add", name, amount] = parts.as_slice() else {
            return format!("error: unknown command {text:?}").into_bytes();
        };
        let Ok(amount) = amount.parse::<i64>() else {
            return format!("error: bad amount {amount:?}").into_bytes();
        };
        let value = self.values.entry((*name).to_owned()).or_default();
        *value += amount;
        value.to_string().into_bytes()
    }

    fn snapshot(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    fn restore(&mut self, snapshot: &[u8]) -> Result<(), String> {
        *self = serde_json::from_slice(snapshot).map_err(|error| error.to_string())?;
        Ok(())
    }
}

pub fn fast_config() -> RaftNodeConfig {
    RaftNodeConfig {
        cluster_name: "test".to_owned(),
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

/// A cluster on the in-process network.
pub struct Cluster {
    pub network: InProcessNetwork,
    pub dir: TempDir,
    pub config: RaftNodeConfig,
    pub nodes: BTreeMap<NodeId, Arc<RaftNode<Counters>>>,
}

impl Cluster {
    /// Starts `ids`, bootstraps the first alone, adds the others as learners, then makes all voters.
    pub async fn start(ids: &[NodeId], config: RaftNodeConfig) -> anyhow::Result<Self> {
        let mut cluster = Self {
            network: InProcessNetwork::new(),
            dir: tempfile::tempdir()?,
            config,
            nodes: BTreeMap::new(),
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

    pub fn node(&self, id: NodeId) -> anyhow::Result<Arc<RaftNode<Counters>>> {
        self.nodes
            .get(&id)
            .cloned()
            .with_context(|| format!("node {id} is not running"))
    }

    /// Starts (or restarts) node `id` from its data directory and serves it on the network.
    pub async fn start_node(&mut self, id: NodeId) -> anyhow::Result<()> {
        let data_dir = self.dir.path().join(format!("node-{id}"));
        let transport = self.network.transport(id);
        let node =
            RaftNode::start(id, &data_dir, &self.config, Counters::default(), transport).await?;
        self.network.serve(id, node.raft().clone());
        self.nodes.insert(id, Arc::new(node));
        Ok(())
    }

    /// Stops node `id`: it disappears from the network and its store is closed.
    pub async fn kill(&mut self, id: NodeId) -> anyhow::Result<()> {
        self.network.stop_serving(id);
        let node = self
            .nodes
            .remove(&id)
            .with_context(|| format!("node {id} is not running"))?;
        node.shutdown().await?;
        Ok(())
    }

    /// The leader among `among` (all running nodes when empty) with the highest term.
    pub async fn leader_among(
        &self,
        among: &[NodeId],
        timeout: Duration,
    ) -> anyhow::Result<NodeId> {
        wait_for_leader(timeout, || {
            self.nodes
                .iter()
                .filter(|(id, _)| among.is_empty() || among.contains(id))
                .map(|(&id, node)| (id, &**node))
                .collect()
        })
        .await
        .with_context(|| format!("among {among:?}"))
    }

    /// Writes through the current leader among `among`, retrying only while a node answers
    /// "not the leader" (so the command was never proposed and cannot apply twice).
    pub async fn write_among(
        &self,
        among: &[NodeId],
        command: &str,
        timeout: Duration,
    ) -> anyhow::Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let leader = self.leader_among(among, timeout).await?;
            match self.node(leader)?.write(command.as_bytes().to_vec()).await {
                Ok(response) => return Ok(String::from_utf8(response)?),
                Err(RaftNodeError::NotLeader { .. }) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    pub async fn write(&self, command: &str) -> anyhow::Result<String> {
        self.write_among(&[], command, Duration::from_secs(10))
            .await
    }

    /// Waits until every running node has applied the same index and holds the same state.
    pub async fn converge(&self, timeout: Duration) -> anyhow::Result<Counters> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut states = Vec::new();
            for node in self.nodes.values() {
                let applied = node.metrics().await?.applied_index;
                states.push((applied, node.read_local(Counters::clone)?));
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

    pub async fn shutdown(&mut self) -> anyhow::Result<()> {
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        for id in ids {
            self.kill(id).await?;
        }
        Ok(())
    }
}

fn counter(state: &Counters, name: &str) -> i64 {
    state.values.get(name).copied().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_replicate_writes_and_serve_current_reads() -> anyhow::Result<()> {
    let mut cluster = Cluster::start(&[1, 2, 3], fast_config()).await?;
    let mut last = String::new();
    for _ in 0..50 {
        last = cluster.write("add hits 1").await?;
    }
    assert_eq!(last, "50");
    let state = cluster.converge(Duration::from_secs(5)).await?;
    assert_eq!(counter(&state, "hits"), 50);
    assert!(!state.clock_went_back);

    let leader = cluster.leader_among(&[], Duration::from_secs(5)).await?;
    let current = cluster
        .node(leader)?
        .read_current(|state| counter(state, "hits"))
        .await?;
    assert_eq!(current, 50);
    let follower = [1, 2, 3]
        .into_iter()
        .find(|&id| id != leader)
        .context("no follower")?;
    match cluster
        .node(follower)?
        .read_current(|state| counter(state, "hits"))
        .await
    {
        Err(RaftNodeError::NotLeader {
            leader_id,
            leader_address,
            ..
        }) => {
            assert_eq!(leader_id, Some(leader));
            assert_eq!(leader_address, Some(address(leader)));
        }
        other => bail!("a follower's current read should point to the leader, got {other:?}"),
    }
    match cluster.node(follower)?.write(b"add hits 1".to_vec()).await {
        Err(RaftNodeError::NotLeader { leader_id, .. }) => assert_eq!(leader_id, Some(leader)),
        other => bail!("a follower should refuse writes, got {other:?}"),
    }

    let metrics = cluster.node(leader)?.metrics().await?;
    assert_eq!(
        metrics.voters.keys().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from([1, 2, 3])
    );
    assert!(metrics.learners.is_empty());
    assert!(metrics.commit_index >= metrics.applied_index && metrics.applied_index.is_some());
    match cluster
        .node(leader)?
        .bootstrap(BTreeMap::from([(9, address(9))]))
        .await
    {
        Err(RaftNodeError::Bootstrap { .. }) => {}
        other => bail!("a second bootstrap should be refused, got {other:?}"),
    }
    cluster.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_voter_leaves_the_membership_and_the_rest_keep_committing() -> anyhow::Result<()>
{
    let mut cluster = Cluster::start(&[1, 2, 3], fast_config()).await?;
    cluster.write("add hits 1").await?;
    let leader = cluster.leader_among(&[], Duration::from_secs(5)).await?;
    let removed = [1, 2, 3]
        .into_iter()
        .find(|&id| id != leader)
        .context("a follower")?;
    let keep: BTreeSet<NodeId> = [1, 2, 3].into_iter().filter(|&id| id != removed).collect();
    cluster
        .node(leader)?
        .change_membership(keep.clone())
        .await?;
    let metrics = cluster.node(leader)?.metrics().await?;
    assert_eq!(
        metrics.voters.keys().copied().collect::<BTreeSet<_>>(),
        keep
    );
    assert!(!metrics.learners.contains_key(&removed));

    // With the removed node gone, two of two voters are a quorum: writes go on.
    cluster.kill(removed).await?;
    for _ in 0..5 {
        cluster.write("add hits 1").await?;
    }
    let state = cluster
        .node(leader)?
        .read_current(|state| counter(state, "hits"))
        .await?;
    assert_eq!(state, 6);
    cluster.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_leader_elects_another_and_writes_continue() -> anyhow::Result<()> {
    let mut cluster = Cluster::start(&[1, 2, 3], fast_config()).await?;
    for _ in 0..10 {
        cluster.write("add hits 1").await?;
    }
    let old_leader = cluster.leader_among(&[], Duration::from_secs(5)).await?;
    let killed_at = Instant::now();
    cluster.kill(old_leader).await?;
    let survivors: Vec<NodeId> = [1, 2, 3]
        .into_iter()
        .filter(|&id| id != old_leader)
        .collect();
    let response = cluster
        .write_among(&survivors, "add hits 1", Duration::from_secs(10))
        .await?;
    let failover = killed_at.elapsed();
    assert_eq!(response, "11");
    assert!(
        failover < Duration::from_secs(3),
        "fail-over took {failover:?}"
    );
    for _ in 0..9 {
        cluster.write("add hits 1").await?;
    }
    assert_eq!(
        counter(&cluster.converge(Duration::from_secs(5)).await?, "hits"),
        20
    );

    // The old leader comes back as a follower and catches up.
    cluster.start_node(old_leader).await?;
    let state = cluster.converge(Duration::from_secs(10)).await?;
    assert_eq!(counter(&state, "hits"), 20);
    cluster.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_restarted_from_their_data_dirs_keep_log_vote_and_state() -> anyhow::Result<()> {
    let mut cluster = Cluster::start(&[1, 2, 3], fast_config()).await?;
    for _ in 0..30 {
        cluster.write("add hits 1").await?;
    }
    // A follower misses writes while down and catches up after a restart.
    let leader = cluster.leader_among(&[], Duration::from_secs(5)).await?;
    let follower = [1, 2, 3]
        .into_iter()
        .find(|&id| id != leader)
        .context("no follower")?;
    cluster.kill(follower).await?;
    for _ in 0..30 {
        cluster.write("add hits 1").await?;
    }
    cluster.start_node(follower).await?;
    assert_eq!(
        counter(&cluster.converge(Duration::from_secs(10)).await?, "hits"),
        60
    );

    // The whole cluster restarts: each node resumes its log, vote and state machine.
    let mut before = BTreeMap::new();
    for (&id, node) in &cluster.nodes {
        before.insert(id, node.metrics().await?);
    }
    cluster.shutdown().await?;
    for id in [1, 2, 3] {
        cluster.start_node(id).await?;
    }
    for (&id, node) in &cluster.nodes {
        let metrics = node.metrics().await?;
        let old = &before[&id];
        assert_eq!(
            metrics.last_log_index, old.last_log_index,
            "node {id} lost log entries"
        );
        assert!(metrics.term >= old.term, "node {id} forgot its term");
        assert_eq!(
            metrics.voters, old.voters,
            "node {id} forgot the membership"
        );
    }
    assert_eq!(
        counter(&cluster.converge(Duration::from_secs(10)).await?, "hits"),
        60
    );
    assert_eq!(cluster.write("add hits 1").await?, "61");
    cluster.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_node_catches_up_from_a_snapshot() -> anyhow::Result<()> {
    let config = RaftNodeConfig {
        snapshot_after_logs: 20,
        logs_kept_after_snapshot: 0,
        ..fast_config()
    };
    let mut cluster = Cluster::start(&[1, 2, 3], config).await?;
    for _ in 0..5 {
        cluster.write("add hits 1").await?;
    }
    let leader = cluster.leader_among(&[], Duration::from_secs(5)).await?;
    let lagging = [1, 2, 3]
        .into_iter()
        .find(|&id| id != leader)
        .context("no follower")?;
    let lagging_last = cluster
        .node(lagging)?
        .metrics()
        .await?
        .last_log_index
        .unwrap_or_default();
    cluster.kill(lagging).await?;
    for _ in 0..150 {
        cluster.write("add hits 1").await?;
    }
    // Snapshots are built and the log purged in the background: wait for the leader to drop
    // the entries the lagging node misses.
    let deadline = Instant::now() + Duration::from_secs(5);
    let purged = loop {
        let purged = cluster.node(leader)?.metrics().await?.purged_index;
        if let Some(purged) = purged.filter(|&purged| purged > lagging_last) {
            break purged;
        }
        ensure!(
            Instant::now() < deadline,
            "the leader still holds the entries after {lagging_last} (purged up to {purged:?})"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    cluster.start_node(lagging).await?;
    let state = cluster.converge(Duration::from_secs(10)).await?;
    assert_eq!(counter(&state, "hits"), 155);
    let metrics = cluster.node(lagging)?.metrics().await?;
    let snapshot = metrics
        .snapshot_index
        .context("the lagging node has no snapshot")?;
    assert!(
        snapshot >= purged,
        "snapshot at {snapshot}, leader purged up to {purged}"
    );
    assert!(!state.clock_went_back);

    // Every node restarts from its own snapshot plus the log after it.
    cluster.shutdown().await?;
    for id in [1, 2, 3] {
        cluster.start_node(id).await?;
        let restored = cluster.node(id)?.metrics().await?;
        assert!(
            restored.snapshot_index.is_some(),
            "node {id} lost its snapshot"
        );
    }
    assert_eq!(
        counter(&cluster.converge(Duration::from_secs(10)).await?, "hits"),
        155
    );
    assert_eq!(cluster.write("add hits 1").await?, "156");
    cluster.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_minority_cannot_commit_and_healing_leaves_one_history() -> anyhow::Result<()>
{
    let mut cluster = Cluster::start(&[1, 2, 3], fast_config()).await?;
    for _ in 0..10 {
        cluster.write("add hits 1").await?;
    }
    let old_leader = cluster.leader_among(&[], Duration::from_secs(5)).await?;
    let majority: Vec<NodeId> = [1, 2, 3]
        .into_iter()
        .filter(|&id| id != old_leader)
        .collect();
    cluster.network.partition(&[old_leader], &majority);

    let isolated = cluster.node(old_leader)?;
    let minority_write = tokio::time::timeout(
        Duration::from_secs(1),
        isolated.write(b"add hits 1000".to_vec()),
    )
    .await;
    assert!(
        !matches!(minority_write, Ok(Ok(_))),
        "the minority committed a write: {minority_write:?}"
    );
    let minority_read = tokio::time::timeout(
        Duration::from_secs(1),
        isolated.read_current(|state| counter(state, "hits")),
    )
    .await;
    assert!(
        !matches!(minority_read, Ok(Ok(_))),
        "the minority served a current read: {minority_read:?}"
    );

    for _ in 0..20 {
        cluster
            .write_among(&majority, "add hits 1", Duration::from_secs(10))
            .await?;
    }
    let new_leader = cluster
        .leader_among(&majority, Duration::from_secs(5))
        .await?;
    assert_ne!(new_leader, old_leader);

    cluster.network.heal();
    let state = cluster.converge(Duration::from_secs(10)).await?;
    assert_eq!(
        counter(&state, "hits"),
        30,
        "the minority's write must not survive"
    );
    assert_eq!(cluster.write("add hits 1").await?, "31");
    cluster.converge(Duration::from_secs(5)).await?;
    cluster.shutdown().await
}
