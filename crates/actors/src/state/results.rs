//! Generations (batches of synthetic rows) and their quality reports: records that point
//! at the jobs and models that made them.

use mirage_core::{GenerationId, JobId, ModelId, ReportId, TenantId};
use serde::{Deserialize, Serialize};

use super::ClusterState;
use super::outcome::{Outcome, Response};
use crate::error::StateError;

/// A generation as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationSpec {
    /// Its id.
    pub id: GenerationId,
    /// Its owner.
    pub tenant: TenantId,
    /// The model sampled.
    pub model: ModelId,
    /// The job that sampled it.
    #[serde(default)]
    pub job: Option<JobId>,
    /// Rows generated.
    pub rows: u64,
    /// The seed (same seed, same rows).
    pub seed: u64,
    /// Where the rows are (object-store URL); empty for a stream-mode generation, whose
    /// rows are sampled when they are read and never stored.
    pub url: String,
    /// Constraints every row satisfies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<mirage_core::Condition>,
    /// How the rows divide among the classes of one column (augmentation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rebalance: Option<mirage_core::Rebalance>,
}

/// A recorded generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    /// As recorded.
    pub spec: GenerationSpec,
    /// When it was recorded.
    pub recorded_at_ms: u64,
    /// Whether an admin released its rows although its quality gate failed.
    #[serde(default)]
    pub released: bool,
}

/// A quality report as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportSpec {
    /// Its id.
    pub id: ReportId,
    /// The generation it scores.
    pub generation: GenerationId,
    /// The job that assessed it.
    #[serde(default)]
    pub job: Option<JobId>,
    /// The overall score, in [0, 1].
    pub overall: f64,
    /// Whether the quality gate passed.
    pub gate_passed: bool,
    /// Where the full report is (object-store URL).
    pub url: String,
}

/// A recorded quality report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityReport {
    /// As recorded.
    pub spec: ReportSpec,
    /// When it was recorded.
    pub recorded_at_ms: u64,
}

impl ClusterState {
    pub(super) fn record_generation(&mut self, spec: GenerationSpec) -> Response {
        if let Some(old) = self.generations.get(&spec.id) {
            return if old.spec == spec {
                Ok(Outcome::Unchanged)
            } else {
                Err(StateError::conflict("generation", spec.id, "content"))
            };
        }
        if !self.models.contains_key(&spec.model) {
            return Err(StateError::UnknownModel { model: spec.model });
        }
        if let Some(job) = spec.job
            && !self.jobs.contains_key(&job)
        {
            return Err(StateError::UnknownJob { job });
        }
        let now = self.clock_ms;
        self.generations.insert(
            spec.id,
            Generation {
                spec,
                recorded_at_ms: now,
                released: false,
            },
        );
        Ok(Outcome::Applied)
    }

    pub(super) fn release_generation(&mut self, id: GenerationId) -> Response {
        let Some(generation) = self.generations.get_mut(&id) else {
            return Err(StateError::UnknownGeneration { generation: id });
        };
        if generation.released {
            return Ok(Outcome::Unchanged);
        }
        generation.released = true;
        Ok(Outcome::Applied)
    }

    /// The quality report of generation `id`, if one was recorded.
    pub fn report_of(&self, id: GenerationId) -> Option<&QualityReport> {
        self.reports.values().find(|r| r.spec.generation == id)
    }

    /// One generation.
    pub fn generation(&self, id: GenerationId) -> Option<&Generation> {
        self.generations.get(&id)
    }

    /// One quality report.
    pub fn report(&self, id: ReportId) -> Option<&QualityReport> {
        self.reports.get(&id)
    }

    pub(super) fn record_report(&mut self, spec: ReportSpec) -> Response {
        if !(0.0..=1.0).contains(&spec.overall) {
            return Err(StateError::invalid(
                "overall",
                format!("{} is not a score in [0, 1]", spec.overall),
            ));
        }
        if let Some(old) = self.reports.get(&spec.id) {
            return if old.spec == spec {
                Ok(Outcome::Unchanged)
            } else {
                Err(StateError::conflict("report", spec.id, "content"))
            };
        }
        if !self.generations.contains_key(&spec.generation) {
            return Err(StateError::UnknownGeneration {
                generation: spec.generation,
            });
        }
        if let Some(job) = spec.job
            && !self.jobs.contains_key(&job)
        {
            return Err(StateError::UnknownJob { job });
        }
        let now = self.clock_ms;
        self.reports.insert(
            spec.id,
            QualityReport {
                spec,
                recorded_at_ms: now,
            },
        );
        Ok(Outcome::Applied)
    }
}
