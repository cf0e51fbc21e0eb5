"""The whole Mirage flow from Python, against a real three-node cluster, with clients nobody
here wrote: `pyarrow.flight` for rows and the generated gRPC stubs for everything else.

Upload Adult by Flight DoPut to node 1, follow its ingest job on node 2 and read the
profile, train on node 3, generate with a condition, read the quality report, and pull the
rows by Flight DoGet from a node other than the one that generated them. Plus: a wrong API
key is refused on both protocols.
"""

from __future__ import annotations

import json
import os
import stat
import time
import uuid

import grpc
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.flight as flight
import pytest

from local_cluster import REPO_ROOT, Cluster
from mirage._proto.mirage.v1 import (
    cluster_pb2,
    cluster_pb2_grpc,
    common_pb2,
    datasets_pb2,
    datasets_pb2_grpc,
    generations_pb2,
    generations_pb2_grpc,
    jobs_pb2,
    jobs_pb2_grpc,
    models_pb2,
    models_pb2_grpc,
    quality_pb2,
    quality_pb2_grpc,
)

ADULT = REPO_ROOT / "data" / "adult.csv.gz"
UPLOAD_ROWS = 2000
GENERATED_ROWS = 500
MIN_AGE = 65
SEED = 7
# Generous for a debug build on two cores; the jobs take seconds.
JOB_TIMEOUT_S = 180.0
TERMINAL = {
    jobs_pb2.JOB_STATUS_SUCCEEDED,
    jobs_pb2.JOB_STATUS_FAILED,
    jobs_pb2.JOB_STATUS_CANCELLED,
}


class Api:
    """The public gRPC services of one node, every call carrying the admin key."""

    def __init__(self, cluster: Cluster, node_id: int):
        channel = cluster.channel(node_id)
        self.node_id = node_id
        self.metadata = cluster.metadata()
        self.datasets = datasets_pb2_grpc.DatasetServiceStub(channel)
        self.jobs = jobs_pb2_grpc.JobServiceStub(channel)
        self.models = models_pb2_grpc.ModelServiceStub(channel)
        self.generations = generations_pb2_grpc.GenerationServiceStub(channel)
        self.quality = quality_pb2_grpc.QualityServiceStub(channel)
        self.cluster = cluster_pb2_grpc.ClusterServiceStub(channel)

    def call(self, method, request, timeout: float = 30.0):
        """Calls a unary RPC; a refusal fails the test with its code and message."""
        try:
            return method(request, metadata=self.metadata, timeout=timeout)
        except grpc.RpcError as error:
            pytest.fail(
                f"node {self.node_id}: {type(request).__name__} refused: "
                f"{error.code().name}: {error.details()}"
            )


def flight_client(cluster: Cluster, node_id: int) -> flight.FlightClient:
    """A Flight client of a node, found as a client would: from its gRPC address alone
    (the cluster status names the answering node's Flight address)."""
    api = Api(cluster, node_id)
    status = api.call(api.cluster.GetClusterStatus, cluster_pb2.GetClusterStatusRequest()).status
    assert status.answered_by == node_id, status.answered_by
    assert status.flight_address, f"node {node_id} advertises no Flight address"
    return flight.connect(f"grpc+tcp://{status.flight_address}")


def flight_options(key: str, timeout: float = 60.0) -> flight.FlightCallOptions:
    return flight.FlightCallOptions(headers=[(b"x-api-key", key.encode())], timeout=timeout)


def wait_for_job(api: Api, job_id: str, what: str) -> jobs_pb2.Job:
    """Polls GetJob until the job ends; fails unless it succeeded."""
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while True:
        job = api.call(api.jobs.GetJob, jobs_pb2.GetJobRequest(job_id=job_id)).job
        if job.status in TERMINAL:
            break
        if time.monotonic() > deadline:
            pytest.fail(
                f"{what} job {job_id} still {jobs_pb2.JobStatus.Name(job.status)} "
                f"after {JOB_TIMEOUT_S}s"
            )
        time.sleep(0.2)
    assert job.status == jobs_pb2.JOB_STATUS_SUCCEEDED, (
        f"{what} job {job_id} ended {jobs_pb2.JobStatus.Name(job.status)}: {job.error}"
    )
    return job


