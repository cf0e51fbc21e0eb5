//! openraft's state machine storage around a [`StateMachine`], with snapshots on sled.
//!
//! The machine itself lives in memory; what is durable is its latest snapshot (machine bytes,
//! last applied log id, membership), written to sled atomically when built or installed. On
//! start the machine is restored from that snapshot and openraft re-applies the committed log
//! entries after it, which yields the same state because entries carry the leader's clock.

use std::fmt;
use std::io::Cursor;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine};
use openraft::{AnyError, EntryPayload, OptionalSend, Snapshot, StorageIOError};

use super::codec::{decode_snapshot, encode_snapshot};
use super::error::{RaftNodeError, Result};
use super::types::{
    Entry, LogId, SnapshotMeta, StateMachine, StorageError, StoredMembership, TypeConfig,
};

const SNAPSHOT_META: &[u8] = b"meta";
const SNAPSHOT_DATA: &[u8] = b"data";

/// The machine and what Raft needs to know about it, behind one lock shared by the storage,
/// the snapshot builder and readers.
#[derive(Debug)]
pub struct MachineState<S> {
    /// The application state.
    pub machine: S,
    /// The last log entry applied to `machine`.
    pub last_applied: Option<LogId>,
    /// The last membership applied.
    pub membership: StoredMembership,
    /// The clock given to the last applied command; later commands never see an earlier one.
    pub last_now_ms: u64,
}

/// The machine shared between openraft and the node handle.
pub type SharedMachine<S> = Arc<Mutex<MachineState<S>>>;

/// Locks the machine; a poisoned lock means `apply` panicked half-way, so the state cannot
/// be trusted any more.
pub fn lock_machine<S>(
    shared: &SharedMachine<S>,
) -> std::result::Result<MutexGuard<'_, MachineState<S>>, AnyError> {
    shared
        .lock()
        .map_err(|_| AnyError::error("the state machine panicked while applying a command"))
}

/// Where snapshots are persisted.
#[derive(Clone)]
struct SnapshotStore {
    db: sled::Db,
    tree: sled::Tree,
    flush: bool,
}

impl SnapshotStore {
    async fn save(
        &self,
        meta: &SnapshotMeta,
        data: &[u8],
    ) -> std::result::Result<(), StorageError> {
        let signature = Some(meta.signature());
        let meta_bytes = serde_json::to_vec(meta)
            .map_err(|error| StorageIOError::write_snapshot(signature.clone(), &error))?;
        let mut batch = sled::Batch::default();
        batch.insert(SNAPSHOT_META, meta_bytes);
        batch.insert(SNAPSHOT_DATA, data);
        self.tree
            .apply_batch(batch)
            .map_err(|error| StorageIOError::write_snapshot(signature.clone(), &error))?;
        if self.flush {
            self.db
                .flush_async()
                .await
                .map_err(|error| StorageIOError::write_snapshot(signature, &error))?;
        }
        Ok(())
    }

    fn load(&self) -> std::result::Result<Option<(SnapshotMeta, Vec<u8>)>, String> {
        let meta = self
            .tree
            .get(SNAPSHOT_META)
            .map_err(|error| error.to_string())?;
        let data = self
            .tree
            .get(SNAPSHOT_DATA)
            .map_err(|error| error.to_string())?;
        let (Some(meta), Some(data)) = (meta, data) else {
            return Ok(None);
        };
        let meta =
            serde_json::from_slice(&meta).map_err(|error| format!("snapshot metadata: {error}"))?;
        Ok(Some((meta, data.to_vec())))
    }
}

/// openraft's [`RaftStateMachine`] for a [`StateMachine`].
pub struct SledStateMachine<S> {
    shared: SharedMachine<S>,
    snapshots: SnapshotStore,
}

impl<S> fmt::Debug for SledStateMachine<S> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SledStateMachine")
            .finish_non_exhaustive()
    }
}

impl<S: StateMachine> SledStateMachine<S> {
    /// Opens the snapshot tree in `db` and restores `machine` from the stored snapshot, if any.
    pub fn open(db: &sled::Db, machine: S, flush: bool) -> Result<(Self, SharedMachine<S>)> {
        let tree = db
            .open_tree("raft_snapshot")
            .map_err(|source| RaftNodeError::Store {
                operation: "open tree",
                source,
            })?;
        let snapshots = SnapshotStore {
            db: db.clone(),
            tree,
            flush,
        };
        let mut state = MachineState {
            machine,
            last_applied: None,
            membership: StoredMembership::default(),
            last_now_ms: 0,
        };
        if let Some((meta, data)) = snapshots
            .load()
            .map_err(|what| RaftNodeError::CorruptStore { what })?
        {
            let (last_now_ms, bytes) =
                decode_snapshot(&data).map_err(|what| RaftNodeError::CorruptStore {
                    what: format!("snapshot payload: {what}"),
                })?;
            state
                .machine
                .restore(bytes)
                .map_err(|reason| RaftNodeError::RestoreSnapshot { reason })?;
            state.last_applied = meta.last_log_id;
            state.membership = meta.last_membership;
            state.last_now_ms = last_now_ms;
        }
        let shared = Arc::new(Mutex::new(state));
        Ok((
            Self {
                shared: Arc::clone(&shared),
                snapshots,
            },
            shared,
        ))
    }
}

