//! Jobs: submission, assignment, leases with fencing tokens, completion.

use mirage_core::NodeId;
use serde_json::json;

use super::{accept, refuse};
use crate::StateError;
use crate::state::{ClusterState, Command, JobState, LeaseClaim, Outcome, Settings};
use crate::testing::{GIB, cpu_job, gpu_job, job, node};

fn assign(job_n: u128, node: u64, lease_ms: u64) -> Command {
    Command::Assign {
        job: job(job_n),
        node: NodeId(node),
        lease_ms,
        gpu: None,
    }
}

fn token_of(outcome: &Outcome) -> u64 {
    match outcome {
        Outcome::Assigned { lease, .. } => lease.token,
        other => panic!("not an assignment: {other:?}"),
    }
}

/// A state with one 8-core, 16 GiB node (1) and a GPU node (2) with 8 and 24 GiB GPUs.
fn cluster() -> ClusterState {
    let mut state = ClusterState::new(Settings {
        node_timeout_ms: 5_000,
        ..Settings::default()
    });
    accept(&mut state, node(1, 8, 16, &[]), 0);
    accept(&mut state, node(2, 8, 64, &[24, 8]), 0);
    state
}

#[test]
fn submit_is_idempotent_and_refuses_a_different_job_under_the_same_id() {
    let mut state = cluster();
    assert_eq!(
        accept(&mut state, Command::SubmitJob(cpu_job(1, 1, 0, 1)), 10),
        Outcome::Applied
    );
    assert_eq!(
        accept(&mut state, Command::SubmitJob(cpu_job(1, 1, 0, 1)), 20),
        Outcome::Unchanged
    );
    let err = refuse(&mut state, Command::SubmitJob(cpu_job(1, 1, 5, 1)), 30);
    assert!(
        matches!(&err, StateError::Conflict { record, field, .. } if record == "job" && field == "priority"),
        "{err}"
    );
    assert!(err.to_string().contains(&job(1).to_string()), "{err}");
    let queued = state.job(job(1)).expect("submitted");
    assert_eq!(queued.state, JobState::Queued);
    assert_eq!(queued.submitted_at_ms, 10);
}

#[test]
fn assign_checks_the_job_the_node_and_its_free_resources() {
    let mut state = cluster();
    accept(&mut state, Command::SubmitJob(cpu_job(1, 1, 0, 12)), 0);
    accept(&mut state, Command::SubmitJob(cpu_job(2, 1, 0, 6)), 0);
    accept(&mut state, Command::SubmitJob(gpu_job(3, 1, 0, 16)), 0);
    let err = refuse(&mut state, assign(9, 1, 1000), 0);
    assert_eq!(err, StateError::UnknownJob { job: job(9) });
    let err = refuse(&mut state, assign(1, 7, 1000), 0);
    assert_eq!(err, StateError::UnknownNode { node: NodeId(7) });
    let err = refuse(&mut state, assign(1, 1, 0), 0);
    assert!(matches!(err, StateError::InvalidField { ref field, .. } if field == "lease_ms"));
    let first = accept(&mut state, assign(1, 1, 1000), 100);
    assert_eq!(token_of(&first), 1);
    let err = refuse(&mut state, assign(1, 1, 1000), 100);
    assert!(matches!(err, StateError::NotQueued { ref status, .. } if status == "running"));
    // 12 GiB of 16 are held: a 6 GiB job does not fit beside it.
    let err = refuse(&mut state, assign(2, 1, 1000), 100);
    assert_eq!(
        err,
        StateError::InsufficientResources {
            job: job(2),
            node: NodeId(1),
            resource: "memory bytes".into(),
            needed: 6 * GIB,
            free: 4 * GIB,
        }
    );
    // A GPU job never lands on a node without a GPU, and gets the GPU that fits.
    let err = refuse(&mut state, assign(3, 1, 1000), 100);
    assert!(
        matches!(err, StateError::InsufficientResources { ref resource, .. } if resource.contains("gpu"))
    );
    let Outcome::Assigned { gpu, lease, .. } = accept(&mut state, assign(3, 2, 1000), 100) else {
        panic!("assigned");
    };
    assert_eq!(gpu, Some(0), "only gpu 0 has 16 GiB");
    assert_eq!(lease.token, 2, "tokens increase");
    // The node's heartbeat goes stale: no new work for it.
    let err = refuse(&mut state, assign(2, 2, 1000), 5_101);
    assert_eq!(
        err,
        StateError::NodeNotAlive {
            node: NodeId(2),
            last_heartbeat_ms: 0,
            now_ms: 5_101
        }
    );
    accept(
        &mut state,
        Command::Heartbeat {
            node: NodeId(2),
            leases: vec![],
        },
        5_200,
    );
    accept(&mut state, assign(2, 2, 1000), 5_200);
}

