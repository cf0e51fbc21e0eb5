//! Recording what a finished job made in the replicated catalog, before the job is marked
//! succeeded — so once a client sees the job succeed, its dataset profile, model version,
//! generation or report is there to read:
//!
//! - ingest → the dataset's schema, profile (a reference to `profile.json`) and row count;
//! - train → the model version (`models/<id>`), when the payload names a catalog dataset;
//! - generate → the generation, then the assess job its payload asks for;
//! - assess → the quality report, when the payload names the generation it scores.
//!
//! Every command is idempotent (same ids, same content), so a job re-run after a node loss
//! records the same things again harmlessly. Jobs submitted without catalog ids (tests,
//! tools) record nothing; a record whose dataset or model is gone is logged and skipped.

use std::sync::{Arc, OnceLock};

use anyhow::{Context, bail};
use mirage_actors::{
    Command, GenerationSpec, Job, JobSpec, ModelSpec, ReportSpec, Resources, StateClient,
    StateError,
};
use mirage_core::records::{JobKind, ModelKind};
use mirage_core::{DatasetId, GenerationId, JobId, ModelId, ReportId};
use mirage_privacy::Spend;
use sha2::{Digest, Sha256};
use tokio::runtime::Handle;
use tracing::{info, warn};

use super::assess::{AssessPayload, AssessResult};
use super::generate::{GeneratePayload, GenerateResult};
use super::ingest::{IngestPayload, IngestResult};
use super::train::{TrainPayload, TrainResult};

/// Writes finished jobs' records through the state client. The client may be connected
/// after the runner is built ([`Catalog::connect`]): an embedded cluster makes its client
/// after its runner.
#[derive(Clone)]
pub struct Catalog {
    client: Arc<OnceLock<Arc<dyn StateClient>>>,
    runtime: Handle,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog").finish_non_exhaustive()
    }
}

fn parse<T: serde::de::DeserializeOwned>(
    what: &str,
    value: &serde_json::Value,
) -> anyhow::Result<T> {
    serde_json::from_value(value.clone()).with_context(|| format!("cannot read the job's {what}"))
}

fn id<T: std::str::FromStr>(field: &str, text: &str) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|error| anyhow::anyhow!("field `{field}`: {error}"))
}

/// The hex SHA-256 of a model's configuration (its identity within a dataset).
pub fn config_hash(config: &serde_json::Value) -> String {
    hex::encode(Sha256::digest(config.to_string().as_bytes()))
}

impl Catalog {
    /// A catalog writing through `client`; `runtime` runs the writes from the worker's
    /// blocking thread.
    pub fn new(client: Arc<dyn StateClient>, runtime: Handle) -> Self {
        let catalog = Self::unconnected(runtime);
        catalog.connect(client);
        catalog
    }

    /// A catalog whose client is connected later.
    pub fn unconnected(runtime: Handle) -> Self {
        Self {
            client: Arc::new(OnceLock::new()),
            runtime,
        }
    }

    /// Connects the state client (the first connection wins).
    pub fn connect(&self, client: Arc<dyn StateClient>) {
        let _ = self.client.set(client);
    }

    /// Records what `job` made, given its `result`. Called on the worker's blocking thread.
    pub fn record(&self, job: &Job, result: &serde_json::Value) -> anyhow::Result<()> {
        let payload = &job.spec.payload;
        let commands = match job.spec.kind {
            JobKind::Ingest => ingest(payload, result)?,
            JobKind::Train => train(job, payload, result)?,
            JobKind::Generate => generate(job, payload, result)?,
            JobKind::Assess => assess(job, payload, result)?,
        };
        for command in commands {
            self.apply(command)?;
        }
        Ok(())
    }

    fn apply(&self, command: Command) -> anyhow::Result<()> {
        let name = mirage_actors::runtime::command_name(&command);
        let client = self
            .client
            .get()
            .with_context(|| format!("cannot record the job's {name}: no state client yet"))?;
        let answer = self
            .runtime
            .block_on(client.apply(command))
            .with_context(|| format!("cannot record the job's {name}"))?;
        match answer {
            Ok(_) => Ok(()),
            Err(
                refusal @ (StateError::UnknownDataset { .. }
                | StateError::UnknownModel { .. }
                | StateError::UnknownGeneration { .. }),
            ) => {
                warn!(command = name, %refusal, "catalog record skipped");
                Ok(())
            }
            Err(refusal) => bail!("the cluster refused the job's {name}: {refusal}"),
        }
    }
}

