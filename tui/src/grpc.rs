//! The [`Source`] that talks to real nodes over gRPC: one channel per address, the
//! caller's credentials on every request, a `WatchJob` stream per running training job
//! (the only place losses appear), and caches of what does not change (reports).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mirage_proto::v1::cluster_service_client::ClusterServiceClient;
use mirage_proto::v1::dataset_service_client::DatasetServiceClient;
use mirage_proto::v1::generation_service_client::GenerationServiceClient;
use mirage_proto::v1::job_service_client::JobServiceClient;
use mirage_proto::v1::privacy_service_client::PrivacyServiceClient;
use mirage_proto::v1::quality_service_client::QualityServiceClient;
use mirage_proto::v1::{self, JobKind, JobStatus};
use tokio::task::JoinHandle;
use tokio_stream::StreamExt;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;

use crate::client::Source;
use crate::dialog::model_kind_name;
use crate::format::short_id;
use crate::snapshot::{Command, DatasetView, GenerationView, Report, Snapshot, generation_id_of};
use crate::tls::ClientTls;
use crate::{Error, Result};

/// How long to wait for a node to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Jobs per poll (the newest).
const JOB_PAGE: u32 = 200;
/// Ledger events kept per dataset (the latest).
const LEDGER_KEEP: usize = 50;
/// Ledger pages read per dataset and poll at most.
const LEDGER_PAGES: usize = 10;

/// How the console proves who it is.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    api_key: Option<MetadataValue<tonic::metadata::Ascii>>,
    secret: Option<MetadataValue<tonic::metadata::Ascii>>,
}

impl Credentials {
    /// An API key (preferred) or the cluster secret; blank values count as absent.
    pub fn new(api_key: Option<&str>, secret: Option<&str>) -> Result<Self> {
        let parse = |value: Option<&str>, variable| -> Result<_> {
            value
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| v.parse().map_err(|_| Error::Credentials { variable }))
                .transpose()
        };
        Ok(Self {
            api_key: parse(api_key, "MIRAGE_API_KEY")?,
            secret: parse(secret, "MIRAGE_CLUSTER_SECRET")?,
        })
    }

    /// `message` as a request carrying the credentials.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some(key) = &self.api_key {
            request.metadata_mut().insert("x-api-key", key.clone());
        } else if let Some(secret) = &self.secret {
            request
                .metadata_mut()
                .insert("x-mirage-cluster-secret", secret.clone());
        }
        request
    }
}

/// A running `WatchJob` stream.
#[derive(Debug)]
struct Watch {
    task: JoinHandle<()>,
}

/// The gRPC source.
#[derive(Debug)]
pub struct GrpcSource {
    credentials: Credentials,
    /// The scheme and TLS each address is dialled with.
    tls: ClientTls,
    channels: BTreeMap<String, Channel>,
    watches: BTreeMap<String, Watch>,
    /// Progress events the watch tasks received since the last poll.
    progress: Arc<Mutex<Vec<v1::ProgressEvent>>>,
    /// Generations whose report is read (complete: never asked again).
    finished: BTreeMap<String, (v1::Generation, Report)>,
}

impl Drop for GrpcSource {
    fn drop(&mut self) {
        for watch in self.watches.values() {
            watch.task.abort();
        }
    }
}

impl GrpcSource {
    /// A source that sends `credentials` with every call.
    pub fn new(credentials: Credentials) -> Self {
        Self {
            credentials,
            tls: ClientTls::default(),
            channels: BTreeMap::new(),
            watches: BTreeMap::new(),
            progress: Arc::new(Mutex::new(Vec::new())),
            finished: BTreeMap::new(),
        }
    }

    /// Dials every address, given or learned from the members, with `tls`.
    pub fn with_tls(mut self, tls: ClientTls) -> Self {
        self.tls = tls;
        self
    }

