//! The Raft log on sled: entries, vote, committed and purged log ids.
//!
//! Appends are acknowledged to openraft after a sled flush. Flushes are group-committed by
//! one task: every append queues its callback, and one flush answers all the callbacks queued
//! while the previous flush ran, so a burst of writes costs a few fsyncs rather than one each.

use std::fmt;
use std::io;
use std::ops::{Bound, RangeBounds};

use openraft::storage::{LogFlushed, RaftLogReader, RaftLogStorage};
use openraft::{AnyError, LogState, OptionalSend, StorageIOError, Vote};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use super::codec::{decode_entry, encode_entry, index_key};
use super::error::{RaftNodeError, Result};
use super::types::{Entry, LogId, NodeId, StorageError, TypeConfig};

const VOTE: &[u8] = b"vote";
const COMMITTED: &[u8] = b"committed";
const LAST_PURGED: &[u8] = b"last_purged";

/// The log store; clones share the same trees (openraft's log readers are clones).
#[derive(Clone)]
pub struct SledLogStore {
    db: sled::Db,
    log: sled::Tree,
    meta: sled::Tree,
    /// Callbacks waiting for the next flush; `None` when flushing is left to sled.
    flusher: Option<mpsc::UnboundedSender<LogFlushed<TypeConfig>>>,
}

impl fmt::Debug for SledLogStore {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SledLogStore")
            .field("entries", &self.log.len())
            .field("flush_on_write", &self.flusher.is_some())
            .finish()
    }
}

#[allow(
    clippy::result_large_err,
    reason = "the helpers return openraft's StorageError, the error type of the storage traits"
)]
impl SledLogStore {
    /// Opens the log trees in `db`; with `flush_on_write`, starts the flush task (needs a
    /// tokio runtime).
    pub fn open(db: &sled::Db, flush_on_write: bool) -> Result<Self> {
        let open_tree = |name: &'static str| {
            db.open_tree(name).map_err(|source| RaftNodeError::Store {
                operation: "open tree",
                source,
            })
        };
        let flusher = flush_on_write.then(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            tokio::spawn(run_flusher(db.clone(), receiver));
            sender
        });
        Ok(Self {
            db: db.clone(),
            log: open_tree("raft_log")?,
            meta: open_tree("raft_log_meta")?,
            flusher,
        })
    }

    fn read_meta<T: DeserializeOwned>(
        &self,
        key: &[u8],
    ) -> std::result::Result<Option<T>, StorageError> {
        let Some(bytes) = self
            .meta
            .get(key)
            .map_err(|error| StorageIOError::read(&error))?
        else {
            return Ok(None);
        };
        let value = serde_json::from_slice(&bytes).map_err(|error| StorageIOError::read(&error))?;
        Ok(Some(value))
    }

    fn write_meta<T: Serialize>(
        &self,
        key: &[u8],
        value: &T,
    ) -> std::result::Result<(), StorageError> {
        let bytes = serde_json::to_vec(value).map_err(|error| StorageIOError::write(&error))?;
        self.meta
            .insert(key, bytes)
            .map_err(|error| StorageIOError::write(&error))?;
        Ok(())
    }

    fn last_entry_log_id(&self) -> std::result::Result<Option<LogId>, StorageError> {
        let Some((_, bytes)) = self
            .log
            .last()
            .map_err(|error| StorageIOError::read_logs(&error))?
        else {
            return Ok(None);
        };
        let entry = decode_entry(&bytes)
            .map_err(|error| StorageIOError::read_logs(AnyError::error(error)))?;
        Ok(Some(entry.log_id))
    }

    /// Removes every entry whose key falls in `range`.
    fn remove_range(
        &self,
        range: impl RangeBounds<[u8; 8]>,
    ) -> std::result::Result<(), StorageError> {
        let mut batch = sled::Batch::default();
        for key in self.log.range(range).keys() {
            batch.remove(key.map_err(|error| StorageIOError::write_logs(&error))?);
        }
        self.log
            .apply_batch(batch)
            .map_err(|error| StorageIOError::write_logs(&error))?;
        Ok(())
    }
}

