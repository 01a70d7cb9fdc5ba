r"""Inputs + scenario -> the allocation linear programme, as arrays.

Formulation
===========
Sets: PCNs :math:`p`, services :math:`k`, sites :math:`s`, room types :math:`r`,
bands :math:`b`. Service :math:`k` needs room type :math:`r_k`, may use bands
:math:`B_k` and site kinds :math:`K_k`, and has a travel limit :math:`L_k` (km).

Data: demand :math:`D_{kp}` (hours/week, times the scenario's growth factors);
travel :math:`t_{ps}` (km, population-weighted, see :mod:`estates_opt.inputs.travel`);
capacity :math:`C_{srb}` and fixed use :math:`F_{srb}` (room-hours/week);
utilisation cap :math:`u_{\kappa(s)}` of the site's kind; room cost
:math:`c_{sb}` (GBP/room-hour); today's allocation :math:`\beta_{kpsb}`;
deprived share :math:`\delta_p` (population share in IMD deciles 1-2);
session length :math:`\ell_b` (4 h, or 1.5 h in the evening).

Variables
---------
* :math:`x_{kpsb} \ge 0`: hours/week of service :math:`k` for PCN :math:`p` at site
  :math:`s` in band :math:`b`, created **only** where :math:`b \in B_k`, the site's
  kind is in :math:`K_k`, the site has room type :math:`r_k` open (or openable)
  in :math:`b`, :math:`t_{ps} \le L_k`, and, for enhanced access, :math:`b` is an
  enhanced-access band (evening, Saturday). With *whole sessions* the column
  counts sessions :math:`n_{kpsb} \in \mathbb{Z}_{\ge 0}` and hours are
  :math:`\ell_b n_{kpsb}`.
* :math:`m_{kp} \ge 0`: unmet hours, so the model is never bare "infeasible".
* :math:`y_{sb} \in \{0,1\}` (opening-decision mode only): open site :math:`s` in
  band :math:`b`, for (site, band) pairs listed in ``opening.csv``.

Constraints (row families, with their name prefixes)
---------------------------------------------------
(1) ``demand``: :math:`\sum_{s,b} x_{kpsb} + m_{kp} = D_{kp}` for every
    :math:`(k,p)` with :math:`D_{kp} > 0` (:math:`\ge` with whole sessions, which
    may round a PCN's demand up to a whole session).
(2) ``capacity`` (room open in the band):
    :math:`\sum_{k: r_k = r,\,p} x_{kpsb} \le \max(0,\ u_{\kappa(s)} C_{srb} - F_{srb})`;
    fixed work that already exceeds the cap cannot move, so the site simply
    takes no movable work (the diagnostics report it).
(3) ``capacity`` (room openable, opening mode):
    :math:`\sum x_{kpsb} - u_{\kappa(s)} C^{open}_{srb}\, y_{sb} \le 0`.
(4) ``move_budget`` (optional): :math:`\sum_{(k,p,s,b) \notin \mathrm{today}} x_{kpsb} \le B`.
(5) Pinned allocations are lower bounds :math:`x_{kpsb} \ge \pi_{kpsb}` (not rows).

Objective (minimise, GBP-equivalent per week)
---------------------------------------------
.. math::
   \sum x_{kpsb}\big[w_t\, t_{ps}(1 + w_{imd}\,\delta_p) + w_c\, c_{sb}
   + w_m [\beta_{kpsb} = 0]\big] + w_u \sum m_{kp} + w_o \sum O_{sb}\, y_{sb}

The move penalty charges hours placed in a (site, band) slot where the PCN
does not run that service today (no extra variables; "hours moved" means
exactly this everywhere in the tool).

Everything here is vectorised with pandas merges and one sparse matrix; the
PuLP model is made from these arrays in :mod:`estates_opt.model.pulp_model`.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp

from estates_opt.errors import ModelSpecificationError
from estates_opt.inputs.dataset import Dataset, opening_rooms
from estates_opt.inputs.travel import deprived_share
from estates_opt.model.checks import diagnose
from estates_opt.model.program import INF, LinearProgram
from estates_opt.scenario import Scenario
from estates_opt.schema import ENHANCED_ACCESS_BANDS, SESSION_HOURS

log = logging.getLogger(__name__)


def scaled_demand(dataset: Dataset, scenario: Scenario) -> pd.DataFrame:
    """Demand per (PCN, service) after the scenario's growth factors."""
    growth = scenario.growth
    demand = dataset.demand[["pcn_code", "service_id", "hours_per_week"]].copy()
    factor = pd.Series(growth.overall * growth.population, index=demand.index)
    if growth.by_service:
        factor *= demand["service_id"].map(growth.by_service).fillna(1.0)
    if growth.by_borough:
        borough = demand["pcn_code"].map(dataset.pcns.set_index("pcn_code")["borough"])
        factor *= borough.map(growth.by_borough).fillna(1.0)
    demand["demand_hours"] = demand["hours_per_week"] * factor
    return demand.drop(columns="hours_per_week")


