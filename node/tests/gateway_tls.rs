//! TLS end to end on a three-node cluster that serves TLS and requires client certificates
//! ([`Layout::tls`]): a client uploads by Arrow Flight over TLS to node 1, and a node that
//! neither stored nor ingested the table serves it by Flight — fetching the object from its
//! peers over TLS, since the nodes keep separate object stores. Plaintext clients are
//! refused; `mirage cluster status` and the console's gRPC source (with the members'
//! addresses it learns) reach TLS nodes with their `--tls-*` options.

mod cluster;

use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type};
use arrow_flight::{FlightClient, Ticket};
use cluster::{
    Layout, LocalCluster, SECRET, bootstrap_key, endpoint, mirage, runtime, tls_fixture,
    wait_until_formed,
};
use futures::TryStreamExt;
use mirage_proto::v1;
use mirage_proto::v1::job_service_client::JobServiceClient;

const ROWS: usize = 300;
const JOB_TIMEOUT: Duration = Duration::from_secs(120);

/// A Flight client for `addr` (TLS for `https://`) sending the API `key`.
async fn flight(addr: &str, key: &str) -> FlightClient {
    let channel = endpoint(addr)
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await
        .expect("connect to Flight");
    let mut client = FlightClient::new(channel);
    client.add_header("x-api-key", key).expect("header");
    client
}

