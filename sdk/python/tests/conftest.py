"""The `cluster` fixture: three `mirage node` processes forming one cluster (see
`local_cluster.py`), killed when the module's tests end however they end. A failing test
gets the tail of every node's log appended to its report.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from local_cluster import (
    FORM_TIMEOUT_S,
    NODE_COUNT,
    Cluster,
    Node,
    free_ports,
    mirage_binary,
    read_bootstrap_key,
    start,
    wait_until_formed,
    write_config,
)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Three `mirage node` processes forming one cluster, with the bootstrap admin key."""
    binary = mirage_binary()
    if not binary.is_file():
        pytest.fail(
            f"no mirage binary at {binary}: run `cargo build -p mirage-node --bin mirage` "
            "or set MIRAGE_BIN",
            pytrace=False,
        )
    root = tmp_path_factory.mktemp("cluster")
    objects = root / "objects"
    objects.mkdir()
    ports = free_ports(4 * NODE_COUNT)
    nodes = []
    for index in range(NODE_COUNT):
        node_id = index + 1
        grpc_port, flight_port, actor_port, metrics_port = ports[4 * index : 4 * index + 4]
        nodes.append(
            Node(
                id=node_id,
                grpc_port=grpc_port,
                flight_port=flight_port,
                actor_port=actor_port,
                metrics_port=metrics_port,
                data_dir=root / f"node-{node_id}",
                config=root / f"node-{node_id}.toml",
                log=root / f"node-{node_id}.log",
            )
        )
    cluster = Cluster(root=root, nodes={node.id: node for node in nodes})
    try:
        for node in nodes:
            write_config(node, nodes, objects)
            start(node, binary)
        deadline = time.monotonic() + FORM_TIMEOUT_S
        cluster.api_key = read_bootstrap_key(cluster, deadline)
        cluster.leader = wait_until_formed(cluster, deadline)
        yield cluster
    finally:
        cluster.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Appends the nodes' log tails to the report of a failing test that used the cluster."""
    outcome = yield
    report = outcome.get_result()
    running = getattr(item, "funcargs", {}).get("cluster")
    if report.failed and isinstance(running, Cluster):
        report.sections.append(("mirage node logs", running.logs()))
