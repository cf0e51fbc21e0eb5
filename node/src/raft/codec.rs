//! On-disk encodings: log entries, log keys and snapshot payloads.
//!
//! Entries are framed by hand so that a command's bytes are stored as they are (JSON would
//! turn every byte into up to four characters): `u32` length + JSON log id, a kind byte, then
//! for a command the leader's clock (`u64`) and the command bytes, for a membership change its
//! JSON. Integers are big-endian.

use openraft::EntryPayload;

use super::types::{Entry, LogCommand, LogId};

const BLANK: u8 = 0;
const COMMAND: u8 = 1;
const MEMBERSHIP: u8 = 2;

/// A log index as a sled key (big-endian, so keys sort by index).
pub fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// Encodes a log entry.
pub fn encode_entry(entry: &Entry) -> Result<Vec<u8>, String> {
    let log_id = serde_json::to_vec(&entry.log_id).map_err(|error| error.to_string())?;
    let log_id_len = u32::try_from(log_id.len()).map_err(|error| error.to_string())?;
    let mut bytes = Vec::with_capacity(4 + log_id.len() + 9);
    bytes.extend_from_slice(&log_id_len.to_be_bytes());
    bytes.extend_from_slice(&log_id);
    match &entry.payload {
        EntryPayload::Blank => bytes.push(BLANK),
        EntryPayload::Normal(command) => {
            bytes.reserve(command.command.len());
            bytes.push(COMMAND);
            bytes.extend_from_slice(&command.now_ms.to_be_bytes());
            bytes.extend_from_slice(&command.command);
        }
        EntryPayload::Membership(membership) => {
            bytes.push(MEMBERSHIP);
            serde_json::to_writer(&mut bytes, membership).map_err(|error| error.to_string())?;
        }
    }
    Ok(bytes)
}

/// Decodes a log entry written by [`encode_entry`].
pub fn decode_entry(bytes: &[u8]) -> Result<Entry, String> {
    let (log_id_len, rest) = split_u32(bytes)?;
    let log_id_len = usize::try_from(log_id_len).map_err(|error| error.to_string())?;
    if rest.len() <= log_id_len {
        return Err(format!("entry of {} bytes is truncated", bytes.len()));
    }
    let (log_id, rest) = rest.split_at(log_id_len);
    let log_id: LogId = serde_json::from_slice(log_id).map_err(|error| error.to_string())?;
    let (kind, body) = rest.split_at(1);
    let payload = match kind[0] {
        BLANK => EntryPayload::Blank,
        COMMAND => {
            let (now_ms, command) = split_u64(body)?;
            EntryPayload::Normal(LogCommand {
                command: command.to_vec(),
                now_ms,
            })
        }
        MEMBERSHIP => EntryPayload::Membership(
            serde_json::from_slice(body).map_err(|error| error.to_string())?,
        ),
        other => return Err(format!("unknown entry kind {other}")),
    };
    Ok(Entry { log_id, payload })
}

/// A snapshot payload: the state machine's bytes and the clock of the last applied command
/// (kept so time stays monotonic across a snapshot install).
pub fn encode_snapshot(last_now_ms: u64, machine: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(8 + machine.len());
    bytes.extend_from_slice(&last_now_ms.to_be_bytes());
    bytes.extend_from_slice(machine);
    bytes
}

/// Splits a payload written by [`encode_snapshot`] into the clock and the machine's bytes.
pub fn decode_snapshot(bytes: &[u8]) -> Result<(u64, &[u8]), String> {
    split_u64(bytes)
}

fn split_u32(bytes: &[u8]) -> Result<(u32, &[u8]), String> {
    let (head, rest) = bytes
        .split_first_chunk::<4>()
        .ok_or_else(|| format!("expected 4 bytes, found {}", bytes.len()))?;
    Ok((u32::from_be_bytes(*head), rest))
}

fn split_u64(bytes: &[u8]) -> Result<(u64, &[u8]), String> {
    let (head, rest) = bytes
        .split_first_chunk::<8>()
        .ok_or_else(|| format!("expected 8 bytes, found {}", bytes.len()))?;
    Ok((u64::from_be_bytes(*head), rest))
}

/// Decodes an index key written by [`index_key`].
pub fn decode_index_key(key: &[u8]) -> Result<u64, String> {
    let (index, rest) = split_u64(key)?;
    if !rest.is_empty() {
        return Err(format!("log key of {} bytes", key.len()));
    }
    Ok(index)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use openraft::{BasicNode, CommittedLeaderId, Membership};

    use super::*;

    fn log_id(term: u64, index: u64) -> LogId {
        LogId::new(CommittedLeaderId::new(term, 2), index)
    }

    #[test]
    fn entries_round_trip() -> Result<(), String> {
        let nodes = BTreeMap::from([(1, BasicNode::new("a:1")), (2, BasicNode::new("b:2"))]);
        let membership = Membership::new(vec![BTreeSet::from([1, 2])], nodes);
        let entries = [
            Entry {
                log_id: log_id(1, 1),
                payload: EntryPayload::Blank,
            },
            Entry {
                log_id: log_id(3, 7),
                payload: EntryPayload::Normal(LogCommand {
                    command: vec![0, 255, 7],
                    now_ms: 42,
                }),
            },
            Entry {
                log_id: log_id(3, 8),
                payload: EntryPayload::Normal(LogCommand {
                    command: Vec::new(),
                    now_ms: u64::MAX,
                }),
            },
            Entry {
                log_id: log_id(4, 9),
                payload: EntryPayload::Membership(membership),
            },
        ];
        for entry in entries {
            let decoded = decode_entry(&encode_entry(&entry)?)?;
            assert_eq!(decoded, entry);
        }
        Ok(())
    }

    #[test]
    fn truncated_entries_are_errors_not_panics() -> Result<(), String> {
        let entry = Entry {
            log_id: log_id(1, 1),
            payload: EntryPayload::Normal(LogCommand {
                command: vec![1, 2, 3],
                now_ms: 5,
            }),
        };
        let bytes = encode_entry(&entry)?;
        for len in 0..bytes.len() - 3 {
            assert!(
                decode_entry(&bytes[..len]).is_err(),
                "prefix of {len} bytes decoded"
            );
        }
        Ok(())
    }

    #[test]
    fn snapshot_payload_round_trips() -> Result<(), String> {
        let bytes = encode_snapshot(99, b"state");
        assert_eq!(decode_snapshot(&bytes)?, (99, &b"state"[..]));
        assert!(decode_snapshot(b"short").is_err());
        Ok(())
    }
}
