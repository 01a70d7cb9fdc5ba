"""The top-level :class:`Scenario` model: one what-if, made of every table, with the paths
it names resolved against the file that set them."""

from __future__ import annotations

import os
import re
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from estates_opt.scenario.base import Strict
from estates_opt.scenario.buildings import Buildings
from estates_opt.scenario.demand import Caps, Growth, Strategy, Weights
from estates_opt.scenario.relocation import Contract, Options, Pin, Relocation
from estates_opt.scenario.services import Movable, Suitability
from estates_opt.scenario.solver import Solver
from estates_opt.scenario.travel import Travel

#: A scenario name becomes a folder name (``outputs/<name>``), so it is kept path-safe.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+()-]{0,99}$")


class Scenario(Strict):
    """One what-if: dataset, growth, buildings, caps, weights, travel, options, solver."""

    name: str = Field("scenario", description="scenario name (default: the file name)")
    description: str = Field("", description="one line saying what the scenario tests")
    dataset: str = Field("../geodata/nel", description="dataset folder, relative to this file")
    growth: Growth = Growth()
    buildings: Buildings = Buildings()
    caps: Caps = Caps()
    strategy: Strategy = Strategy()
    weights: Weights = Weights()
    travel: Travel = Travel()
    options: Options = Options()
    contract: Contract = Contract()
    relocation: Relocation = Relocation()

    suitability: Suitability = Suitability()
    movable: Movable = Movable()
    pinned: list[Pin] = Field(default_factory=list, description="pinned allocations ([[pinned]])")
    solver: Solver = Solver()
    source_file: str | None = Field(None, description="set by load_scenario; not for files")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_PATTERN.match(value) or value in (".", ".."):
            raise ValueError(
                f"'{value}' cannot be a folder name: use letters, digits, '_', '-', '.' "
                "(not starting with '.' or '-', at most 100 characters)"
            )
        return value

    @model_validator(mode="after")
    def _aim_within_cap(self) -> Scenario:
        aim = self.strategy.community_weekday_utilisation
        if aim is not None and aim > self.caps.community + 1e-12:
            raise ValueError(
                f"key 'strategy.community_weekday_utilisation': {aim:g} is above "
                f"caps.community ({self.caps.community:g}); no plan may fill community rooms "
                "beyond their cap"
            )
        return self

    def dataset_path(self) -> Path:
        """The dataset folder, resolved against the scenario file's folder."""
        return self._resolve(self.dataset)

    def matrix_path(self) -> Path | None:
        """The travel matrix file, if any, resolved against the scenario file's folder."""
        if self.travel.matrix is None:
            return None
        return self._resolve(self.travel.matrix)

    def cap(self, kind: str) -> float:
        """The utilisation cap of one site kind."""
        return self.caps.for_kind(kind)

    def _resolve(self, value: str) -> Path:
        path = Path(value)
        if not path.is_absolute() and self.source_file:
            path = Path(os.path.normpath(Path(self.source_file).parent / path))
        return path
