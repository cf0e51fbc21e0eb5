//! Tenant-scoped lookups: every service finds objects through these, so a caller never
//! sees, pulls, uses or deletes another tenant's datasets, models, generations or reports.
//! An object of another tenant answers exactly like a missing one (`NOT_FOUND`), so ids
//! leak nothing.

use mirage_actors::{Dataset, Generation, ModelVersion, QualityReport};
use mirage_core::{DatasetId, GenerationId, ModelId, ReportId};
use tonic::Status;

use super::{Caller, Gateway, status};

/// Parses an id field (`ds_…` or a bare UUID), naming the field when it is malformed.
pub fn parse_id<T: std::str::FromStr>(field: &str, text: &str) -> Result<T, Status>
where
    T::Err: std::fmt::Display,
{
    if text.trim().is_empty() {
        return Err(status::invalid(field, "is required"));
    }
    text.trim()
        .parse()
        .map_err(|error| status::invalid(field, error))
}

impl Gateway {
    /// The caller's dataset `id`.
    pub async fn dataset_for(&self, caller: &Caller, id: DatasetId) -> Result<Dataset, Status> {
        self.read_until(|state| {
            state
                .dataset(id)
                .filter(|d| caller.owns(d.spec.tenant))
                .cloned()
        })
        .await?
        .ok_or_else(|| status::not_found(format!("dataset_id: no dataset {id}")))
    }

    /// The caller's model `id`.
    pub async fn model_for(&self, caller: &Caller, id: ModelId) -> Result<ModelVersion, Status> {
        self.read_until(|state| {
            state
                .model(id)
                .filter(|m| caller.owns(m.spec.tenant))
                .cloned()
        })
        .await?
        .ok_or_else(|| status::not_found(format!("model_id: no model {id}")))
    }

    /// The caller's generation `id`.
    pub async fn generation_for(
        &self,
        caller: &Caller,
        id: GenerationId,
    ) -> Result<Generation, Status> {
        self.read_until(|state| {
            state
                .generation(id)
                .filter(|g| caller.owns(g.spec.tenant))
                .cloned()
        })
        .await?
        .ok_or_else(|| status::not_found(format!("generation_id: no generation {id}")))
    }

    /// The caller's report `id` (owned through its generation).
    pub async fn report_for(&self, caller: &Caller, id: ReportId) -> Result<QualityReport, Status> {
        self.read_until(|state| {
            let report = state.report(id)?;
            let generation = state.generation(report.spec.generation)?;
            caller.owns(generation.spec.tenant).then(|| report.clone())
        })
        .await?
        .ok_or_else(|| status::not_found(format!("report_id: no report {id}")))
    }

    /// The object key of generation `id`'s rows, if the caller may pull them: the rows
    /// must be stored, and a generation whose quality gate failed stays blocked until an
    /// admin releases it.
    pub async fn generation_rows(
        &self,
        caller: &Caller,
        id: GenerationId,
    ) -> Result<String, Status> {
        let generation = self.generation_for(caller, id).await?;
        if generation.spec.url.is_empty() {
            return Err(status::precondition(format!(
                "generation {id} has no stored rows (stream-mode generations are read with SampleRows)"
            )));
        }
        if let Some(job) = generation.spec.job {
            let state = self.read(|state| state.job(job).map(|j| j.state.clone()))?;
            match state {
                Some(mirage_actors::JobState::Succeeded { .. }) => {}
                Some(other) => {
                    return Err(status::precondition(format!(
                        "generation {id}: its rows are not ready, its job {job} is {}; watch it with JobService.WatchJob",
                        other.name()
                    )));
                }
                None => {
                    return Err(status::precondition(format!(
                        "generation {id}: its job {job} is not known to this node yet; retry shortly"
                    )));
                }
            }
        }
        if !generation.released {
            let gate = self.read(|state| state.report_of(id).map(|r| r.spec.clone()))?;
            if let Some(report) = gate
                && !report.gate_passed
            {
                return Err(status::error(
                    mirage_proto::v1::ErrorCode::FailedPrecondition,
                    format!(
                        "generation {id} failed its quality gate (report {}, overall {:.3}); \
                         its rows stay blocked until an admin releases it",
                        report.id, report.overall
                    ),
                ));
            }
        }
        Ok(generation.spec.url)
    }
}