#[test]
fn gpus_are_exclusive_and_chosen_by_best_fit() {
    let mut state = cluster();
    for n in 1..=3 {
        accept(&mut state, Command::SubmitJob(gpu_job(n, 1, 0, 4)), 0);
    }
    let gpu_of = |outcome: Outcome| match outcome {
        Outcome::Assigned { gpu, .. } => gpu,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        gpu_of(accept(&mut state, assign(1, 2, 1000), 0)),
        Some(1),
        "the 8 GiB gpu fits best"
    );
    assert_eq!(gpu_of(accept(&mut state, assign(2, 2, 1000), 0)), Some(0));
    let err = refuse(&mut state, assign(3, 2, 1000), 0);
    assert!(
        matches!(err, StateError::InsufficientResources { free: 0, .. }),
        "{err}"
    );
    let pinned = Command::Assign {
        job: job(3),
        node: NodeId(2),
        lease_ms: 1000,
        gpu: Some(0),
    };
    assert!(matches!(
        refuse(&mut state, pinned, 0),
        StateError::InsufficientResources { .. }
    ));
}

#[test]
fn an_expired_lease_requeues_the_job_keeps_its_checkpoint_and_fences_the_old_node() {
    let mut state = cluster();
    accept(&mut state, Command::SubmitJob(cpu_job(1, 1, 0, 1)), 0);
    let old = token_of(&accept(&mut state, assign(1, 1, 1000), 0));
    let renewed = accept(
        &mut state,
        Command::RenewLease {
            job: job(1),
            node: NodeId(1),
            token: old,
        },
        500,
    );
    assert!(matches!(renewed, Outcome::LeaseRenewed { lease, .. } if lease.expires_at_ms == 1500));
    let url = "file:///ckpt/1/epoch-3".to_string();
    accept(
        &mut state,
        Command::Checkpoint {
            job: job(1),
            token: old,
            url: url.clone(),
        },
        600,
    );
    assert_eq!(
        accept(
            &mut state,
            Command::Checkpoint {
                job: job(1),
                token: old,
                url: url.clone()
            },
            650
        ),
        Outcome::Unchanged
    );
    assert_eq!(
        accept(&mut state, Command::ExpireLeases, 1_499),
        Outcome::Requeued { jobs: vec![] }
    );
    // Past expiry but before the scheduler's sweep, the lease is already dead.
    let err = refuse(
        &mut state,
        Command::Complete {
            job: job(1),
            token: old,
            result: json!(1),
        },
        1_500,
    );
    assert_eq!(
        err,
        StateError::LeaseExpired {
            job: job(1),
            token: old,
            expired_at_ms: 1_500
        }
    );
    assert_eq!(
        accept(&mut state, Command::ExpireLeases, 1_500),
        Outcome::Requeued { jobs: vec![job(1)] }
    );
    let requeued = state.job(job(1)).expect("job");
    assert_eq!(requeued.state, JobState::Queued);
    assert_eq!(
        requeued.checkpoint.as_ref().map(|c| c.url.as_str()),
        Some(url.as_str())
    );
    // The old holder can do nothing with its token any more.
    let stale = StateError::StaleToken {
        job: job(1),
        token: old,
        current: None,
    };
    for command in [
        Command::RenewLease {
            job: job(1),
            node: NodeId(1),
            token: old,
        },
        Command::Checkpoint {
            job: job(1),
            token: old,
            url: "file:///late".into(),
        },
        Command::Complete {
            job: job(1),
            token: old,
            result: json!("late"),
        },
        Command::Fail {
            job: job(1),
            token: old,
            error: "late".into(),
            retry: false,
        },
    ] {
        assert_eq!(refuse(&mut state, command, 1_600), stale);
    }
    // Re-assigned elsewhere: the old token stays fenced, the new one works.
    accept(&mut state, node(3, 4, 8, &[]), 1_700);
    let new = token_of(&accept(&mut state, assign(1, 3, 1000), 1_700));
    assert!(new > old);
    assert_eq!(state.check_lease(job(1), new), Ok(NodeId(3)));
    let err = refuse(
        &mut state,
        Command::Complete {
            job: job(1),
            token: old,
            result: json!("late"),
        },
        1_800,
    );
    assert_eq!(
        err,
        StateError::StaleToken {
            job: job(1),
            token: old,
            current: Some(new)
        }
    );
    let err = refuse(
        &mut state,
        Command::RenewLease {
            job: job(1),
            node: NodeId(1),
            token: new,
        },
        1_800,
    );
    assert!(
        matches!(err, StateError::StaleToken { .. }),
        "right token, wrong node"
    );
    accept(
        &mut state,
        Command::Complete {
            job: job(1),
            token: new,
            result: json!("done"),
        },
        1_900,
    );
    let done = state.job(job(1)).expect("job");
    assert_eq!(done.attempts, 2);
    assert_eq!(
        done.state,
        JobState::Succeeded {
            node: NodeId(3),
            token: new,
            result: json!("done")
        }
    );
}

