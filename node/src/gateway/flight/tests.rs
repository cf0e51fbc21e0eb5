//! Flight end to end: an in-process one-node cluster with its real job runners, the
//! Flight service on a loopback port, and `arrow_flight::FlightClient`s that act for
//! different tenants and roles (a test interceptor stands in for the authentication
//! layer: it turns an `x-test-caller` header into the request's `Caller`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::{Action, Criteria, FlightClient, FlightDescriptor, FlightInfo, Ticket};
use futures::{StreamExt, TryStreamExt};
use mirage_actors::{Command, DatasetSpec, GenerationSpec, JobState, ModelSpec, ReportSpec, Role};
use mirage_core::records::ModelKind;
use mirage_core::{DatasetId, GenerationId, JobId, ModelId, ReportId};
use tokio::sync::oneshot;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Code, Status};

use super::{FlightGateway, flight_server, serve};
use crate::gateway::Caller;
use crate::gateway::access::parse_id;
use crate::gateway::testing::TestGateway;

/// The header the test interceptor reads.
const CALLER_HEADER: &str = "x-test-caller";

/// A cluster with Flight served on a loopback port.
pub(super) struct Harness {
    pub test: TestGateway,
    pub address: std::net::SocketAddr,
    callers: Arc<Mutex<HashMap<String, Caller>>>,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
}

impl Harness {
    pub async fn start() -> anyhow::Result<Self> {
        let test = TestGateway::start().await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let service =
            FlightGateway::new(test.gateway.clone(), vec![format!("grpc+tcp://{address}")])
                .with_scratch(test.dir.path().join("flight"));
        let callers: Arc<Mutex<HashMap<String, Caller>>> = Arc::default();
        let known = Arc::clone(&callers);
        let authenticate = move |mut request: tonic::Request<()>| {
            let subject = request
                .metadata()
                .get(CALLER_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let caller = subject.and_then(|s| known.lock().ok()?.get(&s).cloned());
            if let Some(caller) = caller {
                request.extensions_mut().insert(caller);
            }
            Ok::<_, Status>(request)
        };
        let wrapped = InterceptedService::new(flight_server(service), authenticate);
        let (stop, stopped) = oneshot::channel();
        let server = tokio::spawn(serve(listener, wrapped, async {
            let _ = stopped.await;
        }));
        Ok(Self {
            test,
            address,
            callers,
            stop: Some(stop),
            server,
        })
    }

    /// A client acting for tenant `n` with `role`.
    pub async fn client(&self, n: u128, role: Role) -> anyhow::Result<(Caller, FlightClient)> {
        let caller = self.test.caller(n, role).await?;
        let subject = format!("{}-{role}", caller.tenant);
        self.callers
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .insert(subject.clone(), caller.clone());
        let mut client = self.anonymous().await?;
        client.add_header(CALLER_HEADER, &subject)?;
        Ok((caller, client))
    }

    /// A client with no credentials.
    pub async fn anonymous(&self) -> anyhow::Result<FlightClient> {
        let channel = Channel::from_shared(format!("http://{}", self.address))?
            .initial_stream_window_size(Some(8 * 1024 * 1024))
            .initial_connection_window_size(Some(32 * 1024 * 1024))
            .max_frame_size(super::MAX_FRAME_BYTES)
            .connect()
            .await?;
        let inner = arrow_flight::flight_service_client::FlightServiceClient::new(channel)
            .max_decoding_message_size(super::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(super::MAX_MESSAGE_BYTES);
        Ok(FlightClient::new_from_inner(inner))
    }

    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if tokio::time::timeout(Duration::from_secs(2), &mut self.server)
            .await
            .is_err()
        {
            self.server.abort();
        }
        self.test.stop().await
    }

    /// Waits until job `id` succeeds; fails on a failed job or after two minutes.
    pub async fn job_succeeds(&self, id: JobId) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let state = self
                .test
                .gateway
                .read(|s| s.job(id).map(|j| j.state.clone()))?;
            match state {
                Some(JobState::Succeeded { .. }) => return Ok(()),
                Some(JobState::Failed { error, .. }) => anyhow::bail!("job {id} failed: {error}"),
                _ if Instant::now() > deadline => anyhow::bail!("job {id}: {state:?} after 2 min"),
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Runs a blocking storage helper off the executor.
    pub async fn put_object(&self, key: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        let storage = self.test.gateway.storage().clone();
        let key = key.to_owned();
        tokio::task::spawn_blocking(move || storage.put_bytes(&key, bytes)).await??;
        Ok(())
    }
}

/// The status a Flight call failed with.
pub(super) fn status_of(error: FlightError) -> Status {
    match error {
        FlightError::Tonic(status) => *status,
        other => Status::unknown(other.to_string()),
    }
}

/// A small table: an id, a measurement and a label per row.
pub(super) fn small_batch(first: i64, rows: usize) -> RecordBatch {
    let ids: Int64Array = (first..first + rows as i64).collect();
    let values: Float64Array = (0..rows).map(|i| i as f64 * 0.5).collect();
    let labels: StringArray = (0..rows)
        .map(|i| Some(if i % 2 == 0 { "even" } else { "odd" }))
        .collect();
    let columns: Vec<ArrayRef> = vec![Arc::new(ids), Arc::new(values), Arc::new(labels)];
    let schema = Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("value", DataType::Float64, false),
        Field::new("label", DataType::Utf8, false),
    ]);
    RecordBatch::try_new(Arc::new(schema), columns).unwrap_or_else(|e| panic!("{e}"))
}