/// Flushes sled once for every group of queued append callbacks, in order.
async fn run_flusher(db: sled::Db, mut pending: mpsc::UnboundedReceiver<LogFlushed<TypeConfig>>) {
    while let Some(first) = pending.recv().await {
        let mut group = vec![first];
        while let Ok(next) = pending.try_recv() {
            group.push(next);
        }
        let result = db.flush_async().await;
        for callback in group {
            let outcome = match &result {
                Ok(_) => Ok(()),
                Err(error) => Err(io::Error::other(error.to_string())),
            };
            callback.log_io_completed(outcome);
        }
    }
}

fn to_key_bound(bound: Bound<&u64>) -> Bound<[u8; 8]> {
    match bound {
        Bound::Included(index) => Bound::Included(index_key(*index)),
        Bound::Excluded(index) => Bound::Excluded(index_key(*index)),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl RaftLogReader<TypeConfig> for SledLogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + fmt::Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> std::result::Result<Vec<Entry>, StorageError> {
        let keys = (
            to_key_bound(range.start_bound()),
            to_key_bound(range.end_bound()),
        );
        let mut entries = Vec::new();
        for item in self.log.range(keys) {
            let (_, bytes) = item.map_err(|error| StorageIOError::read_logs(&error))?;
            let entry = decode_entry(&bytes)
                .map_err(|error| StorageIOError::read_logs(AnyError::error(error)))?;
            entries.push(entry);
        }
        Ok(entries)
    }
}

impl RaftLogStorage<TypeConfig> for SledLogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> std::result::Result<LogState<TypeConfig>, StorageError> {
        let last_purged_log_id: Option<LogId> = self.read_meta(LAST_PURGED)?;
        let last_log_id = self.last_entry_log_id()?.or(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> std::result::Result<(), StorageError> {
        self.write_meta(VOTE, vote)?;
        if self.flusher.is_some() {
            // A vote must be on disk before it is answered, or a restarted node could vote twice in one term.
            self.db
                .flush_async()
                .await
                .map_err(|error| StorageIOError::write_vote(&error))?;
        }
        Ok(())
    }

    async fn read_vote(&mut self) -> std::result::Result<Option<Vote<NodeId>>, StorageError> {
        self.read_meta(VOTE)
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId>,
    ) -> std::result::Result<(), StorageError> {
        // Not flushed: it only lets a restarted node re-apply committed entries without waiting
        // for the leader, and losing the latest value just delays that.
        self.write_meta(COMMITTED, &committed)
    }

    async fn read_committed(&mut self) -> std::result::Result<Option<LogId>, StorageError> {
        Ok(self.read_meta::<Option<LogId>>(COMMITTED)?.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> std::result::Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut batch = sled::Batch::default();
        for entry in entries {
            let bytes = encode_entry(&entry).map_err(|error| {
                StorageIOError::write_log_entry(entry.log_id, AnyError::error(error))
            })?;
            batch.insert(&index_key(entry.log_id.index), bytes);
        }
        self.log
            .apply_batch(batch)
            .map_err(|error| StorageIOError::write_logs(&error))?;
        match &self.flusher {
            Some(flusher) => {
                if let Err(mpsc::error::SendError(callback)) = flusher.send(callback) {
                    callback.log_io_completed(Err(io::Error::other(
                        "the raft log flush task has stopped",
                    )));
                }
            }
            None => callback.log_io_completed(Ok(())),
        }
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> std::result::Result<(), StorageError> {
        self.remove_range(index_key(log_id.index)..)
    }

    async fn purge(&mut self, log_id: LogId) -> std::result::Result<(), StorageError> {
        // Record the purge point first: if we stop half-way, the log state still says where
        // the log begins, and the leftover entries below it are removed by the next purge.
        self.write_meta(LAST_PURGED, &log_id)?;
        self.remove_range(..=index_key(log_id.index))
    }
}
