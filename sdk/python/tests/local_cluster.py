"""A three-node `mirage node` cluster on loopback, as a user would run one.

Nothing is built here: the fixture runs the binary named by `MIRAGE_BIN` (default
`$CARGO_TARGET_DIR/debug/mirage`, as `cargo build -p mirage-node --bin mirage` leaves it).
Each node gets free ports, its own data directory and log file; the three share one object
store directory, as the Rust cluster tests do (`node/tests/cluster/mod.rs`), with the same
short timings. Node 1 bootstraps the cluster and writes the admin key of the default tenant
to `<data_dir>/bootstrap-key`; the fixture reads it from there.

`conftest.py` turns it into the `cluster` fixture.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from mirage._proto.mirage.v1 import cluster_pb2, cluster_pb2_grpc

REPO_ROOT = Path(__file__).resolve().parents[3]
CLUSTER_SECRET = "python-test-cluster-secret"
NODE_COUNT = 3
# A debug build starts in a few seconds; elections take under one.
FORM_TIMEOUT_S = 120.0
LOG_TAIL_LINES = 60


def mirage_binary() -> Path:
    """The `mirage` binary the tests run."""
    if explicit := os.environ.get("MIRAGE_BIN"):
        return Path(explicit)
    target = os.environ.get("CARGO_TARGET_DIR") or str(REPO_ROOT / "target")
    return Path(target) / "debug" / "mirage"


def free_ports(count: int) -> list[int]:
    """`count` distinct free loopback ports (all bound at once, so none repeats, then released)."""
    with ExitStack() as stack:
        sockets = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]


@dataclass
class Node:
    """One `mirage node` process and where it listens."""

    id: int
    grpc_port: int
    flight_port: int
    actor_port: int
    metrics_port: int
    data_dir: Path
    config: Path
    log: Path
    process: subprocess.Popen | None = None

    @property
    def grpc_addr(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def flight_uri(self) -> str:
        return f"grpc+tcp://127.0.0.1:{self.flight_port}"

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError as error:
            return f"(no log: {error})"
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Cluster:
    """A running three-node cluster and the admin key of its default tenant."""

    root: Path
    nodes: dict[int, Node]
    api_key: str = ""
    leader: int = 0
    _channels: dict[int, grpc.Channel] = field(default_factory=dict)

    def node(self, node_id: int) -> Node:
        return self.nodes[node_id]

    def channel(self, node_id: int) -> grpc.Channel:
        """A gRPC channel to a node (one per node, closed with the cluster)."""
        if node_id not in self._channels:
            self._channels[node_id] = grpc.insecure_channel(self.nodes[node_id].grpc_addr)
        return self._channels[node_id]

    def metadata(self, key: str | None = None) -> list[tuple[str, str]]:
        """gRPC call metadata carrying `key` (default: the bootstrap admin key)."""
        return [("x-api-key", self.api_key if key is None else key)]

    def logs(self) -> str:
        return "\n".join(
            f"--- node {node.id} ({node.log}) ---\n{node.log_tail()}"
            for node in self.nodes.values()
        )

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()
        stop(list(self.nodes.values()))


def toml_string(value: object) -> str:
    """A TOML basic string (JSON's escaping is valid TOML for these paths)."""
    return json.dumps(str(value))


def write_config(node: Node, nodes: list[Node], objects: Path) -> None:
    """The node's TOML config, the layout `node/tests/cluster/mod.rs` writes."""
    lines = [
        f"node_id = {node.id}",
        f"data_dir = {toml_string(node.data_dir)}",
        f'grpc_addr = "127.0.0.1:{node.grpc_port}"',
        f'flight_addr = "127.0.0.1:{node.flight_port}"',
        f'actor_addr = "127.0.0.1:{node.actor_port}"',
        f'metrics_addr = "127.0.0.1:{node.metrics_port}"',
        f"object_store = {toml_string(f'file://{objects}')}",
    ]
    for peer in nodes:
        if peer.id != node.id:
            lines += [
                "",
                "[[peers]]",
                f"node_id = {peer.id}",
                f'grpc_addr = "127.0.0.1:{peer.grpc_port}"',
                f'actor_addr = "127.0.0.1:{peer.actor_port}"',
            ]
    lines += [
        "",
        "[resources]",
        "cpu_cores = 2",
        "memory_mib = 4096",
        "",
        "[cluster]",
        "raft_heartbeat_ms = 100",
        "election_timeout_min_ms = 300",
        "election_timeout_max_ms = 600",
        "snapshot_after_logs = 5000",
        "lease_ms = 3000",
        "node_heartbeat_ms = 500",
        "schedule_ms = 200",
    ]
    node.config.write_text("\n".join(lines) + "\n")


def start(node: Node, binary: Path) -> None:
    """Starts the node with its config; stderr (its log) goes to its log file."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("MIRAGE_")}
    env["MIRAGE_CLUSTER_SECRET"] = CLUSTER_SECRET
    env.setdefault("RUST_LOG", "info")
    # Plain log lines in the failure reports (tracing honours NO_COLOR).
    env["NO_COLOR"] = "1"
    with node.log.open("wb") as log:
        node.process = subprocess.Popen(
            [str(binary), "node", "--config", str(node.config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=env,
            cwd=node.data_dir.parent,
            # Its own process group, so stopping it reaches anything it started.
            start_new_session=True,
        )


def signal_node(node: Node, sig: signal.Signals) -> None:
    """Sends `sig` to the node's process group, if it still runs."""
    if node.process is None or node.process.poll() is not None:
        return
    try:
        os.killpg(node.process.pid, sig)
    except ProcessLookupError:
        pass


def stop(nodes: list[Node], grace_s: float = 5.0) -> None:
    """SIGTERM to every node at once, then SIGKILL to any still there after `grace_s`."""
    for node in nodes:
        signal_node(node, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for node in nodes:
        if node.process is None:
            continue
        try:
            node.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            signal_node(node, signal.SIGKILL)
            node.process.wait()


def cluster_status(cluster: Cluster, node_id: int) -> cluster_pb2.ClusterStatus | None:
    """The cluster as `node_id` sees it, or None while it does not answer."""
    stub = cluster_pb2_grpc.ClusterServiceStub(cluster.channel(node_id))
    try:
        return stub.GetClusterStatus(
            cluster_pb2.GetClusterStatusRequest(), metadata=cluster.metadata(), timeout=2
        ).status
    except grpc.RpcError:
        return None


def read_bootstrap_key(cluster: Cluster, deadline: float) -> str:
    """The admin key the bootstrapping node (the lowest id) writes on first start."""
    first = cluster.nodes[min(cluster.nodes)]
    path = first.data_dir / "bootstrap-key"
    while time.monotonic() < deadline:
        exited = [node.id for node in cluster.nodes.values() if node.process.poll() is not None]
        if exited:
            raise RuntimeError(f"node(s) {exited} exited while starting\n{cluster.logs()}")
        if path.is_file() and (key := path.read_text().strip()):
            return key
        time.sleep(0.1)
    raise TimeoutError(
        f"node {first.id} wrote no {path} within {FORM_TIMEOUT_S}s\n{cluster.logs()}"
    )


def wait_until_formed(cluster: Cluster, deadline: float) -> int:
    """Waits until every node names the same leader and sees all nodes alive; returns it."""
    expected = set(cluster.nodes)
    last: dict[int, cluster_pb2.ClusterStatus | None] = {}
    while time.monotonic() < deadline:
        last = {node_id: cluster_status(cluster, node_id) for node_id in cluster.nodes}
        leaders = {
            status.leader_id if status is not None and status.HasField("leader_id") else None
            for status in last.values()
        }
        formed = all(
            status is not None and expected <= {node.id for node in status.nodes if node.alive}
            for status in last.values()
        )
        if formed and len(leaders) == 1 and None not in leaders:
            return leaders.pop()
        time.sleep(0.2)
    seen = {node_id: str(status).replace("\n", " ") for node_id, status in last.items()}
    raise TimeoutError(
        f"the cluster did not form within {FORM_TIMEOUT_S}s; last statuses: {seen}\n"
        + cluster.logs()
    )