fn upload_descriptor(name: &str) -> FlightDescriptor {
    FlightDescriptor::new_path(vec!["datasets".into(), name.into()])
}

/// Uploads `batches` as dataset `name`; returns the `PutResult` metadata.
pub(super) async fn put(
    client: &mut FlightClient,
    descriptor: Option<FlightDescriptor>,
    batches: Vec<RecordBatch>,
) -> Result<serde_json::Value, Status> {
    let data = FlightDataEncoderBuilder::new()
        .with_flight_descriptor(descriptor)
        .build(futures::stream::iter(batches.into_iter().map(Ok)));
    let results: Vec<_> = client
        .do_put(data)
        .await
        .map_err(status_of)?
        .try_collect()
        .await
        .map_err(status_of)?;
    let first = results
        .first()
        .ok_or_else(|| Status::unknown("no PutResult"))?;
    serde_json::from_slice(&first.app_metadata).map_err(|e| Status::unknown(e.to_string()))
}

/// Pulls every batch of `ticket`.
pub(super) async fn get(
    client: &mut FlightClient,
    ticket: &str,
) -> Result<Vec<RecordBatch>, Status> {
    client
        .do_get(Ticket::new(ticket.to_owned()))
        .await
        .map_err(status_of)?
        .try_collect()
        .await
        .map_err(status_of)
}

fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

/// Every value of `batches`, column by column, as one batch.
fn concat(batches: &[RecordBatch]) -> RecordBatch {
    let schema = batches[0].schema();
    arrow::compute::concat_batches(&schema, batches).unwrap_or_else(|e| panic!("{e}"))
}

fn assert_same_rows(sent: &[RecordBatch], got: &[RecordBatch]) {
    let (sent, got) = (concat(sent), concat(got));
    assert_eq!(sent.num_rows(), got.num_rows());
    assert_eq!(sent.num_columns(), got.num_columns());
    for (index, field) in sent.schema().fields().iter().enumerate() {
        let column = got
            .column_by_name(field.name())
            .unwrap_or_else(|| panic!("{} missing", field.name()));
        assert_eq!(
            sent.column(index).to_data(),
            column.to_data(),
            "column {}",
            field.name()
        );
    }
}

