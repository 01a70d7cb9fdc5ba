"""Rules that span files: references between them, capacity arithmetic, coverage.

Each rule is one function taking the typed tables (keyed by file stem) and a
:class:`~estates_opt.inputs.problems.ProblemCollector`; :data:`CROSS_FILE_RULES`
lists them in the order their problems are reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from estates_opt.errors import Problem
from estates_opt.inputs.problems import ProblemCollector, row_label
from estates_opt.schema import BANDS, ENHANCED_ACCESS_BANDS, ROOM_HOURS_PER_WEEK, ROOM_TYPES


def check_references(
    child: pd.DataFrame,
    column: str,
    known: Iterable[str],
    problems: ProblemCollector,
    file: str,
    key: tuple[str, ...],
    what: str,
    where: str,
) -> None:
    """Every value of ``child[column]`` must be one of ``known``."""
    if column not in child.columns:
        return
    known_set = set(known)
    values = child[column]
    suspect = np.flatnonzero(~values.isin(known_set).to_numpy(dtype=bool))  # then each one
    for pos, value in zip(child.index[suspect], values.iloc[suspect], strict=True):
        if isinstance(value, str) and value and value not in known_set:
            problems.schema.append(
                Problem(
                    file,
                    f"refers to {what} '{value[:60]}', which is not in {where}.",
                    row=row_label(child, pos, key),
                    column=column,
                    fix=f"add it to {where} or correct the id.",
                )
            )


def _ids(frame: pd.DataFrame | None, column: str) -> set[str] | None:
    return set(frame[column]) if frame is not None and column in frame else None


def check_cross_file(tables: dict[str, pd.DataFrame], problems: ProblemCollector) -> None:
    """Rules that span files: references, capacity arithmetic, coverage (one function each)."""
    for rule in CROSS_FILE_RULES:
        rule(tables, problems)


def check_cross_references(tables: dict[str, pd.DataFrame], problems: ProblemCollector) -> None:
    """Every site, PCN and service id a file names exists where it is defined."""
    premises, pcns, services = tables.get("premises"), tables.get("pcns"), tables.get("services")
    site_ids = _ids(premises, "site_id")
    pcn_codes = _ids(pcns, "pcn_code")
    service_ids = _ids(services, "service_id")
    capacity, opening, lsoas = tables.get("capacity"), tables.get("opening"), tables.get("lsoas")
    demand, baseline = tables.get("demand"), tables.get("baseline")

    def refs(
        name: str,
        frame: pd.DataFrame | None,
        column: str,
        known: set[str] | None,
        what: str,
        where: str,
        key: tuple[str, ...],
    ) -> None:
        if frame is not None and known is not None:
            check_references(frame, column, known, problems, name, key, what, where)

    refs("capacity.csv", capacity, "site_id", site_ids, "site", "premises", ("site_id",))
    refs("opening.csv", opening, "site_id", site_ids, "site", "premises", ("site_id",))
    refs("premises.geojson", premises, "pcn_code", pcn_codes, "PCN", "pcns", ("site_id",))
    refs("lsoas.geojson", lsoas, "pcn_code", pcn_codes, "PCN", "pcns", ("lsoa_code",))
    key_d = ("pcn_code", "service_id")
    refs("demand.csv", demand, "pcn_code", pcn_codes, "PCN", "pcns", key_d)
    refs("demand.csv", demand, "service_id", service_ids, "service", "services.csv", key_d)
    key_b = ("pcn_code", "service_id", "site_id")
    refs("baseline.csv", baseline, "pcn_code", pcn_codes, "PCN", "pcns", key_b)
    refs("baseline.csv", baseline, "service_id", service_ids, "service", "services.csv", key_b)
    refs("baseline.csv", baseline, "site_id", site_ids, "site", "premises", key_b)


def check_fixed_within_capacity(
    tables: dict[str, pd.DataFrame], problems: ProblemCollector
) -> None:
    """Fixed use never exceeds a room's capacity."""
    capacity = tables.get("capacity")
    if capacity is not None and {"fixed_hours", "capacity_hours"} <= set(capacity.columns):
        fixed, hours = capacity["fixed_hours"], capacity["capacity_hours"]
        # Compare only values that passed their own checks: no second message for one fault.
        valid = np.isfinite(fixed) & np.isfinite(hours) & (fixed >= 0) & (hours >= 0)
        over = valid & (fixed > hours + 1e-9)
        _capacity_rows(
            problems,
            capacity,
            over,
            "fixed_hours",
            lambda pos: f"fixed_hours {fixed[pos]:g} exceed capacity_hours {hours[pos]:g}.",
            "lower fixed_hours or raise capacity_hours.",
        )


