//! `JobService`: submit training jobs to the cluster, read and cancel them, watch them.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use mirage_actors::{Command, JobSpec, Resources, StateClient};
use mirage_core::records::{JobKind, ModelKind};
use mirage_core::{DatasetId, JobId, ModelId};
use mirage_proto::v1;
use mirage_proto::v1::job_service_server::JobService;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::convert::{self, default_tenant, unavailable};
use crate::node_runtime::EventHub;

/// The most jobs one `ListJobs` page holds.
const MAX_PAGE: usize = 1000;

/// How often `WatchJob` looks at the job.
const WATCH_POLL: Duration = Duration::from_millis(250);

/// The job service of one node.
#[derive(Clone)]
pub struct JobApi {
    client: Arc<dyn StateClient>,
    hub: EventHub,
}

impl std::fmt::Debug for JobApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobApi").finish_non_exhaustive()
    }
}

impl JobApi {
    /// The service over this node's state client and event hub.
    pub fn new(client: Arc<dyn StateClient>, hub: EventHub) -> Self {
        Self { client, hub }
    }

    async fn current(&self, id: JobId) -> Result<v1::Job, Status> {
        let state = self.client.read().await.map_err(unavailable)?;
        let job = state
            .job(id)
            .ok_or_else(|| Status::not_found(format!("job_id: no job {id}")))?;
        Ok(convert::job(job, self.hub.progress(id).as_ref()))
    }
}

fn parse_job_id(text: &str) -> Result<JobId, Status> {
    text.parse()
        .map_err(|error| Status::invalid_argument(format!("job_id: {error}")))
}

