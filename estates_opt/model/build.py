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
(14) ``community_aim`` (optional, ``[strategy]``): fixed work plus the hours in community
    rooms open today, weekday band, plus a shortfall at ``shortfall_gbp_per_hour`` (objective
    term ``unmet``), reach ``community_weekday_utilisation`` times their capacity.
(15) ``cover_*``: valid rows that hold for every whole-session plan and cut off
    fractional relocations, for a tighter bound (:mod:`estates_opt.model.cover_rows`).

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

import numpy as np
import pandas as pd

from estates_opt.inputs.dataset import Dataset
from estates_opt.model.candidates import (
    candidate_allocations,
    contract_targets,
    own_hub_mask,
    pinned_mask,
    room_slots,
    scaled_demand,
    why_not_candidate,
)
from estates_opt.model.checks import diagnose
from estates_opt.model.columns import (
    HUB_SHORTFALL_GBP_PER_SESSION,
    assemble_columns,
    pin_allocations,
    relocation_frames,
)
from estates_opt.model.constraints import (
    Rows,
    capacity_rows,
    community_aim_row,
    demand_rows,
    enhanced_access_rows,
    move_budget_row,
)
from estates_opt.model.constraints_relocation import relocation_rows
from estates_opt.model.cover_rows import relocation_cover_rows
from estates_opt.model.program import LinearProgram
from estates_opt.model.relocations import (
    plausible_candidates,
    split_kept_added,
    today_in_sessions,
)
from estates_opt.scenario import Scenario

__all__ = [
    "HUB_SHORTFALL_GBP_PER_SESSION",
    "build_model",
    "candidate_allocations",
    "contract_targets",
    "own_hub_mask",
    "room_slots",
    "scaled_demand",
]

log = logging.getLogger(__name__)


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
        keep = cand["own_hub"].to_numpy(bool) | pinned_mask(cand, scenario)
        cand = plausible_candidates(cand, keep, nearest, demand)
        cand = split_kept_added(cand, today_in_sessions(dataset.baseline), demand)
    demand["category"] = demand["service_id"].map(
        dataset.services.set_index("service_id")["category"]
    )
    targets = contract_targets(dataset, scenario)
    extra = relocation_frames(dataset, scenario, cand)
    cols = assemble_columns(dataset, scenario, cand, demand, slots, targets, extra)
    unplaced = pin_allocations(cols, cand, scenario)
    n_x = len(cand)
    rows = Rows(n_cols=len(cols.frame))
    # Enhanced access may exceed its demand where the contract's minimums ask for more.
    at_least = (
        np.full(len(demand), scenario.options.whole_sessions)
        | (len(targets) > 0) & (demand["category"] == "enhanced_access").to_numpy()
    )
    demand_rows(rows, cols, cand, demand, at_least)
    capacity_rows(rows, cols, cand, slots, n_x)
    move_budget_row(rows, cols, scenario)
    enhanced_access_rows(rows, cols, cand, targets)
    relocation_rows(rows, cols, cand, extra, scenario)
    relocation_cover_rows(rows, cols, cand, demand)
    community_aim_row(rows, cols, cand, slots, scenario)

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
        unplaced_pins=tuple(
            f"pinned[{i}] ({', '.join(scenario.pinned[i].slot)}): no allowed allocation: "
            f"{why_not_candidate(dataset, scenario, travel, slots, scenario.pinned[i].slot)}; "
            "correct or remove the pin"
            for i in unplaced
        ),
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