def _capacity_rows(
    problems: ProblemCollector,
    capacity: pd.DataFrame,
    faulty: pd.Series,
    column: str,
    message: Callable[[Any], str],
    fix: str,
) -> None:
    """One problem per ``faulty`` row of capacity.csv, labelled by its key, in ``column``."""
    for pos in capacity.index[faulty.to_numpy(dtype=bool)]:
        problems.schema.append(
            Problem(
                "capacity.csv",
                message(pos),
                row=row_label(capacity, pos, ("site_id", "room_type", "band")),
                column=column,
                fix=fix,
            )
        )


def check_capacity_within_rooms(
    tables: dict[str, pd.DataFrame], problems: ProblemCollector
) -> None:
    """Where ``rooms`` is given, the rooms can offer the row's capacity in its band."""
    capacity = tables.get("capacity")
    if capacity is None or not {"rooms", "capacity_hours", "band"} <= set(capacity.columns):
        return
    rooms = pd.to_numeric(capacity["rooms"], errors="coerce")
    hours = pd.to_numeric(capacity["capacity_hours"], errors="coerce")
    per_room = capacity["band"].map(ROOM_HOURS_PER_WEEK)
    most = rooms * per_room
    # Only rows whose values passed their own checks (no second message for one fault).
    reported = problems.rows_with_problems("capacity.csv", ("rooms", "capacity_hours", "band"))
    over = (hours > most + 0.01).fillna(False) & ~capacity.index.isin(list(reported))
    _capacity_rows(
        problems,
        capacity,
        over,
        "capacity_hours",
        lambda pos: (
            f"capacity_hours {hours[pos]:g} is more than {int(rooms[pos])} room(s) offer "
            f"in the {capacity.at[pos, 'band']} band ({int(rooms[pos])} x {per_room[pos]:g} "
            "room-hours a week)."
        ),
        "correct rooms or capacity_hours (capacity_hours is rooms x the band's room-hours, or "
        "less where rooms are shut part of the week).",
    )


def check_own_work_within_fixed(
    tables: dict[str, pd.DataFrame], problems: ProblemCollector
) -> None:
    """The non-movable PCN-clinic work is part of the fixed work, never more."""
    capacity = tables.get("capacity")
    if capacity is None or not {"fixed_pcn_clinic_hours", "fixed_hours"} <= set(capacity.columns):
        return
    own, fixed = capacity["fixed_pcn_clinic_hours"], capacity["fixed_hours"]
    # Only values that passed their own checks (no second message for one fault).
    valid = np.isfinite(own) & np.isfinite(fixed) & (own >= 0) & (fixed >= 0)
    over = (own > fixed + 1e-9).fillna(False) & valid
    _capacity_rows(
        problems,
        capacity,
        over,
        "fixed_pcn_clinic_hours",
        lambda pos: (
            f"fixed_pcn_clinic_hours {own[pos]:g} exceed fixed_hours {fixed[pos]:g}: "
            "the practice's own PCN-clinic work is part of its fixed work."
        ),
        "lower fixed_pcn_clinic_hours or raise fixed_hours.",
    )


def check_opening_not_already_open(
    tables: dict[str, pd.DataFrame], problems: ProblemCollector
) -> None:
    """An opening option is for a band the site is shut in."""
    capacity = tables.get("capacity")
    opening = tables.get("opening")
    if (
        capacity is not None
        and opening is not None
        and {"site_id", "band"} <= set(capacity.columns) & set(opening.columns)
    ):
        open_pairs = set(zip(capacity["site_id"], capacity["band"], strict=True))
        for pos, site, band in zip(opening.index, opening["site_id"], opening["band"], strict=True):
            if (site, band) in open_pairs:
                problems.schema.append(
                    Problem(
                        "opening.csv",
                        f"site {site} already has {band} capacity in capacity.csv, so it cannot "
                        "also be an opening option for that band.",
                        row=row_label(opening, pos, ("site_id", "band")),
                        column="band",
                        fix="remove the row from one of the two files.",
                    )
                )