def watch_job(api: Api, job_id: str, what: str) -> jobs_pb2.ProgressEvent:
    """Follows WatchJob's stream to its terminal event; fails unless the job succeeded."""
    last = None
    stream = api.jobs.WatchJob(
        jobs_pb2.WatchJobRequest(job_id=job_id), metadata=api.metadata, timeout=JOB_TIMEOUT_S
    )
    try:
        for event in stream:
            assert event.job_id == job_id
            last = event
            if event.status in TERMINAL:
                break
    except grpc.RpcError as error:
        pytest.fail(
            f"node {api.node_id}: watching {what} job {job_id}: "
            f"{error.code().name}: {error.details()}"
        )
    finally:
        stream.cancel()
    assert last is not None, f"WatchJob sent no event for {what} job {job_id}"
    assert last.status == jobs_pb2.JOB_STATUS_SUCCEEDED, (
        f"{what} job {job_id} ended {jobs_pb2.JobStatus.Name(last.status)}: {last.message}"
    )
    return last


def adult_sample() -> pa.Table:
    """The first rows of the committed Adult census extract."""
    table = pacsv.read_csv(ADULT)
    assert table.num_rows > UPLOAD_ROWS
    return table.slice(0, UPLOAD_ROWS).combine_chunks()


def test_upload_train_generate_and_read_rows_across_nodes(cluster: Cluster) -> None:
    key = cluster.api_key
    options = flight_options(key)
    node1, node2, node3 = Api(cluster, 1), Api(cluster, 2), Api(cluster, 3)

    # Upload by Flight DoPut to node 1.
    table = adult_sample()
    name = f"adult-python-{uuid.uuid4().hex[:8]}"
    upload = flight_client(cluster, 1)
    writer, metadata_reader = upload.do_put(
        flight.FlightDescriptor.for_path("datasets", name), table.schema, options=options
    )
    writer.write_table(table)
    writer.done_writing()
    put_result = metadata_reader.read()
    writer.close()
    assert put_result is not None, "DoPut answered no PutResult"
    uploaded = json.loads(put_result.to_pybytes())
    assert uploaded["rows"] == UPLOAD_ROWS, uploaded
    assert uploaded["bytes"] > 0, uploaded
    dataset_id, ingest_id = uploaded["dataset_id"], uploaded["job_id"]
    assert dataset_id and ingest_id, uploaded

    # Its ingest (profile) job, followed on node 2; the profile is there when it succeeded.
    ingest = wait_for_job(node2, ingest_id, "ingest")
    assert ingest.kind == jobs_pb2.JOB_KIND_INGEST
    dataset = node2.call(
        node2.datasets.GetDataset, datasets_pb2.GetDatasetRequest(dataset_id=dataset_id)
    ).dataset
    assert dataset.name == name
    assert dataset.rows == UPLOAD_ROWS
    assert dataset.profile.rows == UPLOAD_ROWS
    profiled = {column.name: column for column in dataset.profile.columns}
    assert "age" in profiled, sorted(profiled)
    assert set(profiled) == set(table.column_names)
    assert {column.name for column in dataset.schema.columns} == set(table.column_names)
    age = profiled["age"]
    assert age.count == UPLOAD_ROWS
    assert age.min == pc.min(table["age"]).as_py()
    assert age.max == pc.max(table["age"]).as_py()

    # Train a Gaussian copula on node 3, following it with WatchJob.
    training = node3.call(
        node3.jobs.SubmitTraining,
        jobs_pb2.SubmitTrainingRequest(
            dataset_id=dataset_id, model_kind=models_pb2.MODEL_KIND_GAUSSIAN_COPULA
        ),
    ).job
    assert training.kind == jobs_pb2.JOB_KIND_TRAIN
    watch_job(node3, training.id, "training")
    trained = wait_for_job(node3, training.id, "training")
    assert trained.result_json, "a succeeded training job reports what it made"
    models = node3.call(
        node3.models.ListModels, models_pb2.ListModelsRequest(dataset_id=dataset_id)
    ).models
    assert len(models) == 1, models
    model = models[0]
    assert model.kind == models_pb2.MODEL_KIND_GAUSSIAN_COPULA
    assert model.job_id == training.id

    # Generate with a condition (age > 65), submitted on node 1.
    submitted = node1.call(
        node1.generations.SubmitGeneration,
        generations_pb2.SubmitGenerationRequest(
            model_id=model.id,
            rows=GENERATED_ROWS,
            seed=SEED,
            conditions=[common_pb2.Condition(column="age", gt=common_pb2.Value(int_value=MIN_AGE))],
            mode=generations_pb2.GENERATION_MODE_BATCH,
        ),
    )
    generation_id = submitted.generation_id
    assert generation_id and submitted.job.id
    generate = wait_for_job(node2, submitted.job.id, "generate")
    assert generate.kind == jobs_pb2.JOB_KIND_GENERATE
    assert generate.HasField("node_id"), "a succeeded job names the node that ran it"
    producer = generate.node_id
    assert producer in cluster.nodes, producer

    # The assessment follows by itself; its report is linked from the generation.
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while True:
        generation = node2.call(
            node2.generations.GetGeneration,
            generations_pb2.GetGenerationRequest(generation_id=generation_id),
        ).generation
        if generation.report_id:
            break
        assert time.monotonic() < deadline, f"no report for {generation_id} after {JOB_TIMEOUT_S}s"
        time.sleep(0.2)
    assert generation.rows_ready
    assert generation.job_id == submitted.job.id
    assert generation.rows == GENERATED_ROWS
    assert generation.seed == SEED
    report = node3.call(
        node3.quality.GetReport, quality_pb2.GetReportRequest(report_id=generation.report_id)
    )
    summary = report.summary
    assert summary.generation_id == generation_id
    assert 0.0 < summary.overall <= 1.0, summary
    assert report.column_scores, "the report scores columns"
    assert isinstance(json.loads(report.report_json), dict)

    # The rows, by Flight DoGet from a node that did not generate them. Rows failing the
    # quality gate are held back until an admin (the bootstrap key is one) releases them.
    reader_id = next(node_id for node_id in sorted(cluster.nodes) if node_id != producer)
    if not summary.gate_passed:
        reader = Api(cluster, reader_id)
        released = reader.call(
            reader.generations.ReleaseGeneration,
            generations_pb2.ReleaseGenerationRequest(generation_id=generation_id),
        ).generation
        assert released.released
    download = flight_client(cluster, reader_id)
    rows = download.do_get(flight.Ticket(f"generation/{generation_id}".encode()), options=options)
    generated = rows.read_all()
    assert generated.num_rows == GENERATED_ROWS
    assert set(generated.column_names) == set(table.column_names)
    ages = generated["age"]
    assert ages.null_count == 0
    assert pc.all(pc.greater(ages, MIN_AGE)).as_py(), pc.min(ages)

    # The uploaded dataset reads back whole from yet another node.
    other = next(node_id for node_id in sorted(cluster.nodes) if node_id not in (1, reader_id))
    back = (
        flight_client(cluster, other)
        .do_get(flight.Ticket(f"dataset/{dataset_id}".encode()), options=options)
        .read_all()
    )
    assert back.num_rows == UPLOAD_ROWS
    assert back.column("age").to_pylist() == table.column("age").to_pylist()