fn id_from<T: std::str::FromStr>(metadata: &serde_json::Value, field: &str) -> T
where
    T::Err: std::fmt::Display,
{
    let text = metadata[field].as_str().unwrap_or_default();
    parse_id(field, text).unwrap_or_else(|e| panic!("{field}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_adult_sample_is_ingested_described_and_pulled_back() -> anyhow::Result<()> {
    let harness = Harness::start().await?;
    let (_, mut client) = harness.client(1, Role::Operator).await?;
    let adult = mirage_data::read_table(
        &crate::demo::adult_path()?,
        &mirage_data::ReadOptions::default(),
    )?;
    let sample: Vec<RecordBatch> = vec![adult.to_single_batch()?.slice(0, 5_000)];
    let metadata = put(
        &mut client,
        Some(upload_descriptor("adult sample")),
        sample.clone(),
    )
    .await?;
    assert_eq!(metadata["rows"], 5_000);
    assert!(metadata["bytes"].as_u64().unwrap_or(0) > 0);
    assert!(
        metadata["upload"]
            .as_str()
            .unwrap_or_default()
            .starts_with("upload/")
    );
    let dataset: DatasetId = id_from(&metadata, "dataset_id");
    harness.job_succeeds(id_from(&metadata, "job_id")).await?;

    let got = get(&mut client, &format!("dataset/{dataset}")).await?;
    assert_same_rows(&sample, &got);

    let descriptor = FlightDescriptor::new_path(vec!["datasets".into(), dataset.to_string()]);
    let info = client
        .get_flight_info(descriptor.clone())
        .await
        .map_err(status_of)?;
    assert_eq!(info.total_records, 5_000);
    assert!(info.total_bytes > 0);
    let endpoint = &info.endpoint[0];
    assert_eq!(
        endpoint.ticket.as_ref().map(|t| t.ticket.as_ref()),
        Some(format!("dataset/{dataset}").as_bytes())
    );
    assert_eq!(
        endpoint.location[0].uri,
        format!("grpc+tcp://{}", harness.address)
    );
    let schema = client.get_schema(descriptor).await.map_err(status_of)?;
    assert_eq!(schema.fields(), got[0].schema().fields());
    assert_eq!(info.clone().try_decode_schema()?.fields(), schema.fields());

    let listed: Vec<FlightInfo> = client
        .list_flights("")
        .await
        .map_err(status_of)?
        .try_collect()
        .await
        .map_err(status_of)?;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].flight_descriptor, info.flight_descriptor);
    let only_generations: Vec<FlightInfo> = client
        .list_flights("generations")
        .await
        .map_err(status_of)?
        .try_collect()
        .await
        .map_err(status_of)?;
    assert!(only_generations.is_empty());
    harness.stop().await
}

/// Registers a dataset, a model of it and a generation stored under `key`.
pub(super) async fn record_generation(
    harness: &Harness,
    caller: &Caller,
    key: &str,
    rows: u64,
) -> anyhow::Result<GenerationId> {
    let gateway = &harness.test.gateway;
    let dataset = DatasetId::new();
    gateway
        .apply(Command::RegisterDataset(DatasetSpec {
            id: dataset,
            tenant: caller.tenant,
            name: format!("source {dataset}"),
            url: format!("datasets/{dataset}/data.parquet"),
        }))
        .await?;
    let model = ModelId::new();
    gateway
        .apply(Command::RegisterModel(ModelSpec {
            id: model,
            tenant: caller.tenant,
            dataset,
            kind: ModelKind::GaussianCopula,
            config_hash: "test".into(),
            url: format!("models/{model}"),
            job: None,
        }))
        .await?;
    let generation = GenerationId::new();
    gateway
        .apply(Command::RecordGeneration(GenerationSpec {
            id: generation,
            tenant: caller.tenant,
            model,
            job: None,
            rows,
            seed: 7,
            url: key.replace("{id}", &generation.to_string()),
        }))
        .await?;
    Ok(generation)
}