def check_practices_name_their_pcn(
    tables: dict[str, pd.DataFrame], problems: ProblemCollector
) -> None:
    """GP practices and PCN hubs name their PCN."""
    premises = tables.get("premises")
    if premises is not None and {"kind", "pcn_code"} <= set(premises.columns):
        needs_pcn = premises["kind"].isin(["gp_practice", "pcn_hub"]) & (premises["pcn_code"] == "")
        for pos in premises.index[needs_pcn.to_numpy()]:
            problems.schema.append(
                Problem(
                    "premises.geojson",
                    f"a {premises.at[pos, 'kind']} must name its PCN.",
                    row=row_label(premises, pos, ("site_id",)),
                    column="pcn_code",
                    fix="fill in pcn_code.",
                )
            )


def check_pcns_have_population(tables: dict[str, pd.DataFrame], problems: ProblemCollector) -> None:
    """Every PCN has LSOAs, with people in them."""
    pcns = tables.get("pcns")
    lsoas = tables.get("lsoas")
    if pcns is not None and lsoas is not None and {"pcn_code", "population"} <= set(lsoas.columns):
        population = lsoas.groupby("pcn_code")["population"].sum()
        # a PCN whose LSOAs' populations were refused already is not a second fault
        refused = problems.rows_with_problems("lsoas.geojson", ("population",))
        unknown = set(lsoas.loc[lsoas.index.isin(list(refused)), "pcn_code"])
        for pos, code in zip(pcns.index, pcns.get("pcn_code", []), strict=False):
            if not isinstance(code, str) or not code or code in unknown:
                continue
            if code not in population.index:
                problems.schema.append(
                    Problem(
                        "pcns.geojson",
                        "has no LSOAs assigned to it, so its population cannot be placed.",
                        row=row_label(pcns, pos, ("pcn_code",)),
                        column="pcn_code",
                        fix="assign at least one LSOA to it in lsoas (column pcn_code).",
                    )
                )
            elif not population[code] > 0:
                problems.schema.append(
                    Problem(
                        "pcns.geojson",
                        "has zero population over its LSOAs.",
                        row=row_label(pcns, pos, ("pcn_code",)),
                        column="population",
                        fix="check the population of its LSOAs.",
                    )
                )


def check_enhanced_access_bands(
    tables: dict[str, pd.DataFrame], problems: ProblemCollector
) -> None:
    """Enhanced access uses only the Network Standard Hours bands."""
    services = tables.get("services")
    if services is not None and {"category", "bands"} <= set(services.columns):
        for pos, category, bands in zip(
            services.index, services["category"], services["bands"], strict=True
        ):
            if category == "enhanced_access" and isinstance(bands, tuple):
                outside = [b for b in bands if b not in ENHANCED_ACCESS_BANDS]
                if outside:
                    problems.schema.append(
                        Problem(
                            "services.csv",
                            f"enhanced access may only use the Network Standard Hours bands "
                            f"({', '.join(ENHANCED_ACCESS_BANDS)}), not {', '.join(outside)}.",
                            row=row_label(services, pos, ("service_id",)),
                            column="bands",
                            fix="remove the other bands.",
                        )
                    )


def check_room_types_exist(tables: dict[str, pd.DataFrame], problems: ProblemCollector) -> None:
    """Every service's room type exists somewhere (open or openable)."""
    services = tables.get("services")
    capacity = tables.get("capacity")
    opening = tables.get("opening")
    if services is not None and capacity is not None and "room_type" in services.columns:
        available = set(capacity.get("room_type", []))
        if opening is not None:
            for room in ROOM_TYPES:
                column = f"{room}_hours_if_opened"
                if column in opening.columns and (opening[column] > 0).any():
                    available.add(room)
        for pos, room in zip(services.index, services["room_type"], strict=True):
            if isinstance(room, str) and room in ROOM_TYPES and room not in available:
                problems.schema.append(
                    Problem(
                        "services.csv",
                        f"needs a {room} room, but no site has one.",
                        row=row_label(services, pos, ("service_id",)),
                        column="room_type",
                        fix=f"add {room} capacity in capacity.csv or change the room type.",
                    )
                )


