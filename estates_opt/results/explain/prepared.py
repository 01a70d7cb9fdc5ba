"""What explaining a plan reads from the dataset and the built program alone.

None of it depends on the solution, so the pipeline works it out while HiGHS runs
(:func:`estates_opt.model.highs_direct.while_solving`) and the explain stage starts from
it. Each part is used only for the dataset or program it was made from: the staged
solve returns a program other than the one built, and its program parts are then
worked out again.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from estates_opt.inputs.dataset import Dataset
from estates_opt.model.program import LinearProgram
from estates_opt.results.explain.allocations import today_slots
from estates_opt.results.explain.utilisation import Rooms, hostable_rooms, rooms_today
from estates_opt.results.kpis import ModelSize
from estates_opt.scenario import Scenario


@dataclass(frozen=True)
class ExplainInputs:
    """Today's allocation and room use, and the program's rooms and size."""

    dataset: Dataset
    scenario: Scenario
    lp: LinearProgram
    today_slots: pd.DataFrame  #: :func:`today_slots`: baseline hours and travel per slot
    rooms: Rooms  #: :func:`rooms_today` without openings
    hostable: pd.Series  #: :func:`hostable_rooms` of ``lp``
    model_size: ModelSize

    def of_inputs(self, dataset: Dataset, scenario: Scenario) -> bool:
        """Whether today's parts were made from ``dataset`` and ``scenario``."""
        return self.dataset is dataset and self.scenario is scenario

    def of_program(self, lp: LinearProgram) -> bool:
        """Whether the program parts were made from ``lp`` (not from the built program
        the staged solve replaced)."""
        return self.lp is lp


def model_size(lp: LinearProgram) -> ModelSize:
    """The program's size: variables, constraints, nonzeros, and columns per family."""
    nv, nc, nz = lp.shape
    return {
        "variables": nv,
        "constraints": nc,
        "nonzeros": nz,
        "mip": lp.is_mip,
        "families": lp.family_counts(),
    }


def prepare_explanation(dataset: Dataset, scenario: Scenario, lp: LinearProgram) -> ExplainInputs:
    """Everything above for ``dataset``, ``scenario`` and the built ``lp`` (0.2 s at England
    scale)."""
    return ExplainInputs(
        dataset,
        scenario,
        lp,
        today_slots(dataset, scenario),
        rooms_today(dataset, scenario),
        hostable_rooms(lp),
        model_size(lp),
    )
