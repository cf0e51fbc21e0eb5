//! Creating datasets: the one path both `DatasetService.CreateDataset` and a Flight
//! `DoPut` take. The dataset is registered at once (its rows will be at
//! `datasets/<id>/data.parquet`) and an ingest job reads the source, stores the table
//! there and profiles it; the node that runs the job records the schema, profile and row
//! count when it succeeds.

use mirage_actors::{Command, DatasetSpec, Job, JobSpec, Resources};
use mirage_core::records::JobKind;
use mirage_core::{DatasetId, JobId};
use tonic::Status;

use super::{Caller, Gateway, Need, status};
use crate::jobs::ingest::dataset_prefix;

/// The longest dataset name accepted.
pub const MAX_NAME_CHARS: usize = 200;

/// A dataset just created, with the job that ingests it.
#[derive(Debug, Clone)]
pub struct CreatedDataset {
    /// The new dataset.
    pub dataset: DatasetId,
    /// Its ingest job, as queued.
    pub job: Job,
}

/// Checks a dataset name: non-empty, at most [`MAX_NAME_CHARS`], no control characters.
pub fn check_name(name: &str) -> Result<(), Status> {
    if name.trim().is_empty() {
        return Err(status::invalid("name", "a dataset needs a name"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(status::invalid(
            "name",
            format!("is longer than {MAX_NAME_CHARS} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(status::invalid(
            "name",
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// Refuses a dataset name that is invalid or already taken in the caller's tenant.
pub fn check_new_name(gateway: &Gateway, caller: &Caller, name: &str) -> Result<(), Status> {
    check_name(name)?;
    let taken = gateway.read(|state| {
        state
            .datasets()
            .values()
            .any(|d| caller.owns(d.spec.tenant) && d.spec.name == name)
    })?;
    if taken {
        return Err(status::error(
            mirage_proto::v1::ErrorCode::AlreadyExists,
            format!(
                "name: this tenant already has a dataset named {name:?}; pick another name or delete it"
            ),
        ));
    }
    Ok(())
}

/// Registers dataset `name` for the caller's tenant and queues the job that ingests
/// `source` (an object key in the store, or a path the serving nodes can read).
pub async fn create_dataset(
    gateway: &Gateway,
    caller: &Caller,
    name: &str,
    source: &str,
) -> Result<CreatedDataset, Status> {
    caller.require(Need::Write, "creating a dataset")?;
    if source.trim().is_empty() {
        return Err(status::invalid(
            "source",
            "name a file, an object key or a Flight upload",
        ));
    }
    check_new_name(gateway, caller, name)?;
    let dataset = DatasetId::new();
    gateway
        .apply(Command::RegisterDataset(DatasetSpec {
            id: dataset,
            tenant: caller.tenant,
            name: name.to_owned(),
            url: format!("{}/data.parquet", dataset_prefix(&dataset.to_string())),
        }))
        .await?;
    let job = JobId::new();
    let spec = JobSpec {
        id: job,
        tenant: caller.tenant,
        kind: JobKind::Ingest,
        priority: 0,
        resources: Resources::default(),
        payload: serde_json::json!({
            "dataset_id": dataset.to_string(),
            "source": source,
        }),
    };
    if let Err(failed) = gateway.apply(Command::SubmitJob(spec)).await {
        // A dataset without its ingest job would never get rows: take it back. The
        // state refuses the removal if the job was queued after all (it reads the
        // dataset), in which case the dataset stands and ingests.
        match gateway.apply(Command::DeleteDataset { dataset }).await {
            Ok(_) => {
                tracing::warn!(%dataset, error = %failed.message(), "ingest job refused; dataset taken back")
            }
            Err(kept) => {
                tracing::warn!(%dataset, error = %failed.message(), kept = %kept.message(), "ingest job not confirmed; dataset kept")
            }
        }
        return Err(failed);
    }
    let job = gateway
        .read_until(|state| state.job(job).cloned())
        .await?
        .ok_or_else(|| status::internal(format!("job {job} was queued but cannot be read back")))?;
    tracing::info!(%dataset, job = %job.spec.id, tenant = %caller.tenant, name, "dataset created");
    Ok(CreatedDataset { dataset, job })
}
