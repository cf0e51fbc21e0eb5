"""Datasets: upload (Arrow Flight DoPut), profile, budgets, list, delete."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Union

from . import errors
from ._proto.mirage.v1 import datasets_pb2, jobs_pb2, privacy_pb2, schema_pb2

if TYPE_CHECKING:
    import pyarrow as pa

    from .client import Client
    from .jobs import Job
    from .models import Model


def _to_arrow(data: Any) -> "pa.Table":
    """An Arrow table from a DataFrame, an Arrow table/batch reader, or a CSV/Parquet path."""
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, (str, Path)):
        path = Path(data)
        if not path.exists():
            raise errors.InvalidArgument(f"data: no file {path}")
        suffixes = "".join(path.suffixes).lower()
        if suffixes.endswith(".parquet"):
            import pyarrow.parquet as pq

            return pq.read_table(path)
        import pyarrow.csv as pcsv

        return pcsv.read_csv(path)
    if hasattr(data, "to_arrow") and not hasattr(data, "iloc"):
        return data.to_arrow()
    if hasattr(data, "iloc"):  # a pandas DataFrame
        return pa.Table.from_pandas(data, preserve_index=False)
    raise errors.InvalidArgument(
        f"data: cannot upload a {type(data).__name__}; pass a pandas DataFrame, a pyarrow Table or a CSV/Parquet path"
    )


@dataclass(frozen=True)
class Budget:
    """A dataset's privacy budget and what has been spent of it."""

    dataset_id: str
    epsilon_limit: float
    delta: float
    epsilon_spent: float
    epsilon_reserved: float
    epsilon_remaining: float


@dataclass(frozen=True)
class LedgerEvent:
    """One entry of a dataset's hash-chained privacy ledger."""

    sequence: int
    kind: str
    epsilon: float
    delta: float
    job_id: str
    mechanism: Dict[str, Any]
    hash: str
    prev_hash: str