#[test]
fn complete_and_fail_are_idempotent_for_the_same_token() {
    let mut state = cluster();
    accept(&mut state, Command::SubmitJob(cpu_job(1, 1, 0, 1)), 0);
    accept(&mut state, Command::SubmitJob(cpu_job(2, 1, 0, 1)), 0);
    let t1 = token_of(&accept(&mut state, assign(1, 1, 1000), 0));
    let t2 = token_of(&accept(&mut state, assign(2, 1, 1000), 0));
    let complete = Command::Complete {
        job: job(1),
        token: t1,
        result: json!({"rows": 10}),
    };
    assert_eq!(accept(&mut state, complete.clone(), 100), Outcome::Applied);
    let fail = Command::Fail {
        job: job(2),
        token: t2,
        error: "out of memory".into(),
        retry: false,
    };
    assert_eq!(accept(&mut state, fail.clone(), 200), Outcome::Applied);
    assert_eq!(accept(&mut state, fail.clone(), 300), Outcome::Unchanged);
    // A retry after the answer was lost, even after the lease would have run out.
    assert_eq!(accept(&mut state, complete, 5_000), Outcome::Unchanged);
    assert_eq!(accept(&mut state, fail, 5_000), Outcome::Unchanged);
    let err = refuse(
        &mut state,
        Command::Complete {
            job: job(1),
            token: t1,
            result: json!({"rows": 11}),
        },
        5_000,
    );
    assert!(matches!(err, StateError::Conflict { ref field, .. } if field == "result"));
    // A finished job cannot be cancelled or completed under another outcome.
    let err = refuse(&mut state, Command::Cancel { job: job(1) }, 400);
    assert_eq!(
        err,
        StateError::AlreadyFinished {
            job: job(1),
            status: "succeeded".into()
        }
    );
    let err = refuse(
        &mut state,
        Command::Complete {
            job: job(2),
            token: t2,
            result: json!(null),
        },
        400,
    );
    assert!(matches!(err, StateError::StaleToken { current: None, .. }));
}

