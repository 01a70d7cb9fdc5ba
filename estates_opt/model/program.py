"""The allocation LP as arrays: the record every solver back-end reads."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

INF = float("inf")

#: Objective terms reported separately by ``explain``.
OBJECTIVE_TERMS = ("travel", "cost", "move", "relocation", "unmet", "opening", "preference")


@dataclass(frozen=True)
class LinearProgram:
    """The model as arrays plus the domain ids of every column and row.

    ``columns`` has one row per variable (``family`` x/unmet/open/ea_shortfall and its ids);
    ``rows`` one row per constraint (``family`` demand/capacity/move_budget/ea_band/ea_total).
    ``terms`` holds each objective term's coefficients so they can be reported.
    """

    columns: pd.DataFrame
    rows: pd.DataFrame
    matrix: sp.csr_matrix
    objective: np.ndarray
    terms: dict[str, np.ndarray]
    col_lower: np.ndarray
    col_upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    integer: np.ndarray
    diagnostics: tuple[str, ...] = ()
    build_seconds: float = 0.0
    demand: pd.DataFrame = field(default_factory=pd.DataFrame)
    slots: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: Enhanced-access minimums per (PCN, band), band ``total`` for the weekly total.
    targets: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: The least hours/week any plan must move (stage 1 of the staged solve), once known.
    least_movement_hours: float | None = None
    #: A lower bound on the relocations any plan needs (clinics that must move), once known.
    least_relocations: int | None = None
    #: Pins with no allowed allocation, each as "pinned[i]: why" (the pin checks report them).
    unplaced_pins: tuple[str, ...] = ()
    #: A feasible solution to start a MIP from (HiGHS), in column order.
    start: np.ndarray | None = None

    def moved_hours(self) -> np.ndarray:
        """Hours/week each column moves: added sessions of the whole-session model."""
        x = (self.columns["family"] == "x").to_numpy().copy()
        if "part" in self.columns:
            x &= (self.columns["part"] == "add").to_numpy()
        else:
            x &= (
                self.columns.get("baseline_hours", pd.Series(0.0, index=self.columns.index)).fillna(
                    0
                )
                <= 0
            ).to_numpy()
        return np.where(x, self.columns["hours_per_unit"].to_numpy(float), 0.0)

    @property
    def is_mip(self) -> bool:
        """Whether any column is integer, which makes the solve a MIP rather than an LP."""
        return bool(self.integer.any())

    @property
    def shape(self) -> tuple[int, int, int]:
        """(variables, constraints, nonzeros)."""
        return len(self.columns), len(self.rows), int(self.matrix.nnz)

    def family_counts(self) -> dict[str, dict[str, int]]:
        """Variables and constraints per family, for the model-size report."""
        return {
            "variables": self.columns["family"].value_counts().sort_index().to_dict(),
            "constraints": self.rows["family"].value_counts().sort_index().to_dict(),
        }
