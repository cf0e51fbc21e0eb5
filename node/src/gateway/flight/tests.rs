//! Flight end to end over the harness (`harness.rs`): upload, ingest and pull; the
//! quality gate; tenant isolation on every method; every refusal.

use std::sync::Arc;

use arrow::array::{Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::{Action, FlightDescriptor, FlightInfo};
use futures::{StreamExt, TryStreamExt};
use mirage_actors::{Command, DatasetSpec, ReportSpec, Role};
use mirage_core::{DatasetId, ReportId};
use tonic::Code;

use super::harness::*;

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

/// The keys under `uploads/` in the harness's store.
async fn stored_uploads(harness: &Harness) -> anyhow::Result<Vec<String>> {
    let storage = harness.test.gateway.storage().clone();
    Ok(tokio::task::spawn_blocking(move || storage.list("uploads/")).await??)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_whose_name_is_taken_meanwhile_is_refused_and_deleted() -> anyhow::Result<()> {
    let harness = Harness::start().await?;
    let (caller, mut client) = harness.client(1, Role::Operator).await?;
    let (sender, receiver) = futures::channel::mpsc::unbounded();
    let data = FlightDataEncoderBuilder::new()
        .with_flight_descriptor(Some(upload_descriptor("contested")))
        .build(receiver);
    let upload = tokio::spawn(async move {
        let answers = client.do_put(data).await.map_err(status_of)?;
        answers.try_collect::<Vec<_>>().await.map_err(status_of)
    });
    sender.unbounded_send(Ok(small_batch(0, 100)))?;
    // The name was free when the upload began: the server is now writing it to scratch.
    let scratch = harness.test.dir.path().join("flight");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !std::fs::read_dir(&scratch).is_ok_and(|mut entries| {
        entries.any(|e| {
            e.is_ok_and(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("mirage-flight-put")
            })
        })
    }) {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the upload never started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    harness
        .test
        .gateway
        .apply(Command::RegisterDataset(DatasetSpec {
            id: DatasetId::new(),
            tenant: caller.tenant,
            name: "contested".into(),
            url: "datasets/elsewhere/data.parquet".into(),
        }))
        .await?;
    sender.unbounded_send(Ok(small_batch(100, 100)))?;
    drop(sender);

    let refused = upload
        .await?
        .expect_err("the name was taken during the upload");
    assert_eq!(refused.code(), Code::AlreadyExists, "{}", refused.message());
    assert!(
        refused.message().contains("contested"),
        "{}",
        refused.message()
    );
    assert_eq!(stored_uploads(&harness).await?, Vec::<String>::new());
    harness.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_is_kept_with_its_ticket_when_the_state_cannot_be_reached() -> anyhow::Result<()>
{
    let harness = Harness::start().await?;
    let service = super::FlightGateway::new(harness.test.gateway.clone(), Vec::new())
        .with_scratch(harness.test.dir.path().join("flight"));
    let stored = super::upload::store_upload(
        harness.test.gateway.storage().clone(),
        harness.test.dir.path().join("flight"),
        Box::pin(futures::stream::iter([Ok(small_batch(0, 10))])),
    )
    .await?;
    let unreachable = crate::gateway::status::error(
        mirage_proto::v1::ErrorCode::Unavailable,
        "the cluster state is not reachable, retry shortly",
    );
    let kept = service.after_failed_creation(unreachable, &stored).await;
    assert_eq!(kept.code(), Code::Unavailable);
    assert!(
        kept.message().contains(&format!(
            "CreateDataset(flight_ticket = \"upload/{}\")",
            stored.id
        )),
        "{}",
        kept.message()
    );
    assert!(kept.metadata().get("mirage-error-code").is_some());
    assert_eq!(stored_uploads(&harness).await?, vec![stored.key.clone()]);

    let refused = crate::gateway::status::invalid("name", "taken");
    let answer = service.after_failed_creation(refused, &stored).await;
    assert_eq!(answer.code(), Code::InvalidArgument);
    assert_eq!(stored_uploads(&harness).await?, Vec::<String>::new());
    harness.stop().await
}