def room_slots(dataset: Dataset, scenario: Scenario) -> pd.DataFrame:
    """Every (site, room type, band) that could host movable work, with its headroom.

    ``state`` is ``open`` (in capacity.csv) or ``openable`` (in opening.csv; used
    only in opening-decision mode). ``limit_hours`` is the movable hours allowed
    under the kind's cap: ``max(0, cap * capacity - fixed)``.
    """
    kinds = dataset.premises.set_index("site_id")["kind"]
    open_ = dataset.capacity[
        ["site_id", "room_type", "band", "capacity_hours", "fixed_hours", "cost_per_hour_gbp"]
    ].copy()
    open_["state"] = "open"
    frames = [open_]
    if scenario.options.opening_decisions:
        frames.append(opening_rooms(dataset.opening, dataset.capacity).assign(state="openable"))
    slots = pd.concat(frames, ignore_index=True)
    if "open_cost_gbp_per_week" not in slots:
        slots["open_cost_gbp_per_week"] = np.nan
    slots["kind"] = slots["site_id"].map(kinds)
    slots = slots[slots["kind"].notna() & (slots["capacity_hours"] > 0)]
    caps = slots["kind"].map({k: scenario.cap(k) for k in slots["kind"].unique()})
    slots["cap"] = caps.astype(float)
    slots["limit_hours"] = np.maximum(
        0.0, slots["cap"] * slots["capacity_hours"] - slots["fixed_hours"]
    )
    return slots.sort_values(["site_id", "room_type", "band"]).reset_index(drop=True)


def _service_options(dataset: Dataset, scenario: Scenario) -> pd.DataFrame:
    """One row per (service, allowed band, allowed site kind) with its travel limit."""
    svc = dataset.services[
        ["service_id", "category", "room_type", "bands", "site_kinds", "max_travel_km"]
    ].copy()
    overrides = scenario.travel.max_km_by_service
    if overrides:
        svc["max_travel_km"] = svc["service_id"].map(overrides).fillna(svc["max_travel_km"])
    svc = svc.explode("bands").explode("site_kinds")
    svc = svc.rename(columns={"bands": "band", "site_kinds": "kind"})
    ea = svc["category"] == "enhanced_access"
    svc = svc[~ea | svc["band"].isin(ENHANCED_ACCESS_BANDS)]
    return svc.reset_index(drop=True)


def candidate_allocations(
    dataset: Dataset, scenario: Scenario, travel: pd.DataFrame, slots: pd.DataFrame
) -> pd.DataFrame:
    """Every allowed (service, PCN, site, band): the x columns of the LP."""
    demand = scaled_demand(dataset, scenario)
    demand = demand[demand["demand_hours"] > 0]
    options = _service_options(dataset, scenario)
    by_band = "band" in travel.columns and travel["band"].astype(str).ne("").any()
    pairs = demand.merge(travel, on="pcn_code")
    kinds = dataset.premises.set_index("site_id")["kind"]
    pairs["kind"] = pairs["site_id"].map(kinds)
    cand = pairs.merge(options, on=["service_id", "kind"])
    if by_band:
        cand = cand[(cand["band_x"] == cand["band_y"]) | (cand["band_x"] == "")]
        cand = cand.drop(columns="band_x").rename(columns={"band_y": "band"})
    cand = cand[cand["travel_km"] <= cand["max_travel_km"] + 1e-9]
    cand = cand.merge(
        slots[["site_id", "room_type", "band", "state", "cost_per_hour_gbp", "limit_hours"]],
        on=["site_id", "room_type", "band"],
    )
    baseline = dataset.baseline.groupby(
        ["service_id", "pcn_code", "site_id", "band"], as_index=False
    )["hours_per_week"].sum()
    cand = cand.merge(
        baseline.rename(columns={"hours_per_week": "baseline_hours"}),
        on=["service_id", "pcn_code", "site_id", "band"],
        how="left",
    )
    cand["baseline_hours"] = cand["baseline_hours"].fillna(0.0)
    keep = [
        "service_id",
        "pcn_code",
        "site_id",
        "band",
        "category",
        "room_type",
        "kind",
        "state",
        "travel_km",
        "cost_per_hour_gbp",
        "baseline_hours",
    ]
    cand = cand[keep].sort_values(["service_id", "pcn_code", "site_id", "band"], kind="stable")
    return cand.drop_duplicates(["service_id", "pcn_code", "site_id", "band"]).reset_index(
        drop=True
    )


