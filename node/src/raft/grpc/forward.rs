//! The server side of forwarded client calls: [`ClientCalls`], a node's own write and
//! linearizable read under a deadline, behind a trait object so the service needs no
//! state machine type parameter.

use std::future::Future;
use std::pin::Pin;
use std::sync::Weak;
use std::time::Duration;

use openraft::error::Fatal;
use tonic::metadata::MetadataMap;

use super::super::error::RaftNodeError;
use super::super::node::RaftNode;
use super::super::types::{NodeId, StateMachine};

/// The longest a node works on one forwarded call, whatever the caller allows: a leader cut
/// off in a minority waits in openraft 0.9 until it hears a higher term, which may be never.
pub(super) const MAX_CLIENT_CALL: Duration = Duration::from_secs(10);

/// A boxed future that can cross threads.
pub(super) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a node does for forwarded client calls.
pub(super) trait ClientCalls: Send + Sync + 'static {
    /// Proposes `command` to this node's Raft and answers the state machine's response.
    fn write(&self, command: Vec<u8>) -> BoxFuture<'_, Result<Vec<u8>, RaftNodeError>>;

    /// Answers the state machine's snapshot after a read-index check.
    fn read_snapshot(&self) -> BoxFuture<'_, Result<Vec<u8>, RaftNodeError>>;
}

/// A node served by weak reference: the service never keeps a stopped node (and its sled
/// store) alive, even while a connection lingers.
pub(super) struct NodeCalls<S> {
    pub(super) node_id: NodeId,
    pub(super) node: Weak<RaftNode<S>>,
}

impl<S> NodeCalls<S> {
    fn stopped(&self) -> RaftNodeError {
        RaftNodeError::Stopped {
            node_id: self.node_id,
            source: Box::new(Fatal::Stopped),
        }
    }
}

impl<S: StateMachine> ClientCalls for NodeCalls<S> {
    fn write(&self, command: Vec<u8>) -> BoxFuture<'_, Result<Vec<u8>, RaftNodeError>> {
        Box::pin(async move {
            let node = self.node.upgrade().ok_or_else(|| self.stopped())?;
            node.write(command).await
        })
    }

    fn read_snapshot(&self) -> BoxFuture<'_, Result<Vec<u8>, RaftNodeError>> {
        Box::pin(async move {
            let node = self.node.upgrade().ok_or_else(|| self.stopped())?;
            node.read_current(StateMachine::snapshot).await
        })
    }
}

/// Runs `call` on node `node_id` for at most `limit`; a late call answers
/// [`RaftNodeError::Timeout`].
pub(super) async fn with_deadline<T>(
    node_id: NodeId,
    what: &str,
    limit: Duration,
    call: impl Future<Output = Result<T, RaftNodeError>>,
) -> Result<T, RaftNodeError> {
    tokio::time::timeout(limit, call).await.unwrap_or_else(|_| {
        Err(RaftNodeError::Timeout {
            node_id,
            what: format!("its raft layer to finish {what} within {limit:?}"),
        })
    })
}

/// How long this node may work on a call: what the caller's `grpc-timeout` allows, at most
/// [`MAX_CLIENT_CALL`].
pub(super) fn call_limit(metadata: &MetadataMap) -> Duration {
    metadata
        .get("grpc-timeout")
        .and_then(|value| value.to_str().ok())
        .and_then(parse_grpc_timeout)
        .map_or(MAX_CLIENT_CALL, |caller| caller.min(MAX_CLIENT_CALL))
}

/// Parses a `grpc-timeout` header: up to eight digits and a unit (`H`, `M`, `S`, `m`, `u`, `n`).
fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let split = value.len().checked_sub(1)?;
    let (digits, unit) = value.split_at_checked(split)?;
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    match unit {
        "H" => Some(Duration::from_secs(amount.saturating_mul(3600))),
        "M" => Some(Duration::from_secs(amount.saturating_mul(60))),
        "S" => Some(Duration::from_secs(amount)),
        "m" => Some(Duration::from_millis(amount)),
        "u" => Some(Duration::from_micros(amount)),
        "n" => Some(Duration::from_nanos(amount)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse_and_bound_the_call() {
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("3S"), Some(Duration::from_secs(3)));
        assert_eq!(parse_grpc_timeout("2M"), Some(Duration::from_secs(120)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("7u"), Some(Duration::from_micros(7)));
        assert_eq!(parse_grpc_timeout("9n"), Some(Duration::from_nanos(9)));
        for bad in ["", "m", "12", "123456789m", "1x", "-1m", "1.5S", "é"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad:?}");
        }

        let mut metadata = MetadataMap::new();
        assert_eq!(call_limit(&metadata), MAX_CLIENT_CALL);
        metadata.insert("grpc-timeout", "500m".parse().expect("ascii"));
        assert_eq!(call_limit(&metadata), Duration::from_millis(500));
        metadata.insert("grpc-timeout", "1H".parse().expect("ascii"));
        assert_eq!(call_limit(&metadata), MAX_CLIENT_CALL);
    }

    #[tokio::test]
    async fn a_call_that_hangs_answers_a_timeout() {
        let hangs = std::future::pending::<Result<(), RaftNodeError>>();
        let answer = with_deadline(4, "a write", Duration::from_millis(20), hangs).await;
        assert!(
            matches!(&answer, Err(RaftNodeError::Timeout { node_id: 4, what }) if what.contains("a write")),
            "{answer:?}"
        );
    }
}
