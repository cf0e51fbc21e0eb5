"""The connection under a :class:`mirage.Client`: one gRPC channel with the credentials on
every call, the service stubs, and an Arrow Flight client for moving rows."""

from __future__ import annotations

import os
from typing import Any, Callable, Optional, Sequence, Tuple

import grpc

from . import errors
from ._proto.mirage.v1 import (
    cluster_pb2,
    cluster_pb2_grpc,
    datasets_pb2_grpc,
    generations_pb2_grpc,
    jobs_pb2_grpc,
    models_pb2_grpc,
    privacy_pb2_grpc,
    quality_pb2_grpc,
)

#: The most bytes one gRPC message may hold (reports, row batches).
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


def _split_url(url: str) -> Tuple[str, Optional[bool]]:
    """``host:port`` and whether the URL asked for TLS (``https://``) or not (``http://``)."""
    for prefix, tls in (("https://", True), ("grpcs://", True), ("http://", False), ("grpc://", False)):
        if url.startswith(prefix):
            return url[len(prefix):].rstrip("/"), tls
    return url.rstrip("/"), None


class Connection:
    """Channel, credentials, stubs and Flight client of one client."""

    def __init__(
        self,
        url: Optional[str] = None,
        api_key: Optional[str] = None,
        token: Optional[str] = None,
        tls: Optional[bool] = None,
        root_certificates: Optional[bytes] = None,
        flight_url: Optional[str] = None,
        timeout: float = 60.0,
    ):
        url = url or os.environ.get("MIRAGE_URL")
        if not url:
            raise errors.InvalidArgument("no server address: pass url=… or set MIRAGE_URL (host:port)")
        api_key = api_key or (None if token else os.environ.get("MIRAGE_API_KEY"))
        token = token or os.environ.get("MIRAGE_TOKEN")
        if not api_key and not token:
            raise errors.AuthenticationError(
                "no credentials: pass api_key=… or token=…, or set MIRAGE_API_KEY"
            )
        self.address, url_tls = _split_url(url)
        self.tls = bool(tls if tls is not None else url_tls)
        self.timeout = timeout
        self._root_certificates = root_certificates
        if api_key:
            self.metadata: Sequence[Tuple[str, str]] = (("x-api-key", api_key),)
        else:
            self.metadata = (("authorization", f"Bearer {token}"),)
        options = [
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ]
        if self.tls:
            credentials = grpc.ssl_channel_credentials(root_certificates=root_certificates)
            self.channel = grpc.secure_channel(self.address, credentials, options=options)
        else:
            self.channel = grpc.insecure_channel(self.address, options=options)
        self.datasets = datasets_pb2_grpc.DatasetServiceStub(self.channel)
        self.jobs = jobs_pb2_grpc.JobServiceStub(self.channel)
        self.models = models_pb2_grpc.ModelServiceStub(self.channel)
        self.generations = generations_pb2_grpc.GenerationServiceStub(self.channel)
        self.quality = quality_pb2_grpc.QualityServiceStub(self.channel)
        self.privacy = privacy_pb2_grpc.PrivacyServiceStub(self.channel)
        self.cluster = cluster_pb2_grpc.ClusterServiceStub(self.channel)
        self._flight_url = flight_url or os.environ.get("MIRAGE_FLIGHT_URL")
        self._flight: Any = None

    def call(self, method: Callable[..., Any], request: Any, timeout: Optional[float] = None) -> Any:
        """Calls a unary RPC with the credentials; a failure raises a typed error."""
        try:
            return method(request, metadata=self.metadata, timeout=timeout or self.timeout)
        except grpc.RpcError as error:
            raise errors.from_rpc_error(error) from None

    def stream(self, method: Callable[..., Any], request: Any, timeout: Optional[float] = None):
        """Iterates a server-streaming RPC; a failure raises a typed error."""
        try:
            for item in method(request, metadata=self.metadata, timeout=timeout):
                yield item
        except grpc.RpcError as error:
            raise errors.from_rpc_error(error) from None

    # --- Arrow Flight -------------------------------------------------------------------

    def flight_location(self) -> str:
        """The Flight URL: given, or the one the answering node reports."""
        if self._flight_url:
            url = self._flight_url
        else:
            status = self.call(self.cluster.GetClusterStatus, cluster_pb2.GetClusterStatusRequest()).status
            if not status.flight_address:
                raise errors.Unavailable("the server did not say where it serves Arrow Flight; pass flight_url=…")
            url = status.flight_address
        host, url_tls = _split_url(url.replace("grpc+tcp://", "").replace("grpc+tls://", ""))
        if host.startswith("0.0.0.0:"):
            # A node listening on every interface: reach it where the gRPC API was reached.
            host = self.address.rsplit(":", 1)[0] + ":" + host.rsplit(":", 1)[1]
        scheme = "grpc+tls" if (self.tls if url_tls is None else url_tls) else "grpc+tcp"
        return f"{scheme}://{host}"

    def flight(self):
        """The Flight client (made on first use)."""
        if self._flight is None:
            import pyarrow.flight as flight

            kwargs = {}
            if self._root_certificates:
                kwargs["tls_root_certs"] = self._root_certificates
            self._flight = flight.FlightClient(self.flight_location(), **kwargs)
        return self._flight

    def flight_options(self):
        """Call options carrying the credentials on a Flight call."""
        import pyarrow.flight as flight

        headers = [(k.encode(), v.encode()) for k, v in self.metadata]
        return flight.FlightCallOptions(headers=headers, timeout=self.timeout * 10)

    def close(self) -> None:
        """Closes the channel and the Flight client."""
        self.channel.close()
        if self._flight is not None:
            self._flight.close()
            self._flight = None
