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
from estates_opt.results.explain.utilisation import hostable_rooms, today_room_use
from estates_opt.results.kpis import ModelSize


@dataclass(frozen=True)
class ExplainInputs:
    """Today's allocation and room use, and the program's rooms and size."""

    dataset: Dataset
    lp: LinearProgram
    today_slots: pd.DataFrame  #: baseline hours per slot (``baseline_hours_per_week``)
    today_room_use: pd.Series  #: baseline hours per (site, room type, band)
    hostable: pd.Series  #: :func:`hostable_rooms` of ``lp``
    model_size: ModelSize

    def of_dataset(self, dataset: Dataset) -> bool:
        """Whether the dataset parts were made from ``dataset``."""
        return self.dataset is dataset

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


def prepare_explanation(dataset: Dataset, lp: LinearProgram) -> ExplainInputs:
    """Everything above for ``dataset`` and the built ``lp`` (0.1 s at England scale)."""
    return ExplainInputs(
        dataset,
        lp,
        today_slots(dataset),
        today_room_use(dataset),
        hostable_rooms(lp),
        model_size(lp),
    )
