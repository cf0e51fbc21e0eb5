//! The runners end to end on a `file://` store in a temporary directory.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use mirage_actors::runtime::{CheckpointUrl, JobProgress, JobRunner, RunContext};
use mirage_actors::state::{Job, JobSpec, JobState, Resources};
use mirage_core::records::JobKind;
use mirage_core::{JobId, TenantId};
use serde_json::json;

use super::{NodeJobRunner, ObjectStorage};

struct Fixture {
    runner: NodeJobRunner,
    dir: tempfile::TempDir,
    // Dropped last: the runner's storage runs on it.
    runtime: tokio::runtime::Runtime,
}

impl Fixture {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("file://{}", dir.path().join("store").display());
        let storage = ObjectStorage::open(&url, runtime.handle().clone()).expect("store");
        let runner = NodeJobRunner::new(storage, &dir.path().join("node"));
        Self {
            runner,
            dir,
            runtime,
        }
    }

    fn storage(&self) -> &ObjectStorage {
        self.runner.storage()
    }

    /// A generated table of `rows` rows: two numbers, a category and a flag, related so
    /// that a model has something to learn.
    fn table_csv(&self, rows: usize) -> PathBuf {
        let path = self.dir.path().join("people.csv");
        let mut text = String::from("age,hours,group,member\n");
        for i in 0..rows {
            let age = 20 + (i * 7919) % 50;
            let group = ["north", "south", "east"][i % 3];
            let hours = 20.0 + age as f64 * 0.5 + (i % 5) as f64;
            let member = if age > 40 { "yes" } else { "no" };
            text.push_str(&format!("{age},{hours:.1},{group},{member}\n"));
        }
        std::fs::write(&path, text).expect("write");
        path
    }

    fn scratch_root(&self) -> PathBuf {
        self.dir.path().join("node").join("scratch")
    }
}

/// What a run reported.
#[derive(Debug, Default)]
struct Observed {
    checkpoints: Vec<String>,
    progress: Vec<JobProgress>,
}

impl Observed {
    fn epochs(&self) -> Vec<u64> {
        self.progress.iter().filter_map(|p| p.epoch).collect()
    }
}

fn job(kind: JobKind, payload: serde_json::Value) -> Job {
    Job {
        spec: JobSpec {
            id: JobId::new(),
            tenant: TenantId::new(),
            kind,
            priority: 0,
            resources: Resources::default(),
            payload,
        },
        state: JobState::Queued,
        submitted_at_ms: 0,
        submit_seq: 0,
        attempts: 1,
        checkpoint: None,
        updated_at_ms: 0,
    }
}

/// Runs `job` resuming from `checkpoint`; sets the cancel flag as soon as a checkpoint
/// whose key contains `cancel_after` is recorded (the lease is lost right after it).
fn run_with(
    runner: &NodeJobRunner,
    job: &Job,
    checkpoint: Option<&str>,
    cancel_after: Option<&str>,
) -> (Result<serde_json::Value, String>, Observed) {
    let observed = Mutex::new(Observed::default());
    let cancelled = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancelled);
    let record = |url: CheckpointUrl| {
        if cancel_after.is_some_and(|marker| url.as_str().contains(marker)) {
            flag.store(true, Ordering::SeqCst);
        }
        observed
            .lock()
            .expect("lock")
            .checkpoints
            .push(url.into_string());
    };
    let progress = |p: JobProgress| observed.lock().expect("lock").progress.push(p);
    let context = RunContext::new(checkpoint, &record, &progress, cancelled);
    let result = runner.run(job, &context);
    (result, observed.into_inner().expect("lock"))
}

fn run(
    runner: &NodeJobRunner,
    kind: JobKind,
    payload: serde_json::Value,
) -> Result<serde_json::Value, String> {
    run_with(runner, &job(kind, payload), None, None).0
}

fn quick_argn(max_epochs: usize) -> serde_json::Value {
    json!({
        "hidden": 16,
        "training": {"max_epochs": max_epochs, "batch_size": 64, "patience": 100}
    })
}

fn ingest(fixture: &Fixture, id: &str, rows: usize) -> serde_json::Value {
    let source = fixture.table_csv(rows);
    run(
        &fixture.runner,
        JobKind::Ingest,
        json!({"dataset_id": id, "source": source.to_string_lossy()}),
    )
    .expect("ingest")
}