/// Builds snapshots from a copy of the machine's bytes taken under the lock.
pub struct SledSnapshotBuilder<S> {
    shared: SharedMachine<S>,
    snapshots: SnapshotStore,
}

impl<S> fmt::Debug for SledSnapshotBuilder<S> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SledSnapshotBuilder")
            .finish_non_exhaustive()
    }
}

impl<S: StateMachine> RaftSnapshotBuilder<TypeConfig> for SledSnapshotBuilder<S> {
    async fn build_snapshot(&mut self) -> std::result::Result<Snapshot<TypeConfig>, StorageError> {
        // Copy under the lock, serialize outside it and off the async executor: applying
        // goes on meanwhile, and the snapshot is the state as of `last_log_id`.
        let (last_log_id, last_membership, last_now_ms, machine) = {
            let state = lock_machine(&self.shared).map_err(StorageIOError::read_state_machine)?;
            (
                state.last_applied,
                state.membership.clone(),
                state.last_now_ms,
                state.machine.clone(),
            )
        };
        let data =
            tokio::task::spawn_blocking(move || encode_snapshot(last_now_ms, &machine.snapshot()))
                .await
                .map_err(|error| {
                    StorageIOError::read_state_machine(AnyError::error(format!(
                        "building the snapshot failed: {error}"
                    )))
                })?;
        let built_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis());
        let snapshot_id = match last_log_id {
            Some(log_id) => format!("{}-{}-{built_ms}", log_id.leader_id, log_id.index),
            None => format!("empty-{built_ms}"),
        };
        let meta = SnapshotMeta {
            last_log_id,
            last_membership,
            snapshot_id,
        };
        self.snapshots.save(&meta, &data).await?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl<S: StateMachine> RaftStateMachine<TypeConfig> for SledStateMachine<S> {
    type SnapshotBuilder = SledSnapshotBuilder<S>;

    async fn applied_state(
        &mut self,
    ) -> std::result::Result<(Option<LogId>, StoredMembership), StorageError> {
        let state = lock_machine(&self.shared).map_err(StorageIOError::read_state_machine)?;
        Ok((state.last_applied, state.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> std::result::Result<Vec<Vec<u8>>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut state = lock_machine(&self.shared).map_err(StorageIOError::write_state_machine)?;
        let mut responses = Vec::new();
        for entry in entries {
            state.last_applied = Some(entry.log_id);
            match entry.payload {
                EntryPayload::Blank => responses.push(Vec::new()),
                EntryPayload::Normal(command) => {
                    let now_ms = command.now_ms.max(state.last_now_ms);
                    state.last_now_ms = now_ms;
                    responses.push(state.machine.apply(&command.command, now_ms));
                }
                EntryPayload::Membership(membership) => {
                    state.membership = StoredMembership::new(Some(entry.log_id), membership);
                    responses.push(Vec::new());
                }
            }
        }
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SledSnapshotBuilder {
            shared: Arc::clone(&self.shared),
            snapshots: self.snapshots.clone(),
        }
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> std::result::Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> std::result::Result<(), StorageError> {
        let data = snapshot.into_inner();
        let signature = Some(meta.signature());
        let (last_now_ms, bytes) = decode_snapshot(&data).map_err(|error| {
            StorageIOError::read_snapshot(signature.clone(), AnyError::error(error))
        })?;
        {
            let mut state = lock_machine(&self.shared)
                .map_err(|error| StorageIOError::write_snapshot(signature.clone(), error))?;
            state.machine.restore(bytes).map_err(|reason| {
                StorageIOError::write_snapshot(signature.clone(), AnyError::error(reason))
            })?;
            state.last_applied = meta.last_log_id;
            state.membership = meta.last_membership.clone();
            state.last_now_ms = last_now_ms;
        }
        self.snapshots.save(meta, &data).await
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> std::result::Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let stored = self
            .snapshots
            .load()
            .map_err(|error| StorageIOError::read_snapshot(None, AnyError::error(error)))?;
        Ok(stored.map(|(meta, data)| Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        }))
    }
}