/// Waits for job `id` to succeed (asking node `addr`); returns it.
async fn wait_job(addr: &str, key: &str, id: &str) -> v1::Job {
    let key: tonic::metadata::MetadataValue<_> = key.parse().expect("an ascii key");
    let mut jobs = JobServiceClient::with_interceptor(
        cluster::channel(addr),
        move |mut request: tonic::Request<()>| {
            request.metadata_mut().insert("x-api-key", key.clone());
            Ok(request)
        },
    );
    let deadline = Instant::now() + JOB_TIMEOUT;
    loop {
        let answer = jobs
            .get_job(v1::GetJobRequest {
                job_id: id.to_owned(),
            })
            .await;
        if let Ok(answer) = answer {
            let job = answer.into_inner().job.expect("a job");
            match v1::JobStatus::try_from(job.status).expect("a status") {
                v1::JobStatus::Succeeded => return job,
                v1::JobStatus::Failed | v1::JobStatus::Cancelled => {
                    panic!("job {id} ended: {job:?}")
                }
                _ => {}
            }
        }
        assert!(
            Instant::now() < deadline,
            "job {id} did not succeed in time"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The `age` column of `batches` as numbers (nulls as NaN), in row order.
fn ages(batches: &[RecordBatch]) -> Vec<f64> {
    let mut out = Vec::new();
    for batch in batches {
        let age = batch.column_by_name("age").expect("an age column");
        let age = arrow::compute::cast(age, &DataType::Float64).expect("cast");
        let age = age.as_primitive::<Float64Type>();
        out.extend((0..age.len()).map(|i| {
            if age.is_null(i) {
                f64::NAN
            } else {
                age.value(i)
            }
        }));
    }
    out
}

#[test]
fn flight_and_peer_object_fetches_work_over_tls_and_plaintext_is_refused() {
    let layout = Layout {
        shared_objects: false,
        tls: true,
        ..Layout::nodes(3)
    };
    let cluster = LocalCluster::start(&layout);
    runtime().block_on(async {
        // The harness's own status calls go over TLS: the cluster forms.
        wait_until_formed(&cluster, Duration::from_secs(40)).await;
        let key = bootstrap_key(&cluster).await;

        // Plaintext to a TLS node gets nowhere, on the API port or on Flight.
        let plain_grpc = format!("127.0.0.1:{}", cluster.ports[0].grpc);
        assert!(
            cluster::status(&plain_grpc).await.is_none(),
            "a plaintext status call to a TLS node was answered"
        );
        let plain_flight = format!("127.0.0.1:{}", cluster.ports[0].flight);
        let mut plain = FlightClient::new(cluster::channel(&plain_flight));
        plain.add_header("x-api-key", &key).expect("header");
        assert!(
            plain.do_get(Ticket::new("dataset/x")).await.is_err(),
            "a plaintext Flight call to a TLS node was answered"
        );

        // Upload through node 1's Flight, over TLS.
        let sample = cluster::adult_sample(cluster.dir.path(), ROWS);
        let table = mirage_data::read_table(&sample, &mirage_data::ReadOptions::default())
            .expect("read adult");
        let sent = table.batches().to_vec();
        let mut uploader = flight(&cluster.flight_addr(1), &key).await;
        let meta = cluster::upload(&mut uploader, "adult", sent.clone()).await;
        let dataset_id = meta["dataset_id"].as_str().expect("dataset id").to_owned();
        let ingest_id = meta["job_id"].as_str().expect("job id").to_owned();
        assert_eq!(meta["rows"], ROWS);

        // The ingest job may run anywhere (fetching the upload from node 1 if elsewhere);
        // read from a node that neither took the upload nor ran the ingest.
        let ingest = wait_job(&cluster.addr(1), &key, &ingest_id).await;
        let ingested_on = ingest.node_id.expect("the node that ran the ingest");
        let reader_id = cluster
            .ids()
            .into_iter()
            .find(|id| *id != 1 && *id != ingested_on)
            .expect("a third node");
        let mut reader = flight(&cluster.flight_addr(reader_id), &key).await;
        let received: Vec<RecordBatch> = reader
            .do_get(Ticket::new(format!("dataset/{dataset_id}")))
            .await
            .unwrap_or_else(|status| {
                panic!(
                    "do_get on node {reader_id} (ingested on {ingested_on}): {status}\n{}",
                    cluster.logs()
                )
            })
            .try_collect()
            .await
            .expect("the dataset's batches");
        let rows: usize = received.iter().map(RecordBatch::num_rows).sum();
        assert_eq!(rows, ROWS, "rows read from node {reader_id}");
        let (want, got) = (ages(&sent), ages(&received));
        assert!(
            want.iter()
                .zip(&got)
                .all(|(a, b)| a == b || (a.is_nan() && b.is_nan())),
            "the ages read back differ from the ones uploaded"
        );
        let schema = received[0].schema();
        for field in sent[0].schema().fields() {
            assert!(
                schema.field_with_name(field.name()).is_ok(),
                "column {} missing from what node {reader_id} served",
                field.name()
            );
        }
    });
}

/// `mirage cluster status` against `addr` with `args` after it; the output.
fn cluster_status(addr: &str, args: &[&str]) -> std::process::Output {
    mirage()
        .args(["cluster", "status", "--addr", addr])
        .args(args)
        .env("MIRAGE_CLUSTER_SECRET", SECRET)
        .env_remove("MIRAGE_API_KEY")
        .output()
        .expect("run mirage cluster status")
}

fn path(name: &str) -> String {
    tls_fixture(name).display().to_string()
}

#[test]
fn cluster_status_reaches_a_tls_node_with_the_tls_options() {
    let layout = Layout {
        tls: true,
        ..Layout::nodes(1)
    };
    let cluster = LocalCluster::start(&layout);
    runtime().block_on(wait_until_formed(&cluster, Duration::from_secs(30)));
    let bare = format!("127.0.0.1:{}", cluster.ports[0].grpc);
    let (ca, cert, key) = (path("ca.pem"), path("node.pem"), path("node.key.pem"));

    // The CA makes a bare address https; the certificate satisfies the node's `ca_file`.
    let output = cluster_status(
        &bare,
        &[
            "--json",
            "--tls-ca",
            &ca,
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--tls-server-name",
            "localhost",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "status over TLS failed: {stderr}");
    let status: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(status["leader_id"], 1, "{status}");

    // The same from the environment, with an https:// address.
    let output = mirage()
        .args(["cluster", "status", "--addr", &cluster.addr(1)])
        .env("MIRAGE_CLUSTER_SECRET", SECRET)
        .env("MIRAGE_TLS_CA", &ca)
        .env("MIRAGE_TLS_CERT", &cert)
        .env("MIRAGE_TLS_KEY", &key)
        .output()
        .expect("run mirage cluster status");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "status over TLS (env) failed: {stderr}"
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("leader"));

    // Plaintext: refused, and the error says which option to add.
    let output = cluster_status(&bare, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "plaintext status to a TLS node succeeded"
    );
    assert!(stderr.contains("--tls-ca"), "{stderr}");

    // TLS without a client certificate: the node requires one, and the error says so.
    let output = cluster_status(&bare, &["--tls-ca", &ca]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "status without a client certificate succeeded"
    );
    assert!(stderr.contains("--tls-cert"), "{stderr}");

    // A missing file is named with its flag, before anything is dialled.
    let missing = cluster.dir.path().join("no-such-ca.pem");
    let missing = missing.display().to_string();
    let output = cluster_status(&bare, &["--tls-ca", &missing]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("--tls-ca") && stderr.contains(&missing),
        "{stderr}"
    );

    // A client certificate without TLS is a mistake worth naming.
    let output = cluster_status(&bare, &["--tls-cert", &cert, "--tls-key", &key]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("--tls-cert") && stderr.contains("--tls-ca FILE"),
        "{stderr}"
    );
}

/// The console's command line, as `mirage tui` parses it.
#[derive(clap::Parser)]
struct ConsoleCli {
    #[command(flatten)]
    args: mirage_tui::Args,
}

#[test]
fn the_console_polls_a_tls_cluster_and_the_members_it_learns() {
    use clap::Parser;
    use mirage_tui::client::Source;

    let layout = Layout {
        tls: true,
        ..Layout::nodes(3)
    };
    let cluster = LocalCluster::start(&layout);
    let (ca, cert, key) = (path("ca.pem"), path("node.pem"), path("node.key.pem"));
    let cli = ConsoleCli::try_parse_from([
        "mirage-tui",
        "--addr",
        &cluster.addr(1),
        "--tls-ca",
        &ca,
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--tls-server-name",
        "localhost",
    ])
    .expect("parse");
    let (addresses, tls) = cli.args.connection().expect("the TLS files are fine");
    let credentials =
        mirage_tui::grpc::Credentials::new(None, Some(SECRET)).expect("ascii credentials");
    let mut source = mirage_tui::grpc::GrpcSource::new(credentials).with_tls(tls);
    runtime().block_on(async {
        wait_until_formed(&cluster, Duration::from_secs(40)).await;
        let snapshot = source.poll(&addresses[0]).await.expect("poll over TLS");
        let status = snapshot.status.expect("a status");
        assert_eq!(status.nodes.len(), 3, "{status:?}");
        // The member list gives bare HOST:PORT addresses: they get TLS too.
        for node in &status.nodes {
            assert!(!node.address.contains("://"), "{}", node.address);
            let snapshot = source
                .poll(&node.address)
                .await
                .unwrap_or_else(|error| panic!("poll of learned {}: {error}", node.address));
            assert!(snapshot.status.is_some());
        }
    });

    // Without the CA, the console reaches nothing and says what failed.
    let cli = ConsoleCli::try_parse_from([
        "mirage-tui",
        "--addr",
        &format!("127.0.0.1:{}", cluster.ports[0].grpc),
    ])
    .expect("parse");
    let (addresses, tls) = cli.args.connection().expect("no TLS is valid");
    let credentials =
        mirage_tui::grpc::Credentials::new(None, Some(SECRET)).expect("ascii credentials");
    let mut plain = mirage_tui::grpc::GrpcSource::new(credentials).with_tls(tls);
    let error = runtime()
        .block_on(plain.poll(&addresses[0]))
        .expect_err("plaintext to a TLS node");
    assert!(error.is_node_failure(), "{error}");
}
