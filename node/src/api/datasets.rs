//! `DatasetService`: create datasets from a file, an object key or a Flight upload; read
//! their schema and profile; list and delete them. Every call is scoped to the caller's
//! tenant.

use mirage_actors::{Command, Dataset};
use mirage_core::{DatasetId, DatasetProfile, Schema};
use mirage_proto::v1;
use mirage_proto::v1::dataset_service_server::DatasetService;
use tonic::{Request, Response, Status};

use crate::gateway::access::parse_id;
use crate::gateway::datasets::create_dataset;
use crate::gateway::{Gateway, Need, caller, paging, status};
use crate::jobs::ingest::dataset_prefix;

/// The dataset service of one node.
#[derive(Debug, Clone)]
pub struct DatasetApi {
    gateway: Gateway,
}

impl DatasetApi {
    /// The service over `gateway`.
    pub fn new(gateway: Gateway) -> Self {
        Self { gateway }
    }
}

/// The object key a Flight upload ticket (`upload/<uuid>`) names.
pub fn upload_key(ticket: &str) -> Result<String, Status> {
    let id = ticket
        .strip_prefix("upload/")
        .and_then(|id| uuid::Uuid::parse_str(id).ok())
        .ok_or_else(|| {
            status::invalid(
                "flight_ticket",
                format!("{ticket:?} is not an upload ticket; pass the `upload` value a Flight DoPut answered (upload/<uuid>)"),
            )
        })?;
    Ok(format!("uploads/{}/data.parquet", id.simple()))
}

/// Checks a `uri` source: a file on the serving nodes, named by an absolute path (or
/// `file://…`). Object keys are refused (the store holds every tenant's objects; a
/// caller brings data in with Flight instead), and so is any path inside a local object
/// store, for the same reason.
pub fn file_source(uri: &str, store_url: &str) -> Result<String, Status> {
    let text = uri.trim();
    let path = std::path::Path::new(text.strip_prefix("file://").unwrap_or(text));
    if !path.is_absolute() {
        return Err(status::invalid(
            "uri",
            format!(
                "{text:?} is not an absolute path of a file on the nodes; upload other data with Arrow Flight (DoPut)"
            ),
        ));
    }
    if path
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(status::invalid("uri", "must not contain `..`"));
    }
    let resolved = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    if let Some(root) = store_url.strip_prefix("file://") {
        let root = std::path::Path::new(root);
        let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        if resolved.starts_with(&root) {
            return Err(status::error(
                v1::ErrorCode::PermissionDenied,
                "uri: points into the cluster's object store, which holds every tenant's data; upload with Arrow Flight instead",
            ));
        }
    }
    Ok(resolved.display().to_string())
}

/// The profile stored for `dataset`, if it has been profiled.
pub async fn load_profile(
    gateway: &Gateway,
    dataset: &Dataset,
) -> Result<Option<DatasetProfile>, Status> {
    let Some(key) = dataset
        .profile
        .as_ref()
        .and_then(|p| p.get("key"))
        .and_then(|k| k.as_str())
        .map(str::to_owned)
    else {
        return Ok(None);
    };
    let storage = gateway.storage().clone();
    let bytes = tokio::task::spawn_blocking(move || storage.get_bytes(&key))
        .await
        .map_err(|error| status::internal(format!("reading a profile failed: {error}")))?
        .map_err(|error| status::internal(format!("cannot read the dataset's profile: {error}")))?;
    let profile = serde_json::from_slice(&bytes).map_err(|error| {
        status::internal(format!("the stored profile is not readable: {error}"))
    })?;
    Ok(Some(profile))
}

/// The protobuf view of a dataset (without its profile).
pub fn view(dataset: &Dataset) -> v1::Dataset {
    let schema = dataset
        .schema
        .as_ref()
        .and_then(|s| serde_json::from_value::<Schema>(s.clone()).ok())
        .map(Into::into);
    v1::Dataset {
        id: dataset.spec.id.to_string(),
        tenant_id: dataset.spec.tenant.to_string(),
        name: dataset.spec.name.clone(),
        location: dataset.spec.url.clone(),
        schema,
        profile: None,
        rows: dataset.rows.unwrap_or(0),
        created_at_ms: i64::try_from(dataset.registered_at_ms).unwrap_or(i64::MAX),
    }
}

#[tonic::async_trait]
impl DatasetService for DatasetApi {
    async fn create_dataset(
        &self,
        request: Request<v1::CreateDatasetRequest>,
    ) -> Result<Response<v1::CreateDatasetResponse>, Status> {
        let caller = caller(&request)?;
        caller.require(Need::Write, "creating a dataset")?;
        let request = request.into_inner();
        use v1::create_dataset_request::Source;
        let source = match request.source {
            Some(Source::Uri(uri)) if !uri.trim().is_empty() => {
                file_source(&uri, self.gateway.storage().url())?
            }
            Some(Source::FlightTicket(ticket)) => upload_key(&ticket)?,
            _ => {
                return Err(status::invalid(
                    "source",
                    "set `uri` (a file or object key the nodes can read) or `flight_ticket` (from a Flight DoPut)",
                ));
            }
        };
        let created = create_dataset(&self.gateway, &caller, &request.name, &source).await?;
        Ok(Response::new(v1::CreateDatasetResponse {
            dataset_id: created.dataset.to_string(),
            job: Some(super::convert::job(&created.job, None)),
        }))
    }