class Profile:
    """A dataset's statistics: one entry per column."""

    def __init__(self, message: Any):
        self.rows: int = message.rows
        self.columns: List[Dict[str, Any]] = []
        for c in message.columns:
            self.columns.append(
                {
                    "name": c.name,
                    "kind": schema_pb2.ColumnKind.Name(c.kind).removeprefix("COLUMN_KIND_").lower(),
                    "null_rate": c.null_rate,
                    "cardinality": c.cardinality,
                    "min": c.min if c.HasField("min") else None,
                    "max": c.max if c.HasField("max") else None,
                    "mean": c.mean if c.HasField("mean") else None,
                    "std": c.std if c.HasField("std") else None,
                    "top": [(t.value, t.count) for t in c.top_values[:5]],
                    "pii": [schema_pb2.PiiKind.Name(p.kind).removeprefix("PII_KIND_").lower() for p in c.pii],
                }
            )

    def to_pandas(self):
        """The profile as a DataFrame, one row per column."""
        import pandas as pd

        return pd.DataFrame(self.columns).set_index("name")

    def __repr__(self) -> str:
        lines = [f"Profile: {self.rows} rows, {len(self.columns)} columns"]
        for c in self.columns:
            stats = f"mean {c['mean']:.3g}" if c["mean"] is not None else f"{c['cardinality']} values"
            pii = f"  PII: {', '.join(c['pii'])}" if c["pii"] else ""
            lines.append(f"  {c['name']:<24} {c['kind']:<12} nulls {c['null_rate']:.1%}  {stats}{pii}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        try:
            return self.to_pandas()._repr_html_()
        except ImportError:  # pragma: no cover
            return f"<pre>{self!r}</pre>"


class Dataset:
    """A dataset registered with the cluster."""

    def __init__(self, client: "Client", message: Any, ingest_job: Optional["Job"] = None):
        self._client = client
        self.ingest_job = ingest_job
        self._set(message)

    def _set(self, message: Any) -> None:
        self.id: str = message.id
        self.name: str = message.name
        self.rows: int = message.rows
        self.columns: List[str] = [c.name for c in message.schema.columns] if message.HasField("schema") else []

    def refresh(self) -> "Dataset":
        """Reads the dataset again."""
        conn = self._client._conn
        self._set(conn.call(conn.datasets.GetDataset, datasets_pb2.GetDatasetRequest(dataset_id=self.id)).dataset)
        return self

    def wait(self, progress: bool = False, timeout: Optional[float] = 600) -> "Dataset":
        """Waits until the dataset is ingested and profiled."""
        if self.ingest_job is not None:
            self.ingest_job.wait(progress=progress, timeout=timeout)
        return self.refresh()

    def profile(self) -> Profile:
        """The dataset's statistics (NotFound until it is profiled)."""
        conn = self._client._conn
        answer = conn.call(conn.datasets.GetProfile, datasets_pb2.GetProfileRequest(dataset_id=self.id))
        return Profile(answer.profile)

    def to_arrow(self) -> "pa.Table":
        """The dataset's rows, pulled with Arrow Flight."""
        return self._client._do_get(f"dataset/{self.id}")

    def train(self, model: str = "gaussian-copula", **kwargs: Any) -> "Job":
        """Starts training a model on this dataset (see :meth:`mirage.Client.train`)."""
        return self._client.train(self, model=model, **kwargs)

    def models(self) -> List["Model"]:
        """The models trained on this dataset, newest first."""
        return self._client.models(self)

    @property
    def budget(self) -> Optional[Budget]:
        """The privacy budget, or None when none is set."""
        conn = self._client._conn
        try:
            answer = conn.call(conn.privacy.GetBudget, privacy_pb2.GetBudgetRequest(dataset_id=self.id))
        except errors.NotFound as error:
            if "no privacy budget" in error.message:
                return None
            raise
        return _budget(answer.budget)

    def set_budget(self, epsilon: float, delta: float = 1e-5) -> Budget:
        """Sets the dataset's privacy budget (admins only)."""
        conn = self._client._conn
        request = privacy_pb2.SetBudgetRequest(dataset_id=self.id, epsilon_limit=epsilon, delta=delta)
        return _budget(conn.call(conn.privacy.SetBudget, request).budget)

    def ledger(self) -> List[LedgerEvent]:
        """The privacy ledger, oldest event first."""
        conn = self._client._conn
        events: List[LedgerEvent] = []
        token = ""
        while True:
            page = conn.call(
                conn.privacy.ListLedgerEvents,
                privacy_pb2.ListLedgerEventsRequest(
                    dataset_id=self.id, page=_page(token)
                ),
            )
            for e in page.events:
                events.append(
                    LedgerEvent(
                        sequence=e.sequence,
                        kind=privacy_pb2.LedgerEventKind.Name(e.kind).removeprefix("LEDGER_EVENT_KIND_").lower(),
                        epsilon=e.epsilon,
                        delta=e.delta,
                        job_id=e.job_id,
                        mechanism=json.loads(e.mechanism) if e.mechanism else {},
                        hash=e.hash,
                        prev_hash=e.prev_hash,
                    )
                )
            if not page.next_page_token:
                return events
            token = page.next_page_token

    def delete(self) -> None:
        """Deletes the dataset and its stored rows (refused while a job reads it)."""
        conn = self._client._conn
        conn.call(conn.datasets.DeleteDataset, datasets_pb2.DeleteDatasetRequest(dataset_id=self.id))

    def __repr__(self) -> str:
        return f"<Dataset {self.id} {self.name!r} {self.rows} rows>"


def _page(token: str):
    from ._proto.mirage.v1 import common_pb2

    return common_pb2.PageRequest(page_size=1000, page_token=token)


def _budget(message: Any) -> Budget:
    return Budget(
        dataset_id=message.dataset_id,
        epsilon_limit=message.epsilon_limit,
        delta=message.delta,
        epsilon_spent=message.epsilon_spent,
        epsilon_reserved=message.epsilon_reserved,
        epsilon_remaining=message.epsilon_remaining,
    )


class Datasets:
    """``client.datasets``: upload, list, get and delete datasets."""

    def __init__(self, client: "Client"):
        self._client = client

    def upload(
        self,
        data: Any,
        name: str,
        *,
        wait: bool = True,
        progress: bool = False,
        timeout: Optional[float] = 600,
    ) -> Dataset:
        """Uploads a table with Arrow Flight and registers it as dataset ``name``.

        ``data`` is a pandas DataFrame, a pyarrow Table, or a CSV/Parquet path. With
        ``wait`` (the default) it returns once the dataset is ingested and profiled.
        """
        import pyarrow as pa
        import pyarrow.flight as flight

        from .jobs import Job

        table = _to_arrow(data)
        conn = self._client._conn
        descriptor = flight.FlightDescriptor.for_path("datasets", name)
        try:
            writer, reader = conn.flight().do_put(descriptor, table.schema, options=conn.flight_options())
            writer.write_table(table, max_chunksize=65536)
            writer.done_writing()
            answer = reader.read()
            writer.close()
        except pa.ArrowException as error:
            raise errors.from_flight_error(error) from None
        if answer is None:
            raise errors.MirageError("the server did not acknowledge the upload")
        meta = json.loads(answer.to_pybytes())
        job_message = conn.call(conn.jobs.GetJob, jobs_pb2.GetJobRequest(job_id=meta["job_id"])).job
        dataset = self.get(meta["dataset_id"])
        dataset.ingest_job = Job(self._client, job_message)
        if wait:
            dataset.wait(progress=progress, timeout=timeout)
        return dataset

    def create(self, name: str, uri: str, *, wait: bool = True, timeout: Optional[float] = 600) -> Dataset:
        """Registers dataset ``name`` from a file or object key the nodes can read."""
        from .jobs import Job

        conn = self._client._conn
        answer = conn.call(
            conn.datasets.CreateDataset, datasets_pb2.CreateDatasetRequest(name=name, uri=uri)
        )
        dataset = self.get(answer.dataset_id)
        dataset.ingest_job = Job(self._client, answer.job)
        if wait:
            dataset.wait(timeout=timeout)
        return dataset

    def get(self, dataset_id: str) -> Dataset:
        """One dataset by id."""
        conn = self._client._conn
        answer = conn.call(conn.datasets.GetDataset, datasets_pb2.GetDatasetRequest(dataset_id=dataset_id))
        return Dataset(self._client, answer.dataset)

    def list(self) -> List[Dataset]:
        """The caller's datasets, newest first."""
        conn = self._client._conn
        found: List[Dataset] = []
        token = ""
        while True:
            page = conn.call(conn.datasets.ListDatasets, datasets_pb2.ListDatasetsRequest(page=_page(token)))
            found.extend(Dataset(self._client, d) for d in page.datasets)
            if not page.next_page_token:
                return found
            token = page.next_page_token

    def delete(self, dataset: Union[str, Dataset]) -> None:
        """Deletes a dataset."""
        dataset_id = dataset.id if isinstance(dataset, Dataset) else dataset
        conn = self._client._conn
        conn.call(conn.datasets.DeleteDataset, datasets_pb2.DeleteDatasetRequest(dataset_id=dataset_id))
