//! [`RaftStateClient`]: the actor runtime's [`StateClient`] over the Raft-replicated state.
//!
//! A client belongs to one node and reaches the other members through [`Members`] (in
//! process: their handles; in other processes: the internal gRPC service's `ClientWrite` and
//! `ClientRead`, which answer the same errors, so both are routed alike). Each call starts
//! at the leader it last heard of (its own node at first) and:
//!
//! - follows a "not the leader" answer to the leader it names (forwarding, no wait);
//! - waits with exponential backoff and tries the next member when the node it asked is
//!   stopped, unreachable, cannot reach a quorum, does not answer within the attempt timeout
//!   (which doubles each time), or knows no leader (and after three forwards in a row);
//! - gives up with [`ClientError::Unavailable`] once the call's deadline has passed, or at
//!   once when no retry can help (a member refuses the cluster secret or cannot serve
//!   forwarded calls).
//!
//! A write retried after a timeout may already have been applied. That is safe because every
//! command is idempotent in the state machine: the second application answers
//! [`Outcome::Unchanged`](mirage_actors::Outcome::Unchanged) and spends nothing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mirage_actors::runtime::{ClientFuture, command_name};
use mirage_actors::{ClientError, ClusterState, Command, Response, StateClient};
use tokio::time::Instant;

use super::machine::{decode_response, encode_command};
use super::members::Members;
use crate::raft::{NodeId, RaftNodeError};

/// How long a [`RaftStateClient`] keeps trying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// A call gives up after this long (an election takes about two election timeouts).
    pub deadline: Duration,
    /// The first attempt's timeout; each timed-out attempt doubles it.
    pub attempt_timeout: Duration,
    /// The first wait between attempts; doubles up to `backoff_max`.
    pub backoff_min: Duration,
    /// The longest wait between attempts.
    pub backoff_max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(1),
            backoff_min: Duration::from_millis(10),
            backoff_max: Duration::from_millis(200),
        }
    }
}

/// Counters of a client's work since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Calls answered.
    pub calls: u64,
    /// Attempts made (at least one per call).
    pub attempts: u64,
    /// Attempts sent to another node because the one asked was not the leader.
    pub forwarded: u64,
    /// Attempts repeated after a failure (stopped node, no quorum, timeout, no leader).
    pub retried: u64,
    /// Calls that gave up.
    pub gave_up: u64,
}

#[derive(Debug, Default)]
struct Counters {
    calls: AtomicU64,
    attempts: AtomicU64,
    forwarded: AtomicU64,
    retried: AtomicU64,
    gave_up: AtomicU64,
}

/// No leader hint yet.
const NO_HINT: u64 = u64::MAX;

/// Forwards in a row before the client waits anyway.
const MAX_HOPS: usize = 3;

/// One call's work on one node.
enum Operation {
    Write(Vec<u8>),
    Read,
}

enum Answer {
    Written(Vec<u8>),
    State(Box<ClusterState>),
}

impl Operation {
    /// Runs on member `target`; `None` if the registry does not know it.
    async fn run(
        &self,
        members: &Members,
        target: NodeId,
        timeout: Duration,
    ) -> Option<crate::raft::Result<Answer>> {
        match self {
            Operation::Write(command) => {
                let answer = members.write(target, command.clone(), timeout).await?;
                Some(answer.map(Answer::Written))
            }
            Operation::Read => {
                let answer = members.read(target, timeout).await?;
                Some(answer.map(|state| Answer::State(Box::new(state))))
            }
        }
    }
}

/// What to do after a failed attempt.
enum Next {
    /// Ask this node now.
    Forward(NodeId),
    /// Wait, then ask this node.
    Retry(NodeId),
    /// Give up.
    Fatal,
}

/// The cluster state as one node's actors see it: writes go to the leader, reads are
/// current (read-index on the leader).
#[derive(Debug)]
pub struct RaftStateClient {
    local: NodeId,
    members: Members,
    policy: RetryPolicy,
    leader_hint: AtomicU64,
    counters: Counters,
}

impl RaftStateClient {
    /// A client on node `local`, reaching the cluster through `members`.
    pub fn new(local: NodeId, members: Members, policy: RetryPolicy) -> Self {
        Self {
            local,
            members,
            policy,
            leader_hint: AtomicU64::new(NO_HINT),
            counters: Counters::default(),
        }
    }

    /// The node this client belongs to.
    pub fn local(&self) -> NodeId {
        self.local
    }

    /// What this client has done so far.
    pub fn stats(&self) -> ClientStats {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        ClientStats {
            calls: load(&self.counters.calls),
            attempts: load(&self.counters.attempts),
            forwarded: load(&self.counters.forwarded),
            retried: load(&self.counters.retried),
            gave_up: load(&self.counters.gave_up),
        }
    }

    fn first_target(&self) -> NodeId {
        match self.leader_hint.load(Ordering::Relaxed) {
            NO_HINT => self.local,
            leader => leader,
        }
    }

