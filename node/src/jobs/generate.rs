//! Generate jobs: load a stored model, draw rows, store them as CSV or Parquet.

use anyhow::{Context, bail};
use mirage_data::TableWriter;
use mirage_models::SampleRequest;
use serde::{Deserialize, Serialize};
use tracing::info;

use super::storage::StorageError;
use super::{JobEnv, payload};

/// The file format of generated rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GenerateFormat {
    /// Comma-separated text with a header row.
    #[default]
    Csv,
    /// Apache Parquet with the Mirage schema in its metadata.
    Parquet,
}

impl GenerateFormat {
    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            GenerateFormat::Csv => "csv",
            GenerateFormat::Parquet => "parquet",
        }
    }
}

/// A generate job's payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratePayload {
    /// The object key prefix of the model (`models/<id>`).
    pub model: String,
    /// Rows to generate.
    pub rows: usize,
    /// The sampling seed.
    #[serde(default)]
    pub seed: u64,
    /// The generation's id: the rows go to `generations/<generation_id>/`.
    pub generation_id: String,
    /// `csv` (the default) or `parquet`.
    #[serde(default)]
    pub format: GenerateFormat,
    /// The catalog model sampled (`mdl_…`): with it the generation is recorded.
    #[serde(default)]
    pub model_id: Option<String>,
    /// Constraints every row must satisfy.
    #[serde(default)]
    pub conditions: Vec<mirage_core::Condition>,
    /// How the rows divide among the classes of one column (augmentation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rebalance: Option<mirage_core::Rebalance>,
    /// The assessment to queue once the rows are stored.
    #[serde(default)]
    pub assess: Option<AssessFollowUp>,
}

/// The assess job a generate job queues when it is done (ids chosen at submission, so a
/// re-run queues the same job).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssessFollowUp {
    /// The assess job's id.
    pub job_id: String,
    /// The report's id.
    pub report_id: String,
    /// The real table to compare with (an object key).
    pub real: String,
}

/// What a generate job stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateResult {
    /// The object key of the generated rows.
    pub output: String,
    /// Rows written.
    pub rows: u64,
}

/// Rows per generated batch (and per progress report).
const BATCH_ROWS: usize = 10_000;

/// Runs a generate job.
pub fn run(env: &JobEnv<'_>, payload: &serde_json::Value) -> anyhow::Result<serde_json::Value> {
    let kind = env.kind_name();
    let request: GeneratePayload = payload::parse(kind, payload)?;
    payload::check_id(kind, "generation_id", &request.generation_id)?;
    payload::check_key(kind, "model", &request.model)?;
    if request.rows == 0 {
        bail!("{kind} payload: field `rows`: must be at least 1");
    }
    let model_key = request.model.trim_matches('/');
    let local_model = env.scratch.join("model");
    match env.storage.download_prefix(model_key, &local_model) {
        Ok(_) => {}
        Err(StorageError::NotFound { url, .. }) => {
            bail!("{kind} payload: field `model`: no model is stored under {model_key:?} in {url}")
        }
        Err(other) => {
            return Err(other).with_context(|| format!("{kind} payload: field `model`"));
        }
    }
    let model = mirage_models::load_model(&local_model)
        .with_context(|| format!("{kind} payload: field `model`: cannot load {model_key:?}"))?;
    env.check_cancelled()?;

    let extension = request.format.extension();
    let local = env.scratch.join(format!("data.{extension}"));
    let mut writer = TableWriter::create(&local, model.schema())
        .with_context(|| format!("creating {}", local.display()))?;
    let sample = SampleRequest {
        batch_size: BATCH_ROWS,
        conditions: request.conditions.clone(),
        ..SampleRequest::new(request.rows, request.seed)
    };
    let total = request.rows as u64;
    let mut done = 0u64;
    let batches = mirage_models::sample_with(model.as_ref(), &sample, request.rebalance.as_ref())
        .with_context(|| format!("{kind} payload: cannot sample"))?;
    for batch in batches {
        env.check_cancelled()?;
        let batch = batch.context("sampling")?;
        writer
            .write_batch(&batch)
            .with_context(|| format!("writing {}", local.display()))?;
        done += batch.num_rows() as u64;
        env.progress("generate", done, total, format!("{done} of {total} rows"));
    }
    let rows = writer
        .finish()
        .with_context(|| format!("writing {}", local.display()))?;
    let output = format!("generations/{}/data.{extension}", request.generation_id);
    env.progress("store", total, total, format!("storing {output}"));
    env.storage.put_file(&output, &local)?;
    info!(output = %output, rows, model = model_key, "rows generated");
    payload::result_json(kind, &GenerateResult { output, rows })
}
