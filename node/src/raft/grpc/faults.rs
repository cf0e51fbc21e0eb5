//! Fault injection for chaos tests: a [`FaultFilter`] makes this node's outbound calls to
//! chosen peers fail as if those peers were unreachable, so a multi-process test can
//! partition a running cluster and heal it again.
//!
//! It is off unless the node's environment sets [`FAULTS_FILE_VARIABLE`]
//! (`MIRAGE_FAULTS_FILE=<path>`), read once when a [`GrpcTransport`](super::GrpcTransport)
//! is created; without it a call pays one branch. The file lists the node ids this node
//! cannot reach, one per line; `#` starts a comment, blank lines are ignored, and a missing
//! file blocks nothing:
//!
//! ```text
//! # node 1 is cut off from 2 and 3
//! 2
//! 3
//! ```
//!
//! The file is re-read at most every [`REFRESH`], so rewriting it partitions or heals a
//! running node; replace it atomically (write a sibling, then rename) so no reader sees it
//! half-written. Each node filters only its own outbound calls: to cut A from B both ways,
//! list B in A's file and A in B's. A blocked call fails with `UNAVAILABLE` at once, as a
//! refused connection does, so Raft and forwarded client calls handle it the same way.
//! This is a test facility, not a firewall: inbound calls are not filtered.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tonic::Status;

use super::super::types::NodeId;

/// The environment variable naming the faults file.
pub const FAULTS_FILE_VARIABLE: &str = "MIRAGE_FAULTS_FILE";

/// How long a reading of the faults file is trusted before the file is read again.
pub(super) const REFRESH: Duration = Duration::from_millis(50);

/// Decides, from the faults file, which peers this node's outbound calls may not reach.
#[derive(Debug)]
pub(super) struct FaultFilter {
    path: PathBuf,
    cache: Mutex<Reading>,
}

/// The last reading of the faults file.
#[derive(Debug, Default)]
struct Reading {
    /// When the file was last read; `None` before the first call.
    read_at: Option<Instant>,
    /// The peers it blocks.
    blocked: BTreeSet<NodeId>,
    /// Its lines that are not node ids, kept so each mistake is reported once.
    invalid: Vec<String>,
}

impl FaultFilter {
    /// The filter the environment asks for, if [`FAULTS_FILE_VARIABLE`] is set.
    pub(super) fn from_env() -> Option<Self> {
        Self::from_variable(std::env::var_os(FAULTS_FILE_VARIABLE))
    }

    /// The filter for a value of [`FAULTS_FILE_VARIABLE`]; none when unset or empty.
    fn from_variable(value: Option<OsString>) -> Option<Self> {
        let path = value.filter(|value| !value.is_empty())?;
        let filter = Self::new(PathBuf::from(path));
        tracing::warn!(path = %filter.path.display(), "fault injection is on: outbound calls to the peers listed in this file fail");
        Some(filter)
    }

    /// A filter reading the faults file at `path`.
    pub(super) fn new(path: PathBuf) -> Self {
        Self {
            path,
            cache: Mutex::new(Reading::default()),
        }
    }

    /// Whether calls to node `target` must fail now.
    pub(super) fn blocks(&self, target: NodeId) -> bool {
        // A reading is replaced whole, so a panic elsewhere cannot leave it half-changed.
        let mut reading = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if reading
            .read_at
            .is_none_or(|read_at| now.duration_since(read_at) >= REFRESH)
        {
            self.refresh(&mut reading);
            reading.read_at = Some(now);
        }
        reading.blocked.contains(&target)
    }

    /// The failure a blocked call to `target` answers: what a refused connection gives.
    pub(super) fn refusal(&self, target: NodeId) -> Status {
        Status::unavailable(format!(
            "node {target} is unreachable: blocked by fault injection ({FAULTS_FILE_VARIABLE}={})",
            self.path.display()
        ))
    }

    fn refresh(&self, reading: &mut Reading) {
        let text = match read_faults_file(&self.path) {
            Ok(text) => text,
            Err(error) => {
                // Keep the last reading: an unreadable file is a mistake to fix, not a heal.
                tracing::warn!(path = %self.path.display(), %error, "cannot read the faults file");
                return;
            }
        };
        let (blocked, invalid) = parse_faults(&text);
        if invalid != reading.invalid && !invalid.is_empty() {
            tracing::warn!(path = %self.path.display(), lines = ?invalid, "faults file lines that are not node ids are ignored");
        }
        if blocked != reading.blocked {
            tracing::info!(path = %self.path.display(), unreachable = ?blocked, "fault injection: unreachable peers changed");
        }
        reading.blocked = blocked;
        reading.invalid = invalid;
    }
}

/// The faults file's text; empty when it does not exist.
fn read_faults_file(path: &Path) -> std::io::Result<String> {
    match std::fs::read_to_string(path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        other => other,
    }
}

