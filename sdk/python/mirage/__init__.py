"""Mirage: synthetic data that keeps your tables' statistics and protects the people in them.

Quick start::

    import mirage

    client = mirage.Client("127.0.0.1:7710", api_key="mk_…")
    adult = client.datasets.upload("adult.csv", name="adult")
    print(adult.profile())
    model = client.train(adult, model="tvae", epochs=50).wait(progress=True).model
    gen = model.submit_generation(1000, seed=7, conditions={"age": (">", 65)})
    report = gen.wait().report()
    print(report.overall, report.gate_passed)
    rows = gen.to_pandas()
"""

from .client import Client, TrainingJob
from .datasets import Budget, Dataset, LedgerEvent, Profile
from .errors import (
    AlreadyExists,
    AuthenticationError,
    BudgetExceeded,
    FailedPrecondition,
    InvalidArgument,
    MirageError,
    NotFound,
    PermissionDenied,
    RateLimited,
    Unavailable,
)
from .jobs import Job, JobFailed, ProgressEvent
from .models import Generation, Model, generation_of
from .reports import ColumnScore, Report

__version__ = "0.1.0"

#: The metadata header that carries an API key on gRPC and Flight calls.
API_KEY_HEADER = "x-api-key"

__all__ = [
    "AlreadyExists",
    "AuthenticationError",
    "Budget",
    "BudgetExceeded",
    "Client",
    "ColumnScore",
    "Dataset",
    "FailedPrecondition",
    "Generation",
    "InvalidArgument",
    "Job",
    "JobFailed",
    "LedgerEvent",
    "MirageError",
    "Model",
    "NotFound",
    "PermissionDenied",
    "ProgressEvent",
    "Profile",
    "RateLimited",
    "Report",
    "TrainingJob",
    "Unavailable",
    "generation_of",
    "API_KEY_HEADER",
]