    async fn get_dataset(
        &self,
        request: Request<v1::GetDatasetRequest>,
    ) -> Result<Response<v1::GetDatasetResponse>, Status> {
        let caller = caller(&request)?;
        let id: DatasetId = parse_id("dataset_id", &request.get_ref().dataset_id)?;
        let dataset = self.gateway.dataset_for(&caller, id).await?;
        let mut view = view(&dataset);
        view.profile = load_profile(&self.gateway, &dataset).await?.map(Into::into);
        Ok(Response::new(v1::GetDatasetResponse {
            dataset: Some(view),
        }))
    }

    async fn list_datasets(
        &self,
        request: Request<v1::ListDatasetsRequest>,
    ) -> Result<Response<v1::ListDatasetsResponse>, Status> {
        let caller = caller(&request)?;
        let mut datasets = self.gateway.read(|state| {
            state
                .datasets()
                .values()
                .filter(|d| caller.owns(d.spec.tenant))
                .map(|d| (d.registered_at_ms, view(d)))
                .collect::<Vec<_>>()
        })?;
        // Newest first; ids break ties so the order is stable across pages.
        datasets.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
        let datasets = datasets.into_iter().map(|(_, d)| d).collect();
        let (datasets, next_page_token) = paging::page(datasets, request.get_ref().page.as_ref())?;
        Ok(Response::new(v1::ListDatasetsResponse {
            datasets,
            next_page_token,
        }))
    }

    async fn delete_dataset(
        &self,
        request: Request<v1::DeleteDatasetRequest>,
    ) -> Result<Response<v1::DeleteDatasetResponse>, Status> {
        let caller = caller(&request)?;
        caller.require(Need::Write, "deleting a dataset")?;
        let id: DatasetId = parse_id("dataset_id", &request.get_ref().dataset_id)?;
        self.gateway.dataset_for(&caller, id).await?;
        self.gateway
            .apply_visible(Command::DeleteDataset { dataset: id }, |state| {
                state.dataset(id).is_none()
            })
            .await?;
        let storage = self.gateway.storage().clone();
        let prefix = dataset_prefix(&id.to_string());
        let removed = tokio::task::spawn_blocking(move || storage.delete_prefix(&prefix))
            .await
            .map_err(|error| error.to_string())
            .and_then(|result| result.map_err(|error| error.to_string()));
        if let Err(error) = removed {
            tracing::warn!(dataset = %id, %error, "the dataset's stored rows could not be removed");
        }
        tracing::info!(dataset = %id, tenant = %caller.tenant, "dataset deleted");
        Ok(Response::new(v1::DeleteDatasetResponse {}))
    }

    async fn get_profile(
        &self,
        request: Request<v1::GetProfileRequest>,
    ) -> Result<Response<v1::GetProfileResponse>, Status> {
        let caller = caller(&request)?;
        let id: DatasetId = parse_id("dataset_id", &request.get_ref().dataset_id)?;
        let dataset = self.gateway.dataset_for(&caller, id).await?;
        let profile = load_profile(&self.gateway, &dataset).await?.ok_or_else(|| {
            status::not_found(format!(
                "dataset {id} has no profile yet: its ingest job has not finished (watch it with JobService.WatchJob)"
            ))
        })?;
        Ok(Response::new(v1::GetProfileResponse {
            profile: Some(profile.into()),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_outside_the_store_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = dir.path().join("objects");
        std::fs::create_dir_all(store.join("datasets")).expect("mkdir");
        let url = format!("file://{}", store.display());
        let outside = dir.path().join("adult.csv");
        std::fs::write(&outside, "a\n1\n").expect("write");
        assert!(file_source(&outside.display().to_string(), &url).is_ok());
        assert!(file_source(&format!("file://{}", outside.display()), &url).is_ok());
        for (uri, field) in [
            ("datasets/ds_1/data.parquet", "uri"),
            ("adult.csv", "uri"),
            ("/a/../etc/passwd", "uri"),
        ] {
            let refused = file_source(uri, &url).expect_err(uri);
            assert!(refused.message().starts_with(field), "{refused:?}");
        }
        let inside = store.join("datasets");
        let refused = file_source(&inside.display().to_string(), &url).expect_err("inside");
        assert_eq!(refused.code(), tonic::Code::PermissionDenied);
        assert_eq!(
            upload_key("upload/6f1c2a9e0b7d4c3a8e5f1a2b3c4d5e6f").expect("ticket"),
            "uploads/6f1c2a9e0b7d4c3a8e5f1a2b3c4d5e6f/data.parquet"
        );
        assert!(upload_key("uploads/../x").is_err());
    }
}