/// The node ids a faults file lists, and its lines that are not node ids.
fn parse_faults(text: &str) -> (BTreeSet<NodeId>, Vec<String>) {
    let mut blocked = BTreeSet::new();
    let mut invalid = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        match line.parse::<NodeId>() {
            Ok(id) => {
                blocked.insert(id);
            }
            Err(_) => invalid.push(line.to_owned()),
        }
    }
    (blocked, invalid)
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use openraft::raft::VoteRequest;
    use openraft::{BasicNode, Vote};

    use super::super::super::error::RaftNodeError;
    use super::super::super::network::{RaftTransport, TransportError};
    use super::super::{ClusterSecret, GrpcTransport, GrpcTransportConfig};
    use super::*;

    #[test]
    fn the_file_lists_ids_with_comments_and_blank_lines() {
        let text = "# cut off from 2 and 3\n\n 2\n3 # the old leader\n  \nfour\n2\n";
        let (blocked, invalid) = parse_faults(text);
        assert_eq!(blocked, BTreeSet::from([2, 3]));
        assert_eq!(invalid, vec!["four".to_owned()]);
        assert_eq!(parse_faults(""), (BTreeSet::new(), Vec::new()));
    }

    #[test]
    fn an_unset_or_empty_variable_injects_nothing() {
        assert!(FaultFilter::from_variable(None).is_none());
        assert!(FaultFilter::from_variable(Some(OsString::new())).is_none());
        let filter = FaultFilter::from_variable(Some("/tmp/faults".into())).expect("a filter");
        assert_eq!(filter.path, Path::new("/tmp/faults"));
    }

    #[test]
    fn rewriting_the_file_partitions_and_heals_within_the_refresh() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("faults");
        let filter = FaultFilter::new(path.clone());
        // A missing file blocks nothing.
        assert!(!filter.blocks(2));

        std::fs::write(&path, "2\n")?;
        // Cached: the change shows only after the refresh interval.
        assert!(!filter.blocks(2));
        std::thread::sleep(REFRESH + Duration::from_millis(10));
        assert!(filter.blocks(2));
        assert!(!filter.blocks(3));

        std::fs::remove_file(&path)?;
        std::thread::sleep(REFRESH + Duration::from_millis(10));
        assert!(!filter.blocks(2), "removing the file heals");
        Ok(())
    }

    /// A transport to node 2 whose faults file blocks it.
    fn blocked_transport(dir: &Path) -> anyhow::Result<GrpcTransport> {
        let path = dir.join("faults");
        std::fs::write(&path, "2\n")?;
        Ok(GrpcTransport::with_faults(
            ClusterSecret::new("test-cluster-secret")?,
            GrpcTransportConfig::default(),
            Some(FaultFilter::new(path)),
        ))
    }

    /// An address nothing listens on.
    fn refusing_address() -> anyhow::Result<String> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?.to_string();
        drop(listener);
        Ok(address)
    }

    fn vote() -> VoteRequest<NodeId> {
        VoteRequest::new(Vote::new(1, 1), None)
    }

    #[tokio::test]
    async fn a_blocked_raft_call_fails_like_a_refused_connection() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let transport = blocked_transport(dir.path())?;
        let refused = BasicNode::new(refusing_address()?);
        let unrefused = GrpcTransport::new(ClusterSecret::new("test-cluster-secret")?);
        let expected = unrefused
            .vote(2, &refused, vote(), Duration::from_secs(2))
            .await;
        assert!(
            matches!(expected, Err(TransportError::Unreachable { target: 2, .. })),
            "{expected:?}"
        );

        // The peer's address does not matter: the call never leaves the node.
        let started = Instant::now();
        let blocked = transport
            .vote(2, &refused, vote(), Duration::from_secs(2))
            .await;
        assert!(
            matches!(&blocked, Err(TransportError::Unreachable { target: 2, reason }) if reason.contains("fault injection")),
            "{blocked:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(1));
        Ok(())
    }

    #[tokio::test]
    async fn a_blocked_forwarded_write_fails_like_a_refused_connection() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let transport = blocked_transport(dir.path())?;
        let address = refusing_address()?;
        let unrefused = GrpcTransport::new(ClusterSecret::new("test-cluster-secret")?);
        let timeout = Duration::from_secs(2);
        let expected = unrefused
            .client_write(2, &address, b"x".to_vec(), timeout)
            .await;
        let blocked = transport
            .client_write(2, &address, b"x".to_vec(), timeout)
            .await;
        for answer in [&expected, &blocked] {
            assert!(
                matches!(answer, Err(RaftNodeError::Timeout { node_id: 2, .. })),
                "{answer:?}"
            );
        }
        Ok(())
    }
}
