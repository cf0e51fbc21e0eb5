//! The Flight test harness: an in-process one-node cluster with its real job runners, the
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
use arrow_flight::{FlightClient, FlightDescriptor, Ticket};
use futures::TryStreamExt;
use mirage_actors::{Command, DatasetSpec, GenerationSpec, JobState, ModelSpec, Role};
use mirage_core::records::ModelKind;
use mirage_core::{DatasetId, GenerationId, JobId, ModelId};
use tokio::sync::oneshot;
use tonic::Status;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

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

pub(super) fn upload_descriptor(name: &str) -> FlightDescriptor {
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

pub(super) fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

/// Every value of `batches`, column by column, as one batch.
pub(super) fn concat(batches: &[RecordBatch]) -> RecordBatch {
    let schema = batches[0].schema();
    arrow::compute::concat_batches(&schema, batches).unwrap_or_else(|e| panic!("{e}"))
}

pub(super) fn assert_same_rows(sent: &[RecordBatch], got: &[RecordBatch]) {
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

pub(super) fn id_from<T: std::str::FromStr>(metadata: &serde_json::Value, field: &str) -> T
where
    T::Err: std::fmt::Display,
{
    let text = metadata[field].as_str().unwrap_or_default();
    parse_id(field, text).unwrap_or_else(|e| panic!("{field}: {e}"))
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
            conditions: Vec::new(),
            rebalance: None,
        }))
        .await?;
    Ok(generation)
}

/// Writes `batch` as a Mirage Parquet file (what a generate job stores) and returns it.
pub(super) fn parquet_bytes(batch: &RecordBatch) -> anyhow::Result<Vec<u8>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("data.parquet");
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path)?, batch.schema(), None)?;
    writer.write(batch)?;
    writer.close()?;
    Ok(std::fs::read(&path)?)
}
