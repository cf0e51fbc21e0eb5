//! [`LocalState`]: stamps, reads and refusals.

use mirage_core::NodeId;

use crate::runtime::{LocalState, StateClient};
use crate::state::{ClusterState, Command, Outcome, Settings};
use crate::testing::{cpu_job, job, node};

#[tokio::test]
async fn applies_in_order_with_a_clock_that_never_runs_backwards() {
    let local = LocalState::new(Settings::default());
    let outcome = local
        .apply(node(1, 4, 8, &[]))
        .await
        .expect("reachable")
        .expect("accepted");
    assert_eq!(outcome, Outcome::Applied);
    local
        .apply(Command::SubmitJob(cpu_job(1, 1, 0, 1)))
        .await
        .expect("reachable")
        .expect("accepted");
    let first = local.read().await.expect("reachable");
    assert!(first.job(job(1)).is_some());
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    // A refusal comes back as data, not as a client error.
    let refused = local
        .apply(Command::Cancel { job: job(9) })
        .await
        .expect("reachable");
    assert!(refused.is_err());
    let second = local.read().await.expect("reachable");
    assert!(
        second.clock_ms() >= first.clock_ms() + 5,
        "{} then {}",
        first.clock_ms(),
        second.clock_ms()
    );
}

#[tokio::test]
async fn continues_the_clock_of_a_restored_state() {
    let mut state = ClusterState::new(Settings::default());
    state.apply(node(1, 4, 8, &[]), 60_000).expect("accepted");
    let local = LocalState::from_state(state);
    assert!(local.now_ms() >= 60_000);
    local
        .apply(Command::Heartbeat {
            node: NodeId(1),
            leases: vec![],
        })
        .await
        .expect("reachable")
        .expect("accepted");
    assert!(local.read().await.expect("reachable").clock_ms() >= 60_000);
}
