"""The capacity side of a synthetic dataset: rooms, capacity, fixed use and opening options.

Split out of :mod:`estates_opt.synthetic.tables` because sizing the sites' rooms
from today's use is a job of its own; ``tables`` builds the geography, sites and
demand and calls :func:`capacity_tables` last. The random draws keep their order
(running costs, rooms, community opening hours, fixed-use draws, opening costs),
so a (scale, seed) pair gives the same dataset as before the split.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from estates_opt.schema import ROOM_HOURS_PER_WEEK, ROOM_TYPES
from estates_opt.synthetic.catalogue import COMMUNITY_OUT_OF_HOURS, COST, KIND_ORDER, ROOMS

#: The week's bands, in the order of the band axis of the arrays below.
BANDS = ("weekday", "evening", "saturday", "sunday")


def capacity_tables(
    premises: gpd.GeoDataFrame,
    baseline: pd.DataFrame,
    services: pd.DataFrame,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rooms, capacity and fixed use per (site, room type, band), and opening options.

    Practices and hospitals are calibrated to ~100% weekday use with today's
    movable sessions (fixed work fills the rest); everything else is ~40% used.
    """
    site_ids = premises["site_id"].to_numpy()
    kinds = premises["kind"].to_numpy()
    cost, rooms = _draw_cost_and_rooms(kinds, rng)
    used = _baseline_use(site_ids, baseline, services)
    # Enough rooms that today's weekday sessions are at most 30% of them.
    need_rooms = np.ceil(used[:, :, 0] / ROOM_HOURS_PER_WEEK["weekday"] / 0.3).astype(np.int64)
    rooms = np.maximum(rooms, need_rooms)
    is_open = _open_bands(kinds, used, rng)
    per_band = np.array([ROOM_HOURS_PER_WEEK[b] for b in BANDS])
    hours = rooms[:, :, None] * per_band[None, None, :]  # (site, room, band)
    fixed = _fixed_hours(kinds, hours, used, rng)
    capacity = _capacity_frame(site_ids, rooms, hours, fixed, cost, is_open)
    opening = _opening_frame(site_ids, kinds, hours, cost, is_open, rng)
    return capacity, opening


def _draw_cost_and_rooms(
    kinds: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Each site's running cost per hour and rooms per type, drawn from its kind's ranges."""
    kind_code = pd.Categorical(kinds, categories=list(KIND_ORDER)).codes
    lo_cost = np.array([COST[k][0] for k in KIND_ORDER], float)[kind_code]
    hi_cost = np.array([COST[k][1] for k in KIND_ORDER], float)[kind_code]
    cost = np.round(rng.uniform(lo_cost, hi_cost), 2)
    room_lo = np.array([[ROOMS[k][r][0] for r in ROOM_TYPES] for k in KIND_ORDER])[kind_code]
    room_hi = np.array([[ROOMS[k][r][1] for r in ROOM_TYPES] for k in KIND_ORDER])[kind_code]
    rooms = rng.integers(room_lo, room_hi + 1)
    return cost, rooms


def _baseline_use(
    site_ids: np.ndarray, baseline: pd.DataFrame, services: pd.DataFrame
) -> np.ndarray:
    """Today's movable hours per (site, room type, band), summed from the baseline."""
    svc_room = services.set_index("service_id")["room_type"]
    site_index = pd.Index(site_ids)
    room_index = pd.Index(ROOM_TYPES)
    band_index = pd.Index(BANDS)
    used = np.zeros((len(site_ids), len(ROOM_TYPES), len(BANDS)))
    np.add.at(
        used,
        (
            site_index.get_indexer(baseline["site_id"]),
            room_index.get_indexer(baseline["service_id"].map(svc_room)),
            band_index.get_indexer(baseline["band"]),
        ),
        baseline["hours_per_week"].to_numpy(float),
    )
    return used


def _open_bands(kinds: np.ndarray, used: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Which bands each site is open in: weekdays always; evenings and Saturdays for
    hospitals, hubs, sites with out-of-hours sessions today and some community sites."""
    n = len(kinds)
    ea_site = used[:, :, 1:].sum(axis=(1, 2)) > 0
    out_of_hours = (
        (kinds == "acute")
        | (kinds == "pcn_hub")
        | ea_site
        | ((kinds == "community") & (rng.random(n) < COMMUNITY_OUT_OF_HOURS))
    )
    is_open = np.zeros((n, len(BANDS)), bool)
    is_open[:, 0] = True
    is_open[:, 1] = is_open[:, 2] = out_of_hours
    return is_open


def _fixed_hours(
    kinds: np.ndarray, hours: np.ndarray, used: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Fixed (non-movable) hours: practice and hospital weekdays filled to ~100% with
    today's sessions, everything else ~40% of capacity."""
    full_kind = np.isin(kinds, ["gp_practice", "acute"])
    draw_full = rng.uniform(0.98, 1.04, hours.shape)
    draw_quiet = rng.uniform(0.35, 0.45, hours.shape)
    full = full_kind[:, None, None] & (np.arange(len(BANDS)) == 0)[None, None, :]
    return np.where(
        full,
        np.clip(hours * draw_full - used, 0.3 * hours, hours),
        hours * draw_quiet,
    )


def _capacity_frame(
    site_ids: np.ndarray,
    rooms: np.ndarray,
    hours: np.ndarray,
    fixed: np.ndarray,
    cost: np.ndarray,
    is_open: np.ndarray,
) -> pd.DataFrame:
    """The capacity table: one row per open band of each room type a site has."""
    site_i, room_i, band_i = np.nonzero(is_open[:, None, :] & (rooms[:, :, None] > 0))
    return pd.DataFrame(
        {
            "site_id": site_ids[site_i],
            "room_type": np.asarray(ROOM_TYPES, dtype=object)[room_i],
            "band": np.asarray(BANDS, dtype=object)[band_i],
            "rooms": rooms[site_i, room_i],
            "capacity_hours": np.round(hours[site_i, room_i, band_i], 2),
            "fixed_hours": np.round(fixed[site_i, room_i, band_i], 2),
            "cost_per_hour_gbp": cost[site_i],
        }
    )


def _opening_frame(
    site_ids: np.ndarray,
    kinds: np.ndarray,
    hours: np.ndarray,
    cost: np.ndarray,
    is_open: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The opening options: a cost per week and the room hours gained if opened."""
    # A site that is shut in an evening or Saturday band could open (not hospitals, not Sundays).
    shut = ~is_open & (kinds != "acute")[:, None] & (np.arange(len(BANDS)) != 3)[None, :]
    o_site, o_band = np.nonzero(shut)
    open_cost = np.round(rng.uniform(300, 600, o_site.size), 2)
    return pd.DataFrame(
        {
            "site_id": site_ids[o_site],
            "band": np.asarray(BANDS, dtype=object)[o_band],
            "open_cost_gbp_per_week": open_cost,
            "cost_per_hour_gbp": cost[o_site],
            **{
                f"{r}_hours_if_opened": hours[o_site, k, o_band].astype(float)
                for k, r in enumerate(ROOM_TYPES)
            },
        }
    )
