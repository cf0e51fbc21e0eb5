//! Seeded random command sequences: a scheduler, flaky nodes holding stale tokens, users
//! cancelling, and concurrent budget requests, all interleaved. After every command:
//! no job has two live leases, a token op succeeds only under the job's live lease,
//! acknowledged results never change, nodes are never overcommitted, a refusal changes
//! nothing, and no ledger overspends. At the end, replaying the log and restoring the
//! snapshot both give the same state.

use std::collections::{BTreeMap, BTreeSet};

use mirage_core::{DatasetId, JobId, NodeId};
use mirage_privacy::Spend;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::placement::{ClusterView, ConcurrencyLimit, PlacementConfig, place};
use crate::state::{
    ClusterState, Command, DatasetSpec, JobState, LeaseClaim, Outcome, Response, Settings,
};
use crate::testing::{cpu_job, dataset, gpu_job, job, node, tenant};

const NODES: u64 = 4;
const DATASETS: u128 = 2;

struct Simulation {
    rng: ChaCha8Rng,
    seed: u64,
    state: ClusterState,
    log: Vec<(Command, u64)>,
    now: u64,
    jobs: u128,
    /// Every lease ever granted: job → (token, node), oldest first.
    grants: BTreeMap<JobId, Vec<(u64, NodeId)>>,
    /// Jobs acknowledged as succeeded, with their final state.
    acknowledged: BTreeMap<JobId, JobState>,
    budgets: BTreeMap<DatasetId, Spend>,
    /// How often each kind of answer came back, to show what the runs exercised.
    answers: BTreeMap<String, usize>,
}

