//! Datasets and immutable model versions. Their rows and weights live in object storage;
//! the state keeps their locations and small metadata.

use mirage_core::records::ModelKind;
use mirage_core::{DatasetId, JobId, ModelId, TenantId};
use serde::{Deserialize, Serialize};

use super::ClusterState;
use super::outcome::{Outcome, Response};
use crate::error::StateError;

/// A dataset as registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetSpec {
    /// Its id.
    pub id: DatasetId,
    /// Its owner.
    pub tenant: TenantId,
    /// A name chosen by the user.
    pub name: String,
    /// Where its rows are (object-store URL).
    pub url: String,
}

/// A registered dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    /// As registered.
    pub spec: DatasetSpec,
    /// Its schema, once inferred.
    pub schema: Option<serde_json::Value>,
    /// Its profile (or a reference to it), once computed.
    pub profile: Option<serde_json::Value>,
    /// Its row count, once known.
    pub rows: Option<u64>,
    /// When it was registered.
    pub registered_at_ms: u64,
    /// When its metadata last changed.
    pub updated_at_ms: u64,
}

/// A trained model version: immutable once registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// Its id.
    pub id: ModelId,
    /// Its owner.
    pub tenant: TenantId,
    /// The dataset it learned.
    pub dataset: DatasetId,
    /// Its family.
    pub kind: ModelKind,
    /// Hash of its hyperparameters.
    pub config_hash: String,
    /// Where its files are (object-store URL).
    pub url: String,
    /// The job that trained it.
    #[serde(default)]
    pub job: Option<JobId>,
}

/// A registered model version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelVersion {
    /// As registered.
    pub spec: ModelSpec,
    /// When it was registered.
    pub registered_at_ms: u64,
}

impl ClusterState {
    pub(super) fn register_dataset(&mut self, spec: DatasetSpec) -> Response {
        if spec.url.trim().is_empty() {
            return Err(StateError::invalid("url", "a dataset needs a location"));
        }
        if let Some(dataset) = self.datasets.get(&spec.id) {
            let old = &dataset.spec;
            let differs = if old.tenant != spec.tenant {
                Some("tenant")
            } else if old.name != spec.name {
                Some("name")
            } else if old.url != spec.url {
                Some("url")
            } else {
                None
            };
            return match differs {
                None => Ok(Outcome::Unchanged),
                Some(field) => Err(StateError::conflict("dataset", spec.id, field)),
            };
        }
        let now = self.clock_ms;
        self.datasets.insert(
            spec.id,
            Dataset {
                spec,
                schema: None,
                profile: None,
                rows: None,
                registered_at_ms: now,
                updated_at_ms: now,
            },
        );
        Ok(Outcome::Applied)
    }

    pub(super) fn set_dataset_profile(
        &mut self,
        id: DatasetId,
        schema: Option<serde_json::Value>,
        profile: Option<serde_json::Value>,
        rows: Option<u64>,
    ) -> Response {
        let now = self.clock_ms;
        let Some(dataset) = self.datasets.get_mut(&id) else {
            return Err(StateError::UnknownDataset { dataset: id });
        };
        let changed = schema
            .as_ref()
            .is_some_and(|s| dataset.schema.as_ref() != Some(s))
            || profile
                .as_ref()
                .is_some_and(|p| dataset.profile.as_ref() != Some(p))
            || rows.is_some_and(|r| dataset.rows != Some(r));
        if !changed {
            return Ok(Outcome::Unchanged);
        }
        if let Some(schema) = schema {
            dataset.schema = Some(schema);
        }
        if let Some(profile) = profile {
            dataset.profile = Some(profile);
        }
        if let Some(rows) = rows {
            dataset.rows = Some(rows);
        }
        dataset.updated_at_ms = now;
        Ok(Outcome::Applied)
    }

    pub(super) fn delete_dataset(&mut self, id: DatasetId) -> Response {
        if !self.datasets.contains_key(&id) {
            return Ok(Outcome::Unchanged);
        }
        let wanted = id.to_string();
        let reader = self.jobs.values().find(|job| {
            !job.state.is_terminal()
                && job
                    .spec
                    .payload
                    .get("dataset_id")
                    .and_then(|value| value.as_str())
                    == Some(wanted.as_str())
        });
        if let Some(job) = reader {
            return Err(StateError::DatasetInUse {
                dataset: id,
                job: job.spec.id,
            });
        }
        self.datasets.remove(&id);
        Ok(Outcome::Applied)
    }

    pub(super) fn register_model(&mut self, spec: ModelSpec) -> Response {
        if spec.url.trim().is_empty() {
            return Err(StateError::invalid("url", "a model needs a location"));
        }
        if spec.config_hash.trim().is_empty() {
            return Err(StateError::invalid(
                "config_hash",
                "a model needs the hash of its configuration",
            ));
        }
        if let Some(model) = self.models.get(&spec.id) {
            let old = &model.spec;
            let differs = [
                ("tenant", old.tenant != spec.tenant),
                ("dataset", old.dataset != spec.dataset),
                ("kind", old.kind != spec.kind),
                ("config_hash", old.config_hash != spec.config_hash),
                ("url", old.url != spec.url),
                ("job", old.job != spec.job),
            ]
            .into_iter()
            .find(|(_, differs)| *differs);
            return match differs {
                None => Ok(Outcome::Unchanged),
                Some((field, _)) => Err(StateError::conflict("model", spec.id, field)),
            };
        }
        if !self.datasets.contains_key(&spec.dataset) {
            return Err(StateError::UnknownDataset {
                dataset: spec.dataset,
            });
        }
        if let Some(job) = spec.job
            && !self.jobs.contains_key(&job)
        {
            return Err(StateError::UnknownJob { job });
        }
        let now = self.clock_ms;
        self.models.insert(
            spec.id,
            ModelVersion {
                spec,
                registered_at_ms: now,
            },
        );
        Ok(Outcome::Applied)
    }
}