def check_baseline_rooms_open(tables: dict[str, pd.DataFrame], problems: ProblemCollector) -> None:
    """Today's hours are in a room that is open then."""
    baseline = tables.get("baseline")
    services = tables.get("services")
    capacity = tables.get("capacity")
    premises = tables.get("premises")
    site_ids = _ids(premises, "site_id")
    slot_columns = {"site_id", "room_type", "band"}
    if (
        baseline is not None
        and services is not None
        and capacity is not None
        and site_ids is not None
        and {"service_id", "site_id", "band"} <= set(baseline.columns)
        and {"service_id", "room_type"} <= set(services.columns)
        and slot_columns <= set(capacity.columns)
    ):
        rooms = dict(zip(services["service_id"], services["room_type"], strict=True))
        # A site whose own capacity rows are wrong is reported there, not again here.
        odd = ~(
            capacity["room_type"].isin(ROOM_TYPES)
            & capacity["band"].isin(BANDS)
            & capacity["site_id"].isin(site_ids)
        )
        unsure = set(capacity.loc[odd.to_numpy(dtype=bool), "site_id"])
        # Rows whose slot is open are fine; the rest (few) are looked at one by one.
        used = pd.MultiIndex.from_arrays(
            [baseline["site_id"], baseline["service_id"].map(rooms), baseline["band"]]
        )
        open_slots = pd.MultiIndex.from_arrays(
            [capacity["site_id"], capacity["room_type"], capacity["band"]]
        )
        suspect = np.flatnonzero(~used.isin(open_slots))
        slots: set[tuple[object, ...]] = set(open_slots) if suspect.size else set()
        for pos, service, site, band in zip(
            baseline.index[suspect],
            baseline["service_id"].iloc[suspect],
            baseline["site_id"].iloc[suspect],
            baseline["band"].iloc[suspect],
            strict=True,
        ):
            room = rooms.get(service)
            if (
                room not in ROOM_TYPES
                or band not in BANDS
                or site not in site_ids
                or site in unsure
            ):
                continue
            if (site, room, band) not in slots:
                problems.schema.append(
                    Problem(
                        "baseline.csv",
                        f"puts today's {service} hours in a {room} room at site {site} in the "
                        f"{band} band, but capacity.csv has no such room open there and then.",
                        row=row_label(baseline, pos, ("pcn_code", "service_id", "site_id")),
                        column="band",
                        fix="correct the site or band, or add the room to capacity.csv.",
                    )
                )


def check_patients(tables: dict[str, pd.DataFrame], problems: ProblemCollector) -> None:
    """patients.csv names known PCNs, and every PCN has patients living in the dataset's
    LSOAs (else its travel could not be weighted). LSOA codes outside lsoas are allowed:
    those patients are counted as living outside the area."""
    patients, pcns, lsoas = tables.get("patients"), tables.get("pcns"), tables.get("lsoas")
    if patients is None or pcns is None or not {"pcn_code", "lsoa_code"} <= set(patients):
        return
    key = ("pcn_code", "lsoa_code")
    pcn_codes = _ids(pcns, "pcn_code") or set()
    check_references(patients, "pcn_code", pcn_codes, problems, "patients.csv", key, "PCN", "pcns")
    if lsoas is None or "lsoa_code" not in lsoas or "patients" not in patients:
        return
    counts = pd.to_numeric(patients["patients"], errors="coerce").fillna(0.0)
    inside = patients["lsoa_code"].isin(set(lsoas["lsoa_code"])) & (counts > 0)
    located = set(patients.loc[inside, "pcn_code"])
    for code in sorted(c for c in pcns.get("pcn_code", []) if isinstance(c, str) and c):
        if code not in located:
            problems.schema.append(
                Problem(
                    "patients.csv",
                    f"has no patients of PCN {code[:60]} living in an LSOA of lsoas.geojson, so "
                    "its travel cannot be weighted by where its patients live.",
                    column="pcn_code",
                    fix="add its rows (pcn_code, lsoa_code, patients), or remove patients.csv to "
                    "weight every PCN by its catchment population.",
                )
            )


