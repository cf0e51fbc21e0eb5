//! `GenerationService`: submit generations, read them, and stream their rows — the
//! stored rows of a batch generation, or rows sampled on the fly from a warm model for a
//! stream-mode generation.

use std::pin::Pin;

use mirage_actors::{ClusterState, Command, Generation, JobState};
use mirage_core::{GenerationId, ModelId};
use mirage_proto::v1;
use mirage_proto::v1::generation_service_server::GenerationService;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::convert;
use crate::gateway::access::parse_id;
use crate::gateway::serving::ipc::BatchEncoder;
use crate::gateway::serving::{self, ModelCache};
use crate::gateway::{Gateway, Need, caller, generations, paging, status};

/// Rows per streamed batch when the caller leaves it to the server.
pub const DEFAULT_BATCH_ROWS: usize = 8192;
/// The most rows per streamed batch.
pub const MAX_BATCH_ROWS: usize = 65_536;

/// The generation service of one node.
#[derive(Debug, Clone)]
pub struct GenerationApi {
    gateway: Gateway,
    cache: ModelCache,
}

impl GenerationApi {
    /// The service over `gateway`, sampling stream-mode rows from the warm models of
    /// `cache`.
    pub fn new(gateway: Gateway, cache: ModelCache) -> Self {
        Self { gateway, cache }
    }
}

/// The protobuf view of a generation.
pub fn view(state: &ClusterState, generation: &Generation) -> v1::Generation {
    let spec = &generation.spec;
    let job_state = spec.job.and_then(|j| state.job(j)).map(|j| &j.state);
    let rows_ready = matches!(job_state, Some(JobState::Succeeded { .. }));
    v1::Generation {
        id: spec.id.to_string(),
        tenant_id: spec.tenant.to_string(),
        model_id: spec.model.to_string(),
        rows: spec.rows,
        seed: spec.seed,
        conditions: spec.conditions.iter().cloned().map(Into::into).collect(),
        location: (rows_ready && !spec.url.is_empty()).then(|| spec.url.clone()),
        report_id: state
            .report_of(spec.id)
            .map(|r| r.spec.id.to_string())
            .unwrap_or_default(),
        created_at_ms: i64::try_from(generation.recorded_at_ms).unwrap_or(i64::MAX),
        job_id: spec.job.map(|j| j.to_string()).unwrap_or_default(),
        rows_ready,
        mode: if spec.url.is_empty() {
            v1::GenerationMode::Stream
        } else {
            v1::GenerationMode::Batch
        } as i32,
        released: generation.released,
        rebalance: spec.rebalance.clone().map(Into::into),
    }
}

type RowStream = Pin<Box<dyn Stream<Item = Result<v1::RowBatch, Status>> + Send>>;

/// Streams the stored rows under `key` in batches of `batch_rows`.
fn stored_rows(gateway: &Gateway, key: String, batch_rows: usize) -> RowStream {
    let storage = gateway.storage().clone();
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let send = |item| sender.blocking_send(item).is_ok();
        // The same reader Flight's DoGet uses: batch by batch, a local store in place.
        let rows = match crate::gateway::flight::stored::open(&storage, &key, &std::env::temp_dir())
        {
            Ok(rows) => rows,
            Err(status) => {
                send(Err(status));
                return;
            }
        };
        let mut offset = 0u64;
        let encoder = BatchEncoder::new(rows.schema.clone());
        for batch in rows {
            let batch = match batch {
                Ok(batch) => batch,
                Err(error) => {
                    send(Err(status::internal(format!(
                        "cannot read the stored rows: {error}"
                    ))));
                    return;
                }
            };
            let mut start = 0;
            while start < batch.num_rows() {
                let length = batch_rows.min(batch.num_rows() - start);
                let slice = batch.slice(start, length);
                let encoded = encoder
                    .encode(&slice, offset)
                    .map_err(|error| status::internal(format!("cannot encode rows: {error}")));
                if !send(encoded) {
                    return;
                }
                offset += length as u64;
                start += length;
            }
        }
    });
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(receiver))
}

#[tonic::async_trait]
impl GenerationService for GenerationApi {
    async fn submit_generation(
        &self,
        request: Request<v1::SubmitGenerationRequest>,
    ) -> Result<Response<v1::SubmitGenerationResponse>, Status> {
        let caller = caller(&request)?;
        let submitted = generations::submit(&self.gateway, &caller, request.into_inner()).await?;
        Ok(Response::new(v1::SubmitGenerationResponse {
            generation_id: submitted.generation.to_string(),
            job: submitted.job.as_ref().map(|job| convert::job(job, None)),
        }))
    }

