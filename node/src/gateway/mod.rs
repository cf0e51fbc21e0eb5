//! The gateway: what users reach. Every node serves the same public gRPC services and
//! Arrow Flight; any node accepts any request.
//!
//! - [`Gateway`]: what the services share — this node's replica of the cluster state (for
//!   reads), the state client (writes, forwarded to the leader), the object store, the job
//!   events seen here.
//! - `caller.rs`: [`Caller`], the tenant and role an authenticated request acts for.
//! - `status.rs`: the one mapping from errors to gRPC statuses with stable error codes.
//! - `auth/`, `limits/`: who is calling (API keys, OIDC tokens, the cluster secret), the
//!   tower layer that authenticates and rate-limits every public call.
//! - `access.rs`: tenant-scoped lookups; `datasets.rs`, `generations.rs`: the create and
//!   submit paths the services share; `paging.rs`; `peers.rs`: objects from other members.
//!
//! Reads come from this node's applied state without copying it ([`Gateway::read`]); a
//! follower may be a few milliseconds behind the leader, so lookups of something that may
//! have just been written elsewhere wait briefly for it ([`Gateway::read_until`]) before
//! answering `NOT_FOUND`.

pub mod access;
pub mod auth;
pub mod caller;
pub mod datasets;
pub mod flight;
pub mod generations;
pub mod limits;
pub mod paging;
pub mod peers;
pub mod serving;
pub mod status;
#[cfg(test)]
pub mod testing;

use std::sync::Arc;
use std::time::{Duration, Instant};

use mirage_actors::{ClusterState, Command, Outcome, StateClient};
use tonic::Status;

#[allow(unused_imports)]
pub use caller::{Caller, Need, caller};

use crate::cluster::ClusterNode;
use crate::jobs::ObjectStorage;
use crate::node_runtime::EventHub;

/// How long a lookup waits for a record written through another node to be applied here.
pub const CATCH_UP: Duration = Duration::from_millis(1500);

/// What every public service of a node shares. Cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

struct Inner {
    node: Arc<ClusterNode>,
    client: Arc<dyn StateClient>,
    storage: ObjectStorage,
    hub: EventHub,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("node", &self.inner.node.id())
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// The gateway of `node`, writing through `client` and storing objects in `storage`.
    pub fn new(
        node: Arc<ClusterNode>,
        client: Arc<dyn StateClient>,
        storage: ObjectStorage,
        hub: EventHub,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                node,
                client,
                storage,
                hub,
            }),
        }
    }

    /// This node.
    pub fn node(&self) -> &Arc<ClusterNode> {
        &self.inner.node
    }

    /// The state client (writes go to the leader).
    pub fn client(&self) -> &Arc<dyn StateClient> {
        &self.inner.client
    }

    /// The shared object store.
    pub fn storage(&self) -> &ObjectStorage {
        &self.inner.storage
    }

    /// The job progress this node has seen.
    pub fn hub(&self) -> &EventHub {
        &self.inner.hub
    }

    /// Reads this node's applied state (no copy, may trail the leader by a few ms).
    pub fn read<T>(&self, read: impl FnOnce(&ClusterState) -> T) -> Result<T, Status> {
        self.inner
            .node
            .read_local(|machine| read(machine.state()))
            .map_err(|error| {
                status::error(
                    mirage_proto::v1::ErrorCode::Unavailable,
                    format!("this node's state is not readable, retry on another node: {error}"),
                )
            })
    }

    /// Reads until `read` finds something or [`CATCH_UP`] passes: for records that may
    /// have been written through another node a moment ago.
    pub async fn read_until<T>(
        &self,
        read: impl Fn(&ClusterState) -> Option<T>,
    ) -> Result<Option<T>, Status> {
        let deadline = Instant::now() + CATCH_UP;
        loop {
            if let Some(found) = self.read(&read)? {
                return Ok(Some(found));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Applies `command` through the leader; a refusal becomes a status with its code.
    pub async fn apply(&self, command: Command) -> Result<Outcome, Status> {
        match self
            .inner
            .client
            .apply(command)
            .await
            .map_err(status::unavailable)?
        {
            Ok(outcome) => Ok(outcome),
            Err(refusal) => Err(status::refused(&refusal)),
        }
    }

    /// Applies `command`, then waits until this node has applied it too, as seen by
    /// `visible` (so the caller's next read here finds what it wrote).
    pub async fn apply_visible(
        &self,
        command: Command,
        visible: impl Fn(&ClusterState) -> bool,
    ) -> Result<Outcome, Status> {
        let outcome = self.apply(command).await?;
        self.read_until(|state| visible(state).then_some(()))
            .await?;
        Ok(outcome)
    }
}
