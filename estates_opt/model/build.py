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
    may round a PCN's demand up to a whole session, and for enhanced access while
    the contract rules (6)-(7) are on, which may ask for more than the demand).
(2) ``capacity`` (room open in the band):
    :math:`\sum_{k: r_k = r,\,p} x_{kpsb} \le \max(0,\ u_{\kappa(s)} C_{srb} - F_{srb})`;
    fixed work that already exceeds the cap cannot move, so the site simply
    takes no movable work (the diagnostics report it).
(3) ``capacity`` (room openable, opening mode):
    :math:`\sum x_{kpsb} - u_{\kappa(s)} C^{open}_{srb}\, y_{sb} \le 0`.
(4) ``move_budget`` (optional): :math:`\sum_{(k,p,s,b) \notin \mathrm{today}} x_{kpsb} \le B`.
(5) Pinned allocations are lower bounds :math:`x_{kpsb} \ge \pi_{kpsb}` (not rows).
(6) ``ea_band`` (PCN contract, enhanced access in every Network Standard Hours band):
    :math:`\sum_{k \in EA,\,s} x_{kpsb} + e_{pb} \ge H_b` for every PCN :math:`p` and
    :math:`b \in \{\mathrm{evening}, \mathrm{saturday}\}`; :math:`H_{evening} = 7.5`
    (one 1.5 h room-session every weekday evening), :math:`H_{saturday} = 8`
    (09:00-17:00). Only x columns within the service's travel limit exist, so only
    sites within the EA travel limit count.
(7) ``ea_total``: :math:`\sum_{k \in EA,\,s,b} x_{kpsb} + e_{p} \ge \mu P_p / 1000`
    (:math:`\mu` = 1 h for 60 minutes per 1,000 patients a week; the target is
    rounded to 0.01 h, the precision of demand.csv).
    The shortfalls :math:`e \ge 0` are penalised at :math:`w_e` per hour, so a PCN
    that cannot meet a minimum is reported per PCN and band, never "infeasible".

With whole sessions (the default) the plan moves whole clinics
(:mod:`estates_opt.model.relocations`). Today's allocation is read in whole sessions
:math:`\hat\beta_{kpsb}` (largest remainder per clinic), and each candidate slot
:math:`j = (k,p,s,b)` splits into *kept* sessions :math:`0 \le n^{keep}_j \le \hat\beta_j`
and *added* sessions :math:`n^{add}_j \ge 0`, both integer; candidates are today's slots,
the PCN's own hub and the nearest ``relocation.candidate_sites`` sites with a free session.

(8) ``relocate``: :math:`n^{add}_j \le U_j z_j`, :math:`z_j \in \{0,1\}` with the fixed
    disruption cost :math:`F` (``relocation.gbp_per_relocation``): an allocation changes
    only by whole relocations, each at least one session.
(9) ``specialty_site``: :math:`n_j \le U_j w_{ks}`, :math:`w_{ks} \in \{0,1\}` for outpatient
    specialties, at ``gbp_per_specialty_site`` where the specialty is not there today;
    ``specialty_sites`` (optional): :math:`\sum_{s \in \text{borough}} w_{ks} \le L`.
(10) ``move_tolerance``: :math:`\sum_j \ell_b n^{add}_j - \epsilon \le (1+\tau) M^*`, with
    :math:`M^*` the least movement (stage 1, :mod:`estates_opt.model.staged`) and the
    excess :math:`\epsilon` at ``excess_gbp_per_hour``.
(11) ``own_hub``: each PCN runs at least ``own_hub_min_sessions`` sessions at its own hub
    (a shortfall column at :data:`HUB_SHORTFALL_GBP_PER_SESSION` per session).
(12) Tie-breaks (objective term ``preference``): an hour kept in today's slot earns
    ``keep_preference_gbp_per_hour``, an hour moved to the PCN's own hub
    ``own_hub_preference_gbp_per_hour``; with the travel term this makes equally good
    plans pick today's building, then the own hub, then the nearest.
(13) ``clinic_buildings``: a clinic uses at most :math:`L_{kp} = \max(\text{today's
    buildings}, \text{relocation.max\_buildings\_per\_clinic})` buildings: a binary
    :math:`y_{kps}` per building it uses today (``site_use``: its sessions there only with
    :math:`y`), and :math:`\sum_s y_{kps} + \sum_{s\ \text{new},b} z_{kpsb} \le L_{kp}`, for
    clinics with more candidate buildings than :math:`L_{kp}`.

