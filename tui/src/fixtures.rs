//! Fixture snapshots for the unit and rendering tests.

use std::collections::HashMap;

use mirage_proto::v1::{self, JobKind, JobStatus, LedgerEventKind, NodeRole};

use crate::snapshot::{DatasetView, GenerationView, Report, Snapshot};

pub const RUNNING: &str = "job_aaaa1111000000000000000000000001";
pub const QUEUED: &str = "job_bbbb2222000000000000000000000002";
pub const FAILED: &str = "job_cccc3333000000000000000000000003";
pub const GENERATE: &str = "job_dddd4444000000000000000000000004";
pub const DATASET: &str = "ds_adult0000000000000000000000000001";

pub fn node(id: u64, role: NodeRole, alive: bool, running: &[&str]) -> v1::NodeInfo {
    v1::NodeInfo {
        id,
        address: format!("127.0.0.1:77{id}0"),
        role: role as i32,
        cpu_cores: 8,
        memory_bytes: 16 * 1024 * 1024 * 1024,
        gpus: if id == 1 {
            vec![v1::GpuInfo {
                index: 0,
                name: "H100".into(),
                memory_bytes: 80 * 1024 * 1024 * 1024,
            }]
        } else {
            vec![]
        },
        last_heartbeat_at_ms: 0,
        running_jobs: running.iter().map(|s| (*s).to_owned()).collect(),
        alive,
    }
}

pub fn job(
    id: &str,
    kind: JobKind,
    status: JobStatus,
    node: Option<u64>,
    progress: f64,
) -> v1::Job {
    v1::Job {
        id: id.to_owned(),
        tenant_id: "tnt_0".into(),
        kind: kind as i32,
        status: status as i32,
        dataset_id: DATASET.into(),
        model_id: "mdl_cafe0000000000000000000000000001".into(),
        node_id: node,
        progress,
        attempts: 1,
        ..Default::default()
    }
}

/// Three nodes (node 1 leads, node 3 is down), a running, a queued and a failed training
/// job, a generation whose gate failed, one dataset with a budget.
pub fn snapshot() -> Snapshot {
    let status = v1::ClusterStatus {
        leader_id: Some(1),
        term: 4,
        commit_index: 120,
        nodes: vec![
            node(1, NodeRole::Leader, true, &[]),
            node(2, NodeRole::Follower, true, &[RUNNING]),
            node(3, NodeRole::Follower, false, &[]),
        ],
        last_applied: 119,
        jobs_queued: 1,
        jobs_running: 1,
        jobs_succeeded: 1,
        jobs_failed: 1,
        jobs_cancelled: 0,
        ledgers: 1,
        ledgers_verified: true,
        answered_by: 1,
        snapshot_index: 0,
        purged_index: 0,
        ..Default::default()
    };
    let mut generate = job(
        GENERATE,
        JobKind::Generate,
        JobStatus::Succeeded,
        Some(1),
        1.0,
    );
    generate.result_json = Some(
        r#"{"output":"generations/gen_feed0000000000000000000000000001/data.parquet","rows":1000}"#
            .into(),
    );
    let mut failed = job(FAILED, JobKind::Train, JobStatus::Failed, Some(3), 0.2);
    failed.error = Some("node 3 ran out of memory".into());
    let budget = v1::PrivacyBudget {
        dataset_id: DATASET.into(),
        epsilon_limit: 4.0,
        delta: 1e-5,
        epsilon_spent: 1.0,
        epsilon_reserved: 0.5,
        epsilon_remaining: 2.5,
    };
    let ledger = vec![
        v1::LedgerEvent {
            sequence: 0,
            dataset_id: DATASET.into(),
            kind: LedgerEventKind::SetBudget as i32,
            epsilon: 4.0,
            at_ms: 1_000,
            ..Default::default()
        },
        v1::LedgerEvent {
            sequence: 1,
            dataset_id: DATASET.into(),
            kind: LedgerEventKind::Reserve as i32,
            epsilon: 0.5,
            job_id: RUNNING.into(),
            at_ms: 2_000,
            ..Default::default()
        },
    ];
    let report = Report {
        summary: v1::QualitySummary {
            id: "rpt_1".into(),
            generation_id: "gen_feed0000000000000000000000000001".into(),
            overall: 0.71,
            column_shapes: 0.82,
            column_pair_trends: 0.60,
            gate_passed: false,
        },
        column_scores: vec![
            v1::ColumnScore {
                column: "age".into(),
                metric: "ks_complement".into(),
                score: 0.9,
            },
            v1::ColumnScore {
                column: "income".into(),
                metric: "tv_complement".into(),
                score: 0.5,
            },
        ],
        gate_reasons: vec!["overall 0.710 is below 0.800".into()],
    };
    Snapshot {
        taken_at_ms: 10_000,
        address: "127.0.0.1:7710".into(),
        status: Some(status),
        jobs: vec![
            generate.clone(),
            failed,
            job(QUEUED, JobKind::Train, JobStatus::Queued, None, 0.0),
            job(RUNNING, JobKind::Train, JobStatus::Running, Some(2), 0.5),
        ],
        progress: vec![],
        datasets: vec![DatasetView {
            dataset: v1::Dataset {
                id: DATASET.into(),
                name: "adult".into(),
                rows: 32_561,
                ..Default::default()
            },
            budget: Some(budget),
            ledger,
        }],
        generations: vec![GenerationView {
            job: generate,
            generation_id: "gen_feed0000000000000000000000000001".into(),
            generation: Some(v1::Generation {
                id: "gen_feed0000000000000000000000000001".into(),
                rows: 1000,
                report_id: "rpt_1".into(),
                ..Default::default()
            }),
            report: Some(report),
        }],
        problems: vec![],
    }
}

/// A progress event of `job` with one `loss` value.
pub fn progress(job: &str, step: u64, loss: f64) -> v1::ProgressEvent {
    v1::ProgressEvent {
        job_id: job.to_owned(),
        status: JobStatus::Running as i32,
        step,
        losses: HashMap::from([("loss".to_owned(), loss)]),
        ..Default::default()
    }
}