    async fn channel(&mut self, address: &str) -> Result<Channel> {
        if let Some(channel) = self.channels.get(address) {
            return Ok(channel.clone());
        }
        let endpoint = self
            .tls
            .endpoint(address)?
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT);
        let channel = endpoint.connect().await.map_err(|error| Error::Connect {
            address: address.to_owned(),
            reason: crate::error::chain(&error),
        })?;
        self.channels.insert(address.to_owned(), channel.clone());
        Ok(channel)
    }

    /// Forgets the channel of a node that failed, so the next poll connects afresh.
    fn forget(&mut self, address: &str, error: &Error) {
        if error.is_node_failure() {
            self.channels.remove(address);
        }
    }

    async fn poll_inner(&mut self, address: &str) -> Result<Snapshot> {
        let channel = self.channel(address).await?;
        let credentials = self.credentials.clone();
        let status = ClusterServiceClient::new(channel.clone())
            .get_cluster_status(credentials.request(v1::GetClusterStatusRequest {}))
            .await
            .map_err(|s| Error::rpc("GetClusterStatus", address, &s))?
            .into_inner()
            .status;
        let mut problems = Vec::new();
        let jobs = match JobServiceClient::new(channel.clone())
            .list_jobs(credentials.request(v1::ListJobsRequest {
                page: Some(v1::PageRequest {
                    page_size: JOB_PAGE,
                    page_token: String::new(),
                }),
                ..Default::default()
            }))
            .await
        {
            Ok(answer) => answer.into_inner().jobs,
            Err(status) => {
                let error = Error::rpc("ListJobs", address, &status);
                if error.is_node_failure() {
                    return Err(error);
                }
                problems.push(error.to_string());
                Vec::new()
            }
        };
        self.watch_training(&channel, &jobs);
        let datasets = datasets(&channel, &credentials, address, &mut problems).await;
        let generations = self
            .generations(&channel, &credentials, address, &jobs, &mut problems)
            .await;
        let progress = match self.progress.lock() {
            Ok(mut events) => std::mem::take(&mut *events),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        Ok(Snapshot {
            taken_at_ms: now_ms(),
            address: address.to_owned(),
            status,
            jobs,
            progress,
            datasets,
            generations,
            problems,
        })
    }

    /// Starts a `WatchJob` stream for each running or queued training job that has none.
    fn watch_training(&mut self, channel: &Channel, jobs: &[v1::Job]) {
        self.watches.retain(|_, watch| !watch.task.is_finished());
        for job in jobs {
            let active =
                job.status == JobStatus::Running as i32 || job.status == JobStatus::Queued as i32;
            if job.kind != JobKind::Train as i32 || !active || self.watches.contains_key(&job.id) {
                continue;
            }
            let mut client = JobServiceClient::new(channel.clone());
            let request = self.credentials.request(v1::WatchJobRequest {
                job_id: job.id.clone(),
            });
            let sink = Arc::clone(&self.progress);
            let task = tokio::spawn(async move {
                let Ok(answer) = client.watch_job(request).await else {
                    return;
                };
                let mut stream = answer.into_inner();
                while let Some(Ok(event)) = stream.next().await {
                    match sink.lock() {
                        Ok(mut events) => events.push(event),
                        Err(poisoned) => poisoned.into_inner().push(event),
                    }
                }
            });
            self.watches.insert(job.id.clone(), Watch { task });
        }
    }

    async fn generations(
        &mut self,
        channel: &Channel,
        credentials: &Credentials,
        address: &str,
        jobs: &[v1::Job],
        problems: &mut Vec<String>,
    ) -> Vec<GenerationView> {
        let mut views = Vec::new();
        for job in jobs.iter().filter(|j| j.kind == JobKind::Generate as i32) {
            let Some(generation_id) = generation_id_of(job) else {
                views.push(GenerationView {
                    job: job.clone(),
                    ..Default::default()
                });
                continue;
            };
            if let Some((generation, report)) = self.finished.get(&generation_id) {
                views.push(GenerationView {
                    job: job.clone(),
                    generation_id,
                    generation: Some(generation.clone()),
                    report: Some(report.clone()),
                });
                continue;
            }
            let generation = match GenerationServiceClient::new(channel.clone())
                .get_generation(credentials.request(v1::GetGenerationRequest {
                    generation_id: generation_id.clone(),
                }))
                .await
            {
                Ok(answer) => answer.into_inner().generation,
                Err(status) => {
                    problems.push(Error::rpc("GetGeneration", address, &status).to_string());
                    None
                }
            };
            let report_id = generation
                .as_ref()
                .map(|g| g.report_id.clone())
                .unwrap_or_default();
            let mut report = None;
            if !report_id.is_empty() {
                match QualityServiceClient::new(channel.clone())
                    .get_report(credentials.request(v1::GetReportRequest { report_id }))
                    .await
                {
                    Ok(answer) => report = Report::from_response(answer.into_inner()),
                    Err(status) if status.code() == tonic::Code::NotFound => {}
                    Err(status) => {
                        problems.push(Error::rpc("GetReport", address, &status).to_string());
                    }
                }
            }
            if let (Some(generation), Some(report)) = (&generation, &report) {
                self.finished
                    .insert(generation_id.clone(), (generation.clone(), report.clone()));
            }
            views.push(GenerationView {
                job: job.clone(),
                generation_id,
                generation,
                report,
            });
        }
        views
    }

    async fn execute_inner(&mut self, address: &str, command: &Command) -> Result<String> {
        let channel = self.channel(address).await?;
        let mut jobs = JobServiceClient::new(channel);
        match command {
            Command::Cancel { job_id } => {
                let job = jobs
                    .cancel_job(self.credentials.request(v1::CancelJobRequest {
                        job_id: job_id.clone(),
                    }))
                    .await
                    .map_err(|s| Error::rpc("CancelJob", address, &s))?
                    .into_inner()
                    .job
                    .unwrap_or_default();
                Ok(format!(
                    "job {} is {}",
                    short_id(job_id),
                    crate::format::job_status(job.status)
                ))
            }
            Command::Retry {
                job_id,
                dataset_id,
                model_kind,
            } => {
                let job = jobs
                    .submit_training(self.credentials.request(v1::SubmitTrainingRequest {
                        dataset_id: dataset_id.clone(),
                        model_kind: *model_kind as i32,
                        ..Default::default()
                    }))
                    .await
                    .map_err(|s| Error::rpc("SubmitTraining", address, &s))?
                    .into_inner()
                    .job
                    .unwrap_or_default();
                Ok(format!(
                    "retry of {}: {} training job {} queued",
                    short_id(job_id),
                    model_kind_name(*model_kind),
                    short_id(&job.id)
                ))
            }
        }
    }
}