#[test]
fn cancel_fences_the_running_node() {
    let mut state = cluster();
    accept(&mut state, Command::SubmitJob(cpu_job(1, 1, 0, 1)), 0);
    let token = token_of(&accept(&mut state, assign(1, 1, 1000), 0));
    assert_eq!(
        accept(&mut state, Command::Cancel { job: job(1) }, 10),
        Outcome::Applied
    );
    assert_eq!(
        accept(&mut state, Command::Cancel { job: job(1) }, 20),
        Outcome::Unchanged
    );
    let err = refuse(
        &mut state,
        Command::Checkpoint {
            job: job(1),
            token,
            url: "file:///c".into(),
        },
        30,
    );
    assert!(matches!(err, StateError::StaleToken { .. }));
    let err = refuse(&mut state, assign(1, 1, 1000), 40);
    assert!(matches!(err, StateError::AlreadyFinished { .. }));
}

#[test]
fn heartbeats_renew_held_leases_and_name_the_lost_ones() {
    let mut state = cluster();
    accept(&mut state, Command::SubmitJob(cpu_job(1, 1, 0, 1)), 0);
    accept(&mut state, Command::SubmitJob(cpu_job(2, 1, 0, 1)), 0);
    let t1 = token_of(&accept(&mut state, assign(1, 1, 1000), 0));
    let t2 = token_of(&accept(&mut state, assign(2, 1, 1000), 0));
    accept(&mut state, Command::Cancel { job: job(2) }, 10);
    let claims = vec![
        LeaseClaim {
            job: job(1),
            token: t1,
        },
        LeaseClaim {
            job: job(2),
            token: t2,
        },
        LeaseClaim {
            job: job(9),
            token: 99,
        },
    ];
    let beat = accept(
        &mut state,
        Command::Heartbeat {
            node: NodeId(1),
            leases: claims,
        },
        800,
    );
    assert_eq!(
        beat,
        Outcome::Heartbeat {
            renewed: vec![job(1)],
            lost: vec![job(2), job(9)]
        }
    );
    assert!(matches!(
        state.job(job(1)).map(|j| &j.state),
        Some(JobState::Running { lease, .. }) if lease.expires_at_ms == 1_800
    ));
    assert_eq!(
        state.node(NodeId(1)).map(|n| n.last_heartbeat_ms),
        Some(800)
    );
    let err = refuse(
        &mut state,
        Command::Heartbeat {
            node: NodeId(5),
            leases: vec![],
        },
        900,
    );
    assert_eq!(err, StateError::UnknownNode { node: NodeId(5) });
}

#[test]
fn removing_a_node_requeues_its_jobs() {
    let mut state = cluster();
    accept(&mut state, Command::SubmitJob(cpu_job(1, 1, 0, 1)), 0);
    accept(&mut state, Command::SubmitJob(cpu_job(2, 1, 0, 1)), 0);
    let token = token_of(&accept(&mut state, assign(1, 1, 60_000), 0));
    accept(&mut state, assign(2, 2, 60_000), 0);
    assert_eq!(
        accept(&mut state, Command::RemoveNode { node: NodeId(1) }, 10),
        Outcome::Requeued { jobs: vec![job(1)] }
    );
    assert!(state.node(NodeId(1)).is_none());
    assert_eq!(state.job(job(1)).map(|j| &j.state), Some(&JobState::Queued));
    assert_eq!(
        state.job(job(2)).and_then(|j| j.running_on()),
        Some(NodeId(2))
    );
    assert!(state.check_lease(job(1), token).is_err());
    let err = refuse(&mut state, Command::RemoveNode { node: NodeId(1) }, 20);
    assert_eq!(err, StateError::UnknownNode { node: NodeId(1) });
}

