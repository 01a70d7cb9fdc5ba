"""estates-opt: reallocate NHS primary-care sessions into underused community estate."""

from importlib.metadata import PackageNotFoundError, version

from .dataset import Dataset, dataset_from_tables, read_dataset
from .errors import (
    CRSError,
    EstatesOptError,
    GeometryError,
    InfeasibleError,
    InputDataError,
    ModelSpecificationError,
    ScenarioError,
    SchemaError,
    SolveError,
    SolverUnavailableError,
    VerificationError,
)

try:
    __version__ = version("estates-opt")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"

__all__ = [
    "CRSError",
    "Dataset",
    "EstatesOptError",
    "GeometryError",
    "InfeasibleError",
    "InputDataError",
    "ModelSpecificationError",
    "ScenarioError",
    "SchemaError",
    "SolveError",
    "SolverUnavailableError",
    "VerificationError",
    "__version__",
    "dataset_from_tables",
    "read_dataset",
]