    async fn get_generation(
        &self,
        request: Request<v1::GetGenerationRequest>,
    ) -> Result<Response<v1::GetGenerationResponse>, Status> {
        let caller = caller(&request)?;
        let id: GenerationId = parse_id("generation_id", &request.get_ref().generation_id)?;
        let generation = self.gateway.generation_for(&caller, id).await?;
        let view = self.gateway.read(|state| view(state, &generation))?;
        Ok(Response::new(v1::GetGenerationResponse {
            generation: Some(view),
        }))
    }

    async fn list_generations(
        &self,
        request: Request<v1::ListGenerationsRequest>,
    ) -> Result<Response<v1::ListGenerationsResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let model: Option<ModelId> = if request.model_id.is_empty() {
            None
        } else {
            Some(parse_id("model_id", &request.model_id)?)
        };
        if let Some(model) = model {
            // A model of another tenant answers like a missing one.
            self.gateway.model_for(&caller, model).await?;
        }
        let mut generations = self.gateway.read(|state| {
            state
                .generations()
                .values()
                .filter(|g| caller.owns(g.spec.tenant))
                .filter(|g| model.is_none_or(|m| g.spec.model == m))
                .map(|g| (g.recorded_at_ms, view(state, g)))
                .collect::<Vec<_>>()
        })?;
        generations.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
        let generations = generations.into_iter().map(|(_, g)| g).collect();
        let (generations, next_page_token) = paging::page(generations, request.page.as_ref())?;
        Ok(Response::new(v1::ListGenerationsResponse {
            generations,
            next_page_token,
        }))
    }

    async fn release_generation(
        &self,
        request: Request<v1::ReleaseGenerationRequest>,
    ) -> Result<Response<v1::ReleaseGenerationResponse>, Status> {
        let caller = caller(&request)?;
        caller.require(Need::Admin, "releasing a generation past its quality gate")?;
        let id: GenerationId = parse_id("generation_id", &request.get_ref().generation_id)?;
        self.gateway.generation_for(&caller, id).await?;
        self.gateway
            .apply_visible(Command::ReleaseGeneration { generation: id }, |state| {
                state.generation(id).is_some_and(|g| g.released)
            })
            .await?;
        tracing::info!(generation = %id, by = %caller.subject, "generation released past its quality gate");
        let generation = self.gateway.generation_for(&caller, id).await?;
        let view = self.gateway.read(|state| view(state, &generation))?;
        Ok(Response::new(v1::ReleaseGenerationResponse {
            generation: Some(view),
        }))
    }

    type StreamGenerationStream = RowStream;

    async fn stream_generation(
        &self,
        request: Request<v1::StreamGenerationRequest>,
    ) -> Result<Response<Self::StreamGenerationStream>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let id: GenerationId = parse_id("generation_id", &request.generation_id)?;
        let batch_rows = match request.batch_rows {
            0 => DEFAULT_BATCH_ROWS,
            n => (n as usize).min(MAX_BATCH_ROWS),
        };
        let generation = self.gateway.generation_for(&caller, id).await?;
        if generation.spec.url.is_empty() {
            // Stream mode: the rows are sampled now, the same ones every time (same model,
            // seed, conditions and batch size).
            let spec = generation.spec;
            let sample = v1::SampleRowsRequest {
                model_id: spec.model.to_string(),
                rows: spec.rows,
                seed: Some(spec.seed),
                conditions: spec.conditions.into_iter().map(Into::into).collect(),
                batch_rows: u32::try_from(batch_rows).unwrap_or(u32::MAX),
                rebalance: spec.rebalance.map(Into::into),
            };
            let rows = serving::sample_stream(&self.gateway, &self.cache, &caller, sample).await?;
            return Ok(Response::new(Box::pin(rows)));
        }
        let key = self.gateway.generation_rows(&caller, id).await?;
        Ok(Response::new(stored_rows(&self.gateway, key, batch_rows)))
    }

    type SampleRowsStream = serving::RowStream;

    async fn sample_rows(
        &self,
        request: Request<v1::SampleRowsRequest>,
    ) -> Result<Response<Self::SampleRowsStream>, Status> {
        serving::sample_rows(&self.gateway, &self.cache, request).await
    }
}
