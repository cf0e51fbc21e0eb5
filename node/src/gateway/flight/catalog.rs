//! Describing the caller's tables as Flight sees them: which stored object a target
//! reads, and its `FlightInfo` (schema, rows, bytes, one endpoint on every node).

use arrow::datatypes::Schema;
use arrow_flight::{FlightEndpoint, FlightInfo};
use tonic::Status;

use super::FlightGateway;
use super::stored::{self, Described};
use super::target::FlightTarget;
use crate::gateway::{Caller, status};

/// A target the caller may see, with where its rows are stored.
#[derive(Debug, Clone)]
pub struct Located {
    /// What it is.
    pub target: FlightTarget,
    /// The object key of its rows.
    pub key: String,
    /// What `FlightInfo.app_metadata` says about it (JSON).
    pub about: serde_json::Value,
}

impl FlightGateway {
    /// Finds `target` for `caller` (tenant-checked: another tenant's object is
    /// `NOT_FOUND`). Generations must have stored rows; the quality gate is not checked
    /// here (describing is allowed, pulling is not).
    pub async fn locate(&self, caller: &Caller, target: FlightTarget) -> Result<Located, Status> {
        match target {
            FlightTarget::Dataset(id) => {
                let dataset = self.gateway.dataset_for(caller, id).await?;
                Ok(Located {
                    target,
                    key: dataset.spec.url,
                    about: serde_json::json!({ "dataset_id": id.to_string(), "name": dataset.spec.name }),
                })
            }
            FlightTarget::Generation(id) => {
                let generation = self.gateway.generation_for(caller, id).await?;
                if generation.spec.url.is_empty() {
                    return Err(status::precondition(format!(
                        "generation {id} has no stored rows (stream-mode generations are read with SampleRows)"
                    )));
                }
                Ok(Located {
                    target,
                    key: generation.spec.url,
                    about: serde_json::json!({
                        "generation_id": id.to_string(),
                        "model_id": generation.spec.model.to_string(),
                        "released": generation.released,
                    }),
                })
            }
        }
    }

    /// Every dataset and generation (with stored rows) of the caller's tenant; `kinds`
    /// limits it to datasets, generations or both.
    pub fn located_all(
        &self,
        caller: &Caller,
        datasets: bool,
        generations: bool,
    ) -> Result<Vec<Located>, Status> {
        self.gateway.read(|state| {
            let mut found = Vec::new();
            if datasets {
                for dataset in state.datasets().values() {
                    if caller.owns(dataset.spec.tenant) {
                        let id = dataset.spec.id;
                        found.push(Located {
                            target: FlightTarget::Dataset(id),
                            key: dataset.spec.url.clone(),
                            about: serde_json::json!({ "dataset_id": id.to_string(), "name": dataset.spec.name }),
                        });
                    }
                }
            }
            if generations {
                for generation in state.generations().values() {
                    if caller.owns(generation.spec.tenant) && !generation.spec.url.is_empty() {
                        let id = generation.spec.id;
                        found.push(Located {
                            target: FlightTarget::Generation(id),
                            key: generation.spec.url.clone(),
                            about: serde_json::json!({
                                "generation_id": id.to_string(),
                                "model_id": generation.spec.model.to_string(),
                                "released": generation.released,
                            }),
                        });
                    }
                }
            }
            found
        })
    }

    /// Describes the stored objects of `located` (off the executor: footers are read
    /// from the store). `None` for an object not stored yet (a dataset still ingesting).
    pub async fn describe(
        &self,
        located: Vec<Located>,
    ) -> Result<Vec<(Located, Option<Described>)>, Status> {
        let storage = self.gateway.storage().clone();
        let scratch = self.scratch.clone();
        tokio::task::spawn_blocking(move || {
            located
                .into_iter()
                .map(|l| {
                    let described = stored::describe(&storage, &l.key, &scratch)?;
                    Ok((l, described))
                })
                .collect()
        })
        .await
        .map_err(|e| status::internal(format!("describing tables failed: {e}")))?
    }

    /// The `FlightInfo` of `located`: schema, rows and bytes when stored (else an empty
    /// schema and -1), and one endpoint with its ticket on every node.
    pub fn flight_info(
        &self,
        located: &Located,
        described: Option<&Described>,
    ) -> Result<FlightInfo, Status> {
        let empty = Schema::empty();
        let schema = described.map_or(&empty, |d| d.schema.as_ref());
        let mut endpoint = FlightEndpoint::new().with_ticket(located.target.ticket());
        for location in &self.locations {
            endpoint = endpoint.with_location(location.clone());
        }
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let info = FlightInfo::new()
            .try_with_schema(schema)
            .map_err(|e| status::internal(format!("cannot encode a schema: {e}")))?
            .with_descriptor(located.target.descriptor())
            .with_endpoint(endpoint)
            .with_total_records(described.map_or(-1, |d| count(d.rows)))
            .with_total_bytes(described.map_or(-1, |d| count(d.bytes)))
            .with_ordered(true)
            .with_app_metadata(located.about.to_string().into_bytes());
        Ok(info)
    }
}
