//! Settings of a Raft node.

use std::sync::Arc;

use openraft::SnapshotPolicy;
use serde::{Deserialize, Serialize};

use super::error::{RaftNodeError, Result};

/// Timing, compaction and durability settings of a [`RaftNode`](super::RaftNode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RaftNodeConfig {
    /// Name shared by the members of one cluster (shows in logs).
    pub cluster_name: String,
    /// How often the leader sends heartbeats, in milliseconds.
    pub heartbeat_interval_ms: u64,
    /// Lower bound of the randomized election timeout, in milliseconds.
    pub election_timeout_min_ms: u64,
    /// Upper bound of the randomized election timeout, in milliseconds.
    pub election_timeout_max_ms: u64,
    /// Build a snapshot (and compact the log) after this many entries since the last one.
    pub snapshot_after_logs: u64,
    /// Entries kept in the log behind the latest snapshot, so followers that lag a little
    /// catch up from the log rather than from a snapshot.
    pub logs_kept_after_snapshot: u64,
    /// Flush sled before acknowledging a vote or an append (group-committed). Turning it off
    /// leaves durability to sled's background flush: a crash can then lose acknowledged
    /// entries, which Raft's safety assumes cannot happen.
    pub flush_on_write: bool,
}

impl Default for RaftNodeConfig {
    fn default() -> Self {
        Self {
            cluster_name: "mirage".to_owned(),
            heartbeat_interval_ms: 100,
            election_timeout_min_ms: 500,
            election_timeout_max_ms: 1000,
            snapshot_after_logs: 5000,
            logs_kept_after_snapshot: 1000,
            flush_on_write: true,
        }
    }
}

impl RaftNodeConfig {
    /// Builds and checks openraft's configuration from these settings.
    pub fn to_openraft(&self) -> Result<Arc<openraft::Config>> {
        if self.snapshot_after_logs == 0 {
            return Err(RaftNodeError::InvalidConfig {
                reason: "snapshot_after_logs must be at least 1".to_owned(),
            });
        }
        let config = openraft::Config {
            cluster_name: self.cluster_name.clone(),
            heartbeat_interval: self.heartbeat_interval_ms,
            election_timeout_min: self.election_timeout_min_ms,
            election_timeout_max: self.election_timeout_max_ms,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(self.snapshot_after_logs),
            max_in_snapshot_log_to_keep: self.logs_kept_after_snapshot,
            ..openraft::Config::default()
        };
        let config = config
            .validate()
            .map_err(|error| RaftNodeError::InvalidConfig {
                reason: error.to_string(),
            })?;
        Ok(Arc::new(config))
    }
}