def test_a_wrong_api_key_is_refused(cluster: Cluster) -> None:
    wrong_key = cluster.metadata("mk_not_a_key")
    status = cluster_pb2_grpc.ClusterServiceStub(cluster.channel(2))
    with pytest.raises(grpc.RpcError) as refused:
        status.GetClusterStatus(
            cluster_pb2.GetClusterStatusRequest(), metadata=wrong_key, timeout=10
        )
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED, refused.value.details()
    # Every method wants a key, the cluster status included.
    with pytest.raises(grpc.RpcError) as refused:
        status.GetClusterStatus(cluster_pb2.GetClusterStatusRequest(), timeout=10)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED, refused.value.details()
    datasets = datasets_pb2_grpc.DatasetServiceStub(cluster.channel(3))
    for metadata in (wrong_key, []):
        with pytest.raises(grpc.RpcError) as refused:
            datasets.ListDatasets(datasets_pb2.ListDatasetsRequest(), metadata=metadata, timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED, refused.value.details()
    # The right key also works as a bearer token.
    datasets.ListDatasets(
        datasets_pb2.ListDatasetsRequest(),
        metadata=[("authorization", f"Bearer {cluster.api_key}")],
        timeout=10,
    )

    client = flight_client(cluster, 2)
    wrong = flight_options("mk_not_a_key", timeout=10)
    no_key = flight.FlightCallOptions(timeout=10)
    for options in (wrong, no_key):
        with pytest.raises(flight.FlightUnauthenticatedError):
            list(client.list_flights(options=options))
        with pytest.raises(flight.FlightUnauthenticatedError):
            client.do_get(flight.Ticket(b"dataset/ds_0"), options=options).read_all()

    # The bootstrap key is readable by its owner only.
    key_file = cluster.node(1).data_dir / "bootstrap-key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