#[test]
fn ingest_train_generate_assess_end_to_end() {
    let fixture = Fixture::new();
    let started = Instant::now();
    let ingested = ingest(&fixture, "people", 300);
    assert_eq!(ingested["dataset"], "datasets/people/data.parquet");
    assert_eq!(ingested["profile"], "datasets/people/profile.json");
    assert_eq!(ingested["rows"], 300);
    assert_eq!(ingested["columns"], 4);
    let profile: serde_json::Value = serde_json::from_slice(
        &fixture
            .storage()
            .get_bytes("datasets/people/profile.json")
            .expect("profile"),
    )
    .expect("json");
    assert!(profile.is_object(), "{profile}");
    let ingest_time = started.elapsed();

    let train = job(
        JobKind::Train,
        json!({
            "dataset": "datasets/people/data.parquet",
            "model": "tabular-argn",
            "config": quick_argn(3),
            "model_id": "m1",
            "seed": 7
        }),
    );
    let (trained, observed) = run_with(&fixture.runner, &train, None, None);
    let trained = trained.expect("train");
    assert_eq!(trained["model"], "models/m1");
    assert_eq!(trained["epochs"], 3);
    assert_eq!(trained["resumed_from_epoch"], serde_json::Value::Null);
    assert_eq!(observed.epochs(), [1, 2, 3]);
    // Every epoch's checkpoint was recorded, the last one after the fit.
    let prefix = format!("jobs/{}/checkpoints", train.spec.id);
    assert_eq!(
        observed.checkpoints,
        (1..=3)
            .map(|e| format!("{prefix}/epoch-{e:05}/"))
            .collect::<Vec<_>>()
    );
    assert!(
        fixture
            .storage()
            .exists(&format!("{prefix}/epoch-00003/state.json"))
            .expect("exists")
    );
    assert!(
        fixture
            .storage()
            .exists("models/m1/model.json")
            .expect("exists")
    );
    let train_time = started.elapsed() - ingest_time;

    // The node died after the fit, before the job's outcome was recorded: a re-run from
    // the last checkpoint has nothing left to train and stores the model again.
    let mut again = train.clone();
    again.attempts = 2;
    let last = observed.checkpoints.last().expect("checkpoint").clone();
    let (rerun, observed) = run_with(&fixture.runner, &again, Some(&last), None);
    let rerun = rerun.expect("re-run");
    assert_eq!(rerun["resumed_from_epoch"], 3);
    assert_eq!(rerun["epochs"], 3);
    assert!(observed.epochs().is_empty(), "{:?}", observed.epochs());

    let generated = run(
        &fixture.runner,
        JobKind::Generate,
        json!({"model": "models/m1", "rows": 250, "seed": 1, "generation_id": "g1", "format": "csv"}),
    )
    .expect("generate");
    assert_eq!(generated["output"], "generations/g1/data.csv");
    assert_eq!(generated["rows"], 250);
    let csv = fixture
        .storage()
        .get_bytes("generations/g1/data.csv")
        .expect("rows");
    let text = String::from_utf8(csv).expect("utf8");
    assert_eq!(text.lines().count(), 251, "a header and 250 rows");
    assert!(
        text.starts_with("age,hours,group,member"),
        "{}",
        &text[..40]
    );

    let parquet = run(
        &fixture.runner,
        JobKind::Generate,
        json!({"model": "models/m1/", "rows": 120, "generation_id": "g2", "format": "parquet"}),
    )
    .expect("generate parquet");
    assert_eq!(parquet["output"], "generations/g2/data.parquet");

    let assessed = run(
        &fixture.runner,
        JobKind::Assess,
        json!({"real": "datasets/people/data.parquet", "synthetic": "generations/g1/data.csv", "report_id": "r1"}),
    )
    .expect("assess");
    assert_eq!(assessed["report"], "reports/r1/report.json");
    let overall = assessed["overall"].as_f64().expect("overall");
    assert!((0.3..=1.0).contains(&overall), "overall {overall}");
    let report: serde_json::Value = serde_json::from_slice(
        &fixture
            .storage()
            .get_bytes("reports/r1/report.json")
            .expect("report"),
    )
    .expect("json");
    assert_eq!(report["fidelity"]["overall"].as_f64(), Some(overall));

    // Every attempt's scratch directory is gone.
    let left: Vec<_> = std::fs::read_dir(fixture.scratch_root())
        .expect("scratch root")
        .collect();
    assert!(left.is_empty(), "{left:?}");
    eprintln!(
        "end to end: ingest {:?}, train {:?}, total {:?}",
        ingest_time,
        train_time,
        started.elapsed()
    );
}

