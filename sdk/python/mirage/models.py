"""Models (immutable trained versions) and the rows they generate."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Mapping, Optional

from . import errors
from ._proto.mirage.v1 import common_pb2, generations_pb2, models_pb2
from .conditions import conditions as to_conditions
from .conditions import rebalance as to_rebalance

if TYPE_CHECKING:
    import pyarrow as pa

    from .client import Client
    from .jobs import Job
    from .reports import Report

#: Where :meth:`Model.generate` leaves the :class:`Generation` behind a DataFrame.
GENERATION_ATTR = "mirage_generation"


def generation_of(frame: Any) -> "Generation":
    """The :class:`Generation` a DataFrame returned by :meth:`Model.generate` came from."""
    try:
        return frame.attrs[GENERATION_ATTR]
    except (AttributeError, KeyError):
        raise errors.InvalidArgument("this frame did not come from Model.generate") from None


class Generation:
    """A batch of synthetic rows: stored by a job, assessed, pulled with Arrow Flight."""

    def __init__(self, client: "Client", message: Any, job: Optional["Job"] = None):
        self._client = client
        self.job = job
        self._set(message)

    def _set(self, message: Any) -> None:
        self.id: str = message.id
        self.model_id: str = message.model_id
        self.rows: int = message.rows
        self.seed: int = message.seed
        self.rows_ready: bool = message.rows_ready
        self.report_id: str = message.report_id
        self.job_id: str = message.job_id

    def refresh(self) -> "Generation":
        """Reads the generation again."""
        conn = self._client._conn
        answer = conn.call(
            conn.generations.GetGeneration, generations_pb2.GetGenerationRequest(generation_id=self.id)
        )
        self._set(answer.generation)
        return self

    def wait(self, progress: bool = False, timeout: Optional[float] = 600) -> "Generation":
        """Waits until the rows are stored."""
        if self.job is not None:
            self.job.wait(progress=progress, timeout=timeout)
        return self.refresh()

    def to_arrow(self) -> "pa.Table":
        """The rows, pulled with Arrow Flight. A generation whose quality gate failed raises
        :class:`mirage.FailedPrecondition` until an admin releases it (:meth:`release`)."""
        return self._client._do_get(f"generation/{self.id}")

    def release(self) -> "Generation":
        """Lets the rows out although the quality gate failed (admins only)."""
        conn = self._client._conn
        answer = conn.call(
            conn.generations.ReleaseGeneration,
            generations_pb2.ReleaseGenerationRequest(generation_id=self.id),
        )
        self._set(answer.generation)
        return self

    def to_pandas(self):
        """The rows as a pandas DataFrame."""
        return self.to_arrow().to_pandas()

    def report(self, wait: bool = True, timeout: float = 600, poll: float = 0.5) -> "Report":
        """The quality report (waits for the assessment that follows the generation)."""
        from ._proto.mirage.v1 import quality_pb2
        from .reports import Report

        deadline = time.monotonic() + timeout
        while not self.report_id:
            if not wait or time.monotonic() > deadline:
                raise errors.NotFound(f"generation {self.id} has no quality report yet")
            time.sleep(poll)
            self.refresh()
        conn = self._client._conn
        answer = conn.call(conn.quality.GetReport, quality_pb2.GetReportRequest(report_id=self.report_id))
        return Report(self._client, answer)

    def __repr__(self) -> str:
        state = "ready" if self.rows_ready else "pending"
        return f"<Generation {self.id} {self.rows} rows {state}>"


class Model:
    """An immutable trained model version."""

    def __init__(self, client: "Client", message: Any):
        self._client = client
        self.id: str = message.id
        self.dataset_id: str = message.dataset_id
        self.kind: str = models_pb2.ModelKind.Name(message.kind).removeprefix("MODEL_KIND_").lower()
        self.version: int = message.version
        self.config: Dict[str, Any] = json.loads(message.config_json) if message.config_json else {}
        self.training_summary: Dict[str, Any] = (
            json.loads(message.training_summary_json) if message.training_summary_json else {}
        )
        self.epsilon: Optional[float] = message.epsilon if message.HasField("epsilon") else None

    def submit_generation(
        self,
        n: int,
        *,
        seed: Optional[int] = None,
        conditions: Optional[Mapping[str, Any]] = None,
        rebalance: Any = None,
    ) -> Generation:
        """Queues a batch generation of ``n`` rows and returns it at once.

        ``rebalance`` divides the rows among one column's classes: ``"sex"`` for equal
        shares, ``("income", {">50K": 3, "<=50K": 1})`` for listed ones."""
        from .jobs import Job

        conn = self._client._conn
        request = generations_pb2.SubmitGenerationRequest(
            model_id=self.id,
            rows=n,
            conditions=to_conditions(conditions),
            mode=generations_pb2.GENERATION_MODE_BATCH,
        )
        shares = to_rebalance(rebalance)
        if shares is not None:
            request.rebalance.CopyFrom(shares)
        if seed is not None:
            request.seed = seed
        answer = conn.call(conn.generations.SubmitGeneration, request)
        job = Job(self._client, answer.job) if answer.HasField("job") else None
        message = conn.call(
            conn.generations.GetGeneration,
            generations_pb2.GetGenerationRequest(generation_id=answer.generation_id),
        ).generation
        return Generation(self._client, message, job)

    def generate(
        self,
        n: int,
        *,
        seed: Optional[int] = None,
        conditions: Optional[Mapping[str, Any]] = None,
        rebalance: Any = None,
        arrow: bool = False,
        progress: bool = False,
        timeout: Optional[float] = 600,
    ):
        """Generates ``n`` rows and pulls them with Arrow Flight.

        Returns a pandas DataFrame (a pyarrow Table with ``arrow=True``). The
        :class:`Generation` behind it (for its report) is ``mirage.generation_of(frame)``.
        """
        generation = self.submit_generation(n, seed=seed, conditions=conditions, rebalance=rebalance)
        generation.wait(progress=progress, timeout=timeout)
        table = generation.to_arrow()
        if arrow:
            return table
        frame = table.to_pandas()
        frame.attrs[GENERATION_ATTR] = generation
        return frame

    def stream(
        self,
        n: int,
        *,
        seed: Optional[int] = None,
        conditions: Optional[Mapping[str, Any]] = None,
        rebalance: Any = None,
        batch_rows: int = 0,
    ) -> Iterator["pa.RecordBatch"]:
        """Yields ``n`` rows in Arrow record batches as a warm model samples them (nothing
        is stored). ``rebalance`` as in :meth:`submit_generation`."""
        import pyarrow as pa

        conn = self._client._conn
        request = generations_pb2.SampleRowsRequest(
            model_id=self.id, rows=n, conditions=to_conditions(conditions), batch_rows=batch_rows
        )
        if seed is not None:
            request.seed = seed
        shares = to_rebalance(rebalance)
        if shares is not None:
            request.rebalance.CopyFrom(shares)
        for batch in conn.stream(conn.generations.SampleRows, request):
            reader = pa.ipc.open_stream(batch.arrow_ipc)
            for record_batch in reader:
                yield record_batch

    def generations(self) -> List[Generation]:
        """The generations of this model, newest first (every page)."""
        conn = self._client._conn
        found: List[Generation] = []
        token = ""
        while True:
            answer = conn.call(
                conn.generations.ListGenerations,
                generations_pb2.ListGenerationsRequest(
                    model_id=self.id, page=common_pb2.PageRequest(page_token=token)
                ),
            )
            found.extend(Generation(self._client, message) for message in answer.generations)
            token = answer.next_page_token
            if not token:
                return found

    def __repr__(self) -> str:
        return f"<Model {self.id} {self.kind} v{self.version} of {self.dataset_id}>"