def build_model(dataset: Dataset, scenario: Scenario, travel: pd.DataFrame) -> LinearProgram:
    """Assemble the LP/MIP of the module docstring from validated inputs."""
    started = time.perf_counter()
    weights = scenario.weights
    whole = scenario.options.whole_sessions
    slots = room_slots(dataset, scenario)
    cand = candidate_allocations(dataset, scenario, travel, slots)
    demand = scaled_demand(dataset, scenario)
    demand = demand[demand["demand_hours"] > 0].reset_index(drop=True)

    # --- columns -------------------------------------------------------------
    n_x = len(cand)
    hours_per_unit = cand["band"].map(SESSION_HOURS).to_numpy(float) if whole else np.ones(n_x)
    share = deprived_share(dataset.lsoas)
    dep = cand["pcn_code"].map(share).fillna(0.0).to_numpy(float)
    travel_coef = weights.travel_gbp_per_hour_km * cand["travel_km"].to_numpy(float)
    travel_coef = travel_coef * (1.0 + weights.imd_weight * dep) * hours_per_unit
    cost_coef = weights.cost * cand["cost_per_hour_gbp"].to_numpy(float) * hours_per_unit
    moved = cand["baseline_hours"].to_numpy(float) <= 0
    move_coef = weights.move_gbp_per_hour * moved * hours_per_unit

    x_cols = cand.assign(family="x", hours_per_unit=hours_per_unit)
    unmet_cols = demand[["service_id", "pcn_code"]].assign(family="unmet", hours_per_unit=1.0)
    open_pairs = (
        slots.loc[slots["state"] == "openable", ["site_id", "band", "open_cost_gbp_per_week"]]
        .drop_duplicates(["site_id", "band"])
        .reset_index(drop=True)
    )
    if scenario.options.opening_decisions:
        used = set(
            zip(
                cand.loc[cand["state"] == "openable", "site_id"],
                cand.loc[cand["state"] == "openable", "band"],
                strict=True,
            )
        )
        keep = [
            (s, b) in used for s, b in zip(open_pairs["site_id"], open_pairs["band"], strict=True)
        ]
        # A boolean array, not a list: an empty list would select no *columns*.
        open_pairs = open_pairs.loc[np.array(keep, dtype=bool)]
        open_pairs = open_pairs.reset_index(drop=True)
    else:
        open_pairs = open_pairs.iloc[0:0]
    open_cols = open_pairs.assign(family="open", hours_per_unit=0.0)
    columns = pd.concat([x_cols, unmet_cols, open_cols], ignore_index=True)
    n_u, n_o = len(unmet_cols), len(open_cols)
    n = n_x + n_u + n_o
    zeros_u, zeros_o = np.zeros(n_u), np.zeros(n_o)
    terms = {
        "travel": np.concatenate([travel_coef, zeros_u, zeros_o]),
        "cost": np.concatenate([cost_coef, zeros_u, zeros_o]),
        "move": np.concatenate([move_coef, zeros_u, zeros_o]),
        "unmet": np.concatenate([np.zeros(n_x), np.full(n_u, weights.unmet_gbp_per_hour), zeros_o]),
        "opening": np.concatenate(
            [
                np.zeros(n_x + n_u),
                weights.opening * open_cols["open_cost_gbp_per_week"].to_numpy(float),
            ]
        ),
    }
    objective = sum(terms.values())
    col_lower = np.zeros(n)
    col_upper = np.full(n, INF)
    col_upper[n_x + n_u :] = 1.0
    integer = np.zeros(n, dtype=bool)
    if whole:
        integer[:n_x] = True
    integer[n_x + n_u :] = True

    # Pinned allocations: lower bounds on existing columns.
    if scenario.pinned:
        key = pd.MultiIndex.from_frame(cand[["pcn_code", "service_id", "site_id", "band"]])
        for pin in scenario.pinned:
            where = key.get_indexer([(pin.pcn_code, pin.service_id, pin.site_id, pin.band)])[0]
            if where < 0:
                raise ModelSpecificationError(
                    f"pinned allocation {pin.service_id} for {pin.pcn_code} at {pin.site_id} "
                    f"({pin.band}) is not an allowed combination (wrong band, room type, site "
                    "kind, closed site or beyond the travel limit); remove or correct the pin."
                )
            units = pin.hours_per_week / hours_per_unit[where]
            col_lower[where] = np.ceil(units - 1e-9) if whole else units

    # --- rows ------------------------------------------------------------------
    triplets_r: list[np.ndarray] = []
    triplets_c: list[np.ndarray] = []
    triplets_v: list[np.ndarray] = []

    # (1) demand rows, one per (service, PCN) with demand.
    d_key = pd.MultiIndex.from_frame(demand[["service_id", "pcn_code"]])
    d_rows = d_key.get_indexer(pd.MultiIndex.from_frame(cand[["service_id", "pcn_code"]]))
    triplets_r += [d_rows, np.arange(n_u)]
    triplets_c += [np.arange(n_x), n_x + np.arange(n_u)]
    triplets_v += [hours_per_unit, np.ones(n_u)]
    row_frames = [demand[["service_id", "pcn_code"]].assign(family="demand")]
    d_val = demand["demand_hours"].to_numpy(float)
    row_lower = [d_val]
    row_upper = [np.full(n_u, INF) if whole else d_val]

    # (2)/(3) capacity rows, one per used (site, room type, band).
    used_slots = cand[["site_id", "room_type", "band"]].drop_duplicates().reset_index(drop=True)
    used_slots = used_slots.merge(slots, on=["site_id", "room_type", "band"], how="left")
    c_key = pd.MultiIndex.from_frame(used_slots[["site_id", "room_type", "band"]])
    c_rows = n_u + c_key.get_indexer(
        pd.MultiIndex.from_frame(cand[["site_id", "room_type", "band"]])
    )
    triplets_r.append(c_rows)
    triplets_c.append(np.arange(n_x))
    triplets_v.append(hours_per_unit)
    openable = (used_slots["state"] == "openable").to_numpy()
    cap_upper = np.where(openable, 0.0, used_slots["limit_hours"].to_numpy(float))
    if n_o:
        o_key = pd.MultiIndex.from_frame(open_cols[["site_id", "band"]])
        o_idx = o_key.get_indexer(
            pd.MultiIndex.from_frame(used_slots.loc[openable, ["site_id", "band"]])
        )
        triplets_r.append(n_u + np.flatnonzero(openable))
        triplets_c.append(n_x + n_u + o_idx)
        triplets_v.append(
            -(
                used_slots.loc[openable, "cap"] * used_slots.loc[openable, "capacity_hours"]
            ).to_numpy(float)
        )
    row_frames.append(used_slots[["site_id", "room_type", "band"]].assign(family="capacity"))
    row_lower.append(np.full(len(used_slots), -INF))
    row_upper.append(cap_upper)
    n_rows = n_u + len(used_slots)

    # (4) move budget.
    budget = scenario.options.move_budget_hours
    if budget is not None:
        idx = np.flatnonzero(moved)
        triplets_r.append(np.full(idx.size, n_rows))
        triplets_c.append(idx)
        triplets_v.append(hours_per_unit[idx])
        row_frames.append(pd.DataFrame({"family": ["move_budget"]}))
        row_lower.append(np.array([-INF]))
        row_upper.append(np.array([float(budget)]))
        n_rows += 1

    rows = pd.concat(row_frames, ignore_index=True)
    rows["row_name"] = [f"{f}_{i}" for i, f in enumerate(rows["family"])]
    matrix = sp.csr_matrix(
        (np.concatenate(triplets_v), (np.concatenate(triplets_r), np.concatenate(triplets_c))),
        shape=(n_rows, n),
    )
    diagnostics = tuple(diagnose(dataset, scenario, demand, cand, slots))
    lp = LinearProgram(
        columns=columns,
        rows=rows,
        matrix=matrix,
        objective=np.asarray(objective, dtype=float),
        terms=terms,
        col_lower=col_lower,
        col_upper=col_upper,
        row_lower=np.concatenate(row_lower),
        row_upper=np.concatenate(row_upper),
        integer=integer,
        diagnostics=diagnostics,
        build_seconds=time.perf_counter() - started,
        demand=demand,
        slots=slots,
    )
    nv, nc, nz = lp.shape
    log.info(
        "built %s: %s variables, %s constraints, %s nonzeros in %.2f s",
        "MIP" if lp.is_mip else "LP",
        f"{nv:,}",
        f"{nc:,}",
        f"{nz:,}",
        lp.build_seconds,
    )
    return lp