impl Simulation {
    fn new(seed: u64) -> Self {
        let mut sim = Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            seed,
            state: ClusterState::new(Settings {
                node_timeout_ms: 2_000,
                ..Settings::default()
            }),
            log: Vec::new(),
            now: 0,
            jobs: 0,
            grants: BTreeMap::new(),
            acknowledged: BTreeMap::new(),
            budgets: BTreeMap::new(),
            answers: BTreeMap::new(),
        };
        sim.apply(node(1, 4, 16, &[])).expect("registers");
        sim.apply(node(2, 8, 32, &[16, 8])).expect("registers");
        sim.apply(node(3, 2, 8, &[])).expect("registers");
        sim.apply(node(4, 16, 64, &[40])).expect("registers");
        for d in 1..=DATASETS {
            sim.apply(Command::RegisterDataset(DatasetSpec {
                id: dataset(d),
                tenant: tenant(1),
                name: format!("d{d}"),
                url: format!("file:///d{d}"),
            }))
            .expect("registers");
            let budget = Spend::new(sim.rng.random_range(0.5..3.0), 1e-5);
            sim.budgets.insert(dataset(d), budget);
            sim.apply(Command::SetBudget {
                dataset: dataset(d),
                budget,
            })
            .expect("budget");
        }
        sim
    }

    /// Applies a command, checking that a refusal changed nothing but the clock, that a
    /// token op succeeded only under the live lease, and every invariant after it.
    fn apply(&mut self, command: Command) -> Response {
        let before = self.state.clone();
        let token_op = match &command {
            Command::RenewLease { job, token, .. }
            | Command::Checkpoint { job, token, .. }
            | Command::Complete { job, token, .. }
            | Command::Fail { job, token, .. } => Some((*job, *token)),
            _ => None,
        };
        let live_before = token_op.map(|(job, token)| self.state.check_lease(job, token).is_ok());
        self.log.push((command.clone(), self.now));
        let response = self.state.apply(command, self.now);
        *self.answers.entry(answer_kind(&response)).or_default() += 1;
        match &response {
            Err(_) => {
                let mut unchanged = before;
                unchanged.clock_ms = self.state.clock_ms;
                assert_eq!(
                    unchanged, self.state,
                    "seed {}: a refusal changed the state",
                    self.seed
                );
            }
            Ok(Outcome::Assigned {
                job, node, lease, ..
            }) => {
                self.grants
                    .entry(*job)
                    .or_default()
                    .push((lease.token, *node));
            }
            Ok(Outcome::Applied | Outcome::LeaseRenewed { .. }) if token_op.is_some() => {
                assert_eq!(
                    live_before,
                    Some(true),
                    "seed {}: a token op succeeded without the live lease",
                    self.seed
                );
            }
            _ => {}
        }
        self.check();
        response
    }

    fn check(&mut self) {
        let seed = self.seed;
        // At most one live lease per job, and it is the newest grant.
        for (id, grants) in &self.grants {
            let live: Vec<u64> = grants
                .iter()
                .filter(|(token, _)| self.state.check_lease(*id, *token).is_ok())
                .map(|(token, _)| *token)
                .collect();
            assert!(
                live.len() <= 1,
                "seed {seed}: job {id} has live leases {live:?}"
            );
            if let Some(token) = live.first() {
                assert_eq!(Some(*token), grants.last().map(|g| g.0), "seed {seed}");
            }
        }
        // An acknowledged result is never lost or changed.
        for (id, job) in self.state.jobs() {
            if matches!(job.state, JobState::Succeeded { .. }) {
                self.acknowledged
                    .entry(*id)
                    .or_insert_with(|| job.state.clone());
            }
        }
        for (id, done) in &self.acknowledged {
            assert_eq!(
                self.state.job(*id).map(|j| &j.state),
                Some(done),
                "seed {seed}"
            );
        }
        // No node is overcommitted and no GPU is shared.
        let mut gpus_held = BTreeSet::new();
        for job in self.state.jobs().values() {
            if let JobState::Running { node, gpu, .. } = &job.state {
                assert_eq!(job.spec.resources.gpu, gpu.is_some(), "seed {seed}");
                if let Some(gpu) = gpu {
                    assert!(
                        gpus_held.insert((*node, *gpu)),
                        "seed {seed}: gpu {gpu} of {node} shared"
                    );
                }
            }
        }
        for (id, usage) in self.state.usage() {
            let Some(node) = self.state.node(id) else {
                continue;
            };
            assert!(
                usage.cpu_cores <= u64::from(node.spec.cpu_cores),
                "seed {seed}: {id} cores"
            );
            assert!(
                usage.memory_bytes <= node.spec.memory_bytes,
                "seed {seed}: {id} memory"
            );
        }
        // No ledger ever overspends, and every chain verifies.
        for (d, budget) in &self.budgets {
            let ledger = self.state.ledger(*d).expect("budget set");
            let used = ledger.committed().epsilon + ledger.reserved().epsilon;
            assert!(
                used <= budget.epsilon * (1.0 + 1e-12),
                "seed {seed}: {used} > {budget:?}"
            );
            let used_delta = ledger.committed().delta + ledger.reserved().delta;
            assert!(used_delta <= budget.delta * (1.0 + 1e-12), "seed {seed}");
            assert_eq!(ledger.verify(), Ok(()), "seed {seed}");
        }
    }

    fn any_job(&mut self) -> Option<JobId> {
        (self.jobs > 0).then(|| job(self.rng.random_range(1..=self.jobs)))
    }

    fn any_grant(&mut self) -> Option<(JobId, u64, NodeId)> {
        let all: Vec<(JobId, u64, NodeId)> = self
            .grants
            .iter()
            .flat_map(|(id, grants)| grants.iter().map(|(t, n)| (*id, *t, *n)))
            .collect();
        (!all.is_empty()).then(|| all[self.rng.random_range(0..all.len())])
    }

    fn step(&mut self) {
        self.now += self.rng.random_range(0..150);
        match self.rng.random_range(0..100) {
            0..20 => {
                self.jobs += 1;
                let (n, owner) = (self.jobs, self.rng.random_range(1..=3));
                let priority = self.rng.random_range(0..3);
                let spec = if self.rng.random_bool(0.3) {
                    gpu_job(n, owner, priority, self.rng.random_range(4..32))
                } else {
                    let mut spec = cpu_job(n, owner, priority, self.rng.random_range(1..12));
                    spec.resources.cpu_cores = self.rng.random_range(1..4);
                    spec
                };
                self.apply(Command::SubmitJob(spec)).expect("submits");
            }
            20..23 => {
                if let Some(id) = self.any_job() {
                    let spec = self
                        .state
                        .job(id)
                        .map(|j| j.spec.clone())
                        .expect("submitted");
                    assert_eq!(self.apply(Command::SubmitJob(spec)), Ok(Outcome::Unchanged));
                }
            }
            23..40 => self.schedule(),
            40..65 => {
                let Some((id, token, holder)) = self.any_grant() else {
                    return;
                };
                let command = match self.rng.random_range(0..4) {
                    0 => Command::RenewLease {
                        job: id,
                        node: holder,
                        token,
                    },
                    1 => Command::Checkpoint {
                        job: id,
                        token,
                        url: format!("file:///c/{token}/{}", self.now),
                    },
                    2 => Command::Complete {
                        job: id,
                        token,
                        result: json!(token),
                    },
                    _ => Command::Fail {
                        job: id,
                        token,
                        error: "crashed".into(),
                        retry: token % 2 == 0,
                    },
                };
                let _ = self.apply(command);
            }
            65..85 => {
                let holder = NodeId(self.rng.random_range(1..=NODES));
                let leases = self
                    .grants
                    .iter()
                    .flat_map(|(id, g)| {
                        g.iter()
                            .filter(|(_, n)| *n == holder)
                            .map(|(t, _)| LeaseClaim {
                                job: *id,
                                token: *t,
                            })
                    })
                    .collect();
                let _ = self.apply(Command::Heartbeat {
                    node: holder,
                    leases,
                });
            }
            85..87 => {
                if let Some(id) = self.any_job() {
                    let _ = self.apply(Command::Cancel { job: id });
                }
            }
            87..89 => {
                // A scheduler with a stale view: any job to any node.
                if let Some(id) = self.any_job() {
                    let target = NodeId(self.rng.random_range(1..=NODES));
                    let _ = self.apply(Command::Assign {
                        job: id,
                        node: target,
                        lease_ms: 700,
                        gpu: None,
                    });
                }
            }
            89 => {
                let id = self.rng.random_range(1..=NODES);
                if self.rng.random_bool(0.5) {
                    let _ = self.apply(Command::RemoveNode { node: NodeId(id) });
                } else {
                    let spec = match id {
                        1 => node(1, 4, 16, &[]),
                        2 => node(2, 8, 32, &[16, 8]),
                        3 => node(3, 2, 8, &[]),
                        _ => node(4, 16, 64, &[40]),
                    };
                    let _ = self.apply(spec);
                }
            }
            _ => self.ledger_step(),
        }
    }

    /// The scheduler's tick: sweep expired leases, place, assign every placement.
    fn schedule(&mut self) {
        let _ = self.apply(Command::ExpireLeases);
        let config = PlacementConfig {
            alive_window_ms: 1_500,
            concurrency: ConcurrencyLimit::Fixed { jobs: 3 },
        };
        let placements = place(&ClusterView::new(&self.state, config), self.now);
        for p in placements {
            let lease_ms = self.rng.random_range(300..2_000);
            let command = Command::Assign {
                job: p.job,
                node: p.node,
                lease_ms,
                gpu: p.gpu,
            };
            let response = self.apply(command);
            assert!(
                matches!(response, Ok(Outcome::Assigned { gpu, .. }) if gpu == p.gpu),
                "seed {}: the state refused a placement {p:?}: {response:?}",
                self.seed
            );
        }
    }

    fn ledger_step(&mut self) {
        let d = dataset(self.rng.random_range(1..=DATASETS));
        let request = format!("r{}", self.rng.random_range(0..15));
        let epsilon = self.rng.random_range(0.0..0.8);
        let delta = self.rng.random_range(0.0..3e-6);
        let command = match self.rng.random_range(0..3) {
            0 => Command::Reserve {
                dataset: d,
                request,
                spend: Spend::new(epsilon, delta),
            },
            1 => Command::Commit {
                dataset: d,
                request,
                spend: Spend::new(epsilon, delta),
                mechanisms: vec![],
            },
            _ => Command::Release {
                dataset: d,
                request,
            },
        };
        let _ = self.apply(command);
    }
}

