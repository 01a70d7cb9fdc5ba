"""estates-opt: reallocate NHS primary-care sessions into underused community estate.

The public API lives here, so the stage subpackages (``inputs`` -> ``model`` ->
``results`` -> ``outputs``) can change without breaking users::

    import estates_opt as eo

    dataset = eo.read_dataset("geodata/nel")
    plan = eo.solve(dataset, eo.load_scenario("models/nel_baseline.toml"))
    eo.write_plan(plan, "outputs/mine", maps_dir="maps")
    eo.plan_map(plan)  # a folium.Map

Names are imported on first use, so ``import estates_opt`` stays quick and a
map or a dataset check never pulls in the solver.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from estates_opt.errors import (
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

#: Public name -> the module that defines it.
_PUBLIC = {
    "Dataset": "estates_opt.inputs.dataset",
    "read_dataset": "estates_opt.inputs.dataset",
    "dataset_from_tables": "estates_opt.inputs.dataset",
    "validate": "estates_opt.inputs.dataset",
    "apply_scenario": "estates_opt.inputs.changes",
    "Scenario": "estates_opt.scenario",
    "load_scenario": "estates_opt.scenario",
    "scenario_from_dict": "estates_opt.scenario",
    "SolveStatus": "estates_opt.model.result",
    "Plan": "estates_opt.results.plan",
    "solve": "estates_opt.pipeline",
    "run": "estates_opt.pipeline",
    "redraw_maps": "estates_opt.pipeline",
    "write_plan": "estates_opt.outputs.plan_folder",
    "read_plan": "estates_opt.outputs.plan_folder",
    "write_workbook": "estates_opt.outputs.workbook",
    "plan_map": "estates_opt.outputs.maps.pages",
    "hub_map": "estates_opt.outputs.maps.pages",
    "write_maps": "estates_opt.outputs.maps.pages",
    "compare_scenarios": "estates_opt.compare",
    "write_dataset": "estates_opt.synthetic",
}

if TYPE_CHECKING:
    from estates_opt.compare import compare_scenarios
    from estates_opt.inputs.changes import apply_scenario
    from estates_opt.inputs.dataset import Dataset, dataset_from_tables, read_dataset, validate
    from estates_opt.model.result import SolveStatus
    from estates_opt.outputs.maps.pages import hub_map, plan_map, write_maps
    from estates_opt.outputs.plan_folder import read_plan, write_plan
    from estates_opt.outputs.workbook import write_workbook
    from estates_opt.pipeline import redraw_maps, run, solve
    from estates_opt.results.plan import Plan
    from estates_opt.scenario import Scenario, load_scenario, scenario_from_dict
    from estates_opt.synthetic import write_dataset


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        value = getattr(import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'estates_opt' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "CRSError",
    "Dataset",
    "EstatesOptError",
    "GeometryError",
    "InfeasibleError",
    "InputDataError",
    "ModelSpecificationError",
    "Plan",
    "Scenario",
    "ScenarioError",
    "SchemaError",
    "SolveError",
    "SolveStatus",
    "SolverUnavailableError",
    "VerificationError",
    "__version__",
    "apply_scenario",
    "compare_scenarios",
    "dataset_from_tables",
    "hub_map",
    "load_scenario",
    "plan_map",
    "read_dataset",
    "read_plan",
    "redraw_maps",
    "run",
    "scenario_from_dict",
    "solve",
    "validate",
    "write_dataset",
    "write_maps",
    "write_plan",
    "write_workbook",
]
