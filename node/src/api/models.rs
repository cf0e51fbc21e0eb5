//! `ModelService`: the caller's immutable model versions, their configuration and what
//! their training did.

use mirage_actors::{ClusterState, JobState, ModelVersion};
use mirage_core::{DatasetId, ModelId};
use mirage_proto::v1;
use mirage_proto::v1::model_service_server::ModelService;
use tonic::{Request, Response, Status};

use crate::gateway::access::parse_id;
use crate::gateway::{Gateway, caller, paging};

/// The model service of one node.
#[derive(Debug, Clone)]
pub struct ModelApi {
    gateway: Gateway,
}

impl ModelApi {
    /// The service over `gateway`.
    pub fn new(gateway: Gateway) -> Self {
        Self { gateway }
    }
}

/// The protobuf view of a model: its version is its place among its dataset's models in
/// registration order (from 1), its config and summary come from its training job.
pub fn view(state: &ClusterState, model: &ModelVersion) -> v1::Model {
    let spec = &model.spec;
    let version = state
        .models()
        .values()
        .filter(|m| {
            m.spec.dataset == spec.dataset
                && (m.registered_at_ms, m.spec.id) <= (model.registered_at_ms, spec.id)
        })
        .count();
    let job = spec.job.and_then(|id| state.job(id));
    let config_json = job
        .and_then(|j| j.spec.payload.get("config"))
        .filter(|c| !c.is_null())
        .map_or_else(|| "{}".to_owned(), ToString::to_string);
    let training_summary_json = match job.map(|j| &j.state) {
        Some(JobState::Succeeded { result, .. }) => result.to_string(),
        _ => String::new(),
    };
    // What the fit actually spent (its accountant's ε), else what it was allowed.
    let spent = match job.map(|j| &j.state) {
        Some(JobState::Succeeded { result, .. }) => result
            .pointer("/privacy/epsilon_rdp")
            .and_then(serde_json::Value::as_f64),
        _ => None,
    };
    let epsilon = spent.or_else(|| {
        job.and_then(|j| j.spec.payload.pointer("/config/privacy/epsilon"))
            .and_then(serde_json::Value::as_f64)
    });
    v1::Model {
        id: spec.id.to_string(),
        tenant_id: spec.tenant.to_string(),
        dataset_id: spec.dataset.to_string(),
        kind: v1::ModelKind::from(spec.kind) as i32,
        version: u32::try_from(version).unwrap_or(u32::MAX),
        config_json,
        location: spec.url.clone(),
        epsilon,
        created_at_ms: i64::try_from(model.registered_at_ms).unwrap_or(i64::MAX),
        training_summary_json,
        job_id: spec.job.map(|j| j.to_string()).unwrap_or_default(),
    }
}

#[tonic::async_trait]
impl ModelService for ModelApi {
    async fn list_models(
        &self,
        request: Request<v1::ListModelsRequest>,
    ) -> Result<Response<v1::ListModelsResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let dataset: Option<DatasetId> = if request.dataset_id.is_empty() {
            None
        } else {
            Some(parse_id("dataset_id", &request.dataset_id)?)
        };
        if let Some(dataset) = dataset {
            // A dataset of another tenant answers like a missing one.
            self.gateway.dataset_for(&caller, dataset).await?;
        }
        let mut models = self.gateway.read(|state| {
            state
                .models()
                .values()
                .filter(|m| caller.owns(m.spec.tenant))
                .filter(|m| dataset.is_none_or(|d| m.spec.dataset == d))
                .map(|m| (m.registered_at_ms, view(state, m)))
                .collect::<Vec<_>>()
        })?;
        models.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
        let models = models.into_iter().map(|(_, m)| m).collect();
        let (models, next_page_token) = paging::page(models, request.page.as_ref())?;
        Ok(Response::new(v1::ListModelsResponse {
            models,
            next_page_token,
        }))
    }

    async fn get_model(
        &self,
        request: Request<v1::GetModelRequest>,
    ) -> Result<Response<v1::GetModelResponse>, Status> {
        let caller = caller(&request)?;
        let id: ModelId = parse_id("model_id", &request.get_ref().model_id)?;
        let model = self.gateway.model_for(&caller, id).await?;
        let view = self.gateway.read(|state| view(state, &model))?;
        Ok(Response::new(v1::GetModelResponse { model: Some(view) }))
    }
}