fn model_kind(kind: i32) -> Result<ModelKind, Status> {
    use v1::ModelKind as P;
    let kind = match P::try_from(kind) {
        Ok(P::GaussianCopula) => ModelKind::GaussianCopula,
        Ok(P::Ctgan) => ModelKind::Ctgan,
        Ok(P::CopulaGan) => ModelKind::CopulaGan,
        Ok(P::Tvae) => ModelKind::Tvae,
        Ok(P::TabDdpm) => ModelKind::TabDdpm,
        Ok(P::TabularArgn) => ModelKind::TabularArgn,
        Ok(P::Mst) => ModelKind::Mst,
        Ok(other) => {
            return Err(Status::invalid_argument(format!(
                "model_kind: {} cannot be trained on a table",
                other.as_str_name()
            )));
        }
        Err(_) => {
            return Err(Status::invalid_argument(format!(
                "model_kind: {kind} is not a model kind"
            )));
        }
    };
    Ok(kind)
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<v1::ProgressEvent, Status>> + Send>>;

#[tonic::async_trait]
impl JobService for JobApi {
    async fn submit_training(
        &self,
        request: Request<v1::SubmitTrainingRequest>,
    ) -> Result<Response<v1::SubmitTrainingResponse>, Status> {
        let request = request.into_inner();
        let dataset: DatasetId = request
            .dataset_id
            .parse()
            .map_err(|error| Status::invalid_argument(format!("dataset_id: {error}")))?;
        let kind = model_kind(request.model_kind)?;
        let config: serde_json::Value = if request.hyperparameters_json.trim().is_empty() {
            serde_json::json!({})
        } else {
            serde_json::from_str(&request.hyperparameters_json).map_err(|error| {
                Status::invalid_argument(format!("hyperparameters_json: {error}"))
            })?
        };
        if !config.is_object() {
            return Err(Status::invalid_argument(
                "hyperparameters_json: must be a JSON object",
            ));
        }
        if request.privacy.is_some_and(|p| p.epsilon > 0.0) {
            return Err(Status::invalid_argument(
                "privacy: differentially private training is not offered through the cluster \
                 yet (its budget reservation is not wired to jobs); use `mirage synth --epsilon`",
            ));
        }
        let state = self.client.read().await.map_err(unavailable)?;
        let record = state.dataset(dataset).ok_or_else(|| {
            Status::not_found(format!("dataset_id: no dataset {dataset} is registered"))
        })?;
        let id = JobId::new();
        let model_id = ModelId::new();
        let payload = serde_json::json!({
            "dataset": record.spec.url,
            "dataset_id": dataset.to_string(),
            "model": kind.name(),
            "config": config,
            "model_id": model_id.to_string(),
            "checkpoint_every": 1,
        });
        let spec = JobSpec {
            id,
            tenant: default_tenant(),
            kind: JobKind::Train,
            priority: request.priority,
            resources: Resources::default(),
            payload,
        };
        match self
            .client
            .apply(Command::SubmitJob(spec))
            .await
            .map_err(unavailable)?
        {
            Ok(_) => {}
            Err(refusal) => return Err(Status::failed_precondition(refusal.to_string())),
        }
        tracing::info!(job = %id, %dataset, model = kind.name(), "training job submitted");
        Ok(Response::new(v1::SubmitTrainingResponse {
            job: Some(self.current(id).await?),
        }))
    }

    async fn get_job(
        &self,
        request: Request<v1::GetJobRequest>,
    ) -> Result<Response<v1::GetJobResponse>, Status> {
        let id = parse_job_id(&request.into_inner().job_id)?;
        Ok(Response::new(v1::GetJobResponse {
            job: Some(self.current(id).await?),
        }))
    }

    async fn list_jobs(
        &self,
        request: Request<v1::ListJobsRequest>,
    ) -> Result<Response<v1::ListJobsResponse>, Status> {
        let request = request.into_inner();
        let page = request.page.unwrap_or_default();
        let size = match page.page_size {
            0 => 100,
            n => usize::try_from(n).unwrap_or(MAX_PAGE).min(MAX_PAGE),
        };
        let after: Option<JobId> =
            if page.page_token.is_empty() {
                None
            } else {
                Some(page.page_token.parse().map_err(|error| {
                    Status::invalid_argument(format!("page.page_token: {error}"))
                })?)
            };
        let state = self.client.read().await.map_err(unavailable)?;
        let mut jobs = Vec::new();
        let mut next_page_token = String::new();
        let range = match after {
            Some(after) => state
                .jobs()
                .range((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded)),
            None => state.jobs().range(..),
        };
        for (id, job) in range {
            let view = convert::job(job, self.hub.progress(*id).as_ref());
            if request.kind != 0 && view.kind != request.kind {
                continue;
            }
            if request.status != 0 && view.status != request.status {
                continue;
            }
            if !request.dataset_id.is_empty() && view.dataset_id != request.dataset_id {
                continue;
            }
            if jobs.len() == size {
                next_page_token = jobs
                    .last()
                    .map(|last: &v1::Job| last.id.clone())
                    .unwrap_or_default();
                break;
            }
            jobs.push(view);
        }
        Ok(Response::new(v1::ListJobsResponse {
            jobs,
            next_page_token,
        }))
    }

    async fn cancel_job(
        &self,
        request: Request<v1::CancelJobRequest>,
    ) -> Result<Response<v1::CancelJobResponse>, Status> {
        let id = parse_job_id(&request.into_inner().job_id)?;
        match self
            .client
            .apply(Command::Cancel { job: id })
            .await
            .map_err(unavailable)?
        {
            Ok(_) => {}
            Err(refusal) => return Err(Status::failed_precondition(refusal.to_string())),
        }
        Ok(Response::new(v1::CancelJobResponse {
            job: Some(self.current(id).await?),
        }))
    }

    type WatchJobStream = WatchStream;

    async fn watch_job(
        &self,
        request: Request<v1::WatchJobRequest>,
    ) -> Result<Response<Self::WatchJobStream>, Status> {
        let id = parse_job_id(&request.into_inner().job_id)?;
        // Fail fast on an unknown job.
        self.current(id).await?;
        let api = self.clone();
        let (sender, receiver) = tokio::sync::mpsc::channel(16);
        tokio::spawn(async move {
            let mut last: Option<(i32, u64, Option<u64>, String)> = None;
            let mut ticks = tokio::time::interval(WATCH_POLL);
            loop {
                ticks.tick().await;
                let event = match api.current(id).await {
                    Ok(job) => job,
                    Err(status) => {
                        let _ = sender.send(Err(status)).await;
                        return;
                    }
                };
                let progress = api.hub.progress(id).unwrap_or_default();
                let key = (
                    event.status,
                    progress.step,
                    progress.epoch,
                    event.checkpoint.clone().unwrap_or_default(),
                );
                if last.as_ref() != Some(&key) {
                    last = Some(key);
                    let message = v1::ProgressEvent {
                        job_id: event.id.clone(),
                        status: event.status,
                        progress: event.progress,
                        epoch: progress
                            .epoch
                            .map_or(0, |epoch| u32::try_from(epoch).unwrap_or(u32::MAX)),
                        step: progress.step,
                        losses: progress.losses.iter().cloned().collect(),
                        rows_per_second: 0.0,
                        eta_seconds: None,
                        node_id: event.node_id.unwrap_or(0),
                        message: event.error.clone().unwrap_or(progress.message),
                        at_ms: chrono::Utc::now().timestamp_millis(),
                    };
                    if sender.send(Ok(message)).await.is_err() {
                        return;
                    }
                }
                let terminal = matches!(
                    v1::JobStatus::try_from(event.status),
                    Ok(v1::JobStatus::Succeeded | v1::JobStatus::Failed | v1::JobStatus::Cancelled)
                );
                if terminal {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(receiver),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mirage_actors::{DatasetSpec, LocalState};
    use mirage_core::TenantId;

    fn api() -> (JobApi, Arc<LocalState>) {
        let state = Arc::new(LocalState::default());
        (
            JobApi::new(state.clone() as Arc<dyn StateClient>, EventHub::new()),
            state,
        )
    }

    fn training(
        dataset: &str,
        kind: v1::ModelKind,
        json: &str,
    ) -> Request<v1::SubmitTrainingRequest> {
        Request::new(v1::SubmitTrainingRequest {
            dataset_id: dataset.to_owned(),
            model_kind: kind as i32,
            hyperparameters_json: json.to_owned(),
            privacy: None,
            priority: 0,
        })
    }

    async fn refusal(api: &JobApi, request: Request<v1::SubmitTrainingRequest>) -> Status {
        api.submit_training(request).await.expect_err("refused")
    }

    #[tokio::test]
    async fn every_bad_field_of_a_request_is_named() {
        let (api, state) = api();
        let dataset = DatasetId::new();
        state
            .apply(Command::RegisterDataset(DatasetSpec {
                id: dataset,
                tenant: TenantId::new(),
                name: "adult".into(),
                url: "file:///adult.csv".into(),
            }))
            .await
            .expect("state answers")
            .expect("registered");
        let known = dataset.to_string();
        let cases = [
            (training("not-an-id", v1::ModelKind::Tvae, ""), "dataset_id"),
            (
                training(&DatasetId::new().to_string(), v1::ModelKind::Tvae, ""),
                "dataset_id: no dataset",
            ),
            (
                training(&known, v1::ModelKind::Unspecified, ""),
                "model_kind",
            ),
            (training(&known, v1::ModelKind::Dgan, ""), "model_kind"),
            (
                training(&known, v1::ModelKind::Tvae, "{oops"),
                "hyperparameters_json",
            ),
            (
                training(&known, v1::ModelKind::Tvae, "[1]"),
                "hyperparameters_json",
            ),
        ];
        for (request, field) in cases {
            let status = refusal(&api, request).await;
            assert!(status.message().starts_with(field), "{field}: {status:?}");
        }
        let mut private = training(&known, v1::ModelKind::Tvae, "");
        private.get_mut().privacy = Some(v1::PrivacySettings {
            epsilon: 1.0,
            delta: 1e-5,
        });
        let status = refusal(&api, private).await;
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().starts_with("privacy"), "{status:?}");

        for bad in ["", "job_nothex"] {
            let status = api
                .get_job(Request::new(v1::GetJobRequest {
                    job_id: bad.to_owned(),
                }))
                .await
                .expect_err("bad id");
            assert!(status.message().starts_with("job_id"), "{status:?}");
        }
        let status = api
            .get_job(Request::new(v1::GetJobRequest {
                job_id: JobId::new().to_string(),
            }))
            .await
            .expect_err("unknown");
        assert_eq!(status.code(), tonic::Code::NotFound);
        let status = api
            .list_jobs(Request::new(v1::ListJobsRequest {
                page: Some(v1::PageRequest {
                    page_size: 1,
                    page_token: "garbage".into(),
                }),
                ..v1::ListJobsRequest::default()
            }))
            .await
            .expect_err("bad token");
        assert!(
            status.message().starts_with("page.page_token"),
            "{status:?}"
        );
    }

    #[tokio::test]
    async fn a_submitted_job_is_listed_page_by_page_and_cancelled() {
        let (api, state) = api();
        let dataset = DatasetId::new();
        state
            .apply(Command::RegisterDataset(DatasetSpec {
                id: dataset,
                tenant: TenantId::new(),
                name: "adult".into(),
                url: "file:///adult.csv".into(),
            }))
            .await
            .expect("state answers")
            .expect("registered");
        let mut ids = Vec::new();
        for _ in 0..3 {
            let job = api
                .submit_training(training(&dataset.to_string(), v1::ModelKind::Tvae, "{}"))
                .await
                .expect("submitted")
                .into_inner()
                .job
                .expect("a job");
            assert_eq!(job.status, v1::JobStatus::Queued as i32);
            assert_eq!(job.dataset_id, dataset.to_string());
            ids.push(job.id);
        }
        let mut seen = Vec::new();
        let mut token = String::new();
        loop {
            let page = api
                .list_jobs(Request::new(v1::ListJobsRequest {
                    page: Some(v1::PageRequest {
                        page_size: 2,
                        page_token: token.clone(),
                    }),
                    ..v1::ListJobsRequest::default()
                }))
                .await
                .expect("listed")
                .into_inner();
            assert!(page.jobs.len() <= 2);
            seen.extend(page.jobs.into_iter().map(|job| job.id));
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        seen.sort();
        ids.sort();
        assert_eq!(seen, ids);
        let cancelled = api
            .cancel_job(Request::new(v1::CancelJobRequest {
                job_id: ids[0].clone(),
            }))
            .await
            .expect("cancelled")
            .into_inner()
            .job
            .expect("a job");
        assert_eq!(cancelled.status, v1::JobStatus::Cancelled as i32);
    }
}
