"""Jobs: long operations (ingest, training, generation, assessment) and their progress."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, Iterator, Optional

from . import errors
from ._proto.mirage.v1 import jobs_pb2

if TYPE_CHECKING:
    from .client import Client

_TERMINAL = {"succeeded", "failed", "cancelled"}


def _status_name(value: int) -> str:
    return jobs_pb2.JobStatus.Name(value).removeprefix("JOB_STATUS_").lower()


def _kind_name(value: int) -> str:
    return jobs_pb2.JobKind.Name(value).removeprefix("JOB_KIND_").lower()


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a job's progress."""

    job_id: str
    status: str
    progress: float
    epoch: int
    step: int
    losses: Dict[str, float] = field(default_factory=dict)
    eta_seconds: Optional[float] = None
    node_id: int = 0
    message: str = ""


class JobFailed(errors.MirageError):
    """A job ended failed or cancelled; :attr:`job` is the job as it ended."""

    def __init__(self, job: "Job"):
        super().__init__(f"job {job.id} ({job.kind}) {job.status}: {job.error or 'no reason given'}")
        self.job = job


class Job:
    """A job on the cluster. Its fields are as of the last :meth:`refresh`."""

    def __init__(self, client: "Client", message: jobs_pb2.Job):
        self._client = client
        self._set(message)

    def _set(self, message: jobs_pb2.Job) -> None:
        self._message = message
        self.id: str = message.id
        self.kind: str = _kind_name(message.kind)
        self.status: str = _status_name(message.status)
        self.progress: float = message.progress
        self.dataset_id: str = message.dataset_id
        self.model_id: str = message.model_id
        self.node_id: Optional[int] = message.node_id if message.HasField("node_id") else None
        self.error: Optional[str] = message.error if message.HasField("error") else None
        self.attempts: int = message.attempts

    @property
    def result(self) -> Optional[Dict[str, Any]]:
        """What the job produced (as JSON), once it succeeded."""
        if not self._message.HasField("result_json"):
            return None
        return json.loads(self._message.result_json)

    @property
    def done(self) -> bool:
        """Whether the job has ended (succeeded, failed or cancelled)."""
        return self.status in _TERMINAL

    def refresh(self) -> "Job":
        """Reads the job again."""
        conn = self._client._conn
        answer = conn.call(conn.jobs.GetJob, jobs_pb2.GetJobRequest(job_id=self.id))
        self._set(answer.job)
        return self

    def cancel(self) -> "Job":
        """Stops the job (its reserved privacy budget is given back)."""
        conn = self._client._conn
        answer = conn.call(conn.jobs.CancelJob, jobs_pb2.CancelJobRequest(job_id=self.id))
        self._set(answer.job)
        return self

    def events(self) -> Iterator[ProgressEvent]:
        """The job's progress events as they happen, until it ends."""
        conn = self._client._conn
        for event in conn.stream(conn.jobs.WatchJob, jobs_pb2.WatchJobRequest(job_id=self.id)):
            yield ProgressEvent(
                job_id=event.job_id,
                status=_status_name(event.status),
                progress=event.progress,
                epoch=event.epoch,
                step=event.step,
                losses=dict(event.losses),
                eta_seconds=event.eta_seconds if event.HasField("eta_seconds") else None,
                node_id=event.node_id,
                message=event.message,
            )

    def wait(self, progress: bool = False, timeout: Optional[float] = None, poll: float = 0.5) -> "Job":
        """Waits until the job ends; raises :class:`JobFailed` unless it succeeded.

        With ``progress=True`` a progress bar (tqdm, in terminals and notebooks) follows it.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        bar = None
        if progress:
            try:
                from tqdm.auto import tqdm

                bar = tqdm(total=100, desc=f"{self.kind} {self.id[:12]}", unit="%")
            except ImportError:  # pragma: no cover - tqdm is optional
                bar = None
        try:
            while True:
                self.refresh()
                if bar is not None:
                    bar.n = round(self.progress * 100)
                    bar.set_postfix_str(self.status)
                    bar.refresh()
                if self.done:
                    break
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"job {self.id} is still {self.status} after {timeout} s")
                time.sleep(poll)
        finally:
            if bar is not None:
                bar.close()
        if self.status != "succeeded":
            raise JobFailed(self)
        return self

    def __repr__(self) -> str:
        node = f", node {self.node_id}" if self.node_id is not None else ""
        return f"<Job {self.id} {self.kind} {self.status} {self.progress:.0%}{node}>"
