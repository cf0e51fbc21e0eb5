//! `JobService`: submit training jobs, read, list and cancel the caller's jobs, watch
//! them. Every call is scoped to the caller's tenant: another tenant's job answers like a
//! missing one.
//!
//! Privacy: a dataset with a privacy budget only trains with differential privacy, and a
//! private training job reserves its ε from the budget before it is queued (refused with
//! `BUDGET_EXCEEDED` when it does not fit). The job commits what it actually spent when it
//! succeeds; a failed or cancelled job's reservation is released by the state machine.

use std::pin::Pin;
use std::time::Duration;

use mirage_actors::{Command, Job, JobSpec, Resources};
use mirage_core::records::{JobKind, ModelKind};
use mirage_core::{DatasetId, JobId, ModelId};
use mirage_privacy::Spend;
use mirage_proto::v1;
use mirage_proto::v1::job_service_server::JobService;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::convert;
use crate::gateway::access::parse_id;
use crate::gateway::{Caller, Gateway, Need, caller, paging, status};

/// How often `WatchJob` looks at the job.
const WATCH_POLL: Duration = Duration::from_millis(250);

/// The job service of one node.
#[derive(Debug, Clone)]
pub struct JobApi {
    gateway: Gateway,
}

impl JobApi {
    /// The service over `gateway`.
    pub fn new(gateway: Gateway) -> Self {
        Self { gateway }
    }

    /// The caller's job `id`, waiting briefly for one just written through another node.
    async fn job_for(&self, caller: &Caller, id: JobId) -> Result<Job, Status> {
        self.gateway
            .read_until(|state| {
                state
                    .job(id)
                    .filter(|j| caller.owns(j.spec.tenant))
                    .cloned()
            })
            .await?
            .ok_or_else(|| status::not_found(format!("job_id: no job {id}")))
    }

    async fn current(&self, caller: &Caller, id: JobId) -> Result<v1::Job, Status> {
        let job = self.job_for(caller, id).await?;
        Ok(convert::job(&job, self.gateway.hub().progress(id).as_ref()))
    }
}

fn parse_job_id(text: &str) -> Result<JobId, Status> {
    parse_id("job_id", text)
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
            return Err(status::invalid(
                "model_kind",
                format!("{} cannot be trained on a table", other.as_str_name()),
            ));
        }
        Err(_) => {
            return Err(status::invalid(
                "model_kind",
                format!("{kind} is not a model kind"),
            ));
        }
    };
    Ok(kind)
}