def check_building_types_given(tables: dict[str, pd.DataFrame], problems: ProblemCollector) -> None:
    """A services.csv that restricts building types needs premises typed to match."""
    services, premises = tables.get("services"), tables.get("premises")
    if services is None or premises is None or "building_types" not in services.columns:
        return
    restricted = [t for t in services["building_types"] if isinstance(t, tuple) and t]
    if restricted and "building_type" not in premises.columns:
        problems.schema.append(
            Problem(
                "premises.geojson",
                "has no building_type column, but services.csv says which building types may "
                "host its services, so no building could host them.",
                column="building_type",
                fix="add building_type to premises (see geodata/README.md), or drop the "
                "building_types column of services.csv.",
            )
        )


#: Hours of rounding allowed per room slot when own-list work is compared with what the
#: movable shares imply (the NEL build rounds each part to 2 dp; the verifier allows as much).
OWN_WORK_TOLERANCE_HOURS = 0.05
#: Rows named one by one before the rest are counted.
ROWS_SHOWN = 5

_SLOT = ("site_id", "room_type", "band")


def check_own_work_covers_fixed_share(
    tables: dict[str, pd.DataFrame], problems: ProblemCollector
) -> None:
    """Each room slot keeps as own-list fixed work the share of today's work that may not move.

    A baseline row of h hours of a service with movable share s (services.csv
    ``movable_share``) is s of the service's work there, so ``h x (1 - s) / s`` of the slot's
    fixed work must be the practice's own PCN-clinic work (capacity.csv
    ``fixed_pcn_clinic_hours``). The verifier (``results/movable_check.py``) checks the
    same after the solve; found here, ``validate`` names the rows before any solve. A
    dataset without ``fixed_pcn_clinic_hours`` does not say where that work is: not checked.
    """
    capacity, baseline, services = (tables.get(n) for n in ("capacity", "baseline", "services"))
    if (
        capacity is None
        or baseline is None
        or services is None
        or not {*_SLOT, "fixed_pcn_clinic_hours"} <= set(capacity.columns)
        or not {"service_id", "room_type", "movable_share"} <= set(services.columns)
        or not {"service_id", "site_id", "band", "hours_per_week"} <= set(baseline.columns)
    ):
        return
    slots = pd.MultiIndex.from_frame(capacity[list(_SLOT)])
    if slots.has_duplicates:
        return  # duplicate rows are reported by the file's own check
    clinics = services.drop_duplicates("service_id").set_index("service_id")
    shares = clinics["movable_share"].astype(float).fillna(1.0)  # empty: the whole moves
    share = baseline["service_id"].map(shares).to_numpy(dtype=float)
    hours = baseline["hours_per_week"].to_numpy(dtype=float)
    # Only values that passed their own checks take part (no second message for one fault).
    with np.errstate(invalid="ignore"):
        partial = (share > 0) & (share < 1) & np.isfinite(hours) & (hours > 0)
    if not partial.any():
        return
    rows = baseline[partial]
    needed = (
        pd.DataFrame(
            {
                "site_id": rows["site_id"].to_numpy(),
                "room_type": rows["service_id"].map(clinics["room_type"]).to_numpy(),
                "band": rows["band"].to_numpy(),
                "service_id": rows["service_id"].to_numpy(),
                "hours": hours[partial] * (1 - share[partial]) / share[partial],
            }
        )
        .groupby(list(_SLOT))
        .agg(hours=("hours", "sum"), services=("service_id", lambda v: sorted(set(v))))
    )
    own = capacity["fixed_pcn_clinic_hours"].astype(float)
    with np.errstate(invalid="ignore"):
        sound = (own.isna() | (np.isfinite(own) & (own >= 0))).to_numpy(dtype=bool)
    held = pd.Series(own.fillna(0.0).to_numpy(dtype=float), index=slots)[sound]
    present = needed.index.intersection(held.index)  # rooms not open: reported elsewhere
    short = needed.loc[present, "hours"] - held.reindex(present)
    at_fault = short.index[(short > OWN_WORK_TOLERANCE_HOURS).to_numpy()]
    if not len(at_fault):
        return
    line = pd.Series(capacity.index, index=slots)
    # Named in the file's canonical order (site, band, room type), whatever the row order.
    rank = {**{b: i for i, b in enumerate(BANDS)}, **{r: i for i, r in enumerate(ROOM_TYPES)}}
    ordered = sorted(at_fault, key=lambda k: (k[0], rank.get(k[2], 9), rank.get(k[1], 9)))
    for slot in ordered[:ROWS_SHOWN]:
        need = needed.at[slot, "hours"]
        parts = ", ".join(f"{k} movable_share {shares[k]:g}" for k in needed.at[slot, "services"])
        problems.schema.append(
            Problem(
                "capacity.csv",
                f"holds {held[slot]:.2f} h of the practice's own PCN-clinic work, less than "
                f"the {need:.2f} h today's baseline implies here ({parts}: baseline.csv holds "
                "that share of the work; the rest never moves and is kept here as fixed work).",
                row=row_label(capacity, line[slot], _SLOT),
                column="fixed_pcn_clinic_hours",
                fix=f"raise fixed_pcn_clinic_hours to at least {need:.2f} (within fixed_hours), "
                "or correct movable_share in services.csv or the hours in baseline.csv.",
            )
        )
    if len(ordered) > ROWS_SHOWN:
        problems.schema.append(
            Problem(
                "capacity.csv",
                f"{len(ordered) - ROWS_SHOWN} more rows hold less own-list work than the "
                f"movable shares imply ({len(ordered)} rows in all; the first {ROWS_SHOWN} are "
                "named above).",
                column="fixed_pcn_clinic_hours",
                fix="correct them as above (geodata/README.md 3.13 gives the rule).",
            )
        )


