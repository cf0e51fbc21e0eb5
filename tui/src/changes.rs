//! Cluster events derived from two successive snapshots: who became leader, which node
//! stopped answering, which job changed state or moved, checkpoints, budget changes.

use std::collections::BTreeMap;

use mirage_proto::v1::{self, JobStatus, NodeRole};

use crate::format::{job_kind, job_status, short_id};
use crate::snapshot::Snapshot;

/// What an event is about (for colour and filtering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// Leadership, membership, node health.
    Cluster,
    /// A job's state or placement.
    Job,
    /// A checkpoint written.
    Checkpoint,
    /// A privacy budget changed.
    Budget,
    /// The console's own connection.
    Connection,
    /// An operator command's outcome.
    Command,
    /// Something failed.
    Problem,
}

impl EventKind {
    /// A short tag for the log.
    pub fn tag(self) -> &'static str {
        match self {
            EventKind::Cluster => "cluster",
            EventKind::Job => "job",
            EventKind::Checkpoint => "ckpt",
            EventKind::Budget => "budget",
            EventKind::Connection => "conn",
            EventKind::Command => "cmd",
            EventKind::Problem => "error",
        }
    }
}

/// One line of the event log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEvent {
    /// When it was seen, in milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// What it is about.
    pub kind: EventKind,
    /// The line for people.
    pub text: String,
}

impl LogEvent {
    /// Whether the event matches a filter (case-insensitive, on its tag and text).
    pub fn matches(&self, filter: &str) -> bool {
        crate::format::matches(filter, &[self.kind.tag(), &self.text])
    }
}

/// The events between `before` and `after`, in a stable order.
pub fn changes(before: &Snapshot, after: &Snapshot) -> Vec<LogEvent> {
    let at_ms = after.taken_at_ms;
    let mut events = Vec::new();
    let mut push = |kind, text: String| events.push(LogEvent { at_ms, kind, text });
    if let (Some(old), Some(new)) = (&before.status, &after.status) {
        for (kind, text) in cluster_changes(old, new) {
            push(kind, text);
        }
    }
    for (kind, text) in job_changes(&before.jobs, &after.jobs) {
        push(kind, text);
    }
    for (kind, text) in budget_changes(before, after) {
        push(kind, text);
    }
    events
}

fn cluster_changes(old: &v1::ClusterStatus, new: &v1::ClusterStatus) -> Vec<(EventKind, String)> {
    let mut out = Vec::new();
    if old.leader_id != new.leader_id {
        let text = match new.leader_id {
            Some(leader) => format!("node {leader} became leader (term {})", new.term),
            None => format!("no leader (term {}): an election is under way", new.term),
        };
        out.push((EventKind::Cluster, text));
    }
    let old_nodes: BTreeMap<u64, &v1::NodeInfo> = old.nodes.iter().map(|n| (n.id, n)).collect();
    for node in &new.nodes {
        match old_nodes.get(&node.id) {
            None => out.push((
                EventKind::Cluster,
                format!("node {} joined at {}", node.id, node.address),
            )),
            Some(previous) => {
                if previous.alive && !node.alive {
                    out.push((
                        EventKind::Cluster,
                        format!("node {} unreachable: no recent heartbeat", node.id),
                    ));
                } else if !previous.alive && node.alive {
                    out.push((EventKind::Cluster, format!("node {} alive again", node.id)));
                }
                if previous.role != node.role && node.role == NodeRole::Learner as i32 {
                    out.push((EventKind::Cluster, format!("node {} is a learner", node.id)));
                }
            }
        }
    }
    for id in old_nodes.keys() {
        if !new.nodes.iter().any(|n| n.id == *id) {
            out.push((EventKind::Cluster, format!("node {id} left the cluster")));
        }
    }
    out
}

fn job_changes(before: &[v1::Job], after: &[v1::Job]) -> Vec<(EventKind, String)> {
    let old: BTreeMap<&str, &v1::Job> = before.iter().map(|j| (j.id.as_str(), j)).collect();
    let mut out = Vec::new();
    // Oldest first, so the log reads in order.
    for job in after.iter().rev() {
        let name = format!("{} {}", job_kind(job.kind), short_id(&job.id));
        let Some(previous) = old.get(job.id.as_str()) else {
            out.push((
                EventKind::Job,
                format!("{name} submitted ({})", job_status(job.status)),
            ));
            continue;
        };
        let running = job.status == JobStatus::Running as i32;
        if previous.status != job.status {
            let text = match (job.node_id, running) {
                (Some(node), true) if previous.node_id.is_some_and(|n| n != node) => {
                    format!("{name} resumed on node {node} (attempt {})", job.attempts)
                }
                (Some(node), true) => format!("{name} running on node {node}"),
                _ => match &job.error {
                    Some(error) if job.status == JobStatus::Failed as i32 => {
                        format!("{name} failed: {error}")
                    }
                    _ => format!("{name} {}", job_status(job.status)),
                },
            };
            let kind = if job.status == JobStatus::Failed as i32 {
                EventKind::Problem
            } else {
                EventKind::Job
            };
            out.push((kind, text));
        } else if running
            && previous.node_id != job.node_id
            && let Some(node) = job.node_id
        {
            out.push((
                EventKind::Job,
                format!("{name} resumed on node {node} (attempt {})", job.attempts),
            ));
        }
        if job.checkpoint.is_some() && previous.checkpoint != job.checkpoint {
            out.push((EventKind::Checkpoint, format!("{name} checkpoint written")));
        }
    }
    out
}

fn budget_changes(before: &Snapshot, after: &Snapshot) -> Vec<(EventKind, String)> {
    let old: BTreeMap<&str, &v1::PrivacyBudget> = before
        .datasets
        .iter()
        .filter_map(|d| d.budget.as_ref().map(|b| (d.dataset.id.as_str(), b)))
        .collect();
    let mut out = Vec::new();
    for view in &after.datasets {
        let Some(budget) = &view.budget else { continue };
        let name = if view.dataset.name.is_empty() {
            short_id(&view.dataset.id)
        } else {
            view.dataset.name.clone()
        };
        match old.get(view.dataset.id.as_str()) {
            None if !before.datasets.is_empty() || before.status.is_some() => out.push((
                EventKind::Budget,
                format!("{name}: budget set, ε limit {:.2}", budget.epsilon_limit),
            )),
            None => {}
            Some(previous) => {
                if previous.epsilon_limit != budget.epsilon_limit {
                    out.push((
                        EventKind::Budget,
                        format!(
                            "{name}: ε limit {:.2} → {:.2}",
                            previous.epsilon_limit, budget.epsilon_limit
                        ),
                    ));
                }
                if previous.epsilon_spent != budget.epsilon_spent
                    || previous.epsilon_reserved != budget.epsilon_reserved
                {
                    out.push((
                        EventKind::Budget,
                        format!(
                            "{name}: ε spent {:.2} → {:.2}, reserved {:.2} → {:.2}",
                            previous.epsilon_spent,
                            budget.epsilon_spent,
                            previous.epsilon_reserved,
                            budget.epsilon_reserved
                        ),
                    ));
                }
            }
        }
    }
    out
}