/// The privacy section of a private training job's model config, after checking the
/// request against the model family and the dataset's budget.
fn privacy_section(
    settings: &v1::PrivacySettings,
    kind: ModelKind,
    budget: Option<Spend>,
) -> Result<(serde_json::Value, Spend), Status> {
    if !(settings.epsilon.is_finite() && settings.epsilon > 0.0) {
        return Err(status::invalid(
            "privacy.epsilon",
            "must be a positive number",
        ));
    }
    if !crate::dp_run::supports_dp(kind) {
        return Err(status::invalid(
            "privacy",
            format!(
                "{} cannot train with differential privacy; use MST, TabularARGN, TVAE or CTGAN",
                kind.name()
            ),
        ));
    }
    let Some(budget) = budget else {
        return Err(status::precondition(
            "privacy: the dataset has no privacy budget; an admin sets one with PrivacyService.SetBudget first",
        ));
    };
    let delta = if settings.delta > 0.0 {
        settings.delta
    } else {
        budget.delta
    };
    if !(delta > 0.0 && delta < 1.0) {
        return Err(status::invalid(
            "privacy.delta",
            "must be between 0 and 1 (exclusive)",
        ));
    }
    let section = serde_json::json!({
        "epsilon": settings.epsilon,
        "delta": delta,
    });
    Ok((section, Spend::new(settings.epsilon, delta)))
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<v1::ProgressEvent, Status>> + Send>>;

#[tonic::async_trait]
impl JobService for JobApi {
    async fn submit_training(
        &self,
        request: Request<v1::SubmitTrainingRequest>,
    ) -> Result<Response<v1::SubmitTrainingResponse>, Status> {
        let caller = caller(&request)?;
        caller.require(Need::Write, "training a model")?;
        let request = request.into_inner();
        let dataset: DatasetId = parse_id("dataset_id", &request.dataset_id)?;
        let kind = model_kind(request.model_kind)?;
        let mut config: serde_json::Value = if request.hyperparameters_json.trim().is_empty() {
            serde_json::json!({})
        } else {
            serde_json::from_str(&request.hyperparameters_json)
                .map_err(|error| status::invalid("hyperparameters_json", error))?
        };
        if !config.is_object() {
            return Err(status::invalid(
                "hyperparameters_json",
                "must be a JSON object",
            ));
        }
        if config.get("privacy").is_some() {
            return Err(status::invalid(
                "hyperparameters_json",
                "`privacy` is set through the request's `privacy` field, not the hyperparameters",
            ));
        }
        let mut record = self.gateway.dataset_for(&caller, dataset).await?;
        if record.rows.is_none() {
            // Its profile may have been recorded through another node a moment ago.
            if let Some(newer) = self
                .gateway
                .read_until(|state| state.dataset(dataset).filter(|d| d.rows.is_some()).cloned())
                .await?
            {
                record = newer;
            }
        }
        if record.rows.is_none() {
            return Err(status::precondition(format!(
                "dataset_id: dataset {dataset} is still being ingested; wait for its ingest job"
            )));
        }
        let budget = self
            .gateway
            .read(|state| state.ledger(dataset).map(mirage_privacy::Ledger::budget))?;
        let id = JobId::new();
        let reservation = match (&request.privacy, budget) {
            (Some(settings), budget) if settings.epsilon != 0.0 || budget.is_some() => {
                let (section, spend) = privacy_section(settings, kind, budget)?;
                config["privacy"] = section;
                Some(spend)
            }
            (None, Some(budget)) => {
                return Err(status::precondition(format!(
                    "privacy: dataset {dataset} is protected by a privacy budget (ε = {}); train with `privacy` set",
                    budget.epsilon
                )));
            }
            _ => None,
        };
        if let Some(spend) = reservation {
            self.gateway
                .apply(Command::Reserve {
                    dataset,
                    request: id.to_string(),
                    spend,
                })
                .await?;
        }
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
            tenant: caller.tenant,
            kind: JobKind::Train,
            priority: request.priority,
            resources: Resources::default(),
            payload,
        };
        if let Err(refused) = self.gateway.apply(Command::SubmitJob(spec)).await {
            if reservation.is_some() {
                let _ = self
                    .gateway
                    .apply(Command::Release {
                        dataset,
                        request: id.to_string(),
                    })
                    .await;
            }
            return Err(refused);
        }
        tracing::info!(job = %id, %dataset, model = kind.name(), tenant = %caller.tenant, private = reservation.is_some(), "training job submitted");
        Ok(Response::new(v1::SubmitTrainingResponse {
            job: Some(self.current(&caller, id).await?),
        }))
    }

    async fn get_job(
        &self,
        request: Request<v1::GetJobRequest>,
    ) -> Result<Response<v1::GetJobResponse>, Status> {
        let caller = caller(&request)?;
        let id = parse_job_id(&request.get_ref().job_id)?;
        Ok(Response::new(v1::GetJobResponse {
            job: Some(self.current(&caller, id).await?),
        }))
    }

    async fn list_jobs(
        &self,
        request: Request<v1::ListJobsRequest>,
    ) -> Result<Response<v1::ListJobsResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let hub = self.gateway.hub().clone();
        let mut jobs = self.gateway.read(|state| {
            state
                .jobs()
                .values()
                .filter(|job| caller.owns(job.spec.tenant))
                .map(|job| {
                    (
                        job.submitted_at_ms,
                        convert::job(job, hub.progress(job.spec.id).as_ref()),
                    )
                })
                .filter(|(_, view)| request.kind == 0 || view.kind == request.kind)
                .filter(|(_, view)| request.status == 0 || view.status == request.status)
                .filter(|(_, view)| {
                    request.dataset_id.is_empty() || view.dataset_id == request.dataset_id
                })
                .collect::<Vec<_>>()
        })?;
        // Newest first; ids break ties so pages are stable.
        jobs.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
        let jobs = jobs.into_iter().map(|(_, job)| job).collect();
        let (jobs, next_page_token) = paging::page(jobs, request.page.as_ref())?;
        Ok(Response::new(v1::ListJobsResponse {
            jobs,
            next_page_token,
        }))
    }

    async fn cancel_job(
        &self,
        request: Request<v1::CancelJobRequest>,
    ) -> Result<Response<v1::CancelJobResponse>, Status> {
        let caller = caller(&request)?;
        caller.require(Need::Write, "cancelling a job")?;
        let id = parse_job_id(&request.get_ref().job_id)?;
        let job = self.job_for(&caller, id).await?;
        if !job.state.is_terminal() {
            self.gateway
                .apply_visible(Command::Cancel { job: id }, |state| {
                    state.job(id).is_some_and(|j| j.state.is_terminal())
                })
                .await?;
        }
        Ok(Response::new(v1::CancelJobResponse {
            job: Some(self.current(&caller, id).await?),
        }))
    }

    type WatchJobStream = WatchStream;

    async fn watch_job(
        &self,
        request: Request<v1::WatchJobRequest>,
    ) -> Result<Response<Self::WatchJobStream>, Status> {
        let caller = caller(&request)?;
        let id = parse_job_id(&request.get_ref().job_id)?;
        // Fail fast on an unknown job.
        self.current(&caller, id).await?;
        let api = self.clone();
        let (sender, receiver) = tokio::sync::mpsc::channel(16);
        tokio::spawn(async move {
            let mut last: Option<(i32, u64, Option<u64>, String)> = None;
            let mut ticks = tokio::time::interval(WATCH_POLL);
            loop {
                ticks.tick().await;
                let event = match api.current(&caller, id).await {
                    Ok(job) => job,
                    Err(status) => {
                        let _ = sender.send(Err(status)).await;
                        return;
                    }
                };
                let progress = api.gateway.hub().progress(id).unwrap_or_default();
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
    use crate::gateway::testing::{TestGateway, request};
    use mirage_actors::{DatasetSpec, Role};

    fn training(dataset: &str, kind: v1::ModelKind, json: &str) -> v1::SubmitTrainingRequest {
        v1::SubmitTrainingRequest {
            dataset_id: dataset.to_owned(),
            model_kind: kind as i32,
            hyperparameters_json: json.to_owned(),
            privacy: None,
            priority: 0,
        }
    }

    /// A dataset of `caller`'s tenant, registered as if ingested (with a row count).
    async fn ingested(test: &TestGateway, caller: &Caller) -> anyhow::Result<DatasetId> {
        let dataset = DatasetId::new();
        test.gateway
            .apply(Command::RegisterDataset(DatasetSpec {
                id: dataset,
                tenant: caller.tenant,
                name: format!("adult-{dataset}"),
                url: "file:///adult.csv".into(),
            }))
            .await?;
        test.gateway
            .apply(Command::SetDatasetProfile {
                dataset,
                schema: None,
                profile: None,
                rows: Some(100),
            })
            .await?;
        Ok(dataset)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_bad_field_of_a_request_is_named() -> anyhow::Result<()> {
        let test = TestGateway::start().await?;
        let api = JobApi::new(test.gateway.clone());
        let caller = test.caller(1, Role::Operator).await?;
        let known = ingested(&test, &caller).await?.to_string();
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
            (
                training(&known, v1::ModelKind::Tvae, r#"{"privacy": {}}"#),
                "hyperparameters_json",
            ),
        ];
        for (message, field) in cases {
            let status = api
                .submit_training(request(&caller, message))
                .await
                .expect_err("refused");
            assert!(status.message().starts_with(field), "{field}: {status:?}");
        }
        // Private training needs a budget, then a model that can train privately.
        let mut private = training(&known, v1::ModelKind::Tvae, "");
        private.privacy = Some(v1::PrivacySettings {
            epsilon: 1.0,
            delta: 1e-5,
        });
        let status = api
            .submit_training(request(&caller, private.clone()))
            .await
            .expect_err("no budget");
        assert_eq!(status.code(), tonic::Code::FailedPrecondition);
        assert!(status.message().contains("no privacy budget"), "{status:?}");
        private.model_kind = v1::ModelKind::GaussianCopula as i32;
        test.gateway
            .apply(Command::SetBudget {
                dataset: known.parse()?,
                budget: Spend::new(2.0, 1e-5),
            })
            .await?;
        let status = api
            .submit_training(request(&caller, private))
            .await
            .expect_err("not a dp model");
        assert!(status.message().starts_with("privacy"), "{status:?}");

        for bad in ["", "job_nothex"] {
            let status = api
                .get_job(request(
                    &caller,
                    v1::GetJobRequest {
                        job_id: bad.to_owned(),
                    },
                ))
                .await
                .expect_err("bad id");
            assert!(status.message().starts_with("job_id"), "{status:?}");
        }
        let status = api
            .get_job(request(
                &caller,
                v1::GetJobRequest {
                    job_id: JobId::new().to_string(),
                },
            ))
            .await
            .expect_err("unknown");
        assert_eq!(status.code(), tonic::Code::NotFound);
        let status = api
            .list_jobs(request(
                &caller,
                v1::ListJobsRequest {
                    page: Some(v1::PageRequest {
                        page_size: 1,
                        page_token: "garbage".into(),
                    }),
                    ..v1::ListJobsRequest::default()
                },
            ))
            .await
            .expect_err("bad token");
        assert!(
            status.message().starts_with("page.page_token"),
            "{status:?}"
        );
        test.stop().await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_budget_is_reserved_before_training_and_overspending_is_refused() -> anyhow::Result<()>
    {
        let test = TestGateway::start().await?;
        let api = JobApi::new(test.gateway.clone());
        let caller = test.caller(1, Role::Operator).await?;
        let dataset = ingested(&test, &caller).await?;
        test.gateway
            .apply(Command::SetBudget {
                dataset,
                budget: Spend::new(1.5, 1e-5),
            })
            .await?;
        // Without privacy, a protected dataset refuses training.
        let plain = training(&dataset.to_string(), v1::ModelKind::Mst, "");
        let status = api
            .submit_training(request(&caller, plain.clone()))
            .await
            .expect_err("needs dp");
        assert!(status.message().contains("privacy budget"), "{status:?}");
        let mut private = plain;
        private.privacy = Some(v1::PrivacySettings {
            epsilon: 1.0,
            delta: 0.0,
        });
        let job = api
            .submit_training(request(&caller, private.clone()))
            .await?
            .into_inner()
            .job
            .expect("a job");
        let reserved = test
            .gateway
            .read(|state| state.ledger(dataset).map(|l| l.reserved().epsilon))?;
        assert_eq!(reserved, Some(1.0));
        let status = api
            .submit_training(request(&caller, private))
            .await
            .expect_err("over budget");
        assert_eq!(
            status
                .metadata()
                .get(crate::gateway::status::ERROR_CODE_KEY)
                .and_then(|v| v.to_str().ok()),
            Some("ERROR_CODE_BUDGET_EXCEEDED"),
            "{status:?}"
        );
        // Cancelling gives the reservation back.
        api.cancel_job(request(&caller, v1::CancelJobRequest { job_id: job.id }))
            .await?;
        let reserved = test
            .gateway
            .read(|state| state.ledger(dataset).map(|l| l.reserved().epsilon))?;
        assert_eq!(reserved, Some(0.0));
        test.stop().await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn jobs_are_listed_page_by_page_cancelled_and_hidden_from_other_tenants()
    -> anyhow::Result<()> {
        let test = TestGateway::start().await?;
        let api = JobApi::new(test.gateway.clone());
        let caller = test.caller(1, Role::Operator).await?;
        let other = test.caller(2, Role::Admin).await?;
        let analyst = Caller::new(caller.tenant, Role::Analyst, "reader");
        let dataset = ingested(&test, &caller).await?;
        // Nobody trains on another tenant's dataset, and analysts train nothing.
        let status = api
            .submit_training(request(
                &other,
                training(&dataset.to_string(), v1::ModelKind::Tvae, ""),
            ))
            .await
            .expect_err("not theirs");
        assert_eq!(status.code(), tonic::Code::NotFound);
        let status = api
            .submit_training(request(
                &analyst,
                training(&dataset.to_string(), v1::ModelKind::Tvae, ""),
            ))
            .await
            .expect_err("read only");
        assert_eq!(status.code(), tonic::Code::PermissionDenied);
        let mut ids = Vec::new();
        for _ in 0..3 {
            // A large epoch count keeps the jobs from finishing during the test.
            let job = api
                .submit_training(request(
                    &caller,
                    training(
                        &dataset.to_string(),
                        v1::ModelKind::Tvae,
                        r#"{"training": {"epochs": 100000}}"#,
                    ),
                ))
                .await?
                .into_inner()
                .job
                .expect("a job");
            assert_eq!(job.dataset_id, dataset.to_string());
            ids.push(job.id);
        }
        let mut seen = Vec::new();
        let mut token = String::new();
        loop {
            let page = api
                .list_jobs(request(
                    &caller,
                    v1::ListJobsRequest {
                        kind: v1::JobKind::Train as i32,
                        page: Some(v1::PageRequest {
                            page_size: 2,
                            page_token: token.clone(),
                        }),
                        ..v1::ListJobsRequest::default()
                    },
                ))
                .await?
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
        let theirs = api
            .list_jobs(request(&other, v1::ListJobsRequest::default()))
            .await?
            .into_inner();
        assert!(theirs.jobs.is_empty(), "{theirs:?}");
        for refused in [
            api.get_job(request(
                &other,
                v1::GetJobRequest {
                    job_id: ids[0].clone(),
                },
            ))
            .await
            .map(|_| ()),
            api.cancel_job(request(
                &other,
                v1::CancelJobRequest {
                    job_id: ids[0].clone(),
                },
            ))
            .await
            .map(|_| ()),
        ] {
            assert_eq!(refused.expect_err("hidden").code(), tonic::Code::NotFound);
        }
        for id in &ids {
            let cancelled = api
                .cancel_job(request(
                    &caller,
                    v1::CancelJobRequest { job_id: id.clone() },
                ))
                .await?
                .into_inner()
                .job
                .expect("a job");
            // Its source does not exist, so a job may have failed before the cancel came.
            let ended = [
                v1::JobStatus::Cancelled as i32,
                v1::JobStatus::Failed as i32,
            ];
            assert!(ended.contains(&cancelled.status), "{cancelled:?}");
        }
        test.stop().await
    }
}