/// Writes `batch` as a Mirage Parquet file (what a generate job stores) and returns it.
fn parquet_bytes(batch: &RecordBatch) -> anyhow::Result<Vec<u8>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("data.parquet");
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path)?, batch.schema(), None)?;
    writer.write(batch)?;
    writer.close()?;
    Ok(std::fs::read(&path)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generations_are_pulled_and_a_failed_gate_blocks_them_until_released() -> anyhow::Result<()>
{
    let harness = Harness::start().await?;
    let (operator, mut client) = harness.client(1, Role::Operator).await?;
    let (_, mut admin) = harness.client(1, Role::Admin).await?;

    // A CSV generation (a generate job's default format) is read and converted.
    let csv = record_generation(&harness, &operator, "generations/{id}/data.csv", 3).await?;
    harness
        .put_object(
            &format!("generations/{csv}/data.csv"),
            b"age,city\n31,Lyon\n45,Oslo\n27,Lima\n".to_vec(),
        )
        .await?;
    let got = get(&mut client, &format!("generation/{csv}")).await?;
    assert_eq!(rows(&got), 3);
    let ages = got[0].column_by_name("age").map(|c| c.len());
    assert_eq!(ages, Some(3));

    // A Parquet generation whose report failed its gate stays blocked until released.
    let batch = small_batch(0, 1_000);
    let gated =
        record_generation(&harness, &operator, "generations/{id}/data.parquet", 1_000).await?;
    harness
        .put_object(
            &format!("generations/{gated}/data.parquet"),
            parquet_bytes(&batch)?,
        )
        .await?;
    harness
        .test
        .gateway
        .apply(Command::RecordReport(ReportSpec {
            id: ReportId::new(),
            generation: gated,
            job: None,
            overall: 0.2,
            gate_passed: false,
            url: format!("reports/{gated}.json"),
        }))
        .await?;
    let ticket = format!("generation/{gated}");
    let refused = get(&mut client, &ticket).await.expect_err("gate failed");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains("quality gate"),
        "{}",
        refused.message()
    );
    // Describing is allowed: the gate guards the rows.
    let descriptor = FlightDescriptor::new_path(vec!["generations".into(), gated.to_string()]);
    let info = client
        .get_flight_info(descriptor)
        .await
        .map_err(status_of)?;
    assert_eq!(info.total_records, 1_000);

    let release = Action::new(super::service::RELEASE_GENERATION, gated.to_string());
    let refused = client
        .do_action(release.clone())
        .await
        .map_err(status_of)
        .err();
    assert_eq!(refused.map(|s| s.code()), Some(Code::PermissionDenied));
    let answers: Vec<_> = admin
        .do_action(release)
        .await
        .map_err(status_of)?
        .try_collect()
        .await
        .map_err(status_of)?;
    assert_eq!(answers.len(), 1);
    let got = get(&mut client, &ticket).await?;
    assert_same_rows(&[batch], &got);
    let actions: Vec<_> = client
        .list_actions()
        .await
        .map_err(status_of)?
        .try_collect()
        .await
        .map_err(status_of)?;
    assert_eq!(actions[0].r#type, super::service::RELEASE_GENERATION);
    harness.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_can_neither_pull_describe_list_nor_release_another_tenants_tables()
-> anyhow::Result<()> {
    let harness = Harness::start().await?;
    let (owner, mut a) = harness.client(1, Role::Admin).await?;
    let (_, mut b) = harness.client(2, Role::Admin).await?;
    let metadata = put(
        &mut a,
        Some(upload_descriptor("mine")),
        vec![small_batch(0, 100)],
    )
    .await?;
    let dataset: DatasetId = id_from(&metadata, "dataset_id");
    harness.job_succeeds(id_from(&metadata, "job_id")).await?;
    let generation =
        record_generation(&harness, &owner, "generations/{id}/data.parquet", 10).await?;
    harness
        .put_object(
            &format!("generations/{generation}/data.parquet"),
            parquet_bytes(&small_batch(0, 10))?,
        )
        .await?;
    for (kind, id, ticket) in [
        (
            "datasets",
            dataset.to_string(),
            format!("dataset/{dataset}"),
        ),
        (
            "generations",
            generation.to_string(),
            format!("generation/{generation}"),
        ),
    ] {
        assert_eq!(
            get(&mut a, &ticket)
                .await
                .map(|b| rows(&b))
                .ok()
                .map(|n| n > 0),
            Some(true)
        );
        let refused = get(&mut b, &ticket).await.expect_err("other tenant");
        assert_eq!(refused.code(), Code::NotFound, "{ticket}");
        let descriptor = FlightDescriptor::new_path(vec![kind.into(), id.clone()]);
        let refused = b
            .get_flight_info(descriptor.clone())
            .await
            .map_err(status_of)
            .expect_err("info");
        assert_eq!(refused.code(), Code::NotFound, "{kind}");
        let refused = b
            .get_schema(descriptor)
            .await
            .map_err(status_of)
            .expect_err("schema");
        assert_eq!(refused.code(), Code::NotFound, "{kind}");
    }
    let listed: Vec<FlightInfo> = b
        .list_flights("")
        .await
        .map_err(status_of)?
        .try_collect()
        .await
        .map_err(status_of)?;
    assert!(listed.is_empty(), "{listed:?}");
    let listed: Vec<FlightInfo> = a
        .list_flights("")
        .await
        .map_err(status_of)?
        .try_collect()
        .await
        .map_err(status_of)?;
    assert_eq!(
        listed.len(),
        3,
        "the upload, the generation's source dataset and the generation"
    );
    let release = Action::new(super::service::RELEASE_GENERATION, generation.to_string());
    let refused = b.do_action(release).await.map_err(status_of).err();
    assert_eq!(refused.map(|s| s.code()), Some(Code::NotFound));
    // Names are per tenant: the other tenant may upload under the same name.
    let theirs = put(
        &mut b,
        Some(upload_descriptor("mine")),
        vec![small_batch(0, 5)],
    )
    .await?;
    assert_ne!(theirs["dataset_id"], metadata["dataset_id"]);
    harness.stop().await
}

/// Flight data of `first` then `second`, each with its own schema message.
fn mixed_schemas(
    first: RecordBatch,
    second: RecordBatch,
) -> impl futures::Stream<Item = Result<arrow_flight::FlightData, FlightError>> + Send {
    let one = FlightDataEncoderBuilder::new()
        .with_flight_descriptor(Some(upload_descriptor("mixed")))
        .build(futures::stream::iter([Ok(first)]));
    let two = FlightDataEncoderBuilder::new().build(futures::stream::iter([Ok(second)]));
    one.chain(two)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_says_what_to_send() -> anyhow::Result<()> {
    let harness = Harness::start().await?;
    let (_, mut client) = harness.client(1, Role::Operator).await?;
    let (_, mut analyst) = harness.client(1, Role::Analyst).await?;
    let mut anonymous = harness.anonymous().await?;
    let batch = small_batch(0, 10);

    let refused = put(
        &mut anonymous,
        Some(upload_descriptor("x")),
        vec![batch.clone()],
    )
    .await
    .expect_err("anonymous");
    assert_eq!(refused.code(), Code::Unauthenticated);
    let refused = get(&mut anonymous, "dataset/x")
        .await
        .expect_err("anonymous");
    assert_eq!(refused.code(), Code::Unauthenticated);
    let refused = put(
        &mut analyst,
        Some(upload_descriptor("x")),
        vec![batch.clone()],
    )
    .await
    .expect_err("analyst");
    assert_eq!(refused.code(), Code::PermissionDenied);

    let refused = put(&mut client, None, vec![batch.clone()])
        .await
        .expect_err("no descriptor");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused
            .message()
            .contains("[\"datasets\", <new dataset name>]"),
        "{}",
        refused.message()
    );
    let wrong = FlightDescriptor::new_path(vec!["models".into(), "x".into()]);
    let refused = put(&mut client, Some(wrong), vec![batch.clone()])
        .await
        .expect_err("bad path");
    assert_eq!(refused.code(), Code::InvalidArgument);
    let refused = put(
        &mut client,
        Some(upload_descriptor("")),
        vec![batch.clone()],
    )
    .await
    .expect_err("no name");
    assert_eq!(refused.code(), Code::InvalidArgument);
    let refused = put(&mut client, Some(upload_descriptor("empty")), vec![])
        .await
        .expect_err("empty");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("the stream is empty"),
        "{}",
        refused.message()
    );
    let schema_only = FlightDataEncoderBuilder::new()
        .with_schema(batch.schema())
        .with_flight_descriptor(Some(upload_descriptor("schema only")))
        .build(futures::stream::empty());
    let refused = match client.do_put(schema_only).await.map_err(status_of) {
        Err(status) => status,
        Ok(stream) => stream
            .try_collect::<Vec<_>>()
            .await
            .map_err(status_of)
            .expect_err("no batches"),
    };
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("no record batches"),
        "{}",
        refused.message()
    );
    let nested = Schema::new(vec![Field::new_list(
        "tags",
        Field::new("item", DataType::Int64, true),
        true,
    )]);
    let tags =
        arrow::array::ListArray::from_iter_primitive::<arrow::datatypes::Int64Type, _, _>([Some(
            vec![Some(1)],
        )]);
    let nested = RecordBatch::try_new(Arc::new(nested), vec![Arc::new(tags)])?;
    let refused = put(&mut client, Some(upload_descriptor("nested")), vec![nested])
        .await
        .expect_err("nested");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("\"tags\""),
        "{}",
        refused.message()
    );
    let other = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new(
            "other",
            DataType::Int64,
            false,
        )])),
        vec![Arc::new(Int64Array::from(vec![1, 2]))],
    )?;
    let results = client
        .do_put(mixed_schemas(batch.clone(), other))
        .await
        .map_err(status_of);
    let refused = match results {
        Err(status) => status,
        Ok(stream) => stream
            .try_collect::<Vec<_>>()
            .await
            .map_err(status_of)
            .expect_err("mixed"),
    };
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("different schema"),
        "{}",
        refused.message()
    );

    put(
        &mut client,
        Some(upload_descriptor("taken")),
        vec![batch.clone()],
    )
    .await?;
    let refused = put(
        &mut client,
        Some(upload_descriptor("taken")),
        vec![batch.clone()],
    )
    .await
    .expect_err("taken");
    assert_eq!(refused.code(), Code::AlreadyExists);

    // DoGet, GetFlightInfo, GetSchema, ListFlights, DoAction.
    let refused = get(&mut client, "model/1").await.expect_err("ticket");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("dataset/<dataset id>"),
        "{}",
        refused.message()
    );
    let unknown = DatasetId::new();
    let refused = get(&mut client, &format!("dataset/{unknown}"))
        .await
        .expect_err("unknown");
    assert_eq!(refused.code(), Code::NotFound);
    let ingesting = DatasetId::new();
    harness
        .test
        .gateway
        .apply(Command::RegisterDataset(DatasetSpec {
            id: ingesting,
            tenant: harness.test.caller(1, Role::Operator).await?.tenant,
            name: "ingesting".into(),
            url: format!("datasets/{ingesting}/data.parquet"),
        }))
        .await?;
    let refused = get(&mut client, &format!("dataset/{ingesting}"))
        .await
        .expect_err("ingesting");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains("still ingesting"),
        "{}",
        refused.message()
    );
    let descriptor = FlightDescriptor::new_path(vec!["datasets".into(), ingesting.to_string()]);
    let info = client
        .get_flight_info(descriptor.clone())
        .await
        .map_err(status_of)?;
    assert_eq!(info.total_records, -1);
    let refused = client
        .get_schema(descriptor)
        .await
        .map_err(status_of)
        .expect_err("no schema yet");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    let refused = client
        .get_flight_info(FlightDescriptor::new_cmd("SELECT 1"))
        .await
        .map_err(status_of)
        .expect_err("cmd");
    assert_eq!(refused.code(), Code::InvalidArgument);
    let refused = client
        .get_flight_info(FlightDescriptor::new_path(vec!["models".into()]))
        .await
        .map_err(status_of)
        .expect_err("path");
    assert_eq!(refused.code(), Code::InvalidArgument);
    let refused = client
        .list_flights("everything")
        .await
        .map_err(status_of)
        .err();
    assert_eq!(refused.map(|s| s.code()), Some(Code::InvalidArgument));
    let refused = client
        .do_action(Action::new("drop-table", ""))
        .await
        .map_err(status_of)
        .err();
    assert_eq!(refused.map(|s| s.code()), Some(Code::InvalidArgument));
    let refused = client
        .inner_mut()
        .do_exchange(futures::stream::empty())
        .await
        .err();
    assert_eq!(refused.map(|s| s.code()), Some(Code::Unimplemented));
    let refused = client
        .inner_mut()
        .poll_flight_info(FlightDescriptor::new_path(vec![]))
        .await
        .err();
    assert_eq!(refused.map(|s| s.code()), Some(Code::Unimplemented));
    let _ = Criteria::default();
    harness.stop().await
}

#[test]
fn every_node_of_the_config_is_a_location() {
    use mirage_core::config::{NodeConfig, PeerConfig};
    let mut config = NodeConfig::default();
    config.peers.push(PeerConfig {
        node_id: 2,
        grpc_addr: std::net::SocketAddr::from(([127, 0, 0, 1], 7710)),
        actor_addr: None,
        flight_addr: None,
    });
    config.peers.push(PeerConfig {
        node_id: 3,
        grpc_addr: std::net::SocketAddr::from(([10, 0, 0, 3], 7700)),
        actor_addr: None,
        flight_addr: Some(std::net::SocketAddr::from(([10, 0, 0, 3], 9000))),
    });
    assert_eq!(
        super::locations(&config),
        [
            format!("grpc+tcp://{}", config.flight_addr),
            "grpc+tcp://127.0.0.1:7711".to_owned(),
            "grpc+tcp://10.0.0.3:9000".to_owned(),
        ]
    );
}