#[test]
fn a_stopped_train_job_resumes_from_its_recorded_checkpoint() {
    let fixture = Fixture::new();
    ingest(&fixture, "people", 300);
    let train = job(
        JobKind::Train,
        json!({
            "dataset": "datasets/people/data.parquet",
            "model": "tabular-argn",
            "config": quick_argn(4),
            "model_id": "resumed",
            "checkpoint_every": 1,
            "seed": 5
        }),
    );
    // The lease is lost right after the checkpoint of epoch 2 is recorded.
    let (first, observed) = run_with(&fixture.runner, &train, None, Some("epoch-00002"));
    let error = first.expect_err("the first run stops");
    assert!(error.contains("stopped"), "{error}");
    let last = observed.checkpoints.last().expect("a checkpoint").clone();
    assert!(
        last.ends_with("/epoch-00002/"),
        "{:?}",
        observed.checkpoints
    );
    assert!(
        !fixture
            .storage()
            .exists("models/resumed/model.json")
            .expect("exists"),
        "a stopped run stores no model"
    );
    // Stopped in epoch 4, before it finished (epoch 3 was in hand when the lease went).
    assert_eq!(observed.epochs(), [1, 2, 3]);

    // Another node runs it again from the recorded checkpoint.
    let mut again = train.clone();
    again.attempts = 2;
    let (second, observed) = run_with(&fixture.runner, &again, Some(&last), None);
    let result = second.expect("the second run finishes");
    assert_eq!(result["resumed_from_epoch"], 2);
    assert_eq!(result["epochs"], 4);
    assert_eq!(observed.epochs(), [3, 4], "training went on at epoch 3");
    assert!(
        fixture
            .storage()
            .exists("models/resumed/model.json")
            .expect("exists")
    );
}

#[test]
fn models_without_epochs_train_without_checkpoints() {
    let fixture = Fixture::new();
    let source = fixture.table_csv(200);
    let (result, observed) = run_with(
        &fixture.runner,
        &job(
            JobKind::Train,
            json!({"dataset": source.to_string_lossy(), "model": "gaussian-copula", "model_id": "c", "seed": 3}),
        ),
        None,
        None,
    );
    let result = result.expect("train");
    assert_eq!(result["epochs"], 0);
    assert!(observed.checkpoints.is_empty());
    assert!(
        fixture
            .storage()
            .exists("models/c/model.json")
            .expect("exists")
    );
}

fn error_of(fixture: &Fixture, kind: JobKind, payload: serde_json::Value) -> String {
    run(&fixture.runner, kind, payload).expect_err("the job fails")
}

fn assert_mentions(error: &str, parts: &[&str]) {
    for part in parts {
        assert!(error.contains(part), "{part:?} is not in: {error}");
    }
}

#[test]
fn bad_payload_fields_are_named() {
    let fixture = Fixture::new();
    let cases = [
        (
            JobKind::Ingest,
            json!({"dataset_id": "d"}),
            "missing field `source`",
        ),
        (
            JobKind::Ingest,
            json!({"dataset_id": "d", "source": "x", "sorce": 1}),
            "unknown field `sorce`",
        ),
        (
            JobKind::Ingest,
            json!({"dataset_id": "a/b", "source": "x"}),
            "field `dataset_id`",
        ),
        (
            JobKind::Ingest,
            json!("datasets/x"),
            "expected a JSON object",
        ),
        (
            JobKind::Train,
            json!({"dataset": "d", "model": "tvae", "model_id": "m", "checkpoint_every": "often"}),
            "field `checkpoint_every`",
        ),
        (
            JobKind::Train,
            json!({"dataset": "d", "model": "tvae", "model_id": "m", "checkpoint_every": 0}),
            "field `checkpoint_every`",
        ),
        (
            JobKind::Generate,
            json!({"model": "models/m", "rows": -5, "generation_id": "g"}),
            "field `rows`",
        ),
        (
            JobKind::Generate,
            json!({"model": "models/m", "rows": 0, "generation_id": "g"}),
            "field `rows`",
        ),
        (
            JobKind::Generate,
            json!({"model": "models/m", "rows": 5, "generation_id": "g", "format": "xlsx"}),
            "field `format`",
        ),
        (
            JobKind::Assess,
            json!({"real": "a", "synthetic": "b"}),
            "missing field `report_id`",
        ),
    ];
    for (kind, payload, expected) in cases {
        let error = error_of(&fixture, kind, payload.clone());
        assert!(
            error.contains(expected),
            "{payload}: {expected:?} is not in: {error}"
        );
        assert!(error.contains("payload"), "{error}");
    }
}