impl Source for GrpcSource {
    async fn poll(&mut self, address: &str) -> Result<Snapshot> {
        let outcome = self.poll_inner(address).await;
        if let Err(error) = &outcome {
            self.forget(address, error);
        }
        outcome
    }

    async fn execute(&mut self, address: &str, command: &Command) -> Result<String> {
        let outcome = self.execute_inner(address, command).await;
        if let Err(error) = &outcome {
            self.forget(address, error);
        }
        outcome
    }
}

/// Every dataset with its budget and latest ledger events.
async fn datasets(
    channel: &Channel,
    credentials: &Credentials,
    address: &str,
    problems: &mut Vec<String>,
) -> Vec<DatasetView> {
    let list = match DatasetServiceClient::new(channel.clone())
        .list_datasets(credentials.request(v1::ListDatasetsRequest {
            page: Some(v1::PageRequest {
                page_size: 100,
                page_token: String::new(),
            }),
        }))
        .await
    {
        Ok(answer) => answer.into_inner().datasets,
        Err(status) => {
            problems.push(Error::rpc("ListDatasets", address, &status).to_string());
            return Vec::new();
        }
    };
    let mut privacy = PrivacyServiceClient::new(channel.clone());
    let mut views = Vec::new();
    for dataset in list {
        let budget = match privacy
            .get_budget(credentials.request(v1::GetBudgetRequest {
                dataset_id: dataset.id.clone(),
            }))
            .await
        {
            Ok(answer) => answer.into_inner().budget,
            Err(status) if status.code() == tonic::Code::NotFound => None,
            Err(status) => {
                problems.push(Error::rpc("GetBudget", address, &status).to_string());
                None
            }
        };
        let mut ledger = Vec::new();
        if budget.is_some() {
            let mut token = String::new();
            for _ in 0..LEDGER_PAGES {
                let answer = privacy
                    .list_ledger_events(credentials.request(v1::ListLedgerEventsRequest {
                        dataset_id: dataset.id.clone(),
                        page: Some(v1::PageRequest {
                            page_size: 100,
                            page_token: token.clone(),
                        }),
                    }))
                    .await;
                match answer {
                    Ok(answer) => {
                        let page = answer.into_inner();
                        ledger.extend(page.events);
                        token = page.next_page_token;
                        if token.is_empty() {
                            break;
                        }
                    }
                    Err(status) => {
                        problems.push(Error::rpc("ListLedgerEvents", address, &status).to_string());
                        break;
                    }
                }
            }
            if ledger.len() > LEDGER_KEEP {
                ledger.drain(..ledger.len() - LEDGER_KEEP);
            }
        }
        views.push(DatasetView {
            dataset,
            budget,
            ledger,
        });
    }
    views
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
