//! [`ClusterMachine`]: the cluster state as the Raft layer's state machine.
//!
//! A log entry's command is a [`Command`] as JSON; the answer is the [`Response`] as JSON
//! (`{"Ok": outcome}` or `{"Err": refusal}`). Bytes that do not decode as a command are
//! refused with a [`StateError::InvalidField`] answer, never a panic, so one bad entry cannot
//! stop the replicas. The snapshot is the [`ClusterState`] as JSON; restoring it rebuilds and
//! verifies every privacy ledger's hash chain before anything is replaced.

use mirage_actors::runtime::command_name;
use mirage_actors::{ClusterState, Command, Response, StateError};

use super::error::{ClusterError, Result};
use crate::raft::StateMachine;

/// The replicated [`ClusterState`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterMachine {
    state: ClusterState,
}

impl ClusterMachine {
    /// A machine starting from `state` (an empty [`ClusterState`] for a new cluster).
    pub fn new(state: ClusterState) -> Self {
        Self { state }
    }

    /// The state as applied so far.
    pub fn state(&self) -> &ClusterState {
        &self.state
    }

    /// The state, giving up the machine.
    pub fn into_state(self) -> ClusterState {
        self.state
    }
}

/// Encodes `command` as a log entry's bytes.
pub fn encode_command(command: &Command) -> Result<Vec<u8>> {
    serde_json::to_vec(command).map_err(|source| ClusterError::EncodeCommand {
        command: command_name(command),
        source,
    })
}

/// Decodes the state machine's answer to a command.
pub fn decode_response(bytes: &[u8]) -> Result<Response> {
    serde_json::from_slice(bytes).map_err(|source| ClusterError::DecodeResponse { source })
}

fn encode_response(response: &Response) -> Vec<u8> {
    serde_json::to_vec(response).unwrap_or_else(|error| {
        tracing::error!(%error, "cannot encode a state machine answer");
        let fallback: Response = Err(StateError::InvalidField {
            field: "response".to_owned(),
            reason: format!("the answer could not be encoded: {error}"),
        });
        serde_json::to_vec(&fallback).unwrap_or_default()
    })
}

/// Checks a decoded state before it replaces the live one.
fn validate(state: &ClusterState) -> Result<()> {
    // Decoding already rebuilt every ledger from its log; check the chains once more so a
    // snapshot can never bring in a ledger whose audit log does not verify.
    for &dataset in state.datasets().keys() {
        if let Some(ledger) = state.ledger(dataset)
            && let Err(sequence) = ledger.verify()
        {
            return Err(ClusterError::InvalidSnapshot {
                reason: format!(
                    "the privacy ledger of dataset {dataset} breaks its hash chain at entry {sequence}"
                ),
            });
        }
    }
    Ok(())
}

impl StateMachine for ClusterMachine {
    fn apply(&mut self, command: &[u8], now_ms: u64) -> Vec<u8> {
        let response = match serde_json::from_slice::<Command>(command) {
            Ok(command) => self.state.apply(command, now_ms),
            Err(error) => {
                tracing::warn!(%error, bytes = command.len(), now_ms, "undecodable command refused");
                Err(StateError::InvalidField {
                    field: "command".to_owned(),
                    reason: format!(
                        "cannot decode the command ({error}); send a command this version knows"
                    ),
                })
            }
        };
        encode_response(&response)
    }

    fn snapshot(&self) -> Vec<u8> {
        serde_json::to_vec(&self.state).unwrap_or_else(|error| {
            // Unreachable with the state's types (ordered maps, finite numbers); an empty
            // snapshot is refused by `restore`, so a bad one is never installed.
            tracing::error!(%error, "cannot encode the cluster state snapshot");
            Vec::new()
        })
    }

    fn restore(&mut self, snapshot: &[u8]) -> std::result::Result<(), String> {
        let state: ClusterState = serde_json::from_slice(snapshot).map_err(|error| {
            ClusterError::InvalidSnapshot {
                reason: error.to_string(),
            }
            .to_string()
        })?;
        validate(&state).map_err(|error| error.to_string())?;
        tracing::info!(
            clock_ms = state.clock_ms(),
            jobs = state.jobs().len(),
            datasets = state.datasets().len(),
            "cluster state restored from a snapshot"
        );
        self.state = state;
        Ok(())
    }
}
