//! The whole public flow against three `mirage node` processes, as a Rust client sees it:
//! upload Adult by Arrow Flight to one node, read its profile from another, train on a
//! third, generate with a condition, fetch the quality report, and pull the rows by Flight
//! from a node other than the one that produced them. Every call carries the API key the
//! bootstrapping node wrote for the default tenant.
//!
//! The nodes do not share an object store: each keeps its own, and a job or a reader that
//! needs an object another node stored fetches it from that node over Flight.

mod cluster;

use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow_flight::{FlightClient, Ticket};
use cluster::{Layout, LocalCluster, bootstrap_key, channel, runtime, wait_until_formed};
use futures::StreamExt;
use mirage_proto::v1;
use mirage_proto::v1::dataset_service_client::DatasetServiceClient;
use mirage_proto::v1::generation_service_client::GenerationServiceClient;
use mirage_proto::v1::job_service_client::JobServiceClient;
use mirage_proto::v1::model_service_client::ModelServiceClient;
use mirage_proto::v1::quality_service_client::QualityServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

const JOB_TIMEOUT: Duration = Duration::from_secs(180);

type Authed = InterceptedService<Channel, KeyInterceptor>;

/// Adds the API key to every call.
#[derive(Clone)]
struct KeyInterceptor(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for KeyInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert("x-api-key", self.0.clone());
        Ok(request)
    }
}

fn authed(cluster: &LocalCluster, id: u64, key: &str) -> Authed {
    InterceptedService::new(
        channel(&cluster.addr(id)),
        KeyInterceptor(key.parse().expect("an ascii key")),
    )
}

async fn flight(cluster: &LocalCluster, id: u64, key: &str) -> FlightClient {
    let port = cluster.ports[usize::try_from(id).expect("id") - 1].flight;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect to Flight");
    let mut client = FlightClient::new(channel);
    client.add_header("x-api-key", key).expect("header");
    client
}