    /// Decides where the next attempt goes after `error` from node `target`.
    fn next_after(&self, target: NodeId, error: &RaftNodeError) -> Next {
        let other = || self.members.next_after(target).unwrap_or(self.local);
        match error {
            RaftNodeError::NotLeader {
                leader_id: Some(leader),
                ..
            } if *leader != target => Next::Forward(*leader),
            // No leader known (an election), the node is gone or cut off from a quorum, or
            // it did not answer in time: after a wait, another member may know the leader.
            RaftNodeError::NotLeader { .. }
            | RaftNodeError::Stopped { .. }
            | RaftNodeError::QuorumUnavailable { .. }
            | RaftNodeError::Timeout { .. } => Next::Retry(other()),
            RaftNodeError::InvalidConfig { .. }
            | RaftNodeError::OpenStore { .. }
            | RaftNodeError::Store { .. }
            | RaftNodeError::CorruptStore { .. }
            | RaftNodeError::RestoreSnapshot { .. }
            | RaftNodeError::Bootstrap { .. }
            | RaftNodeError::Membership { .. } => Next::Fatal,
        }
    }

    /// Runs `operation` on the leader, forwarding and retrying until the deadline.
    async fn route(&self, what: &'static str, operation: Operation) -> Result<Answer, ClientError> {
        self.counters.calls.fetch_add(1, Ordering::Relaxed);
        let deadline = Instant::now() + self.policy.deadline;
        let mut target = self.first_target();
        let mut backoff = self.policy.backoff_min;
        let mut attempt_timeout = self.policy.attempt_timeout;
        let mut attempts: u32 = 0;
        // Forwards in a row without a wait: stale hints during an election can point in a
        // circle, which must not spin.
        let mut hops: usize = 0;
        loop {
            attempts += 1;
            self.counters.attempts.fetch_add(1, Ordering::Relaxed);
            let budget = attempt_timeout.min(deadline.saturating_duration_since(Instant::now()));
            let attempt = operation.run(&self.members, target, budget);
            let result = match tokio::time::timeout(budget, attempt).await {
                Ok(Some(result)) => result,
                // A hint can name a member this registry does not know: try another.
                Ok(None) => Err(RaftNodeError::Timeout {
                    node_id: target,
                    what: "a reachable member".to_owned(),
                }),
                Err(_) => {
                    attempt_timeout = attempt_timeout.saturating_mul(2);
                    Err(RaftNodeError::Timeout {
                        node_id: target,
                        what: format!("an answer to {what} within {budget:?}"),
                    })
                }
            };
            let error = match result {
                Ok(answer) => {
                    self.leader_hint.store(target, Ordering::Relaxed);
                    return Ok(answer);
                }
                Err(error) => error,
            };
            let next = match self.next_after(target, &error) {
                Next::Forward(leader) if hops >= MAX_HOPS => Next::Retry(leader),
                next => next,
            };
            if matches!(next, Next::Fatal) {
                self.counters.gave_up.fetch_add(1, Ordering::Relaxed);
                tracing::error!(node_id = self.local, target, what, %error, "cluster state call failed");
                return Err(ClientError::Unavailable {
                    reason: error.to_string(),
                });
            }
            if Instant::now() >= deadline {
                self.counters.gave_up.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(node_id = self.local, target, what, attempts, %error, "cluster state call gave up");
                return Err(ClientError::Unavailable {
                    reason: format!(
                        "no leader answered {what} within {:?} ({attempts} attempts; last: {error})",
                        self.policy.deadline
                    ),
                });
            }
            match next {
                Next::Forward(leader) => {
                    self.counters.forwarded.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(
                        node_id = self.local,
                        from = target,
                        to = leader,
                        what,
                        "forwarding to the leader"
                    );
                    hops += 1;
                    target = leader;
                }
                Next::Retry(to) => {
                    self.counters.retried.fetch_add(1, Ordering::Relaxed);
                    self.leader_hint.store(NO_HINT, Ordering::Relaxed);
                    tracing::debug!(
                        node_id = self.local,
                        from = target,
                        to,
                        what,
                        attempts,
                        backoff_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX),
                        %error,
                        "retrying"
                    );
                    let wake = (Instant::now() + backoff).min(deadline);
                    tokio::time::sleep_until(wake).await;
                    backoff = backoff.saturating_mul(2).min(self.policy.backoff_max);
                    hops = 0;
                    target = to;
                }
                Next::Fatal => {}
            }
        }
    }

    async fn apply_command(&self, command: Command) -> Result<Response, ClientError> {
        let name = command_name(&command);
        let bytes = encode_command(&command).map_err(|error| ClientError::Unavailable {
            reason: error.to_string(),
        })?;
        match self.route(name, Operation::Write(bytes)).await? {
            Answer::Written(bytes) => {
                decode_response(&bytes).map_err(|error| ClientError::Unavailable {
                    reason: error.to_string(),
                })
            }
            Answer::State(_) => Err(ClientError::Unavailable {
                reason: format!("{name}: the node answered a write with a read"),
            }),
        }
    }

    async fn read_state(&self) -> Result<ClusterState, ClientError> {
        match self.route("read", Operation::Read).await? {
            Answer::State(state) => Ok(*state),
            Answer::Written(_) => Err(ClientError::Unavailable {
                reason: "the node answered a read with a write".to_owned(),
            }),
        }
    }
}

impl StateClient for RaftStateClient {
    fn apply(&self, command: Command) -> ClientFuture<'_, Response> {
        Box::pin(self.apply_command(command))
    }

    fn read(&self) -> ClientFuture<'_, ClusterState> {
        Box::pin(self.read_state())
    }
}
