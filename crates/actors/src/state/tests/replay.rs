//! Determinism: the same commands give the same state and answers, over serde (as Raft
//! carries commands and snapshots) too.

use mirage_core::NodeId;
use mirage_core::records::ModelKind;
use mirage_privacy::{Mechanism, MechanismEvent, Spend};
use serde_json::json;

use crate::state::Role;
use crate::state::{
    ClusterState, Command, DatasetSpec, GenerationSpec, LeaseClaim, ModelSpec, ReportSpec,
    Response, Settings, hash_api_key,
};
use crate::testing::{cpu_job, dataset, generation, gpu_job, job, model, node, report, tenant};

/// A script touching every command, with the leader's timestamps. Tokens are predictable
/// (1, 2, …) because the script is the only writer.
fn script() -> Vec<(Command, u64)> {
    let d = dataset(1);
    vec![
        (node(1, 8, 32, &[]), 0),
        (node(2, 16, 64, &[24]), 0),
        (
            Command::CreateTenant {
                id: tenant(1),
                name: "acme".into(),
            },
            1,
        ),
        (
            Command::AddApiKey {
                tenant: tenant(1),
                key_hash: hash_api_key("k1"),
                label: "ci".into(),
                role: Role::Admin,
            },
            2,
        ),
        (
            Command::RegisterDataset(DatasetSpec {
                id: d,
                tenant: tenant(1),
                name: "adult".into(),
                url: "file:///adult".into(),
            }),
            3,
        ),
        (
            Command::SetDatasetProfile {
                dataset: d,
                schema: Some(json!({"c": 15})),
                profile: None,
                rows: Some(100),
            },
            4,
        ),
        (
            Command::SetBudget {
                dataset: d,
                budget: Spend::new(2.0, 1e-5),
            },
            5,
        ),
        (Command::SubmitJob(cpu_job(1, 1, 0, 4)), 10),
        (Command::SubmitJob(gpu_job(2, 1, 5, 8)), 11),
        (
            Command::Reserve {
                dataset: d,
                request: job(2).to_string(),
                spend: Spend::new(1.0, 1e-6),
            },
            12,
        ),
        (
            Command::Assign {
                job: job(2),
                node: NodeId(2),
                lease_ms: 1_000,
                gpu: None,
            },
            20,
        ),
        (
            Command::Assign {
                job: job(1),
                node: NodeId(1),
                lease_ms: 1_000,
                gpu: None,
            },
            21,
        ),
        (
            Command::Checkpoint {
                job: job(2),
                token: 1,
                url: "file:///ckpt/2/a".into(),
            },
            300,
        ),
        (
            Command::Heartbeat {
                node: NodeId(2),
                leases: vec![LeaseClaim {
                    job: job(2),
                    token: 1,
                }],
            },
            900,
        ),
        (Command::ExpireLeases, 1_100),
        (
            Command::Assign {
                job: job(1),
                node: NodeId(2),
                lease_ms: 1_000,
                gpu: None,
            },
            1_200,
        ),
        (
            Command::Complete {
                job: job(2),
                token: 1,
                result: json!({"model": "mdl"}),
            },
            1_300,
        ),
        (
            Command::Commit {
                dataset: d,
                request: job(2).to_string(),
                spend: Spend::new(0.8, 1e-6),
                mechanisms: vec![MechanismEvent {
                    label: "dp-sgd".into(),
                    mechanism: Mechanism::SubsampledGaussian {
                        sample_rate: 0.02,
                        noise_multiplier: 1.0,
                        steps: 300,
                    },
                }],
            },
            1_310,
        ),
        (
            Command::RegisterModel(ModelSpec {
                id: model(1),
                tenant: tenant(1),
                dataset: d,
                kind: ModelKind::Ctgan,
                config_hash: "abc".into(),
                url: "file:///models/1".into(),
                job: Some(job(2)),
            }),
            1_320,
        ),
        (
            Command::RecordGeneration(GenerationSpec {
                rebalance: None,
                id: generation(1),
                tenant: tenant(1),
                model: model(1),
                job: None,
                rows: 10,
                seed: 1,
                url: "file:///gen/1".into(),
                conditions: Vec::new(),
            }),
            1_330,
        ),
        (
            Command::RecordReport(ReportSpec {
                id: report(1),
                generation: generation(1),
                job: None,
                overall: 0.87,
                gate_passed: true,
                url: "file:///rep/1".into(),
            }),
            1_340,
        ),
        (
            Command::Reserve {
                dataset: d,
                request: "other".into(),
                spend: Spend::new(1.0, 0.0),
            },
            1_350,
        ),
        (
            Command::Reserve {
                dataset: d,
                request: "small".into(),
                spend: Spend::new(0.2, 0.0),
            },
            1_360,
        ),
        (
            Command::Release {
                dataset: d,
                request: "small".into(),
            },
            1_370,
        ),
        (
            Command::Fail {
                job: job(1),
                token: 2,
                error: "stale".into(),
                retry: false,
            },
            1_400,
        ),
        (
            Command::RenewLease {
                job: job(1),
                node: NodeId(2),
                token: 3,
            },
            1_500,
        ),
        (Command::Cancel { job: job(1) }, 1_600),
        (
            Command::RevokeApiKey {
                key_hash: hash_api_key("k1"),
            },
            1_700,
        ),
        (Command::RemoveNode { node: NodeId(1) }, 1_800),
        (Command::SubmitJob(cpu_job(3, 1, 0, 1)), 1_900),
    ]
}

