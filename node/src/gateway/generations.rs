//! Submitting generations: checks (the caller's model, rows, conditions against the
//! model's columns, the dataset's privacy budget), then the generation record and — in
//! batch mode — the job that samples and stores the rows, which queues the assessment of
//! those rows when it is done.

use mirage_actors::{Command, GenerationSpec, Job, JobSpec, Resources};
use mirage_core::records::JobKind;
use mirage_core::{Condition, GenerationId, JobId, ModelId, Rebalance, ReportId, Schema};
use mirage_proto::v1;
use tonic::Status;

use super::access::parse_id;
use super::{Caller, Gateway, Need, status};

/// The most rows one batch generation may ask for.
pub const MAX_BATCH_ROWS: u64 = 100_000_000;

/// A generation just submitted.
#[derive(Debug, Clone)]
pub struct SubmittedGeneration {
    /// Its id.
    pub generation: GenerationId,
    /// Its job (batch mode).
    pub job: Option<Job>,
}

/// Refuses `column` (named by `field`) when `schema` has no such column.
fn known_column(schema: &Schema, field: &str, column: &str) -> Result<(), Status> {
    if schema.columns.iter().any(|c| c.name == column) {
        return Ok(());
    }
    let names: Vec<&str> = schema.columns.iter().map(|c| c.name.as_str()).collect();
    Err(status::invalid(
        field,
        format!(
            "the model has no column {column:?}; its columns are {}",
            names.join(", ")
        ),
    ))
}

/// The conditions of a request as domain conditions, each error naming
/// `conditions[i].…`, and every column checked against `schema` when it is known.
pub fn conditions(
    list: &[v1::Condition],
    schema: Option<&Schema>,
) -> Result<Vec<Condition>, Status> {
    let parsed = super::serving::conditions::from_proto(list.to_vec())?;
    if let Some(schema) = schema {
        for (i, condition) in parsed.iter().enumerate() {
            known_column(
                schema,
                &format!("conditions[{i}].column"),
                &condition.column,
            )?;
        }
    }
    Ok(parsed)
}

/// The request's augmentation, its column checked against `schema` when it is known
/// and against the conditions (which must leave that column to it).
pub fn rebalance(
    wire: Option<v1::Rebalance>,
    conditions: &[Condition],
    schema: Option<&Schema>,
) -> Result<Option<Rebalance>, Status> {
    let Some(rebalance) = super::serving::conditions::rebalance_from_proto(wire)? else {
        return Ok(None);
    };
    if let Some(schema) = schema {
        known_column(schema, "rebalance.column", &rebalance.column)?;
    }
    rebalance.check_conditions(conditions).map_err(|error| {
        status::error(
            v1::ErrorCode::InvalidArgument,
            error.within_field("rebalance").to_string(),
        )
    })?;
    Ok(Some(rebalance))
}

/// Submits a generation for the caller.
pub async fn submit(
    gateway: &Gateway,
    caller: &Caller,
    request: v1::SubmitGenerationRequest,
) -> Result<SubmittedGeneration, Status> {
    caller.require(Need::Write, "generating rows")?;
    let model_id: ModelId = parse_id("model_id", &request.model_id)?;
    let mode =
        v1::GenerationMode::try_from(request.mode).unwrap_or(v1::GenerationMode::Unspecified);
    if mode == v1::GenerationMode::Unspecified {
        return Err(status::invalid(
            "mode",
            "choose GENERATION_MODE_BATCH or GENERATION_MODE_STREAM",
        ));
    }
    if request.rows == 0 {
        return Err(status::invalid("rows", "must be at least 1"));
    }
    if request.rows > MAX_BATCH_ROWS {
        return Err(status::invalid(
            "rows",
            format!("at most {MAX_BATCH_ROWS} rows per generation"),
        ));
    }
    let model = gateway.model_for(caller, model_id).await?;
    let (dataset, private_model, budget) = gateway.read(|state| {
        let dataset = state.dataset(model.spec.dataset).cloned();
        let private_model = model
            .spec
            .job
            .and_then(|job| state.job(job))
            .is_some_and(|job| job.spec.payload.pointer("/config/privacy").is_some());
        let budget = state.ledger(model.spec.dataset).map(|l| l.budget());
        (dataset, private_model, budget)
    })?;
    if let Some(budget) = budget
        && !private_model
    {
        return Err(status::precondition(format!(
            "model_id: dataset {} is protected by a privacy budget (ε = {}) and model {model_id} was trained without differential privacy, so its rows may not be released; train a private model",
            model.spec.dataset, budget.epsilon
        )));
    }
    let schema = dataset
        .as_ref()
        .and_then(|d| d.schema.clone())
        .and_then(|s| serde_json::from_value::<Schema>(s).ok());
    let conditions = conditions(&request.conditions, schema.as_ref())?;
    let rebalance = rebalance(request.rebalance, &conditions, schema.as_ref())?;
    let seed = request.seed.unwrap_or_else(rand::random);
    let generation = GenerationId::new();
    let batch = mode == v1::GenerationMode::Batch;
    let job_id = batch.then(JobId::new);
    let url = if batch {
        format!("generations/{generation}/data.parquet")
    } else {
        String::new()
    };
    let record = GenerationSpec {
        id: generation,
        tenant: caller.tenant,
        model: model_id,
        job: job_id,
        rows: request.rows,
        seed,
        url,
        conditions: conditions.clone(),
        rebalance: rebalance.clone(),
    };
    let Some(job_id) = job_id else {
        gateway.apply(Command::RecordGeneration(record)).await?;
        return Ok(SubmittedGeneration {
            generation,
            job: None,
        });
    };
    let assess = dataset.map(|d| {
        serde_json::json!({
            "job_id": JobId::new().to_string(),
            "report_id": ReportId::new().to_string(),
            "real": d.spec.url,
        })
    });
    let payload = serde_json::json!({
        "model": model.spec.url,
        "model_id": model_id.to_string(),
        "rows": request.rows,
        "seed": seed,
        "generation_id": generation.to_string(),
        "format": "parquet",
        "conditions": conditions,
        "rebalance": rebalance,
        "assess": assess,
    });
    gateway
        .apply(Command::SubmitJob(JobSpec {
            id: job_id,
            tenant: caller.tenant,
            kind: JobKind::Generate,
            priority: 0,
            resources: Resources::default(),
            payload,
        }))
        .await?;
    // Recorded after its job exists (the record names it); the job records the same
    // content again when it finishes, which changes nothing.
    gateway.apply(Command::RecordGeneration(record)).await?;
    let job = gateway
        .read_until(|state| state.job(job_id).cloned())
        .await?
        .ok_or_else(|| {
            status::internal(format!("job {job_id} was queued but cannot be read back"))
        })?;
    tracing::info!(%generation, model = %model_id, rows = request.rows, tenant = %caller.tenant, "generation submitted");
    Ok(SubmittedGeneration {
        generation,
        job: Some(job),
    })
}