Symbols and where they come from
--------------------------------
=====================  ============================================================
symbol                 dataset column or scenario key
=====================  ============================================================
:math:`D_{kp}`         demand.csv ``hours_per_week`` x ``[growth]`` factors
:math:`t_{ps}`         travel (LSOA ``population``-weighted, ``[travel] circuity``)
:math:`L_k`            services.csv ``max_travel_km``; ``[travel] max_km_by_service``
:math:`C_{srb}`        capacity.csv ``capacity_hours``
:math:`C^{open}_{srb}` opening.csv ``<room>_hours_if_opened``
:math:`F_{srb}`        capacity.csv ``fixed_hours``
:math:`u_\kappa`       ``[caps]`` by premises.geojson ``kind``
:math:`c_{sb}`         capacity.csv / opening.csv ``cost_per_hour_gbp``
:math:`O_{sb}`         opening.csv ``open_cost_gbp_per_week``
:math:`\beta_{kpsb}`   baseline.csv ``hours_per_week``
:math:`\delta_p`       lsoas.geojson ``imd_decile`` (1-2) and ``population``
:math:`\ell_b`         :data:`estates_opt.schema.SESSION_HOURS`
:math:`B`              ``[options] move_budget_hours``
:math:`\pi_{kpsb}`     ``[[pinned]] hours_per_week``
:math:`H_b`            ``[contract] evening_min_hours``, ``saturday_min_hours``
:math:`\mu`            ``[contract] minutes_per_1000_patients`` / 60
:math:`P_p`            pcns.geojson ``adjusted_patients``, else ``registered_patients``,
                       x ``[growth] population``
:math:`w_t, w_c, w_m`  ``[weights] travel_gbp_per_hour_km``, ``cost``, ``move_gbp_per_hour``
:math:`w_u, w_o`       ``[weights] unmet_gbp_per_hour``, ``opening``
:math:`w_{imd}`        ``[weights] imd_weight``
:math:`w_e`            ``[contract] shortfall_gbp_per_hour``
=====================  ============================================================

Objective (minimise, GBP-equivalent per week)
---------------------------------------------
.. math::
   \sum x_{kpsb}\big[w_t\, t_{ps}(1 + w_{imd}\,\delta_p) + w_c\, c_{sb}
   + w_m [\beta_{kpsb} = 0]\big] + w_u \sum m_{kp} + w_o \sum O_{sb}\, y_{sb}
   + w_e \sum e

The move penalty charges hours placed in a (site, band) slot where the PCN
does not run that service today (no extra variables; reported as
``hours_in_new_slots``). The headline "hours moved" is the sum of
``moves.csv``: hours that leave a slot the PCN uses today and arrive in
another (models/README.md, "Hours moved").

Everything here is vectorised with pandas merges and one sparse matrix; the
PuLP model is made from these arrays in :mod:`estates_opt.model.pulp_model`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from estates_opt.errors import ModelSpecificationError
from estates_opt.inputs.dataset import Dataset, opening_rooms
from estates_opt.inputs.suitability import drop_unsuitable
from estates_opt.inputs.travel import deprived_share
from estates_opt.model.checks import diagnose
from estates_opt.model.program import INF, LinearProgram
from estates_opt.model.relocations import (
    clinic_buildings,
    plausible_candidates,
    split_kept_added,
    today_in_sessions,
)
from estates_opt.scenario import Scenario
from estates_opt.schema import ENHANCED_ACCESS_BANDS, SESSION_HOURS

log = logging.getLogger(__name__)

#: Penalty per session/week a PCN falls short of ``relocation.own_hub_min_sessions`` at its
#: own hub: two and a half relocations' worth at the default, so a hub with room is always used.
HUB_SHORTFALL_GBP_PER_SESSION = 10000.0


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
    cand = drop_unsuitable(dataset, scenario, cand)
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
        "limit_hours",
        "baseline_hours",
    ]
    cand = cand[keep].sort_values(["service_id", "pcn_code", "site_id", "band"], kind="stable")
    return cand.drop_duplicates(["service_id", "pcn_code", "site_id", "band"]).reset_index(
        drop=True
    )


@dataclass
class _Rows:
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
        empty = [np.zeros(0)]
        return sp.csr_matrix(
            (
                np.concatenate(self.v or empty),
                (np.concatenate(self.r or empty), np.concatenate(self.c or empty)),
            ),
            shape=(self.count, self.n_cols),
        )