fn ingest(payload: &serde_json::Value, result: &serde_json::Value) -> anyhow::Result<Vec<Command>> {
    let request: IngestPayload = parse("payload", payload)?;
    let done: IngestResult = parse("result", result)?;
    let dataset: DatasetId = id("dataset_id", &request.dataset_id)?;
    Ok(vec![Command::SetDatasetProfile {
        dataset,
        schema: done.schema,
        profile: Some(serde_json::json!({ "key": done.profile })),
        rows: Some(done.rows as u64),
    }])
}

fn train(
    job: &Job,
    payload: &serde_json::Value,
    result: &serde_json::Value,
) -> anyhow::Result<Vec<Command>> {
    let request: TrainPayload = parse("payload", payload)?;
    let done: TrainResult = parse("result", result)?;
    let Some(dataset) = request.dataset_id.as_deref() else {
        return Ok(Vec::new());
    };
    let kind = ModelKind::from_name(&request.model)
        .with_context(|| format!("field `model`: {:?} is not a model kind", request.model))?;
    let dataset: DatasetId = id("dataset_id", dataset)?;
    let mut commands = Vec::new();
    // A private fit's actual spend becomes permanent before its model can be used; the
    // job id is the reservation's request id.
    if request.config.get("privacy").is_some() {
        let report = done.privacy.as_ref().with_context(|| {
            "a private training job finished without a privacy report; its spend cannot be committed"
        })?;
        commands.push(Command::Commit {
            dataset,
            request: job.spec.id.to_string(),
            spend: Spend::new(report.epsilon_rdp, report.target.delta),
            mechanisms: report.events.clone(),
        });
    }
    commands.push(Command::RegisterModel(ModelSpec {
        id: id::<ModelId>("model_id", &request.model_id)?,
        tenant: job.spec.tenant,
        dataset,
        kind,
        config_hash: config_hash(&request.config),
        url: done.model,
        job: Some(job.spec.id),
    }));
    Ok(commands)
}

fn generate(
    job: &Job,
    payload: &serde_json::Value,
    result: &serde_json::Value,
) -> anyhow::Result<Vec<Command>> {
    let request: GeneratePayload = parse("payload", payload)?;
    let done: GenerateResult = parse("result", result)?;
    let Some(model) = request.model_id.as_deref() else {
        return Ok(Vec::new());
    };
    let generation: GenerationId = id("generation_id", &request.generation_id)?;
    let mut commands = vec![Command::RecordGeneration(GenerationSpec {
        id: generation,
        tenant: job.spec.tenant,
        model: id("model_id", model)?,
        job: Some(job.spec.id),
        // As submitted (the gateway records the generation with the same content first).
        rows: request.rows as u64,
        seed: request.seed,
        url: done.output.clone(),
        conditions: request.conditions.clone(),
        rebalance: request.rebalance.clone(),
    })];
    if let Some(follow) = request.assess {
        let assess = AssessPayload {
            real: follow.real,
            synthetic: done.output,
            report_id: follow.report_id,
            generation_id: Some(generation.to_string()),
            conditions: request.conditions.clone(),
            rebalance: request.rebalance.clone(),
            seed: request.seed,
        };
        commands.push(Command::SubmitJob(JobSpec {
            id: id::<JobId>("assess.job_id", &follow.job_id)?,
            tenant: job.spec.tenant,
            kind: JobKind::Assess,
            priority: job.spec.priority,
            resources: Resources::default(),
            payload: serde_json::to_value(assess).context("cannot encode the assess payload")?,
        }));
    }
    Ok(commands)
}

fn assess(
    job: &Job,
    payload: &serde_json::Value,
    result: &serde_json::Value,
) -> anyhow::Result<Vec<Command>> {
    let request: AssessPayload = parse("payload", payload)?;
    let done: AssessResult = parse("result", result)?;
    let Some(generation) = request.generation_id.as_deref() else {
        return Ok(Vec::new());
    };
    info!(report = %request.report_id, overall = done.overall, gate = done.gate_passed, "report recorded");
    Ok(vec![Command::RecordReport(ReportSpec {
        id: id::<ReportId>("report_id", &request.report_id)?,
        generation: id("generation_id", generation)?,
        job: Some(job.spec.id),
        overall: done.overall.clamp(0.0, 1.0),
        gate_passed: done.gate_passed,
        url: done.report,
    })])
}
