//! Tests of the state machine, one file per record family, plus replay and a seeded
//! random-sequence property test.

mod catalog;
mod jobs;
mod ledger;
mod property;
mod replay;

use super::{ClusterState, Command, Outcome, Response};

/// Applies a command that must be accepted.
fn accept(state: &mut ClusterState, command: Command, now_ms: u64) -> Outcome {
    let shown = format!("{command:?}");
    state
        .apply(command, now_ms)
        .unwrap_or_else(|e| panic!("{shown} refused: {e}"))
}

/// Applies a command that must be refused, and checks it changed nothing but the clock.
fn refuse(state: &mut ClusterState, command: Command, now_ms: u64) -> crate::StateError {
    let mut before = state.clone();
    let shown = format!("{command:?}");
    let response: Response = state.apply(command, now_ms);
    before.clock_ms = state.clock_ms;
    assert_eq!(*state, before, "{shown} was refused but changed the state");
    match response {
        Ok(outcome) => panic!("{shown} accepted: {outcome:?}"),
        Err(e) => e,
    }
}