async fn wait_job(jobs: &mut JobServiceClient<Authed>, id: &str) -> v1::Job {
    let deadline = Instant::now() + JOB_TIMEOUT;
    loop {
        let job = jobs
            .get_job(v1::GetJobRequest {
                job_id: id.to_owned(),
            })
            .await
            .expect("get job")
            .into_inner()
            .job
            .expect("a job");
        let status = v1::JobStatus::try_from(job.status).expect("a status");
        match status {
            v1::JobStatus::Succeeded => return job,
            v1::JobStatus::Failed | v1::JobStatus::Cancelled => {
                panic!("job {id} ended {status:?}: {job:?}")
            }
            _ => {}
        }
        assert!(Instant::now() < deadline, "job {id} still {status:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The first `rows` rows of the committed Adult data as Arrow batches.
fn adult_batches(dir: &std::path::Path, rows: usize) -> Vec<RecordBatch> {
    let path = cluster::adult_sample(dir, rows);
    let table =
        mirage_data::read_table(&path, &mirage_data::ReadOptions::default()).expect("read adult");
    table.batches().to_vec()
}

#[test]
fn a_client_uploads_trains_generates_and_pulls_across_three_nodes() {
    let layout = Layout {
        shared_objects: false,
        ..Layout::nodes(3)
    };
    let cluster = LocalCluster::start(&layout);
    runtime().block_on(async {
        wait_until_formed(&cluster, Duration::from_secs(40)).await;
        let key = bootstrap_key(&cluster).await;

        // Upload through node 1's Flight.
        let batches = adult_batches(cluster.dir.path(), 2000);
        let mut uploader = flight(&cluster, 1, &key).await;
        let meta = cluster::upload(&mut uploader, "adult", batches).await;
        let dataset_id = meta["dataset_id"].as_str().expect("dataset id").to_owned();
        let ingest = meta["job_id"].as_str().expect("job id").to_owned();
        assert_eq!(meta["rows"], 2000);

        // The profile, read through node 2.
        let mut jobs2 = JobServiceClient::new(authed(&cluster, 2, &key));
        wait_job(&mut jobs2, &ingest).await;
        let dataset = DatasetServiceClient::new(authed(&cluster, 2, &key))
            .get_dataset(v1::GetDatasetRequest {
                dataset_id: dataset_id.clone(),
            })
            .await
            .expect("get dataset")
            .into_inner()
            .dataset
            .expect("a dataset");
        assert_eq!(dataset.rows, 2000);
        let profile = dataset.profile.expect("a profile");
        assert!(profile.columns.iter().any(|c| c.name == "age"));

        // Train through node 3.
        let mut jobs3 = JobServiceClient::new(authed(&cluster, 3, &key));
        let train = jobs3
            .submit_training(v1::SubmitTrainingRequest {
                dataset_id: dataset_id.clone(),
                model_kind: v1::ModelKind::GaussianCopula as i32,
                hyperparameters_json: String::new(),
                privacy: None,
                priority: 0,
            })
            .await
            .expect("submit training")
            .into_inner()
            .job
            .expect("a job");
        wait_job(&mut jobs3, &train.id).await;
        let models = ModelServiceClient::new(authed(&cluster, 1, &key))
            .list_models(v1::ListModelsRequest {
                dataset_id: dataset_id.clone(),
                page: None,
            })
            .await
            .expect("list models")
            .into_inner()
            .models;
        assert_eq!(models.len(), 1);

        // Generate with a condition.
        let mut generations = GenerationServiceClient::new(authed(&cluster, 2, &key));
        let submitted = generations
            .submit_generation(v1::SubmitGenerationRequest {
                rebalance: None,
                model_id: models[0].id.clone(),
                rows: 500,
                seed: Some(11),
                conditions: vec![v1::Condition {
                    column: "age".into(),
                    op: Some(v1::condition::Op::Gt(v1::Value {
                        kind: Some(v1::value::Kind::IntValue(65)),
                    })),
                }],
                mode: v1::GenerationMode::Batch as i32,
            })
            .await
            .expect("submit generation")
            .into_inner();
        let generate = submitted.job.expect("a job");
        let generated = wait_job(&mut jobs2, &generate.id).await;
        let producer = generated.node_id.expect("the node that ran it");

        // The report (the assessment follows the generation by itself).
        let deadline = Instant::now() + JOB_TIMEOUT;
        let report_id = loop {
            let generation = generations
                .get_generation(v1::GetGenerationRequest {
                    generation_id: submitted.generation_id.clone(),
                })
                .await
                .expect("get generation")
                .into_inner()
                .generation
                .expect("a generation");
            if !generation.report_id.is_empty() {
                break generation.report_id;
            }
            assert!(
                Instant::now() < deadline,
                "no report for {}",
                submitted.generation_id
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let report = QualityServiceClient::new(authed(&cluster, 3, &key))
            .get_report(v1::GetReportRequest { report_id })
            .await
            .expect("get report")
            .into_inner();
        let summary = report.summary.expect("a summary");
        assert!(
            summary.overall > 0.0 && summary.overall <= 1.0,
            "{summary:?}"
        );

        // A failed quality gate keeps the rows in until an admin (the bootstrap key is
        // one) releases them.
        if !summary.gate_passed {
            generations
                .release_generation(v1::ReleaseGenerationRequest {
                    generation_id: submitted.generation_id.clone(),
                })
                .await
                .expect("release");
        }

        // Pull the rows by Flight from a node that did not produce them.
        let puller = cluster
            .ids()
            .into_iter()
            .find(|id| *id != producer)
            .expect("another node");
        let mut reader = flight(&cluster, puller, &key).await;
        let mut stream = reader
            .do_get(Ticket::new(format!(
                "generation/{}",
                submitted.generation_id
            )))
            .await
            .expect("do_get");
        let mut rows = 0;
        while let Some(batch) = stream.next().await {
            let batch = batch.expect("a batch");
            let age = batch.column_by_name("age").expect("an age column");
            let age =
                arrow::compute::cast(age, &arrow::datatypes::DataType::Float64).expect("cast");
            let age = age.as_primitive::<arrow::datatypes::Float64Type>();
            for i in 0..age.len() {
                assert!(age.is_null(i) || age.value(i) > 65.0);
            }
            rows += batch.num_rows();
        }
        assert_eq!(
            rows, 500,
            "rows pulled from node {puller} (produced on {producer})"
        );
    });
}
