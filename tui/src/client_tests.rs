use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use mirage_proto::v1::{self, NodeRole};

use super::*;
use crate::Error;
use crate::fixtures::node;

/// A cluster of three fake nodes at `n1`, `n2`, `n3`, some of them down; every live node
/// reports `leader` as the leader.
#[derive(Debug, Clone)]
struct FakeCluster {
    down: Arc<Mutex<BTreeSet<String>>>,
    leader: Arc<Mutex<u64>>,
    executed: Arc<Mutex<Vec<(String, Command)>>>,
}

impl FakeCluster {
    fn new(leader: u64) -> Self {
        Self {
            down: Arc::default(),
            leader: Arc::new(Mutex::new(leader)),
            executed: Arc::default(),
        }
    }

    fn kill(&self, address: &str) {
        self.down.lock().expect("lock").insert(address.to_owned());
    }

    fn revive(&self, address: &str) {
        self.down.lock().expect("lock").remove(address);
    }

    fn check(&self, address: &str) -> Result<()> {
        if self.down.lock().expect("lock").contains(address) {
            return Err(Error::Connect {
                address: address.to_owned(),
                reason: "connection refused".into(),
            });
        }
        Ok(())
    }
}

fn id_of(address: &str) -> u64 {
    address.trim_start_matches('n').parse().unwrap_or(0)
}

impl Source for FakeCluster {
    async fn poll(&mut self, address: &str) -> Result<Snapshot> {
        self.check(address)?;
        let leader = *self.leader.lock().expect("lock");
        let down = self.down.lock().expect("lock").clone();
        let nodes = (1..=3)
            .map(|id| {
                let role = if id == leader {
                    NodeRole::Leader
                } else {
                    NodeRole::Follower
                };
                let mut info = node(id, role, !down.contains(&format!("n{id}")), &[]);
                info.address = format!("n{id}");
                info
            })
            .collect();
        Ok(Snapshot {
            address: address.to_owned(),
            status: Some(v1::ClusterStatus {
                leader_id: Some(leader),
                answered_by: id_of(address),
                nodes,
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    async fn execute(&mut self, address: &str, command: &Command) -> Result<String> {
        self.check(address)?;
        self.executed
            .lock()
            .expect("lock")
            .push((address.to_owned(), command.clone()));
        Ok("done".into())
    }
}

fn connection_texts(notices: &[Update]) -> Vec<String> {
    notices
        .iter()
        .filter_map(|n| match n {
            Update::Connection(text) | Update::Disconnected(text) => Some(text.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_dead_node_is_replaced_by_the_next_and_the_operator_is_told() {
    let cluster = FakeCluster::new(2);
    let mut failover = Failover::new(cluster.clone(), vec!["n2".into(), "n3".into()]);
    let (snapshot, notices) = failover.poll().await;
    assert_eq!(snapshot.map(|s| s.answered_by()), Some(2));
    assert!(notices.is_empty(), "{notices:?}");
    // Node 2 dies; node 3 is elected.
    cluster.kill("n2");
    *cluster.leader.lock().expect("lock") = 3;
    let (snapshot, notices) = failover.poll().await;
    assert_eq!(snapshot.map(|s| s.answered_by()), Some(3));
    assert_eq!(
        connection_texts(&notices),
        ["node 2 unreachable, now connected to node 3"]
    );
    assert_eq!(failover.current(), "n3");
}

#[tokio::test]
async fn the_console_follows_the_leader_and_learns_member_addresses() {
    let cluster = FakeCluster::new(1);
    let mut failover = Failover::new(cluster.clone(), vec!["n3".into()]);
    let (_, notices) = failover.poll().await;
    assert_eq!(
        connection_texts(&notices),
        ["following the leader: node 3 → node 1"]
    );
    assert_eq!(failover.addresses(), ["n3", "n1", "n2"]);
    let (snapshot, notices) = failover.poll().await;
    assert_eq!(snapshot.map(|s| s.answered_by()), Some(1));
    assert!(notices.is_empty(), "{notices:?}");
}

#[tokio::test]
async fn a_leader_that_just_failed_is_not_chased() {
    let cluster = FakeCluster::new(1);
    let mut failover = Failover::new(cluster.clone(), vec!["n1".into(), "n2".into()]);
    failover.poll().await;
    // Node 1 stops answering but the others still list it as alive and leading.
    *cluster.down.lock().expect("lock") = BTreeSet::new();
    cluster.kill("n1");
    let (snapshot, notices) = failover.poll().await;
    assert_eq!(snapshot.map(|s| s.answered_by()), Some(2));
    assert_eq!(
        connection_texts(&notices),
        ["node 1 unreachable, now connected to node 2"]
    );
    // Still on node 2 (node 1 is shown as down by the fake, and failed recently anyway).
    let (snapshot, _) = failover.poll().await;
    assert_eq!(snapshot.map(|s| s.answered_by()), Some(2));
}

#[tokio::test]
async fn an_outage_is_reported_once_and_the_recovery_too() {
    let cluster = FakeCluster::new(1);
    let mut failover = Failover::new(cluster.clone(), vec!["n1".into()]);
    failover.poll().await;
    for address in ["n1", "n2", "n3"] {
        cluster.kill(address);
    }
    let (snapshot, notices) = failover.poll().await;
    assert!(snapshot.is_none());
    assert!(
        matches!(notices.as_slice(), [Update::Disconnected(text)] if text.contains("no node answers"))
    );
    let (_, notices) = failover.poll().await;
    assert!(notices.is_empty(), "told once: {notices:?}");
    cluster.revive("n1");
    let (snapshot, notices) = failover.poll().await;
    assert!(snapshot.is_some());
    assert_eq!(connection_texts(&notices), ["node 1 answers again"]);
}

#[tokio::test]
async fn commands_go_to_a_live_node() {
    let cluster = FakeCluster::new(1);
    let mut failover = Failover::new(cluster.clone(), vec!["n1".into(), "n2".into()]);
    cluster.kill("n1");
    let command = Command::Cancel {
        job_id: "job_1".into(),
    };
    assert_eq!(failover.execute(&command).await.expect("sent"), "done");
    assert_eq!(
        cluster.executed.lock().expect("lock").as_slice(),
        [("n2".to_owned(), command)]
    );
}

#[tokio::test(start_paused = true)]
async fn the_client_task_polls_on_its_timer_and_runs_commands() {
    let cluster = FakeCluster::new(1);
    let failover = Failover::new(cluster.clone(), vec!["n1".into()]);
    let (update_sender, mut updates) = mpsc::channel(16);
    let (command_sender, commands) = mpsc::channel(4);
    let task = tokio::spawn(run(
        failover,
        Duration::from_secs(1),
        update_sender,
        commands,
    ));
    assert!(matches!(updates.recv().await, Some(Update::Snapshot(_))));
    command_sender
        .send(Command::Cancel {
            job_id: "job_1".into(),
        })
        .await
        .expect("send");
    let mut saw_done = false;
    for _ in 0..3 {
        match updates.recv().await {
            Some(Update::CommandDone(Ok(text))) => {
                assert_eq!(text, "done");
                saw_done = true;
            }
            Some(_) => {}
            None => break,
        }
    }
    assert!(saw_done);
    drop(command_sender);
    drop(updates);
    task.await.expect("task ends when the app hangs up");
}
