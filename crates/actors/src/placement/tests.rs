//! The placement rules, one test each, over states built with commands.

use mirage_core::NodeId;

use super::{ClusterView, ConcurrencyLimit, Placement, PlacementConfig, place};
use crate::state::{ClusterState, Command, JobSpec, Outcome, Settings};
use crate::testing::{cpu_job, gpu_job, job, node};

fn state_with(nodes: &[Command]) -> ClusterState {
    let mut state = ClusterState::new(Settings {
        node_timeout_ms: 60_000,
        ..Settings::default()
    });
    for command in nodes {
        state.apply(command.clone(), 0).expect("node registers");
    }
    state
}

fn submit(state: &mut ClusterState, spec: JobSpec) {
    state.apply(Command::SubmitJob(spec), 0).expect("submits");
}

/// Runs `job_n` on `node_id` now (a job already placed earlier).
fn run(state: &mut ClusterState, job_n: u128, node_id: u64) {
    let command = Command::Assign {
        job: job(job_n),
        node: NodeId(node_id),
        lease_ms: 60_000,
        gpu: None,
    };
    let outcome = state.apply(command, 0).expect("assigns");
    assert!(matches!(outcome, Outcome::Assigned { .. }));
}

fn config(jobs_per_node: u32) -> PlacementConfig {
    PlacementConfig {
        alive_window_ms: 10_000,
        concurrency: ConcurrencyLimit::Fixed {
            jobs: jobs_per_node,
        },
    }
}

fn placed(state: &ClusterState, config: PlacementConfig) -> Vec<(u128, u64)> {
    place(&ClusterView::new(state, config), 0)
        .into_iter()
        .map(|p| (p.job.as_uuid().as_u128(), p.node.0))
        .collect()
}

#[test]
fn gpu_jobs_go_only_to_a_free_gpu_with_enough_memory() {
    let mut state = state_with(&[
        node(1, 8, 64, &[]),
        node(2, 8, 64, &[8]),
        node(3, 8, 64, &[24]),
    ]);
    submit(&mut state, gpu_job(1, 1, 0, 16));
    submit(&mut state, gpu_job(2, 1, 0, 16));
    submit(&mut state, gpu_job(3, 1, 0, 4));
    let placements = place(&ClusterView::new(&state, config(4)), 0);
    assert_eq!(
        placements,
        vec![
            Placement {
                job: job(1),
                node: NodeId(3),
                gpu: Some(0)
            },
            // Job 2 needs 16 GiB and the only such GPU is taken: it waits.
            Placement {
                job: job(3),
                node: NodeId(2),
                gpu: Some(0)
            },
        ]
    );
}

#[test]
fn memory_estimates_are_respected() {
    let mut state = state_with(&[node(1, 8, 16, &[])]);
    submit(&mut state, cpu_job(1, 1, 0, 10));
    run(&mut state, 1, 1);
    submit(&mut state, cpu_job(2, 1, 0, 8));
    submit(&mut state, cpu_job(3, 1, 0, 6));
    assert_eq!(
        placed(&state, config(8)),
        vec![(3, 1)],
        "10 + 8 > 16, 10 + 6 fits"
    );
}

#[test]
fn the_concurrency_limit_caps_jobs_per_node() {
    let mut state = state_with(&[node(1, 2, 64, &[]), node(2, 8, 64, &[])]);
    for n in 1..=12 {
        submit(&mut state, cpu_job(n, 1, 0, 1));
    }
    let fixed = placed(&state, config(3));
    assert_eq!(
        fixed.iter().filter(|(_, n)| *n == 1).count(),
        2,
        "2 cores fit 2 one-core jobs"
    );
    assert_eq!(
        fixed.iter().filter(|(_, n)| *n == 2).count(),
        3,
        "fixed limit of 3"
    );
    let per_core = PlacementConfig {
        alive_window_ms: 10_000,
        concurrency: ConcurrencyLimit::PerCore { jobs_per_core: 1 },
    };
    let by_cores = placed(&state, per_core);
    assert_eq!(by_cores.len(), 10, "2 + 8 cores");
    assert_eq!(by_cores.iter().filter(|(_, n)| *n == 1).count(), 2);
    let none = placed(&state, config(0));
    assert!(none.is_empty());
}

#[test]
fn only_nodes_heard_from_recently_get_work() {
    let mut state = state_with(&[node(1, 8, 64, &[]), node(2, 8, 64, &[])]);
    state
        .apply(
            Command::Heartbeat {
                node: NodeId(2),
                leases: vec![],
            },
            9_000,
        )
        .expect("beat");
    submit(&mut state, cpu_job(1, 1, 0, 1));
    submit(&mut state, cpu_job(2, 1, 0, 1));
    let view = ClusterView::new(
        &state,
        PlacementConfig {
            alive_window_ms: 5_000,
            ..config(4)
        },
    );
    let placements = place(&view, 12_000);
    assert!(
        placements.iter().all(|p| p.node == NodeId(2)),
        "{placements:?}"
    );
    assert_eq!(placements.len(), 2);
    assert!(
        place(&view, 14_001).is_empty(),
        "node 2 is silent too by then"
    );
}