@dataclass(frozen=True)
class _Columns:
    """Every column with its ids, objective terms, bounds and integrality."""

    frame: pd.DataFrame
    terms: dict[str, np.ndarray]
    lower: np.ndarray
    upper: np.ndarray
    integer: np.ndarray
    hours_per_unit: np.ndarray  # of the x columns
    moved: np.ndarray  # x columns in a slot the PCN does not use today


def _x_columns(
    dataset: Dataset, scenario: Scenario, cand: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """The x columns and their objective coefficients (travel, cost, move)."""
    weights = scenario.weights
    n_x = len(cand)
    whole = scenario.options.whole_sessions
    hours_per_unit = cand["band"].map(SESSION_HOURS).to_numpy(float) if whole else np.ones(n_x)
    dep = cand["pcn_code"].map(deprived_share(dataset.lsoas)).fillna(0.0).to_numpy(float)
    travel = weights.travel_gbp_per_hour_km * cand["travel_km"].to_numpy(float)
    travel = travel * (1.0 + weights.imd_weight * dep) * hours_per_unit
    cost = weights.cost * cand["cost_per_hour_gbp"].to_numpy(float) * hours_per_unit
    if "part" in cand:  # whole sessions: kept and added parts of each slot
        moved = (cand["part"] == "add").to_numpy()
    else:
        moved = cand["baseline_hours"].to_numpy(float) <= 0
    move = weights.move_gbp_per_hour * moved * hours_per_unit
    preference = np.zeros(n_x)
    if "part" in cand:
        # (12) Tie-breaks, so equally good plans cannot reshuffle the moves: today's slot
        # first, then the PCN's own hub, then (through the travel term) the nearest site.
        rel = scenario.relocation
        own_hub = cand["own_hub"].to_numpy(bool)
        preference -= rel.keep_preference_gbp_per_hour * (~moved) * hours_per_unit
        preference -= rel.own_hub_preference_gbp_per_hour * (moved & own_hub) * hours_per_unit
    frame = cand.assign(family="x", hours_per_unit=hours_per_unit)
    terms = {"travel": travel, "cost": cost, "move": move, "preference": preference}
    return frame, terms, hours_per_unit, moved


def own_hub_mask(dataset: Dataset, frame: pd.DataFrame) -> np.ndarray:
    """Rows of ``frame`` (pcn_code, site_id) at a PCN hub of that same PCN (premises.geojson)."""
    prem = dataset.premises
    hubs = prem.loc[prem["kind"] == "pcn_hub", ["site_id", "pcn_code"]].dropna()
    pairs = pd.MultiIndex.from_frame(hubs[["pcn_code", "site_id"]])
    return np.asarray(
        pd.MultiIndex.from_frame(frame[["pcn_code", "site_id"]]).isin(pairs), dtype=bool
    )


def _unmet_unit(dataset: Dataset, scenario: Scenario, demand: pd.DataFrame) -> np.ndarray:
    """Hours per unit of an unmet column: a whole session of the service with whole sessions.

    Unmet demand then counts whole sessions too, so leaving the last part-session of a
    clinic unmet costs a whole session's penalty, never less than placing it would.
    (The unmet hours reported are demand less what is placed.)
    """
    if not scenario.options.whole_sessions:
        return np.ones(len(demand))
    bands = dataset.services.set_index("service_id")["bands"]
    shortest = {k: min(SESSION_HOURS[b] for b in v) for k, v in bands.items()}
    return demand["service_id"].map(shortest).fillna(1.0).to_numpy(float)


def _open_columns(slots: pd.DataFrame, cand: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    """y columns: one per openable (site, band) some x column could use (opening mode)."""
    open_pairs = (
        slots.loc[slots["state"] == "openable", ["site_id", "band", "open_cost_gbp_per_week"]]
        .drop_duplicates(["site_id", "band"])
        .reset_index(drop=True)
    )
    if not scenario.options.opening_decisions:
        return open_pairs.iloc[0:0].assign(family="open", hours_per_unit=0.0)
    openable = cand[cand["state"] == "openable"]
    used = pd.MultiIndex.from_frame(openable[["site_id", "band"]].drop_duplicates())
    # A boolean array, not a list: an empty list would select no *columns*.
    keep = pd.MultiIndex.from_frame(open_pairs[["site_id", "band"]]).isin(used)
    return (
        open_pairs.loc[np.asarray(keep, dtype=bool)]
        .reset_index(drop=True)
        .assign(family="open", hours_per_unit=0.0)
    )


def contract_targets(dataset: Dataset, scenario: Scenario) -> pd.DataFrame:
    """Per PCN: the enhanced-access minimum of each band and the weekly total (hours/week).

    Empty when ``[contract] enhanced_access`` is off or the dataset has no
    enhanced-access service. ``patients`` is ``adjusted_patients`` where given,
    else ``registered_patients``, times the population growth factor; the total
    is rounded to 0.01 h, the precision of demand.csv.
    """
    contract = scenario.contract
    has_ea = (dataset.services["category"] == "enhanced_access").any()
    if not contract.enhanced_access or not has_ea:
        return pd.DataFrame(columns=["pcn_code", "band", "min_hours"])
    pcns = dataset.pcns
    patients = pcns["registered_patients"].astype(float)
    if "adjusted_patients" in pcns:
        patients = pcns["adjusted_patients"].astype(float).fillna(patients)
    patients = patients * scenario.growth.population
    # To 0.01 h (36 seconds), the precision of demand.csv's hours.
    total = np.round(contract.minutes_per_1000_patients / 60.0 * patients / 1000.0, 2)
    frames = [
        pd.DataFrame({"pcn_code": pcns["pcn_code"], "band": band, "min_hours": hours})
        for band, hours in contract.band_minimums().items()
    ]
    frames.append(pd.DataFrame({"pcn_code": pcns["pcn_code"], "band": "total", "min_hours": total}))
    return pd.concat(frames, ignore_index=True)


def _relocation_frames(dataset: Dataset, scenario: Scenario, cand: pd.DataFrame) -> dict:
    """(8)-(11) The whole-session model's extra columns: relocations, specialty sites, hubs."""
    if "part" not in cand:
        empty = pd.DataFrame()
        return {
            "relocate": empty,
            "specialty_site": empty,
            "move_excess": empty,
            "hub": empty,
            "clinics": empty,
            "site_use": empty,
        }
    added = cand.index[cand["part"] == "add"]
    relocate = cand.loc[added, ["service_id", "pcn_code", "site_id", "band"]].assign(x_index=added)
    outpatient = cand["category"] == "outpatient_outreach"
    ops = cand.loc[outpatient, ["service_id", "site_id", "baseline_hours"]]
    specialty = (
        ops.groupby(["service_id", "site_id"], as_index=False, sort=True)["baseline_hours"]
        .sum()
        .rename(columns={"baseline_hours": "today_hours"})
    )
    borough = dataset.premises.set_index("site_id")["borough"]
    specialty["borough"] = specialty["site_id"].map(borough).fillna("(no borough)")
    hub_pcns = cand.loc[cand["own_hub"].to_numpy(bool), ["pcn_code"]].drop_duplicates()
    if scenario.relocation.own_hub_min_sessions <= 0:
        hub_pcns = hub_pcns.iloc[0:0]
    clinics, today_sites = clinic_buildings(cand, scenario.relocation.max_buildings_per_clinic)
    return {
        "clinics": clinics,
        "site_use": today_sites,
        "relocate": relocate.reset_index(drop=True),
        "specialty_site": specialty,
        "move_excess": pd.DataFrame({"pcn_code": [None]}),
        "hub": hub_pcns.reset_index(drop=True),
    }


def _assemble_columns(
    dataset: Dataset,
    scenario: Scenario,
    cand: pd.DataFrame,
    demand: pd.DataFrame,
    slots: pd.DataFrame,
    targets: pd.DataFrame,
    extra: dict,
) -> _Columns:
    """x, unmet, open, enhanced-access shortfall, then the whole-session families."""
    weights = scenario.weights
    rel = scenario.relocation
    x_cols, x_terms, hours_per_unit, moved = _x_columns(dataset, scenario, cand)
    unmet_cols = demand[["service_id", "pcn_code"]].assign(
        family="unmet", hours_per_unit=_unmet_unit(dataset, scenario, demand)
    )
    open_cols = _open_columns(slots, cand, scenario)
    short_cols = targets[["pcn_code", "band"]].assign(family="ea_shortfall", hours_per_unit=1.0)
    frames = {
        "x": x_cols,
        "unmet": unmet_cols,
        "open": open_cols,
        "ea_shortfall": short_cols,
        "relocate": extra["relocate"].assign(family="relocate", hours_per_unit=0.0),
        "specialty_site": extra["specialty_site"].assign(
            family="specialty_site", hours_per_unit=0.0
        ),
        "move_excess": extra["move_excess"].assign(family="move_excess", hours_per_unit=1.0),
        "hub_shortfall": extra["hub"].assign(family="hub_shortfall", hours_per_unit=0.0),
        "site_use": extra["site_use"].assign(family="site_use", hours_per_unit=0.0),
    }
    sizes = {f: len(frame) for f, frame in frames.items()}
    n = sum(sizes.values())

    def stack(values: dict[str, np.ndarray | float]) -> np.ndarray:
        return np.concatenate(
            [np.broadcast_to(np.asarray(values.get(f, 0.0), float), (k,)) for f, k in sizes.items()]
        )

    open_cost = weights.opening * open_cols["open_cost_gbp_per_week"].to_numpy(float)
    spec = extra["specialty_site"]
    site_cost = (
        rel.gbp_per_specialty_site * (spec["today_hours"].to_numpy(float) <= 0)
        if len(spec)
        else 0.0
    )
    terms = {
        "travel": stack({"x": x_terms["travel"]}),
        "cost": stack({"x": x_terms["cost"]}),
        "move": stack({"x": x_terms["move"], "move_excess": rel.excess_gbp_per_hour}),
        "relocation": stack({"relocate": rel.gbp_per_relocation, "specialty_site": site_cost}),
        "unmet": stack(
            {
                "unmet": weights.unmet_gbp_per_hour * unmet_cols["hours_per_unit"].to_numpy(float),
                "ea_shortfall": scenario.contract.shortfall_gbp_per_hour,
                "hub_shortfall": HUB_SHORTFALL_GBP_PER_SESSION,
            }
        ),
        "opening": stack({"open": open_cost}),
        "preference": stack({"x": x_terms["preference"]}),
    }
    binary = stack({"open": 1.0, "relocate": 1.0, "specialty_site": 1.0, "site_use": 1.0}) > 0
    sessions_short = stack({"unmet": 1.0}) > 0
    upper = np.where(binary, 1.0, INF)
    if "unit_upper" in cand:
        upper[: len(cand)] = cand["unit_upper"].to_numpy(float)
    whole = scenario.options.whole_sessions
    integer = binary | ((stack({"x": 1.0}) > 0) | sessions_short) & whole
    frame = pd.concat(list(frames.values()), ignore_index=True)
    return _Columns(
        frame=frame,
        terms=terms,
        lower=np.zeros(n),
        upper=upper,
        integer=integer,
        hours_per_unit=hours_per_unit,
        moved=moved,
    )


def _pinned_mask(cand: pd.DataFrame, scenario: Scenario) -> np.ndarray:
    """Candidate rows that are pinned slots (kept through candidate pruning)."""
    if not scenario.pinned:
        return np.zeros(len(cand), dtype=bool)
    pins = pd.MultiIndex.from_tuples(
        [(p.pcn_code, p.service_id, p.site_id, p.band) for p in scenario.pinned]
    )
    key = pd.MultiIndex.from_frame(cand[["pcn_code", "service_id", "site_id", "band"]])
    return np.asarray(key.isin(pins), dtype=bool)


def _pin_allocations(cols: _Columns, cand: pd.DataFrame, scenario: Scenario) -> None:
    """(5) Pinned allocations: lower bounds on existing x columns.

    With whole sessions a slot has a kept part (today's sessions) and an added
    part: the pin fills the kept part first, then the added part.
    """
    if not scenario.pinned:
        return
    key = cand[["pcn_code", "service_id", "site_id", "band"]].apply(tuple, axis=1)
    part = cand["part"].to_numpy() if "part" in cand else np.full(len(cand), "slot")
    for pin in scenario.pinned:
        where = np.flatnonzero(key == (pin.pcn_code, pin.service_id, pin.site_id, pin.band))
        if where.size == 0:
            raise ModelSpecificationError(
                f"pinned allocation {pin.service_id} for {pin.pcn_code} at {pin.site_id} "
                f"({pin.band}) is not an allowed combination (wrong band, room type, site "
                "kind, closed site or beyond the travel limit); remove or correct the pin."
            )
        units = pin.hours_per_week / cols.hours_per_unit[where[0]]
        if not scenario.options.whole_sessions:
            cols.lower[where[0]] = units
            continue
        left = float(np.ceil(units - 1e-9))
        for i in sorted(where, key=lambda i: part[i] != "keep"):
            take = left if part[i] == "add" else min(left, cols.upper[i])
            cols.lower[i] = take
            cols.upper[i] = max(cols.upper[i], take)
            left -= take


def _demand_rows(
    rows: _Rows, cols: _Columns, cand: pd.DataFrame, demand: pd.DataFrame, at_least: np.ndarray
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


def _capacity_rows(
    rows: _Rows, cols: _Columns, cand: pd.DataFrame, slots: pd.DataFrame, n_x: int
) -> None:
    """(2)/(3) ``capacity``: movable hours per used (site, room type, band) under the cap."""
    used = cand[["site_id", "room_type", "band"]].drop_duplicates().reset_index(drop=True)
    used = used.merge(slots, on=["site_id", "room_type", "band"], how="left")
    c_key = pd.MultiIndex.from_frame(used[["site_id", "room_type", "band"]])
    c_rows = c_key.get_indexer(pd.MultiIndex.from_frame(cand[["site_id", "room_type", "band"]]))
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


def _move_budget_row(rows: _Rows, cols: _Columns, scenario: Scenario) -> None:
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


def _enhanced_access_rows(
    rows: _Rows, cols: _Columns, cand: pd.DataFrame, targets: pd.DataFrame
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


def _relocation_rows(
    rows: _Rows, cols: _Columns, cand: pd.DataFrame, extra: dict, scenario: Scenario
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
    _clinic_building_rows(rows, cols, cand, extra)
    _tolerance_and_hub_rows(rows, cols, cand, extra, scenario)


def _clinic_building_rows(rows: _Rows, cols: _Columns, cand: pd.DataFrame, extra: dict) -> None:
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


def _tolerance_and_hub_rows(
    rows: _Rows, cols: _Columns, cand: pd.DataFrame, extra: dict, scenario: Scenario
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


def build_model(dataset: Dataset, scenario: Scenario, travel: pd.DataFrame) -> LinearProgram:
    """Assemble the LP/MIP of the module docstring from validated inputs."""
    started = time.perf_counter()
    slots = room_slots(dataset, scenario)
    cand = candidate_allocations(dataset, scenario, travel, slots)
    demand = scaled_demand(dataset, scenario)
    demand = demand[demand["demand_hours"] > 0].reset_index(drop=True)
    cand["own_hub"] = own_hub_mask(dataset, cand)
    if scenario.options.whole_sessions:
        nearest = scenario.relocation.candidate_sites
        keep = cand["own_hub"].to_numpy(bool) | _pinned_mask(cand, scenario)
        cand = plausible_candidates(cand, keep, nearest, demand)
        cand = split_kept_added(cand, today_in_sessions(dataset.baseline), demand)
    demand["category"] = demand["service_id"].map(
        dataset.services.set_index("service_id")["category"]
    )
    targets = contract_targets(dataset, scenario)
    extra = _relocation_frames(dataset, scenario, cand)
    cols = _assemble_columns(dataset, scenario, cand, demand, slots, targets, extra)
    _pin_allocations(cols, cand, scenario)
    n_x = len(cand)
    rows = _Rows(n_cols=len(cols.frame))
    # Enhanced access may exceed its demand where the contract's minimums ask for more.
    at_least = (
        np.full(len(demand), scenario.options.whole_sessions)
        | (len(targets) > 0) & (demand["category"] == "enhanced_access").to_numpy()
    )
    _demand_rows(rows, cols, cand, demand, at_least)
    _capacity_rows(rows, cols, cand, slots, n_x)
    _move_budget_row(rows, cols, scenario)
    _enhanced_access_rows(rows, cols, cand, targets)
    _relocation_rows(rows, cols, cand, extra, scenario)

    row_frame = pd.concat(rows.frames, ignore_index=True)
    row_frame["row_name"] = [f"{f}_{i}" for i, f in enumerate(row_frame["family"])]
    diagnostics = tuple(diagnose(dataset, scenario, demand, cand, slots))
    lp = LinearProgram(
        columns=cols.frame,
        rows=row_frame,
        matrix=rows.matrix(),
        objective=np.asarray(sum(cols.terms.values()), dtype=float),
        terms=cols.terms,
        col_lower=cols.lower,
        col_upper=cols.upper,
        row_lower=np.concatenate(rows.lower),
        row_upper=np.concatenate(rows.upper),
        integer=cols.integer,
        diagnostics=diagnostics,
        build_seconds=time.perf_counter() - started,
        demand=demand.drop(columns="category"),
        slots=slots,
        targets=targets,
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
