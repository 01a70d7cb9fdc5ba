"""Row families (8)-(13) of the formulation: the whole-session (relocation) model's rows.

Relocation links (8), specialty sites (9), the move tolerance (10), own-hub
minimums (11) and buildings per clinic (13), numbered as in
:mod:`estates_opt.model.build`'s docstring; only built with whole sessions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from estates_opt.model.columns import Columns
from estates_opt.model.constraints import Rows
from estates_opt.model.program import INF
from estates_opt.scenario import Scenario


def relocation_rows(
    rows: Rows, cols: Columns, cand: pd.DataFrame, extra: dict, scenario: Scenario
) -> None:
    """(8) ``relocate`` links, (9) ``specialty_sites``, (10) ``move_tolerance``, (11) ``own_hub``."""
    if "part" not in cand:
        return
    family = cols.frame["family"].to_numpy()
    units = cols.upper[: len(cand)]
    # (8) added sessions only with the slot's relocation decision: add_j <= U_j z_j
    z = np.flatnonzero(family == "relocate")
    x_of_z = extra["relocate"]["x_index"].to_numpy(int)
    n = len(z)
    rows.add(
        extra["relocate"][["service_id", "pcn_code", "site_id", "band"]].assign(family="relocate"),
        np.full(n, -INF),
        np.zeros(n),
        [(np.arange(n), x_of_z, np.ones(n)), (np.arange(n), z, -units[x_of_z])],
    )
    # (9) an outpatient specialty uses a site only with its site decision; few per borough
    spec = extra["specialty_site"]
    if len(spec):
        w = np.flatnonzero(family == "specialty_site")
        key = pd.MultiIndex.from_frame(spec[["service_id", "site_id"]])
        op = np.flatnonzero((cand["category"] == "outpatient_outreach").to_numpy())
        w_of_x = key.get_indexer(pd.MultiIndex.from_frame(cand.iloc[op][["service_id", "site_id"]]))
        rows.add(
            cand.iloc[op][["service_id", "pcn_code", "site_id", "band"]].assign(
                family="specialty_site"
            ),
            np.full(op.size, -INF),
            np.zeros(op.size),
            [
                (np.arange(op.size), op, np.ones(op.size)),
                (np.arange(op.size), w[w_of_x], -units[op]),
            ],
        )
    limit = scenario.relocation.max_sites_per_specialty_per_borough
    if len(spec) and limit is not None:
        w = np.flatnonzero(family == "specialty_site")
        groups = spec.groupby(["service_id", "borough"], sort=True).ngroup().to_numpy()
        frame = spec.drop_duplicates(["service_id", "borough"]).sort_values(
            ["service_id", "borough"]
        )
        rows.add(
            frame[["service_id", "borough"]].assign(family="specialty_sites"),
            np.full(len(frame), -INF),
            np.full(len(frame), float(limit)),
            [(groups, w, np.ones(w.size))],
        )
    clinic_building_rows(rows, cols, cand, extra)
    tolerance_and_hub_rows(rows, cols, cand, extra, scenario)


def clinic_building_rows(rows: Rows, cols: Columns, cand: pd.DataFrame, extra: dict) -> None:
    """(13) ``site_use`` links and ``clinic_buildings`` limits: few buildings per clinic.

    :math:`\\sum_b n_{kpsb} \\le U_{kps} y_{kps}` for each site :math:`s` the clinic uses
    today, and :math:`\\sum_s y_{kps} + \\sum_{s \\text{ new}, b} z_{kpsb} \\le L_{kp}`
    (a new building used in two bands counts twice).
    """
    clinics, use = extra["clinics"], extra["site_use"]
    if not len(clinics):
        return
    family = cols.frame["family"].to_numpy()
    units = cols.upper[: len(cand)]
    y = np.flatnonzero(family == "site_use")
    slot = pd.MultiIndex.from_frame(use[["service_id", "pcn_code", "site_id"]])
    at = slot.get_indexer(pd.MultiIndex.from_frame(cand[["service_id", "pcn_code", "site_id"]]))
    on = np.flatnonzero(at >= 0)
    bound = np.bincount(at[on], weights=units[on], minlength=len(use))
    rows.add(
        use.assign(family="site_use"),
        np.full(len(use), -INF),
        np.zeros(len(use)),
        [(at[on], on, np.ones(on.size)), (np.arange(len(use)), y, -bound)],
    )
    who = pd.MultiIndex.from_frame(clinics[["service_id", "pcn_code"]])
    y_row = who.get_indexer(pd.MultiIndex.from_frame(use[["service_id", "pcn_code"]]))
    z = np.flatnonzero(family == "relocate")
    moves = extra["relocate"]
    new = (
        slot.get_indexer(pd.MultiIndex.from_frame(moves[["service_id", "pcn_code", "site_id"]])) < 0
    )
    z_row = who.get_indexer(pd.MultiIndex.from_frame(moves[["service_id", "pcn_code"]]))
    pick = new & (z_row >= 0)
    rows.add(
        clinics[["service_id", "pcn_code"]].assign(family="clinic_buildings"),
        np.full(len(clinics), -INF),
        clinics["limit"].to_numpy(float),
        [(y_row, y, np.ones(y.size)), (z_row[pick], z[pick], np.ones(int(pick.sum())))],
    )


def tolerance_and_hub_rows(
    rows: Rows, cols: Columns, cand: pd.DataFrame, extra: dict, scenario: Scenario
) -> None:
    """(10) ``move_tolerance`` and (11) ``own_hub`` rows of the whole-session model."""
    family = cols.frame["family"].to_numpy()
    # (10) hours moved within the tolerance of the least movement (set by the staged solve)
    added = np.flatnonzero(cols.moved)
    excess = np.flatnonzero(family == "move_excess")
    rows.add(
        pd.DataFrame({"family": ["move_tolerance"]}),
        np.array([-INF]),
        # Finite (PuLP refuses a free row): every added session at once, until stage 2 sets it.
        np.array([float(cols.hours_per_unit[added] @ cols.upper[added]) + 1.0]),
        [
            (np.zeros(added.size), added, cols.hours_per_unit[added]),
            (np.zeros(excess.size), excess, -np.ones(excess.size)),
        ],
    )
    # (11) each PCN runs at least a few sessions at its own hub
    hubs = extra["hub"]
    if len(hubs):
        at_hub = np.flatnonzero(cand["own_hub"].to_numpy(bool))
        hub_row = pd.Index(hubs["pcn_code"]).get_indexer(cand["pcn_code"].to_numpy()[at_hub])
        short = np.flatnonzero(family == "hub_shortfall")
        need = scenario.relocation.own_hub_min_sessions
        rows.add(
            hubs.assign(family="own_hub"),
            np.full(len(hubs), need),
            np.full(len(hubs), INF),
            [
                (hub_row, at_hub, np.ones(at_hub.size)),
                (np.arange(len(hubs)), short, np.ones(len(hubs))),
            ],
        )