#[test]
fn higher_priority_goes_first() {
    let mut state = state_with(&[node(1, 1, 64, &[])]);
    submit(&mut state, cpu_job(1, 1, 0, 1));
    submit(&mut state, cpu_job(2, 2, 5, 1));
    submit(&mut state, cpu_job(3, 1, -1, 1));
    assert_eq!(placed(&state, config(1)), vec![(2, 1)]);
}

#[test]
fn among_equal_priority_the_tenant_with_fewer_running_jobs_goes_first() {
    let mut state = state_with(&[node(1, 4, 64, &[])]);
    submit(&mut state, cpu_job(1, 1, 0, 1));
    submit(&mut state, cpu_job(2, 1, 0, 1));
    run(&mut state, 1, 1);
    run(&mut state, 2, 1);
    // Tenant 1 submitted first, but already runs two jobs.
    submit(&mut state, cpu_job(3, 1, 0, 1));
    submit(&mut state, cpu_job(4, 2, 0, 1));
    assert_eq!(placed(&state, config(3)), vec![(4, 1)]);
}

#[test]
fn tenants_take_turns_and_each_tenant_is_fifo() {
    let mut state = state_with(&[node(1, 16, 64, &[])]);
    for n in [10, 11, 12, 13] {
        submit(&mut state, cpu_job(n, 1, 0, 1));
    }
    for n in [20, 21] {
        submit(&mut state, cpu_job(n, 2, 0, 1));
    }
    let order: Vec<u128> = placed(&state, config(5))
        .into_iter()
        .map(|(j, _)| j)
        .collect();
    assert_eq!(order, vec![10, 20, 11, 21, 12]);
}

#[test]
fn a_job_that_fits_nowhere_does_not_block_smaller_ones() {
    let mut state = state_with(&[node(1, 8, 16, &[])]);
    submit(&mut state, cpu_job(1, 1, 9, 100));
    submit(&mut state, cpu_job(2, 1, 0, 4));
    assert_eq!(placed(&state, config(4)), vec![(2, 1)]);
}

#[test]
fn ties_break_deterministically_and_cpu_jobs_leave_gpus_free() {
    let mut state = state_with(&[
        node(3, 8, 32, &[]),
        node(1, 8, 32, &[]),
        node(2, 8, 32, &[16]),
    ]);
    submit(&mut state, cpu_job(1, 1, 0, 1));
    submit(&mut state, cpu_job(2, 1, 0, 1));
    submit(&mut state, cpu_job(3, 1, 0, 1));
    let first = placed(&state, config(4));
    // Equal nodes: the lowest id first, then the least loaded; the GPU node last.
    assert_eq!(first, vec![(1, 1), (2, 3), (3, 1)]);
    assert_eq!(placed(&state, config(4)), first, "same state, same answer");
    // Spread by load: the less loaded node wins even with the higher id.
    let mut state = state_with(&[node(1, 8, 32, &[]), node(2, 8, 32, &[])]);
    submit(&mut state, cpu_job(1, 1, 0, 1));
    run(&mut state, 1, 1);
    submit(&mut state, cpu_job(2, 1, 0, 1));
    assert_eq!(placed(&state, config(4)), vec![(2, 2)]);
    // With free memory equal and load equal, more free memory wins.
    let mut state = state_with(&[node(1, 8, 16, &[]), node(2, 8, 32, &[])]);
    submit(&mut state, cpu_job(1, 1, 0, 1));
    assert_eq!(placed(&state, config(4)), vec![(1, 2)]);
}

#[test]
fn the_state_accepts_every_placement() {
    let mut state = state_with(&[
        node(1, 4, 16, &[]),
        node(2, 8, 32, &[16, 8]),
        node(3, 2, 8, &[]),
    ]);
    for n in 1..=30u128 {
        let spec = if n % 4 == 0 {
            gpu_job(n, n % 3, (n % 2) as i32, 6)
        } else {
            cpu_job(n, n % 3, (n % 2) as i32, 1 + (n as u64 % 5))
        };
        submit(&mut state, spec);
    }
    let placements = place(&ClusterView::new(&state, config(3)), 0);
    assert!(placements.len() >= 6, "{placements:?}");
    for p in placements {
        let command = Command::Assign {
            job: p.job,
            node: p.node,
            lease_ms: 1_000,
            gpu: p.gpu,
        };
        state
            .apply(command, 0)
            .unwrap_or_else(|e| panic!("{p:?}: {e}"));
    }
    assert!(
        place(&ClusterView::new(&state, config(3)), 0).is_empty(),
        "everything that fits was placed"
    );
}
