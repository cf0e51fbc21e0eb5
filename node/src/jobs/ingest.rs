//! Ingest jobs: read a CSV or Parquet table, infer its schema, profile it, and store the
//! table and its profile.

use anyhow::Context;
use mirage_data::ProfileOptions;
use serde::{Deserialize, Serialize};
use tracing::info;

use super::{JobEnv, inputs, payload};

/// An ingest job's payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestPayload {
    /// The dataset's id: the table goes to `datasets/<dataset_id>/`.
    pub dataset_id: String,
    /// The CSV or Parquet source: an object key, or a file on the node.
    pub source: String,
}

/// What an ingest job stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngestResult {
    /// The object key of the table (Parquet, with the Mirage schema in its metadata).
    pub dataset: String,
    /// The object key of the profile (JSON).
    pub profile: String,
    /// Rows read.
    pub rows: usize,
    /// Columns read.
    pub columns: usize,
    /// The inferred schema (a `mirage_core::Schema` as JSON).
    #[serde(default)]
    pub schema: Option<serde_json::Value>,
}

/// The object key prefix of dataset `id`.
pub fn dataset_prefix(id: &str) -> String {
    format!("datasets/{id}")
}

/// Runs an ingest job.
pub fn run(env: &JobEnv<'_>, payload: &serde_json::Value) -> anyhow::Result<serde_json::Value> {
    let kind = env.kind_name();
    let request: IngestPayload = payload::parse(kind, payload)?;
    payload::check_id(kind, "dataset_id", &request.dataset_id)?;
    env.progress("ingest", 0, 3, format!("reading {}", request.source));
    let path = inputs::fetch(env, "source", &request.source)?;
    let table = inputs::read(&path, "source")?;
    env.check_cancelled()?;
    env.progress("profile", 1, 3, format!("{} rows", table.num_rows()));
    let profile = mirage_data::profile_table(&table, &ProfileOptions::default())
        .with_context(|| format!("profiling {}", request.source))?;
    env.check_cancelled()?;

    let prefix = dataset_prefix(&request.dataset_id);
    let data_key = format!("{prefix}/data.parquet");
    let profile_key = format!("{prefix}/profile.json");
    let local = env.scratch.join("data.parquet");
    mirage_data::write_table(&table, &local)
        .with_context(|| format!("writing the table to {}", local.display()))?;
    env.progress("store", 2, 3, format!("storing {data_key}"));
    env.storage.put_file(&data_key, &local)?;
    let profile_json =
        serde_json::to_vec_pretty(&profile).context("cannot encode the dataset profile")?;
    env.storage.put_bytes(&profile_key, profile_json)?;
    info!(
        dataset = %data_key,
        rows = table.num_rows(),
        columns = table.schema().len(),
        "dataset ingested"
    );
    payload::result_json(
        kind,
        &IngestResult {
            dataset: data_key,
            profile: profile_key,
            rows: table.num_rows(),
            columns: table.schema().len(),
            schema: Some(
                serde_json::to_value(table.schema()).context("cannot encode the dataset schema")?,
            ),
        },
    )
}