fn run(state: &mut ClusterState, commands: &[(Command, u64)]) -> Vec<Response> {
    commands
        .iter()
        .map(|(command, now)| state.apply(command.clone(), *now))
        .collect()
}

#[test]
fn the_script_exercises_acceptance_and_refusal() {
    let mut state = ClusterState::new(Settings::default());
    let responses = run(&mut state, &script());
    let refused: Vec<usize> = responses
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.is_err().then_some(i))
        .collect();
    // The stale Fail (job 1's token 2 was requeued away) and nothing else.
    assert_eq!(refused, vec![24], "{responses:#?}");
}

#[test]
fn the_same_commands_give_the_same_state_and_answers() {
    let commands = script();
    let mut a = ClusterState::new(Settings::default());
    let mut b = ClusterState::new(Settings::default());
    let answers_a = run(&mut a, &commands);
    let answers_b = run(&mut b, &commands);
    assert_eq!(answers_a, answers_b);
    assert_eq!(a, b);
    assert_eq!(
        serde_json::to_string(&a).expect("json"),
        serde_json::to_string(&b).expect("json"),
        "snapshots are byte-identical"
    );
}

#[test]
fn commands_and_answers_survive_serde() {
    let mut state = ClusterState::default();
    for (command, now) in script() {
        let wire = serde_json::to_string(&command).expect("command json");
        let back: Command = serde_json::from_str(&wire).expect("command parses");
        assert_eq!(back, command, "{wire}");
        let response = state.apply(back, now);
        let wire = serde_json::to_string(&response).expect("response json");
        let back: Response = serde_json::from_str(&wire).expect("response parses");
        assert_eq!(back, response, "{wire}");
    }
}

#[test]
fn a_state_restored_from_a_snapshot_behaves_identically() {
    let commands = script();
    for cut in [0, 7, 13, 17, commands.len()] {
        let mut original = ClusterState::default();
        run(&mut original, &commands[..cut]);
        let snapshot = serde_json::to_vec(&original).expect("snapshot");
        let mut restored: ClusterState = serde_json::from_slice(&snapshot).expect("restore");
        assert_eq!(restored, original, "cut {cut}");
        let rest = &commands[cut..];
        assert_eq!(
            run(&mut restored, rest),
            run(&mut original, rest),
            "cut {cut}"
        );
        assert_eq!(restored, original, "cut {cut}");
    }
}
