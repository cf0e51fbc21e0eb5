"""The entry point: :class:`Client`."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Union

from . import errors
from ._proto.mirage.v1 import cluster_pb2, common_pb2, generations_pb2, jobs_pb2, models_pb2, quality_pb2
from ._transport import Connection
from .datasets import Dataset, Datasets
from .jobs import Job
from .models import Generation, Model
from .reports import Report

_MODELS = {
    "gaussian-copula": models_pb2.MODEL_KIND_GAUSSIAN_COPULA,
    "ctgan": models_pb2.MODEL_KIND_CTGAN,
    "copula-gan": models_pb2.MODEL_KIND_COPULA_GAN,
    "tvae": models_pb2.MODEL_KIND_TVAE,
    "tab-ddpm": models_pb2.MODEL_KIND_TAB_DDPM,
    "tabular-argn": models_pb2.MODEL_KIND_TABULAR_ARGN,
    "mst": models_pb2.MODEL_KIND_MST,
}


def _model_kind(name: str) -> int:
    key = name.strip().lower().replace("_", "-")
    aliases = {"copula": "gaussian-copula", "gaussiancopula": "gaussian-copula", "argn": "tabular-argn",
               "tabddpm": "tab-ddpm", "copulagan": "copula-gan", "tabularargn": "tabular-argn"}
    key = aliases.get(key.replace("-", ""), key) if key not in _MODELS else key
    if key not in _MODELS:
        raise errors.InvalidArgument(f"model: {name!r} is not a model; use one of {', '.join(_MODELS)}")
    return _MODELS[key]


class Client:
    """A connection to a Mirage cluster.

    ``url`` is any node's gRPC address (``host:port``, ``https://host:port`` for TLS), or
    ``MIRAGE_URL``; credentials are an API key (``api_key=`` or ``MIRAGE_API_KEY``) or an
    OIDC bearer token (``token=``). Rows move over Arrow Flight, found through the node
    (or ``flight_url=`` / ``MIRAGE_FLIGHT_URL``).
    """

    def __init__(
        self,
        url: Optional[str] = None,
        *,
        api_key: Optional[str] = None,
        token: Optional[str] = None,
        tls: Optional[bool] = None,
        root_certificates: Optional[bytes] = None,
        flight_url: Optional[str] = None,
        timeout: float = 60.0,
    ):
        self._conn = Connection(url, api_key, token, tls, root_certificates, flight_url, timeout)
        self.datasets = Datasets(self)

    # --- training ------------------------------------------------------------------------

    def train(
        self,
        dataset: Union[str, Dataset],
        model: str = "gaussian-copula",
        *,
        epochs: Optional[int] = None,
        privacy: Optional[Dict[str, float]] = None,
        priority: int = 0,
        hyperparameters: Optional[Dict[str, Any]] = None,
    ) -> Job:
        """Starts training ``model`` on ``dataset``; returns the job at once.

        ``privacy={"epsilon": 1.0, "delta": 1e-5}`` trains with differential privacy,
        reserving ε from the dataset's budget first (:class:`mirage.BudgetExceeded` when
        it does not fit).
        """
        dataset_id = dataset.id if isinstance(dataset, Dataset) else dataset
        config = dict(hyperparameters or {})
        if epochs is not None:
            # Models that train in epochs take them in their `training` section.
            config.setdefault("training", {})["max_epochs"] = epochs
        request = jobs_pb2.SubmitTrainingRequest(
            dataset_id=dataset_id,
            model_kind=_model_kind(model),
            hyperparameters_json=json.dumps(config) if config else "",
            priority=priority,
        )
        if privacy is not None:
            unknown = set(privacy) - {"epsilon", "delta"}
            if unknown:
                raise errors.InvalidArgument(f"privacy: unknown keys {sorted(unknown)}; use epsilon and delta")
            request.privacy.epsilon = float(privacy.get("epsilon", 0.0))
            request.privacy.delta = float(privacy.get("delta", 0.0))
        answer = self._conn.call(self._conn.jobs.SubmitTraining, request)
        return TrainingJob(self, answer.job)

    def job(self, job_id: str) -> Job:
        """One job by id."""
        return Job(self, self._conn.call(self._conn.jobs.GetJob, jobs_pb2.GetJobRequest(job_id=job_id)).job)

    def jobs(self) -> List[Job]:
        """The caller's jobs, newest first."""
        found: List[Job] = []
        token = ""
        while True:
            page = self._conn.call(
                self._conn.jobs.ListJobs,
                jobs_pb2.ListJobsRequest(page=common_pb2.PageRequest(page_size=1000, page_token=token)),
            )
            found.extend(Job(self, j) for j in page.jobs)
            if not page.next_page_token:
                return found
            token = page.next_page_token

    # --- models, generations, reports ----------------------------------------------------

    def model(self, model_id: str) -> Model:
        """One model by id."""
        answer = self._conn.call(self._conn.models.GetModel, models_pb2.GetModelRequest(model_id=model_id))
        return Model(self, answer.model)

    def models(self, dataset: Union[str, Dataset, None] = None) -> List[Model]:
        """The caller's models (of one dataset), newest first."""
        dataset_id = dataset.id if isinstance(dataset, Dataset) else (dataset or "")
        found: List[Model] = []
        token = ""
        while True:
            page = self._conn.call(
                self._conn.models.ListModels,
                models_pb2.ListModelsRequest(
                    dataset_id=dataset_id, page=common_pb2.PageRequest(page_size=1000, page_token=token)
                ),
            )
            found.extend(Model(self, m) for m in page.models)
            if not page.next_page_token:
                return found
            token = page.next_page_token

    def generation(self, generation_id: str) -> Generation:
        """One generation by id."""
        answer = self._conn.call(
            self._conn.generations.GetGeneration,
            generations_pb2.GetGenerationRequest(generation_id=generation_id),
        )
        return Generation(self, answer.generation)

    def report(self, report_id: str) -> Report:
        """One quality report by id."""
        answer = self._conn.call(self._conn.quality.GetReport, quality_pb2.GetReportRequest(report_id=report_id))
        return Report(self, answer)

    def cluster_status(self) -> Any:
        """The cluster as the node asked sees it (members, leader, jobs)."""
        return self._conn.call(self._conn.cluster.GetClusterStatus, cluster_pb2.GetClusterStatusRequest()).status

    # --- plumbing ------------------------------------------------------------------------

    def _do_get(self, ticket: str):
        import pyarrow as pa
        import pyarrow.flight as flight

        try:
            reader = self._conn.flight().do_get(flight.Ticket(ticket.encode()), options=self._conn.flight_options())
            return reader.read_all()
        except pa.ArrowException as error:  # Flight errors, and statuses pyarrow maps to ArrowInvalid
            raise errors.from_flight_error(error) from None

    def close(self) -> None:
        """Closes the connection."""
        self._conn.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<mirage.Client {self._conn.address}>"


class TrainingJob(Job):
    """A training job; :attr:`model` is the model it made, once it succeeded."""

    @property
    def model(self) -> Model:
        if self.status != "succeeded":
            self.refresh()
        if self.status != "succeeded":
            raise errors.FailedPrecondition(f"job {self.id} is {self.status}; its model exists once it succeeds")
        return self._client.model(self.model_id)
