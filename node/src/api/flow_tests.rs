//! The public services end to end in one process: create a dataset from a file, profile
//! it, train, generate with a condition, assess, read the report and the rows — and the
//! refusals a caller of another tenant or a read-only role meets on each service.

use std::time::Duration;

use arrow::array::{Array, AsArray};
use mirage_actors::{JobState, Role};
use mirage_proto::v1;
use mirage_proto::v1::dataset_service_server::DatasetService;
use mirage_proto::v1::generation_service_server::GenerationService;
use mirage_proto::v1::job_service_server::JobService;
use mirage_proto::v1::model_service_server::ModelService;
use mirage_proto::v1::privacy_service_server::PrivacyService;
use mirage_proto::v1::quality_service_server::QualityService;
use tokio_stream::StreamExt;
use tonic::Code;

use super::{DatasetApi, GenerationApi, JobApi, ModelApi, PrivacyApi, QualityApi};
use crate::gateway::testing::{TestGateway, adult_sample, request, wait_for_job};

const JOB_TIMEOUT: Duration = Duration::from_secs(120);

fn decode(batch: &v1::RowBatch) -> anyhow::Result<arrow::array::RecordBatch> {
    let mut reader =
        arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(&batch.arrow_ipc), None)?;
    reader
        .next()
        .ok_or_else(|| anyhow::anyhow!("no batch in the message"))?
        .map_err(Into::into)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dataset_goes_from_file_to_rows_and_report() -> anyhow::Result<()> {
    let test = TestGateway::start().await?;
    let gateway = test.gateway.clone();
    let datasets = DatasetApi::new(gateway.clone());
    let jobs = JobApi::new(gateway.clone());
    let models = ModelApi::new(gateway.clone());
    let cache = crate::gateway::serving::ModelCache::new(
        mirage_core::config::ServingConfig::default(),
        gateway.storage().clone(),
        test.dir.path().join("serving-cache"),
    );
    let generations = GenerationApi::new(gateway.clone(), cache);
    let quality = QualityApi::new(gateway.clone());
    let privacy = PrivacyApi::new(gateway.clone());
    let operator = test.caller(1, Role::Operator).await?;
    let admin = mirage_actors::Role::Admin;
    let admin = crate::gateway::Caller::new(operator.tenant, admin, "admin");
    let analyst = crate::gateway::Caller::new(operator.tenant, Role::Analyst, "reader");
    let stranger = test.caller(2, Role::Admin).await?;
    let source = adult_sample(test.dir.path(), 2000)?;

    // Create and ingest.
    let created = datasets
        .create_dataset(request(
            &operator,
            v1::CreateDatasetRequest {
                name: "adult".into(),
                source: Some(v1::create_dataset_request::Source::Uri(
                    source.display().to_string(),
                )),
            },
        ))
        .await?
        .into_inner();
    let ingest = created.job.expect("the ingest job");
    let ended = wait_for_job(&gateway, ingest.id.parse()?, JOB_TIMEOUT).await?;
    assert!(matches!(ended, JobState::Succeeded { .. }), "{ended:?}");
    let dataset_id = created.dataset_id.clone();
    let dataset = datasets
        .get_dataset(request(
            &analyst,
            v1::GetDatasetRequest {
                dataset_id: dataset_id.clone(),
            },
        ))
        .await?
        .into_inner()
        .dataset
        .expect("a dataset");
    assert_eq!(dataset.rows, 2000);
    let schema = dataset.schema.expect("a schema");
    assert!(schema.columns.iter().any(|c| c.name == "age"), "{schema:?}");
    let profile = dataset.profile.expect("a profile");
    assert_eq!(profile.rows, 2000);
    assert_eq!(profile.columns.len(), schema.columns.len());
    // The same name twice is refused; so are readers creating datasets.
    let again = datasets
        .create_dataset(request(
            &operator,
            v1::CreateDatasetRequest {
                name: "adult".into(),
                source: Some(v1::create_dataset_request::Source::Uri(
                    source.display().to_string(),
                )),
            },
        ))
        .await
        .expect_err("taken");
    assert_eq!(again.code(), Code::AlreadyExists);
    let reader = datasets
        .create_dataset(request(
            &analyst,
            v1::CreateDatasetRequest {
                name: "mine".into(),
                source: Some(v1::create_dataset_request::Source::Uri("x.csv".into())),
            },
        ))
        .await
        .expect_err("read only");
    assert_eq!(reader.code(), Code::PermissionDenied);

    // Train a fast model.
    let job = jobs
        .submit_training(request(
            &operator,
            v1::SubmitTrainingRequest {
                dataset_id: dataset_id.clone(),
                model_kind: v1::ModelKind::GaussianCopula as i32,
                hyperparameters_json: String::new(),
                privacy: None,
                priority: 0,
            },
        ))
        .await?
        .into_inner()
        .job
        .expect("a job");
    let ended = wait_for_job(&gateway, job.id.parse()?, JOB_TIMEOUT).await?;
    assert!(matches!(ended, JobState::Succeeded { .. }), "{ended:?}");
    let listed = models
        .list_models(request(
            &analyst,
            v1::ListModelsRequest {
                dataset_id: dataset_id.clone(),
                page: None,
            },
        ))
        .await?
        .into_inner();
    assert_eq!(listed.models.len(), 1);
    let model = &listed.models[0];
    assert_eq!(model.version, 1);
    assert_eq!(model.job_id, job.id);
    assert!(!model.training_summary_json.is_empty());

    // Generate with a condition; the assessment follows by itself.
    let submitted = generations
        .submit_generation(request(
            &operator,
            v1::SubmitGenerationRequest {
                rebalance: None,
                model_id: model.id.clone(),
                rows: 500,
                seed: Some(7),
                conditions: vec![v1::Condition {
                    column: "age".into(),
                    op: Some(v1::condition::Op::Gt(v1::Value {
                        kind: Some(v1::value::Kind::IntValue(65)),
                    })),
                }],
                mode: v1::GenerationMode::Batch as i32,
            },
        ))
        .await?
        .into_inner();
    let generate = submitted.job.expect("a generate job");
    let ended = wait_for_job(&gateway, generate.id.parse()?, JOB_TIMEOUT).await?;
    assert!(matches!(ended, JobState::Succeeded { .. }), "{ended:?}");
    let report_id = {
        let deadline = std::time::Instant::now() + JOB_TIMEOUT;
        loop {
            let generation = generations
                .get_generation(request(
                    &analyst,
                    v1::GetGenerationRequest {
                        generation_id: submitted.generation_id.clone(),
                    },
                ))
                .await?
                .into_inner()
                .generation
                .expect("a generation");
            assert!(generation.rows_ready);
            if !generation.report_id.is_empty() {
                break generation.report_id;
            }
            anyhow::ensure!(std::time::Instant::now() < deadline, "no report");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let report = quality
        .get_report(request(
            &analyst,
            v1::GetReportRequest {
                report_id: report_id.clone(),
            },
        ))
        .await?
        .into_inner();
    let summary = report.summary.expect("a summary");
    assert!(
        summary.overall > 0.0 && summary.overall <= 1.0,
        "{summary:?}"
    );
    assert!(!report.column_scores.is_empty());
    // Rows generated under `age > 65` are compared with the real rows over 65.
    let json: serde_json::Value = serde_json::from_str(&report.report_json)?;
    let first = json["recommendations"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(first.contains("real rows where age > 65"), "{first}");
    let html = quality
        .get_report_html(request(
            &analyst,
            v1::GetReportHtmlRequest {
                report_id: report_id.clone(),
            },
        ))
        .await?
        .into_inner()
        .html;
    assert!(String::from_utf8(html)?.contains("<html"));

    // The rows, if the gate lets them out (an admin release otherwise).
    let release = v1::ReleaseGenerationRequest {
        generation_id: submitted.generation_id.clone(),
    };
    let refused = generations
        .release_generation(request(&operator, release.clone()))
        .await
        .expect_err("admins release");
    assert_eq!(refused.code(), Code::PermissionDenied);
    if !summary.gate_passed {
        let blocked = generations
            .stream_generation(request(
                &analyst,
                v1::StreamGenerationRequest {
                    generation_id: submitted.generation_id.clone(),
                    batch_rows: 0,
                },
            ))
            .await
            .map(|_| ())
            .expect_err("a failed gate blocks the rows");
        assert!(blocked.message().contains("quality gate"), "{blocked:?}");
        let released = generations
            .release_generation(request(&admin, release))
            .await?
            .into_inner()
            .generation
            .expect("a generation");
        assert!(released.released);
    }
    let mut stream = generations
        .stream_generation(request(
            &analyst,
            v1::StreamGenerationRequest {
                generation_id: submitted.generation_id.clone(),
                batch_rows: 128,
            },
        ))
        .await?
        .into_inner();
    let mut rows = 0u64;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        assert_eq!(batch.row_offset, rows);
        let decoded = decode(&batch)?;
        let age = decoded
            .column_by_name("age")
            .ok_or_else(|| anyhow::anyhow!("no age column"))?;
        let age = arrow::compute::cast(age, &arrow::datatypes::DataType::Float64)?;
        let age = age.as_primitive::<arrow::datatypes::Float64Type>();
        for i in 0..age.len() {
            assert!(
                age.is_null(i) || age.value(i) > 65.0,
                "age {}",
                age.value(i)
            );
        }
        rows += batch.rows;
    }
    assert_eq!(rows, 500);

    // Augmentation in batch mode: the stored rows divide equally between the sexes.
    let balanced = v1::Rebalance {
        column: "sex".into(),
        shares: Vec::new(),
    };
    let augmented = generations
        .submit_generation(request(
            &operator,
            v1::SubmitGenerationRequest {
                model_id: model.id.clone(),
                rows: 400,
                seed: Some(3),
                conditions: Vec::new(),
                mode: v1::GenerationMode::Batch as i32,
                rebalance: Some(balanced.clone()),
            },
        ))
        .await?
        .into_inner();
    let job = augmented.job.expect("a generate job");
    let ended = wait_for_job(&gateway, job.id.parse()?, JOB_TIMEOUT).await?;
    assert!(matches!(ended, JobState::Succeeded { .. }), "{ended:?}");
    let recorded = generations
        .get_generation(request(
            &analyst,
            v1::GetGenerationRequest {
                generation_id: augmented.generation_id.clone(),
            },
        ))
        .await?
        .into_inner()
        .generation
        .expect("a generation");
    assert_eq!(recorded.rebalance, Some(balanced.clone()));
    let stored = gateway
        .storage()
        .local_file(&format!(
            "generations/{}/data.parquet",
            augmented.generation_id
        ))
        .ok_or_else(|| anyhow::anyhow!("the test store is local"))?;
    let table = mirage_data::read_table(&stored, &mirage_data::ReadOptions::default())?;
    let mut sexes = std::collections::BTreeMap::<String, usize>::new();
    for batch in table.batches() {
        let column = batch
            .column_by_name("sex")
            .ok_or_else(|| anyhow::anyhow!("no sex column"))?;
        for row in 0..batch.num_rows() {
            let value = mirage_models::columns::value_at("sex", column, row)?;
            *sexes.entry(value.to_string()).or_default() += 1;
        }
    }
    assert_eq!(
        sexes.values().copied().collect::<Vec<_>>(),
        vec![200, 200],
        "{sexes:?}"
    );
    // Both generations are listed, newest first, one per page when asked.
    let listed = generations
        .list_generations(request(
            &analyst,
            v1::ListGenerationsRequest {
                model_id: model.id.clone(),
                page: Some(v1::PageRequest {
                    page_size: 1,
                    page_token: String::new(),
                }),
            },
        ))
        .await?
        .into_inner();
    assert_eq!(listed.generations.len(), 1);
    assert_eq!(listed.generations[0].id, augmented.generation_id);
    let rest = generations
        .list_generations(request(
            &analyst,
            v1::ListGenerationsRequest {
                model_id: model.id.clone(),
                page: Some(v1::PageRequest {
                    page_size: 1,
                    page_token: listed.next_page_token,
                }),
            },
        ))
        .await?
        .into_inner();
    assert_eq!(rest.generations.len(), 1);
    assert_eq!(rest.generations[0].id, submitted.generation_id);
    assert!(rest.next_page_token.is_empty());
    let refused = generations
        .list_generations(request(
            &analyst,
            v1::ListGenerationsRequest {
                model_id: "mdl_nonsense".into(),
                page: None,
            },
        ))
        .await
        .expect_err("a bad model id");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().starts_with("model_id"), "{refused:?}");
    for (rebalance, conditions, says) in [
        (
            v1::Rebalance {
                column: "salary".into(),
                shares: Vec::new(),
            },
            Vec::new(),
            "rebalance.column: the model has no column \"salary\"",
        ),
        (
            balanced.clone(),
            vec![v1::Condition {
                column: "sex".into(),
                op: Some(v1::condition::Op::Eq(v1::Value {
                    kind: Some(v1::value::Kind::StringValue("Male".into())),
                })),
            }],
            "rebalance.column: conditions[0] already constrains \"sex\"",
        ),
        (
            v1::Rebalance {
                column: String::new(),
                shares: Vec::new(),
            },
            Vec::new(),
            "rebalance.column",
        ),
    ] {
        let refused = generations
            .submit_generation(request(
                &operator,
                v1::SubmitGenerationRequest {
                    model_id: model.id.clone(),
                    rows: 10,
                    seed: None,
                    conditions,
                    mode: v1::GenerationMode::Batch as i32,
                    rebalance: Some(rebalance),
                },
            ))
            .await
            .expect_err(says);
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
        assert!(refused.message().contains(says), "{refused:?}");
    }
    // A class the model never saw passes submission (the model is not loaded there) and
    // fails the job, which names the share at fault.
    let unknown_class = generations
        .submit_generation(request(
            &operator,
            v1::SubmitGenerationRequest {
                model_id: model.id.clone(),
                rows: 10,
                seed: None,
                conditions: Vec::new(),
                mode: v1::GenerationMode::Batch as i32,
                rebalance: Some(v1::Rebalance {
                    column: "sex".into(),
                    shares: vec![v1::ClassShare {
                        value: Some(v1::Value {
                            kind: Some(v1::value::Kind::StringValue("Martian".into())),
                        }),
                        share: 1.0,
                    }],
                }),
            },
        ))
        .await?
        .into_inner();
    let job = unknown_class.job.expect("a generate job");
    let ended = wait_for_job(&gateway, job.id.parse()?, JOB_TIMEOUT).await?;
    let JobState::Failed { error, .. } = ended else {
        anyhow::bail!("a generation of an unknown class ended {ended:?}");
    };
    assert!(
        error.contains("rebalance.shares[0].value") && error.contains("Martian"),
        "{error}"
    );

    // Budgets: admins only, and then the dataset trains privately only.
    let refused = privacy
        .set_budget(request(
            &operator,
            v1::SetBudgetRequest {
                dataset_id: dataset_id.clone(),
                epsilon_limit: 3.0,
                delta: 1e-5,
            },
        ))
        .await
        .expect_err("admins set budgets");
    assert_eq!(refused.code(), Code::PermissionDenied);
    let budget = privacy
        .set_budget(request(
            &admin,
            v1::SetBudgetRequest {
                dataset_id: dataset_id.clone(),
                epsilon_limit: 3.0,
                delta: 1e-5,
            },
        ))
        .await?
        .into_inner()
        .budget
        .expect("a budget");
    assert_eq!(budget.epsilon_remaining, 3.0);
    let events = privacy
        .list_ledger_events(request(
            &analyst,
            v1::ListLedgerEventsRequest {
                dataset_id: dataset_id.clone(),
                page: None,
            },
        ))
        .await?
        .into_inner()
        .events;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, v1::LedgerEventKind::SetBudget as i32);
    // The earlier, non-private model may no longer release rows.
    let refused = generations
        .submit_generation(request(
            &operator,
            v1::SubmitGenerationRequest {
                rebalance: None,
                model_id: model.id.clone(),
                rows: 10,
                seed: None,
                conditions: Vec::new(),
                mode: v1::GenerationMode::Batch as i32,
            },
        ))
        .await
        .expect_err("protected dataset");
    assert_eq!(refused.code(), Code::FailedPrecondition);

    // Another tenant sees none of it, on any service.
    let hidden = [
        datasets
            .get_dataset(request(
                &stranger,
                v1::GetDatasetRequest {
                    dataset_id: dataset_id.clone(),
                },
            ))
            .await
            .map(|_| ()),
        datasets
            .get_profile(request(
                &stranger,
                v1::GetProfileRequest {
                    dataset_id: dataset_id.clone(),
                },
            ))
            .await
            .map(|_| ()),
        datasets
            .delete_dataset(request(
                &stranger,
                v1::DeleteDatasetRequest {
                    dataset_id: dataset_id.clone(),
                },
            ))
            .await
            .map(|_| ()),
        models
            .get_model(request(
                &stranger,
                v1::GetModelRequest {
                    model_id: model.id.clone(),
                },
            ))
            .await
            .map(|_| ()),
        models
            .list_models(request(
                &stranger,
                v1::ListModelsRequest {
                    dataset_id: dataset_id.clone(),
                    page: None,
                },
            ))
            .await
            .map(|_| ()),
        generations
            .get_generation(request(
                &stranger,
                v1::GetGenerationRequest {
                    generation_id: submitted.generation_id.clone(),
                },
            ))
            .await
            .map(|_| ()),
        generations
            .stream_generation(request(
                &stranger,
                v1::StreamGenerationRequest {
                    generation_id: submitted.generation_id.clone(),
                    batch_rows: 0,
                },
            ))
            .await
            .map(|_| ()),
        generations
            .submit_generation(request(
                &stranger,
                v1::SubmitGenerationRequest {
                    rebalance: None,
                    model_id: model.id.clone(),
                    rows: 1,
                    seed: None,
                    conditions: Vec::new(),
                    mode: v1::GenerationMode::Batch as i32,
                },
            ))
            .await
            .map(|_| ()),
        quality
            .get_report(request(
                &stranger,
                v1::GetReportRequest {
                    report_id: report_id.clone(),
                },
            ))
            .await
            .map(|_| ()),
        quality
            .get_report_html(request(
                &stranger,
                v1::GetReportHtmlRequest {
                    report_id: report_id.clone(),
                },
            ))
            .await
            .map(|_| ()),
        privacy
            .get_budget(request(
                &stranger,
                v1::GetBudgetRequest {
                    dataset_id: dataset_id.clone(),
                },
            ))
            .await
            .map(|_| ()),
        privacy
            .set_budget(request(
                &stranger,
                v1::SetBudgetRequest {
                    dataset_id: dataset_id.clone(),
                    epsilon_limit: 100.0,
                    delta: 1e-5,
                },
            ))
            .await
            .map(|_| ()),
        privacy
            .list_ledger_events(request(
                &stranger,
                v1::ListLedgerEventsRequest {
                    dataset_id: dataset_id.clone(),
                    page: None,
                },
            ))
            .await
            .map(|_| ()),
        jobs.get_job(request(
            &stranger,
            v1::GetJobRequest {
                job_id: job.id.clone(),
            },
        ))
        .await
        .map(|_| ()),
        generations
            .list_generations(request(
                &stranger,
                v1::ListGenerationsRequest {
                    model_id: model.id.clone(),
                    page: None,
                },
            ))
            .await
            .map(|_| ()),
    ];
    for (i, answer) in hidden.into_iter().enumerate() {
        let status = answer.expect_err("another tenant's object");
        assert_eq!(status.code(), Code::NotFound, "call {i}: {status:?}");
    }
    let theirs = datasets
        .list_datasets(request(&stranger, v1::ListDatasetsRequest { page: None }))
        .await?
        .into_inner();
    assert!(theirs.datasets.is_empty());
    let theirs = generations
        .list_generations(request(
            &stranger,
            v1::ListGenerationsRequest {
                model_id: String::new(),
                page: None,
            },
        ))
        .await?
        .into_inner();
    assert!(theirs.generations.is_empty());

    // Deleting: refused to readers; allowed to the owner once no job reads the dataset.
    let refused = datasets
        .delete_dataset(request(
            &analyst,
            v1::DeleteDatasetRequest {
                dataset_id: dataset_id.clone(),
            },
        ))
        .await
        .expect_err("read only");
    assert_eq!(refused.code(), Code::PermissionDenied);
    datasets
        .delete_dataset(request(
            &operator,
            v1::DeleteDatasetRequest {
                dataset_id: dataset_id.clone(),
            },
        ))
        .await?;
    let gone = datasets
        .get_dataset(request(&operator, v1::GetDatasetRequest { dataset_id }))
        .await
        .expect_err("deleted");
    assert_eq!(gone.code(), Code::NotFound);
    test.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_training_spends_from_the_budget_and_the_ledger_records_it() -> anyhow::Result<()> {
    let test = TestGateway::start().await?;
    let gateway = test.gateway.clone();
    let datasets = DatasetApi::new(gateway.clone());
    let jobs = JobApi::new(gateway.clone());
    let models = ModelApi::new(gateway.clone());
    let privacy = PrivacyApi::new(gateway.clone());
    let operator = test.caller(1, Role::Operator).await?;
    let admin = crate::gateway::Caller::new(operator.tenant, Role::Admin, "admin");
    let source = adult_sample(test.dir.path(), 1000)?;
    let created = datasets
        .create_dataset(request(
            &operator,
            v1::CreateDatasetRequest {
                name: "adult".into(),
                source: Some(v1::create_dataset_request::Source::Uri(
                    source.display().to_string(),
                )),
            },
        ))
        .await?
        .into_inner();
    let ingest = created.job.expect("the ingest job");
    wait_for_job(&gateway, ingest.id.parse()?, JOB_TIMEOUT).await?;
    let dataset_id = created.dataset_id;
    privacy
        .set_budget(request(
            &admin,
            v1::SetBudgetRequest {
                dataset_id: dataset_id.clone(),
                epsilon_limit: 1.5,
                delta: 1e-5,
            },
        ))
        .await?;
    let job = jobs
        .submit_training(request(
            &operator,
            v1::SubmitTrainingRequest {
                dataset_id: dataset_id.clone(),
                model_kind: v1::ModelKind::Mst as i32,
                hyperparameters_json: String::new(),
                privacy: Some(v1::PrivacySettings {
                    epsilon: 1.0,
                    delta: 0.0,
                }),
                priority: 0,
            },
        ))
        .await?
        .into_inner()
        .job
        .expect("a job");
    let ended = wait_for_job(&gateway, job.id.parse()?, JOB_TIMEOUT).await?;
    assert!(matches!(ended, JobState::Succeeded { .. }), "{ended:?}");
    let budget = privacy
        .get_budget(request(
            &operator,
            v1::GetBudgetRequest {
                dataset_id: dataset_id.clone(),
            },
        ))
        .await?
        .into_inner()
        .budget
        .expect("a budget");
    assert_eq!(budget.epsilon_reserved, 0.0, "{budget:?}");
    assert!(
        budget.epsilon_spent > 0.0 && budget.epsilon_spent <= 1.0 + 1e-9,
        "{budget:?}"
    );
    let events = privacy
        .list_ledger_events(request(
            &operator,
            v1::ListLedgerEventsRequest {
                dataset_id: dataset_id.clone(),
                page: None,
            },
        ))
        .await?
        .into_inner()
        .events;
    let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            v1::LedgerEventKind::SetBudget as i32,
            v1::LedgerEventKind::Reserve as i32,
            v1::LedgerEventKind::Commit as i32
        ]
    );
    assert_eq!(events[2].job_id, job.id);
    assert!(
        events[2].mechanism.contains("mechanisms"),
        "{:?}",
        events[2]
    );
    assert_eq!(events[2].prev_hash, events[1].hash);
    let model = models
        .list_models(request(
            &operator,
            v1::ListModelsRequest {
                dataset_id: dataset_id.clone(),
                page: None,
            },
        ))
        .await?
        .into_inner()
        .models;
    let spent = model[0]
        .epsilon
        .expect("a private model says what it spent");
    assert!(
        (spent - budget.epsilon_spent).abs() < 1e-9,
        "{spent} vs {budget:?}"
    );
    // What is left does not cover another ε = 1.
    let over = jobs
        .submit_training(request(
            &operator,
            v1::SubmitTrainingRequest {
                dataset_id,
                model_kind: v1::ModelKind::Mst as i32,
                hyperparameters_json: String::new(),
                privacy: Some(v1::PrivacySettings {
                    epsilon: 1.0,
                    delta: 0.0,
                }),
                priority: 0,
            },
        ))
        .await
        .expect_err("over budget");
    assert_eq!(over.code(), Code::FailedPrecondition);
    assert!(over.message().contains("budget"), "{over:?}");
    test.stop().await
}
