"""Row families (1)-(7) of the formulation: demand, capacity, move budget, enhanced access.

Each helper adds one family of rows, from arrays, to a :class:`Rows` stack; the
equations are numbered in :mod:`estates_opt.model.build`'s docstring. The
whole-session families (8)-(13) are in :mod:`estates_opt.model.constraints_relocation`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from estates_opt.model.columns import Columns
from estates_opt.model.program import INF
from estates_opt.scenario import Scenario


@dataclass
class Rows:
    """Row families as sparse triplets, stacked in the order they are added."""

    n_cols: int
    r: list[np.ndarray] = field(default_factory=list)
    c: list[np.ndarray] = field(default_factory=list)
    v: list[np.ndarray] = field(default_factory=list)
    frames: list[pd.DataFrame] = field(default_factory=list)
    lower: list[np.ndarray] = field(default_factory=list)
    upper: list[np.ndarray] = field(default_factory=list)
    count: int = 0

    def add(
        self,
        frame: pd.DataFrame,
        lower: np.ndarray,
        upper: np.ndarray,
        entries: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    ) -> None:
        """Append ``len(frame)`` rows; ``entries`` are (local row, column, value) arrays."""
        for rows, cols, vals in entries:
            self.r.append(self.count + np.asarray(rows, dtype=np.int64))
            self.c.append(np.asarray(cols, dtype=np.int64))
            self.v.append(np.asarray(vals, dtype=float))
        self.frames.append(frame)
        self.lower.append(np.asarray(lower, dtype=float))
        self.upper.append(np.asarray(upper, dtype=float))
        self.count += len(frame)

    def matrix(self) -> sp.csr_matrix:
        """Every row added so far as one CSR matrix."""
        empty = [np.zeros(0)]
        return sp.csr_matrix(
            (
                np.concatenate(self.v or empty),
                (np.concatenate(self.r or empty), np.concatenate(self.c or empty)),
            ),
            shape=(self.count, self.n_cols),
        )


def demand_rows(
    rows: Rows, cols: Columns, cand: pd.DataFrame, demand: pd.DataFrame, at_least: np.ndarray
) -> None:
    """(1) ``demand``: placed plus unmet hours equal (``at_least``: reach) each demand."""
    n_x, n_u = len(cand), len(demand)
    d_key = pd.MultiIndex.from_frame(demand[["service_id", "pcn_code"]])
    d_rows = d_key.get_indexer(pd.MultiIndex.from_frame(cand[["service_id", "pcn_code"]]))
    d_val = demand["demand_hours"].to_numpy(float)
    rows.add(
        demand[["service_id", "pcn_code"]].assign(family="demand"),
        d_val,
        np.where(at_least, INF, d_val),
        [
            (d_rows, np.arange(n_x), cols.hours_per_unit),
            (
                np.arange(n_u),
                n_x + np.arange(n_u),
                cols.frame["hours_per_unit"].to_numpy(float)[n_x : n_x + n_u],
            ),
        ],
    )


def _row_numbers(keys: pd.DataFrame) -> np.ndarray:
    """0, 1, ... per distinct row of ``keys``, in order of first appearance: each column
    factorised on its own and the codes combined (a MultiIndex's factorize took 0.4 s on
    England's 270,000 candidates, this 0.05 s)."""
    combined = np.zeros(len(keys), dtype=np.int64)
    for column in keys.columns:
        codes, uniques = pd.factorize(keys[column])
        combined = combined * (len(uniques) + 1) + (codes + 1)
    return pd.factorize(combined)[0]


def capacity_rows(
    rows: Rows, cols: Columns, cand: pd.DataFrame, slots: pd.DataFrame, n_x: int
) -> None:
    """(2)/(3) ``capacity``: movable hours per used (site, room type, band) under the cap."""
    room = ["site_id", "room_type", "band"]
    # one factorisation gives each candidate its room's row (rooms in order of first use)
    c_rows = _row_numbers(cand[room])
    first_use = np.unique(c_rows, return_index=True)[1]
    used = cand[room].iloc[first_use].reset_index(drop=True).merge(slots, on=room, how="left")
    entries = [(c_rows, np.arange(n_x), cols.hours_per_unit)]
    openable = (used["state"] == "openable").to_numpy()
    open_cols = cols.frame[cols.frame["family"] == "open"]
    if len(open_cols):
        o_key = pd.MultiIndex.from_frame(open_cols[["site_id", "band"]])
        o_idx = o_key.get_indexer(pd.MultiIndex.from_frame(used.loc[openable, ["site_id", "band"]]))
        room_hours = (used.loc[openable, "cap"] * used.loc[openable, "capacity_hours"]).to_numpy(
            float
        )
        entries.append((np.flatnonzero(openable), open_cols.index.to_numpy()[o_idx], -room_hours))
    rows.add(
        used[["site_id", "room_type", "band"]].assign(family="capacity"),
        np.full(len(used), -INF),
        np.where(openable, 0.0, used["limit_hours"].to_numpy(float)),
        entries,
    )


def move_budget_row(rows: Rows, cols: Columns, scenario: Scenario) -> None:
    """(4) ``move_budget``: hours placed in slots the PCN does not use today."""
    budget = scenario.options.move_budget_hours
    if budget is None:
        return
    idx = np.flatnonzero(cols.moved)
    rows.add(
        pd.DataFrame({"family": ["move_budget"]}),
        np.array([-INF]),
        np.array([float(budget)]),
        [(np.zeros(idx.size), idx, cols.hours_per_unit[idx])],
    )


def enhanced_access_rows(
    rows: Rows, cols: Columns, cand: pd.DataFrame, targets: pd.DataFrame
) -> None:
    """(6) ``ea_band`` and (7) ``ea_total``: enhanced-access minimums per PCN, with shortfall."""
    if not len(targets):
        return
    short = cols.frame.index[cols.frame["family"] == "ea_shortfall"].to_numpy()
    ea = np.flatnonzero((cand["category"] == "enhanced_access").to_numpy())
    pcn_band = pd.MultiIndex.from_frame(targets[["pcn_code", "band"]])
    ea_pcn = cand["pcn_code"].to_numpy(object)[ea]
    in_band = pcn_band.get_indexer(
        pd.MultiIndex.from_arrays([ea_pcn, cand["band"].to_numpy(object)[ea]])
    )
    in_total = pcn_band.get_indexer(
        pd.MultiIndex.from_arrays([ea_pcn, np.full(ea.size, "total", object)])
    )
    hours = cols.hours_per_unit[ea]
    keep = in_band >= 0
    family = np.where(targets["band"].to_numpy(object) == "total", "ea_total", "ea_band")
    rows.add(
        targets[["pcn_code", "band"]].assign(family=family),
        targets["min_hours"].to_numpy(float),
        np.full(len(targets), INF),
        [
            (in_band[keep], ea[keep], hours[keep]),
            (in_total[in_total >= 0], ea[in_total >= 0], hours[in_total >= 0]),
            (np.arange(len(targets)), short, np.ones(len(targets))),
        ],
    )


def community_aim_row(
    rows: Rows, cols: Columns, cand: pd.DataFrame, slots: pd.DataFrame, scenario: Scenario
) -> None:
    """(14) ``community_aim``: the community estate's weekday use reaches the strategy's aim.

    Fixed work plus the hours placed in community rooms open today, in the weekday band,
    plus the shortfall column, is at least ``aim`` times their capacity
    (``strategy.community_weekday_utilisation``; one row, none without an aim).
    """
    aim = scenario.strategy.community_weekday_utilisation
    if aim is None:
        return
    rooms = slots[
        (slots["kind"] == "community") & (slots["band"] == "weekday") & (slots["state"] == "open")
    ]
    need = aim * rooms["capacity_hours"].sum() - rooms["fixed_hours"].sum()
    inside = np.flatnonzero(
        (cand["kind"] == "community").to_numpy()
        & (cand["band"] == "weekday").to_numpy()
        & (cand["state"] == "open").to_numpy()
    )
    short = np.flatnonzero((cols.frame["family"] == "community_shortfall").to_numpy())
    rows.add(
        pd.DataFrame({"family": ["community_aim"]}),
        np.array([need]),
        np.array([INF]),
        [
            (np.zeros(inside.size), inside, cols.hours_per_unit[inside]),
            (np.zeros(short.size), short, np.ones(short.size)),
        ],
    )