#[test]
fn a_node_can_reregister_and_bad_gpu_lists_are_refused() {
    let mut state = cluster();
    assert_eq!(
        accept(&mut state, node(1, 8, 16, &[]), 50),
        Outcome::Unchanged
    );
    assert_eq!(state.node(NodeId(1)).map(|n| n.last_heartbeat_ms), Some(50));
    assert_eq!(
        accept(&mut state, node(1, 16, 32, &[]), 60),
        Outcome::Applied
    );
    assert_eq!(state.node(NodeId(1)).map(|n| n.spec.cpu_cores), Some(16));
    let Command::RegisterNode(mut spec) = node(4, 8, 8, &[8, 8]) else {
        panic!("a registration");
    };
    spec.gpus[1].index = 0;
    let err = refuse(&mut state, Command::RegisterNode(spec), 70);
    assert!(matches!(err, StateError::InvalidField { ref field, .. } if field == "gpus"));
}

#[test]
fn the_clock_never_runs_backwards() {
    let mut state = cluster();
    accept(&mut state, Command::SubmitJob(cpu_job(1, 1, 0, 1)), 0);
    let token = token_of(&accept(&mut state, assign(1, 1, 1000), 2_000));
    // A new leader with a clock one second behind cannot revive or stretch the lease.
    accept(&mut state, Command::ExpireLeases, 1_000);
    assert_eq!(state.clock_ms(), 2_000);
    let renewed = accept(
        &mut state,
        Command::RenewLease {
            job: job(1),
            node: NodeId(1),
            token,
        },
        1_500,
    );
    assert!(matches!(renewed, Outcome::LeaseRenewed { lease, .. } if lease.expires_at_ms == 3_000));
}

#[test]
fn a_crashed_worker_s_job_runs_again_from_its_checkpoint_until_its_attempts_run_out() {
    let mut state = ClusterState::new(Settings {
        max_attempts: 2,
        ..Settings::default()
    });
    accept(&mut state, node(1, 4, 8, &[]), 0);
    accept(&mut state, Command::SubmitJob(cpu_job(1, 1, 0, 1)), 0);
    let first = token_of(&accept(&mut state, assign(1, 1, 1000), 0));
    accept(
        &mut state,
        Command::Checkpoint {
            job: job(1),
            token: first,
            url: "file:///ckpt/1".into(),
        },
        10,
    );
    let crash = |token| Command::Fail {
        job: job(1),
        token,
        error: "the runner panicked: boom".into(),
        retry: true,
    };
    // First crash: back to the queue, checkpoint kept; the old token is dead.
    assert_eq!(
        accept(&mut state, crash(first), 20),
        Outcome::Requeued { jobs: vec![job(1)] }
    );
    let queued = state.job(job(1)).expect("job");
    assert_eq!(queued.state, JobState::Queued);
    assert_eq!(
        queued.checkpoint.as_ref().map(|c| c.url.as_str()),
        Some("file:///ckpt/1")
    );
    assert!(matches!(
        refuse(&mut state, crash(first), 30),
        StateError::StaleToken { .. }
    ));
    // Second attempt crashes too: attempts are used up, so it fails for good.
    let second = token_of(&accept(&mut state, assign(1, 1, 1000), 40));
    assert_eq!(accept(&mut state, crash(second), 50), Outcome::Applied);
    assert!(matches!(
        &state.job(job(1)).expect("job").state,
        JobState::Failed { error, .. } if error.contains("boom")
    ));
    // An error the work reported is never retried.
    accept(&mut state, Command::SubmitJob(cpu_job(2, 1, 0, 1)), 60);
    let token = token_of(&accept(&mut state, assign(2, 1, 1000), 60));
    let reported = Command::Fail {
        job: job(2),
        token,
        error: "bad input".into(),
        retry: false,
    };
    assert_eq!(accept(&mut state, reported, 70), Outcome::Applied);
}