/// The variant name of an answer ("Applied", "StaleToken", …).
fn answer_kind(response: &Response) -> String {
    let shown = match response {
        Ok(Outcome::Requeued { jobs }) if !jobs.is_empty() => "Requeued".to_string(),
        Ok(Outcome::Requeued { .. }) => "NothingRequeued".to_string(),
        Ok(Outcome::Heartbeat { lost, .. }) if !lost.is_empty() => "HeartbeatLost".to_string(),
        Ok(outcome) => format!("{outcome:?}"),
        Err(error) => format!("{error:?}"),
    };
    shown
        .split([' ', '{', '('])
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn random_command_sequences_keep_every_invariant() {
    let mut outcomes = BTreeMap::<&str, usize>::new();
    let mut answers = BTreeMap::<String, usize>::new();
    for seed in 0..150u64 {
        let mut sim = Simulation::new(seed);
        let mut snapshot = None;
        for step in 0..300 {
            if step == 150 {
                snapshot = Some((
                    serde_json::to_vec(&sim.state).expect("snapshot"),
                    sim.log.len(),
                ));
            }
            sim.step();
        }
        for (kind, count) in &sim.answers {
            *answers.entry(kind.clone()).or_default() += count;
        }
        for job in sim.state.jobs().values() {
            *outcomes.entry(job.state.name()).or_default() += 1;
        }
        // Replaying the whole log from scratch reaches the same state.
        let mut replayed = ClusterState::new(Settings {
            node_timeout_ms: 2_000,
            ..Settings::default()
        });
        for (command, now) in &sim.log {
            let _ = replayed.apply(command.clone(), *now);
        }
        assert_eq!(replayed, sim.state, "seed {seed}: replay differs");
        // So does the mid-run snapshot with the rest of the log.
        let (bytes, applied) = snapshot.expect("taken");
        let mut restored: ClusterState = serde_json::from_slice(&bytes).expect("restore");
        for (command, now) in &sim.log[applied..] {
            let _ = restored.apply(command.clone(), *now);
        }
        assert_eq!(restored, sim.state, "seed {seed}: snapshot + log differs");
        assert!(
            sim.grants.values().map(Vec::len).sum::<usize>() > 0,
            "seed {seed}: nothing ran"
        );
    }
    // The runs reached every status, so the invariants were tested on all of them.
    for status in ["queued", "running", "succeeded", "failed", "cancelled"] {
        assert!(
            outcomes.get(status).copied().unwrap_or(0) > 0,
            "{status}: {outcomes:?}"
        );
    }
    // And every way a lease ends or is refused happened many times.
    for kind in [
        "Assigned",
        "LeaseRenewed",
        "Requeued",
        "HeartbeatLost",
        "StaleToken",
        "LeaseExpired",
        "NodeNotAlive",
        "InsufficientResources",
        "BudgetExceeded",
        "Unchanged",
    ] {
        assert!(
            answers.get(kind).copied().unwrap_or(0) >= 20,
            "{kind}: {answers:?}"
        );
    }
}