#[test]
fn a_missing_source_file_is_named() {
    let fixture = Fixture::new();
    let missing = fixture.dir.path().join("nowhere/people.csv");
    let error = error_of(
        &fixture,
        JobKind::Ingest,
        json!({"dataset_id": "d", "source": missing.to_string_lossy()}),
    );
    assert_mentions(
        &error,
        &[
            "field `source`",
            &missing.display().to_string(),
            "does not exist",
        ],
    );

    let error = error_of(
        &fixture,
        JobKind::Ingest,
        json!({"dataset_id": "d", "source": "uploads/people.csv"}),
    );
    assert_mentions(
        &error,
        &[
            "field `source`",
            "uploads/people.csv",
            fixture.storage().url(),
        ],
    );
}

#[test]
fn local_paths_can_be_turned_off() {
    let fixture = Fixture::new();
    let source = fixture.table_csv(10);
    let runner = fixture.runner.clone().with_local_paths(false);
    let error = run(
        &runner,
        JobKind::Ingest,
        json!({"dataset_id": "d", "source": source.to_string_lossy()}),
    )
    .expect_err("refused");
    assert_mentions(&error, &["field `source`", "object storage only"]);
}

#[test]
fn a_missing_model_key_is_named() {
    let fixture = Fixture::new();
    let error = error_of(
        &fixture,
        JobKind::Generate,
        json!({"model": "models/none", "rows": 5, "generation_id": "g"}),
    );
    assert_mentions(
        &error,
        &["field `model`", "models/none", fixture.storage().url()],
    );
}

#[test]
fn an_unknown_model_name_is_named() {
    let fixture = Fixture::new();
    let error = error_of(
        &fixture,
        JobKind::Train,
        json!({"dataset": "d", "model": "gpt", "model_id": "m"}),
    );
    assert_mentions(&error, &["field `model`", "gpt", "tabular-argn"]);
}

#[test]
fn runner_owned_training_fields_are_refused() {
    let fixture = Fixture::new();
    ingest(&fixture, "people", 50);
    let error = error_of(
        &fixture,
        JobKind::Train,
        json!({
            "dataset": "datasets/people/data.parquet",
            "model": "tvae",
            "model_id": "m",
            "config": {"training": {"resume_from": "/tmp/x"}}
        }),
    );
    assert_mentions(
        &error,
        &["config.training.resume_from", "set by the job runner"],
    );
}

#[test]
fn a_missing_checkpoint_fails_the_resume_by_name() {
    let fixture = Fixture::new();
    ingest(&fixture, "people", 50);
    let train = job(
        JobKind::Train,
        json!({"dataset": "datasets/people/data.parquet", "model": "tabular-argn", "model_id": "m", "config": quick_argn(1)}),
    );
    let (result, _) = run_with(
        &fixture.runner,
        &train,
        Some("jobs/x/checkpoints/epoch-00009/"),
        None,
    );
    let error = result.expect_err("no checkpoint");
    assert_mentions(&error, &["jobs/x/checkpoints/epoch-00009"]);
}

#[test]
fn scratch_directories_are_per_attempt_and_removed() {
    let fixture = Fixture::new();
    let error = error_of(
        &fixture,
        JobKind::Assess,
        json!({"real": "a", "synthetic": "b", "report_id": "r"}),
    );
    assert!(error.contains("field `real`"), "{error}");
    let left: Vec<_> = std::fs::read_dir(fixture.scratch_root())
        .expect("scratch root")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
