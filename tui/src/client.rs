//! The polling side: a [`Source`] answers polls and commands for one address; [`Failover`]
//! picks the address (the one that answered last, the leader when it is known and
//! reachable, the next one when a node stops answering) and words what happened; [`run`]
//! polls on a timer and forwards [`Update`]s to the app.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::Result;
use crate::snapshot::{Command, Snapshot, Update};

/// Polls skipped before a failed address is preferred again as the leader's.
const LEADER_RETRY_POLLS: u64 = 10;

/// Something that can poll a node and run commands on it: the gRPC client, or a fake in
/// tests.
pub trait Source: Send {
    /// Everything the views need, from the node at `address`.
    fn poll(&mut self, address: &str) -> impl Future<Output = Result<Snapshot>> + Send;
    /// Runs an operator command on the node at `address`; returns a line for the log.
    fn execute(
        &mut self,
        address: &str,
        command: &Command,
    ) -> impl Future<Output = Result<String>> + Send;
}

/// The addresses to try and which one is in use.
#[derive(Debug)]
pub struct Failover<S> {
    source: S,
    addresses: Vec<String>,
    current: usize,
    /// Raft ids learned from the cluster's member list, by address.
    ids: BTreeMap<String, u64>,
    /// The poll number when an address last failed.
    failed_at: BTreeMap<String, u64>,
    polls: u64,
    connected: Option<bool>,
}

impl<S: Source> Failover<S> {
    /// Starts with the first of `addresses` (not empty: [`crate::Args::addresses`] checks).
    pub fn new(source: S, addresses: Vec<String>) -> Self {
        Self {
            source,
            addresses,
            current: 0,
            ids: BTreeMap::new(),
            failed_at: BTreeMap::new(),
            polls: 0,
            connected: None,
        }
    }

    /// The address in use.
    pub fn current(&self) -> &str {
        self.addresses.get(self.current).map_or("", String::as_str)
    }

    /// Every address known, given and learned.
    pub fn addresses(&self) -> &[String] {
        &self.addresses
    }

    /// `node 2` when the address's Raft id is known, else the address.
    fn name(&self, address: &str) -> String {
        match self.ids.get(address) {
            Some(id) => format!("node {id}"),
            None => address.to_owned(),
        }
    }

    /// Polls the current node, moving on to the others in turn when it fails. Returns the
    /// snapshot (none when no node answers) and what to tell the operator.
    pub async fn poll(&mut self) -> (Option<Snapshot>, Vec<Update>) {
        self.polls += 1;
        let mut notices = Vec::new();
        let start = self.current;
        let count = self.addresses.len();
        let mut failures = Vec::new();
        for offset in 0..count {
            let index = (start + offset) % count;
            let address = self.addresses[index].clone();
            match self.source.poll(&address).await {
                Ok(snapshot) => {
                    self.failed_at.remove(&address);
                    if index != start {
                        notices.push(Update::Connection(format!(
                            "{} unreachable, now connected to {}",
                            self.name(&self.addresses[start]),
                            self.name(&address)
                        )));
                    } else if self.connected == Some(false) {
                        notices.push(Update::Connection(format!(
                            "{} answers again",
                            self.name(&address)
                        )));
                    }
                    self.current = index;
                    self.connected = Some(true);
                    self.learn(&snapshot);
                    if let Some(notice) = self.follow_leader(&snapshot) {
                        notices.push(notice);
                    }
                    return (Some(snapshot), notices);
                }
                Err(error) => {
                    self.failed_at.insert(address.clone(), self.polls);
                    failures.push(error.to_string());
                }
            }
        }
        if self.connected != Some(false) {
            notices.push(Update::Disconnected(format!(
                "no node answers ({}): check --addr, the credentials and that the nodes run",
                failures.join("; ")
            )));
        }
        self.connected = Some(false);
        (None, notices)
    }

    /// Adds the members' addresses and ids from a status.
    fn learn(&mut self, snapshot: &Snapshot) {
        let Some(status) = &snapshot.status else {
            return;
        };
        self.ids
            .insert(snapshot.address.clone(), status.answered_by);
        for node in &status.nodes {
            if node.address.is_empty() {
                continue;
            }
            self.ids.insert(node.address.clone(), node.id);
            if !self.addresses.contains(&node.address) {
                self.addresses.push(node.address.clone());
            }
        }
    }

    /// Moves to the leader for the next poll when another node is the leader and its
    /// address has not failed lately: the leader has the freshest state.
    fn follow_leader(&mut self, snapshot: &Snapshot) -> Option<Update> {
        let status = snapshot.status.as_ref()?;
        let leader = status.leader_id?;
        if leader == status.answered_by {
            return None;
        }
        let node = status.nodes.iter().find(|n| n.id == leader && n.alive)?;
        let index = self.addresses.iter().position(|a| *a == node.address)?;
        let recently_failed = self
            .failed_at
            .get(&node.address)
            .is_some_and(|at| self.polls.saturating_sub(*at) < LEADER_RETRY_POLLS);
        if recently_failed || index == self.current {
            return None;
        }
        let from = self.name(self.current());
        self.current = index;
        Some(Update::Connection(format!(
            "following the leader: {from} → node {leader}"
        )))
    }

    /// Runs `command` on the current node, then on the others when it is unreachable.
    pub async fn execute(&mut self, command: &Command) -> Result<String> {
        let count = self.addresses.len();
        let mut last = None;
        for offset in 0..count {
            let index = (self.current + offset) % count;
            let address = self.addresses[index].clone();
            match self.source.execute(&address, command).await {
                Ok(text) => {
                    self.current = index;
                    return Ok(text);
                }
                Err(error) if error.is_node_failure() => last = Some(error),
                Err(error) => return Err(error),
            }
        }
        Err(last.unwrap_or_else(|| crate::Error::Address {
            address: String::new(),
            reason: "no address to send the command to".into(),
        }))
    }
}

/// Polls every `interval` and runs commands as they come, until the app hangs up.
pub async fn run<S: Source>(
    mut failover: Failover<S>,
    interval: Duration,
    updates: mpsc::Sender<Update>,
    mut commands: mpsc::Receiver<Command>,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let mut outgoing = Vec::new();
        tokio::select! {
            _ = ticks.tick() => {
                let (snapshot, notices) = failover.poll().await;
                // The snapshot first, so the notices are logged at its time.
                outgoing.extend(snapshot.map(|s| Update::Snapshot(Box::new(s))));
                outgoing.extend(notices);
            }
            command = commands.recv() => {
                let Some(command) = command else { return };
                let outcome = failover.execute(&command).await.map_err(|e| e.to_string());
                outgoing.push(Update::CommandDone(outcome));
                // Show the command's effect at once.
                ticks.reset_immediately();
            }
        }
        for update in outgoing {
            if updates.send(update).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
