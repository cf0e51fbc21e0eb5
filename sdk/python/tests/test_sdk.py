"""The SDK against one real `mirage node`: upload, profile, train, generate with
conditions, stream, report, budgets and the typed errors a user meets."""

from __future__ import annotations

import collections
import gzip
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

import mirage
from local_cluster import (
    FORM_TIMEOUT_S,
    Cluster,
    Node,
    free_ports,
    mirage_binary,
    read_bootstrap_key,
    start,
    wait_until_formed,
    write_config,
)

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One `mirage node` (a cluster of one) and its bootstrap admin key."""
    binary = mirage_binary()
    if not binary.is_file():
        pytest.fail(f"no mirage binary at {binary}: run `cargo build -p mirage-node --bin mirage`", pytrace=False)
    root = tmp_path_factory.mktemp("node")
    objects = root / "objects"
    objects.mkdir()
    grpc_port, flight_port, actor_port, metrics_port = free_ports(4)
    one = Node(
        id=1,
        grpc_port=grpc_port,
        flight_port=flight_port,
        actor_port=actor_port,
        metrics_port=metrics_port,
        data_dir=root / "node-1",
        config=root / "node-1.toml",
        log=root / "node-1.log",
    )
    cluster = Cluster(root=root, nodes={1: one})
    try:
        write_config(one, [one], objects)
        start(one, binary)
        deadline = time.monotonic() + FORM_TIMEOUT_S
        cluster.api_key = read_bootstrap_key(cluster, deadline)
        cluster.leader = wait_until_formed(cluster, deadline)
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def client(node: Cluster) -> Iterator[mirage.Client]:
    with mirage.Client(node.node(1).grpc_addr, api_key=node.api_key) as client:
        yield client


@pytest.fixture(scope="module")
def adult_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 1500 rows of the committed Adult data."""
    path = tmp_path_factory.mktemp("data") / "adult.csv"
    with gzip.open(REPO / "data" / "adult.csv.gz", "rt") as source, open(path, "w") as out:
        for index, line in enumerate(source):
            if index > 1500:
                break
            out.write(line)
    return path


def test_the_whole_flow(client: mirage.Client, adult_csv: Path) -> None:
    adult = client.datasets.upload(adult_csv, name="adult-sdk")
    assert adult.rows == 1500
    assert "age" in adult.columns
    profile = adult.profile()
    assert profile.rows == 1500
    assert "age" in repr(profile)
    assert any(d.id == adult.id for d in client.datasets.list())

    # A neural model for one epoch, with the progress bar the quick start shows.
    tvae = client.train(adult, model="tvae", epochs=1).wait(progress=True).model
    assert tvae.kind == "tvae"
    assert tvae.training_summary["epochs"] == 1

    job = client.train(adult, model="gaussian-copula")
    events = list(job.events())
    assert events and events[-1].status == "succeeded"
    model = job.wait().model
    assert model.kind == "gaussian_copula"
    assert model.dataset_id == adult.id

    try:
        table = model.generate(400, seed=3, conditions={"age": (">", 65)}, arrow=True)
        assert table.num_rows == 400
    except mirage.FailedPrecondition as blocked:
        # The rows scored below the quality gate: they stay in until an admin releases them.
        assert "quality gate" in blocked.message

    generation = model.submit_generation(400, seed=3, conditions={"age": (">", 65)})
    report = generation.wait().report()
    if not report.gate_passed:
        assert report.gate_reasons
        with pytest.raises(mirage.FailedPrecondition, match="quality gate"):
            generation.to_arrow()
        assert generation.release().rows_ready
    table = generation.to_arrow()
    assert table.num_rows == 400
    assert generation.id in [g.id for g in model.generations()]
    ages = [a for a in table.column("age").to_pylist() if a is not None]
    assert ages and all(a > 65 for a in ages)
    assert 0.0 < report.overall <= 1.0
    assert report.column_scores
    assert report.to_dict()["fidelity"]["overall"] == pytest.approx(report.overall)
    assert "overall" in report._repr_html_()
    html = report.save_html(adult_csv.parent / "report.html")
    assert "<html" in html.read_text()

    # The category as the data spells it (Adult's CSV keeps a space after each comma).
    sex = next(c for c in profile.columns if c["name"] == "sex")
    female = next(value for value, _ in sex["top"] if value.strip() == "Female")
    streamed = list(model.stream(1000, seed=5, conditions={"sex": female}, batch_rows=256))
    rows = sum(b.num_rows for b in streamed)
    assert rows == 1000
    assert set(pa.Table.from_batches(streamed).column("sex").to_pylist()) == {female}

    # Augmentation: equal shares of every class, or the listed ones.
    balanced = pa.Table.from_batches(list(model.stream(600, seed=5, rebalance="sex")))
    counts = collections.Counter(balanced.column("sex").to_pylist())
    assert sorted(counts.values()) == [300, 300], counts
    male = next(value for value, _ in sex["top"] if value.strip() == "Male")
    tilted = pa.Table.from_batches(list(model.stream(400, seed=5, rebalance=("sex", {female: 3, male: 1}))))
    counts = collections.Counter(tilted.column("sex").to_pylist())
    assert (counts[female], counts[male]) == (300, 100), counts
    with pytest.raises(mirage.InvalidArgument, match=r"rebalance\.shares\[0\]\.share"):
        list(model.stream(10, rebalance=("sex", {female: -1})))
    with pytest.raises(mirage.InvalidArgument, match="rebalance"):
        model.stream(10, rebalance=42).__next__()


def test_budgets_and_their_refusals(client: mirage.Client, adult_csv: Path) -> None:
    dataset = client.datasets.upload(adult_csv, name="adult-private")
    assert dataset.budget is None
    budget = dataset.set_budget(epsilon=1.5, delta=1e-5)
    assert budget.epsilon_remaining == pytest.approx(1.5)
    with pytest.raises(mirage.FailedPrecondition, match="privacy"):
        client.train(dataset, model="gaussian-copula")
    job = client.train(dataset, model="mst", privacy={"epsilon": 1.0, "delta": 1e-5})
    job.wait()
    spent = dataset.budget
    assert spent.epsilon_reserved == 0
    assert 0 < spent.epsilon_spent <= 1.0
    with pytest.raises(mirage.BudgetExceeded) as refused:
        client.train(dataset, model="mst", privacy={"epsilon": 1.0})
    assert "budget" in refused.value.message
    kinds = [event.kind for event in dataset.ledger()]
    assert kinds == ["set_budget", "reserve", "commit"]


def test_errors_are_typed_and_carry_the_servers_message(node: Cluster, client: mirage.Client) -> None:
    wrong = mirage.Client(node.node(1).grpc_addr, api_key="mk_not_a_real_key")
    with pytest.raises(mirage.AuthenticationError):
        wrong.datasets.list()
    with pytest.raises(mirage.AuthenticationError):
        wrong.datasets.upload(pa.table({"a": [1, 2]}), name="nope")
    with pytest.raises(mirage.NotFound, match="dataset"):
        client.datasets.get("ds_00000000000000000000000000000000")
    with pytest.raises(mirage.InvalidArgument, match="dataset_id"):
        client.datasets.get("not-an-id")
    with pytest.raises(mirage.InvalidArgument, match="model"):
        client.train("ds_00000000000000000000000000000000", model="no-such-model")
    with pytest.raises(mirage.InvalidArgument, match="conditions"):
        mirage.conditions.conditions({"age": ("~", 1)})
    with pytest.raises(mirage.AuthenticationError, match="MIRAGE_API_KEY"):
        mirage.Client(node.node(1).grpc_addr, api_key="")