#: The cross-file rules, in the order their problems are listed.
def _id_text(value: object) -> str:
    """An id cell as text: a number GeoJSON gave (read as a float beside a null) without
    its '.0', a missing one as ''."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def check_hub_site_ids(tables: dict[str, pd.DataFrame], problems: ProblemCollector) -> None:
    """pcns.geojson ``hub_site_id``, where given, is a PCN hub of that PCN in premises.

    The model finds a PCN's own hub in premises (``kind`` pcn_hub, ``pcn_code``); a
    ``hub_site_id`` naming another site would say one hub and plan with another.
    """
    pcns, premises = tables.get("pcns"), tables.get("premises")
    if pcns is None or premises is None or "hub_site_id" not in pcns.columns:
        return
    if not {"site_id", "kind", "pcn_code"} <= set(premises.columns):
        return
    hubs = premises.loc[premises["kind"] == "pcn_hub"]
    hub_of = dict(zip(hubs["site_id"].astype(str), hubs["pcn_code"].astype(str), strict=True))
    kinds = dict(zip(premises["site_id"].astype(str), premises["kind"].astype(str), strict=True))
    given = pcns["hub_site_id"].map(_id_text)
    for pos in pcns.index[(given != "").to_numpy()]:
        site, pcn = given[pos], str(pcns.at[pos, "pcn_code"])
        if site not in kinds:
            what = "is not a site in premises.geojson"
        elif site not in hub_of:
            what = f"is a {kinds[site]} in premises.geojson, not a pcn_hub"
        elif hub_of[site] != pcn:
            what = f"is the hub of {hub_of[site]} in premises.geojson, not of {pcn}"
        else:
            continue
        problems.schema.append(
            Problem(
                "pcns.geojson",
                f"hub_site_id '{site}' {what}.",
                row=row_label(pcns, pos, ("pcn_code",)),
                column="hub_site_id",
                fix="name the PCN's hub as premises.geojson has it, or leave hub_site_id empty.",
            )
        )


CROSS_FILE_RULES = (
    check_cross_references,
    check_fixed_within_capacity,
    check_capacity_within_rooms,
    check_own_work_within_fixed,
    check_own_work_covers_fixed_share,
    check_opening_not_already_open,
    check_practices_name_their_pcn,
    check_hub_site_ids,
    check_pcns_have_population,
    check_enhanced_access_bands,
    check_room_types_exist,
    check_baseline_rooms_open,
    check_patients,
    check_building_types_given,
)
