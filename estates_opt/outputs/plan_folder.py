"""A plan folder on disk: write every table atomically, and read one back."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path
from types import UnionType
from typing import Any, Union, cast, get_args, get_origin, get_type_hints, is_typeddict

import geopandas as gpd
import pandas as pd

from estates_opt.errors import InputDataError, Problem
from estates_opt.inputs.changes import apply_scenario
from estates_opt.inputs.dataset import read_dataset
from estates_opt.inputs.files import read_text_table
from estates_opt.model.result import SolveStatus
from estates_opt.outputs.files import (
    json_safe,
    staged_directories,
    write_csv,
    write_geopackage,
    write_json,
)
from estates_opt.outputs.gis import flows_layer, moves_layer, write_layer_styles
from estates_opt.paths import is_inside, kind_of
from estates_opt.results.explain import MOVE_COLUMNS
from estates_opt.results.kpis import Kpis
from estates_opt.results.phases import PHASE_COLUMNS
from estates_opt.results.plan import PLAN_TABLES, Plan
from estates_opt.schema import GEOGRAPHIC_CRS
from estates_opt.text import restore_cell

log = logging.getLogger(__name__)


def _gpkg_layers(plan: Plan) -> dict[str, gpd.GeoDataFrame]:
    ds = plan.dataset
    util = plan.utilisation.groupby("site_id")[
        ["capacity_hours", "before_hours", "after_hours"]
    ].sum()
    sites = (
        ds.premises[["site_id", "name", "kind", "pcn_code", "borough", "geometry"]]
        .merge(util, left_on="site_id", right_index=True, how="left")
        .fillna({"capacity_hours": 0.0, "before_hours": 0.0, "after_hours": 0.0})
    )
    denom = sites["capacity_hours"].where(sites["capacity_hours"] > 0)
    sites["before_utilisation"] = (sites["before_hours"] / denom).fillna(0.0)
    sites["after_utilisation"] = (sites["after_hours"] / denom).fillna(0.0)
    # the weekday band alone, as the headline figures (all bands differ by up to 18 points)
    weekday = plan.utilisation[plan.utilisation["band"] == "weekday"]
    day = weekday.groupby("site_id")[["capacity_hours", "before_hours", "after_hours"]].sum()
    day_capacity = sites["site_id"].map(day["capacity_hours"])
    day_capacity = day_capacity.where(day_capacity > 0)
    for when in ("before", "after"):
        share = sites["site_id"].map(day[f"{when}_hours"]) / day_capacity
        sites[f"weekday_{when}_utilisation"] = share.fillna(0.0).to_numpy(float)
    pcns = ds.pcns[["pcn_code", "geometry"]].merge(plan.pcn_summary, on="pcn_code")
    return {
        name: frame.sort_values(list(frame.columns[:2])).to_crs(GEOGRAPHIC_CRS)
        for name, frame in (
            ("sites", gpd.GeoDataFrame(sites, geometry="geometry", crs=ds.premises.crs)),
            ("pcns", gpd.GeoDataFrame(pcns, geometry="geometry", crs=ds.pcns.crs)),
        )
    } | {"flows": flows_layer(plan)}


def write_plan(
    plan: Plan,
    out_dir: str | Path,
    *,
    maps_dir: str | Path | None = None,
    workbook: bool = True,
    tiles: str | None = None,
) -> Path:
    """Write the plan's tables, KPIs, GeoPackage, workbook and maps: all of them, or none.

    Everything is written into staging folders first and committed together, so
    a failure anywhere (a full disk, a file where the maps folder should be,
    Ctrl-C) leaves the earlier plan and maps exactly as they were.
    """
    for name, given in (("out_dir", out_dir), ("maps_dir", maps_dir)):
        if given is not None and not str(given).strip():
            # Path("") is the current folder: an unset variable would write the plan there
            raise ValueError(f"{name} is empty: give a folder name, or '.' for the current one")
    out_dir = Path(out_dir)
    maps_dir = Path(maps_dir) if maps_dir is not None else None
    check_output_folders(plan.dataset.source, out_dir, maps_dir)
    targets = [out_dir] if maps_dir is None else [out_dir, maps_dir]
    with staged_directories(targets) as stages:
        stage = stages[0]
        for name, frame in plan.tables().items():
            write_csv(frame, stage / f"{name}.csv")
        write_json(json_safe(plan.kpis), stage / "kpis.json")  # undefined means -> null
        write_json(plan.scenario.model_dump(mode="json"), stage / "scenario.json")
        layers = _gpkg_layers(plan)
        layers["moves"] = moves_layer(plan)
        write_geopackage(layers, stage / "plan.gpkg")
        write_layer_styles(stage / "plan.gpkg", layers)  # QGIS opens each layer styled
        if workbook:
            from estates_opt.outputs.workbook import write_workbook  # openpyxl only when asked

            write_workbook(plan, stage / "plan.xlsx")
        if maps_dir is not None:
            from estates_opt.outputs.maps.pages import write_maps

            write_maps(plan, stages[1], tiles=tiles)
    log.info("wrote plan to %s", out_dir)
    return out_dir


#: Each kind of output folder: what it holds, in words, and the files that mark one.
OUTPUT_MARKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "plan": ("a plan", ("kpis.json", "scenario.json")),
    "maps": ("a plan's maps", ("plan_map.html", "hubs")),
    "comparison": ("a comparison", ("comparison.csv", "comparison.html")),
    "robust": ("a robustness check", ("robust_summary.json", "robust_core.csv")),
}


def check_output_folders(
    dataset_dir: str | Path, out_dir: Path | None, maps_dir: Path | None = None
) -> None:
    """Refuse a plan folder or maps folder inside the dataset, or one holding other files."""
    check_outside_dataset(dataset_dir, out_dir, maps_dir)
    refuse_foreign(out_dir, "plan")
    refuse_foreign(maps_dir, "maps")


def refuse_foreign(folder: Path | None, role: str) -> None:
    """Refuse writing ``role``'s files into a folder that holds files but none of its own.

    A plan written into a folder of other files would replace any of the same name (a
    planner's own ``moves.csv``) and mix its tables among them (``--out outputs`` would
    spread one plan among the plan folders); an earlier output of the same kind is
    replaced on purpose, and an empty or new folder is fine.
    """
    if folder is None or not folder.is_dir():
        return
    try:
        entries = [e.name for e in folder.iterdir() if not e.name.startswith(".")]
    except OSError:
        return  # unreadable: the write itself will say so, naming the folder
    what, marks = OUTPUT_MARKS[role]
    if not entries or any(mark in entries for mark in marks):
        return
    raise InputDataError(
        [
            Problem(
                str(folder),
                f"holds {len(entries)} other file(s) or folder(s) (e.g. {sorted(entries)[0]}) "
                f"and no earlier {role} output ({' or '.join(marks)}): writing {what} there "
                "would replace files of the same name and mix it with the rest.",
                fix="choose a new or empty folder, e.g. outputs/NAME, or an earlier output's.",
            )
        ],
        summary=f"{role} folder holds other files",
    )


def check_outside_dataset(dataset_dir: str | Path, *folders: Path | None) -> None:
    """Refuse output folders inside the dataset folder (also through a symbolic link)."""
    if not dataset_dir or str(dataset_dir).startswith("<"):  # a dataset built in memory
        return
    problems = [
        Problem(
            str(folder),
            f"is inside the dataset folder {dataset_dir}: a plan written there would mix "
            "outputs with the inputs (and could replace them).",
            fix="choose an output folder outside the dataset, e.g. outputs/NAME.",
        )
        for folder in folders
        if folder is not None and is_inside(folder, Path(dataset_dir))
    ]
    if problems:
        raise InputDataError(problems, summary="output folder inside the dataset")


#: The columns of each plan table, as :func:`write_plan` writes them; all but TEXT_COLUMNS
#: are numbers.
PLAN_COLUMNS: dict[str, tuple[str, ...]] = {
    "allocations": (
        "service_id", "pcn_code", "site_id", "band", "room_type", "hours_per_week",
        "sessions_per_week", "travel_km", "baseline_hours_per_week", "today_session_hours",
    ),
    "moves": tuple(MOVE_COLUMNS),
    "phases": tuple(PHASE_COLUMNS),
    "utilisation": (
        "site_id", "name", "kind", "room_type", "band", "capacity_hours", "fixed_hours",
        "before_hours", "after_hours", "before_utilisation", "after_utilisation", "cap",
    ),
    "pcn_summary": (
        "pcn_code", "pcn_name", "borough", "registered_patients", "population", "demand_hours",
        "met_hours", "unmet_hours", "travel_before_km", "travel_after_km",
        "enhanced_access_demand_hours", "enhanced_access_met_hours", "hours_moved",
    ),
    "bottlenecks": (
        "site_id", "name", "kind", "room_type", "band", "capacity_hours", "cap", "after_hours",
        "after_utilisation", "shadow_price_gbp_per_room_hour",
    ),
    "unmet": ("service_id", "pcn_code", "demand_hours", "met_hours", "unmet_hours"),
}  # fmt: skip
TEXT_COLUMNS = frozenset(
    {
        "service_id", "service", "pcn_code", "site_id", "from_site_id", "from_site",
        "from_band", "to_site_id", "to_site", "to_band", "why", "band", "room_type", "name",
        "kind", "pcn_name", "borough", "from_sites", "from_site_ids", "travel_weighting",
    }
)  # fmt: skip
#: Columns newer than some plan folders: where one is missing, the column it is made from.
#: (moves.csv ``from_site_ids``, December 2026: an older plan names its largest source.)
ADDED_LATER: dict[str, dict[str, str]] = {"moves": {"from_site_ids": "from_site_id"}}

_NUMBER = (int, float)
#: KPIs the readers of a plan use; the JSON types each must have come from :class:`Kpis`.
READ_KPIS = (
    "status",
    "utilisation_before",
    "utilisation_after",
    "hours_moved",
    "unmet_hours_total",
    "demand_hours_total",
    "unmet_hours_by_category",
    "buildings_used_before",
    "buildings_used_after",
    "enhanced_access_all_met",
    "travel_km_before",
    "travel_km_after",
    "sites_opened",
    "model",
)


def _json_types(hint: Any) -> tuple[type, ...]:
    """The types a kpis.json value declared as ``hint`` may have once read back from JSON.

    JSON has one kind of number (``2.0`` may be read as ``2``), so ``int`` and ``float``
    both allow either; records and tables are objects (``dict``), lists are arrays.
    """
    if get_origin(hint) in (Union, UnionType):
        found: tuple[type, ...] = ()
        for arg in get_args(hint):
            found += tuple(t for t in _json_types(arg) if t not in found)
        return found
    if hint in _NUMBER:
        return _NUMBER
    if is_typeddict(hint) or get_origin(hint) is dict or hint is dict:
        return (dict,)
    if get_origin(hint) is list or hint is list:
        return (list,)
    return (hint,)  # str, bool, None's type


_KPI_HINTS = get_type_hints(Kpis)
#: :data:`READ_KPIS` with the JSON types they must have.
KPI_TYPES: dict[str, tuple[type, ...]] = {key: _json_types(_KPI_HINTS[key]) for key in READ_KPIS}

REWRITE = "write the plan again with `estates-opt solve` (the plan files are not for editing)."


def _problem(path: Path, message: str, fix: str = REWRITE, **where: str) -> Problem:
    return Problem(str(path), message, fix=fix, **where)


def _read_json(path: Path, problems: list[Problem]) -> object:
    what = kind_of(path)
    if what is not None:
        problems.append(_problem(path, f"is {what}." if what != "missing" else "is missing."))
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        problems.append(_problem(path, "is not UTF-8 text."))
    except json.JSONDecodeError as exc:
        problems.append(_problem(path, f"is not valid JSON ({exc.msg}).", row=f"line {exc.lineno}"))
    except RecursionError:
        problems.append(_problem(path, "is nested too deeply to read."))
    return None


def _check_kpis(path: Path, kpis: object, problems: list[Problem]) -> bool:
    """Whether ``kpis`` has every KPI the readers use, with the right types."""
    if not isinstance(kpis, dict):
        problems.append(
            _problem(path, f"holds a {type(kpis).__name__}, not the plan's KPIs (an object).")
        )
        return False
    before = len(problems)
    for key, types in KPI_TYPES.items():
        if key not in kpis:
            problems.append(_problem(path, f"has no '{key}'.", column=key))
        elif not isinstance(kpis[key], types) or (
            bool not in types and isinstance(kpis[key], bool)
        ):
            problems.append(_problem(path, f"'{key}' is a {type(kpis[key]).__name__}.", column=key))
    if len(problems) > before:
        return False
    statuses = {s.value for s in SolveStatus}
    if kpis["status"] not in statuses:
        problems.append(
            _problem(path, f"status '{kpis['status'][:40]}' is unknown.", column="status")
        )
    for key in ("utilisation_before", "utilisation_after"):
        weekday = kpis[key].get("weekday")
        if not isinstance(weekday, dict) or not all(
            isinstance(v, _NUMBER) and not isinstance(v, bool) for v in weekday.values()
        ):
            problems.append(
                _problem(path, f"'{key}.weekday' is not a table of numbers.", column=key)
            )
    if not all(isinstance(x, str) and ":" in x for x in kpis["sites_opened"]):
        problems.append(
            _problem(path, "'sites_opened' is not a list of 'site:band'.", column="sites_opened")
        )
    return len(problems) == before


def _read_table(path: Path, name: str, problems: list[Problem]) -> pd.DataFrame | None:
    what = kind_of(path)
    if what is not None:
        problems.append(_problem(path, f"is {what}." if what != "missing" else "is missing."))
        return None
    columns = PLAN_COLUMNS[name]
    text = {c: str for c in columns if c in TEXT_COLUMNS}
    # The inputs' CSV reader's checks (UTF-8, quotes, a record short of fields) name what
    # is wrong with a table cut short or edited; pandas would fill missing fields in.
    _, found = read_text_table(path)
    if found:
        problems += [replace(p, file=str(path), fix=REWRITE) for p in found]
        return None
    if not _ends_with_newline(path):  # cut inside its last field: every table ends in one
        problems.append(_problem(path, "ends part-way through its last line (no newline)."))
        return None
    try:
        frame = pd.read_csv(path, dtype=text, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        problems.append(_problem(path, f"is not a readable table ({str(exc).strip()[:160]})."))
        return None
    for column in frame.columns:  # ids and names as they were written
        if not pd.api.types.is_string_dtype(frame[column]):
            continue
        quoted = frame[column].str.startswith("'", na=False)
        if quoted.any():
            frame.loc[quoted, column] = frame.loc[quoted, column].map(restore_cell)
    for column, source in ADDED_LATER.get(name, {}).items():
        if column not in frame.columns and source in frame.columns:
            frame[column] = frame[source]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        problems.append(_problem(path, f"has no column(s) {', '.join(missing)}."))
        return None
    for column in columns:
        if column in TEXT_COLUMNS or pd.api.types.is_numeric_dtype(frame[column]):
            continue
        numbers = pd.to_numeric(frame[column], errors="coerce")
        bad = frame.index[numbers.isna() & frame[column].notna()]
        if len(bad):
            value = str(frame.at[bad[0], column])[:40]
            problems.append(
                _problem(
                    path,
                    f"'{value}' is not a number ({len(bad)} such cell(s)).",
                    row=f"line {bad[0] + 2}",
                    column=column,
                )
            )
            return None
    return frame


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, 2)
        return handle.read(1) == b"\n"


def read_plan(plan_dir: str | Path) -> Plan:
    """Re-open a written plan (tables, KPIs, scenario) with its dataset, for maps and explain.

    The folder is checked first: a missing, truncated or edited file is an
    :class:`~estates_opt.errors.InputDataError` naming the file, what is wrong and
    what to do, never a traceback.
    """
    from estates_opt.scenario import scenario_from_dict

    plan_dir = Path(plan_dir)
    if not plan_dir.is_dir() or kind_of(plan_dir / "kpis.json") == "missing":
        if not plan_dir.exists():
            what = "does not exist."
        elif not plan_dir.is_dir():
            what = "is a file, not a plan folder."
        elif (plan_dir / "comparison.csv").is_file():
            what = "is a comparison: its plans are in its folders, one per scenario."
        else:
            what = "is not a plan folder (no kpis.json)."
        raise InputDataError(
            [
                Problem(
                    str(plan_dir),
                    what,
                    fix="give the --out folder of `estates-opt solve`, or a scenario's "
                    "folder in the --out folder of `estates-opt compare`.",
                )
            ]
        )
    problems: list[Problem] = []
    kpis = _read_json(plan_dir / "kpis.json", problems)
    kpis_ok = kpis is not None and _check_kpis(plan_dir / "kpis.json", kpis, problems)
    raw_scenario = _read_json(plan_dir / "scenario.json", problems)
    if raw_scenario is not None and not isinstance(raw_scenario, dict):
        problems.append(_problem(plan_dir / "scenario.json", "does not hold a scenario."))
    tables = {name: _read_table(plan_dir / f"{name}.csv", name, problems) for name in PLAN_TABLES}
    if problems or not kpis_ok or not isinstance(raw_scenario, dict) or not isinstance(kpis, dict):
        raise InputDataError(problems, summary=f"{plan_dir} is not a readable plan folder")
    scenario = scenario_from_dict(raw_scenario, str(plan_dir / "scenario.json"))
    dataset = apply_scenario(read_dataset(scenario.dataset_path()), scenario)
    opened = frozenset(tuple(x.split(":", 1)) for x in kpis.get("sites_opened", []))
    frames = {name: frame for name, frame in tables.items() if frame is not None}
    return Plan(
        scenario,
        dataset,
        SolveStatus(kpis["status"]),
        frames["allocations"],
        frames["moves"],
        frames["utilisation"],
        frames["pcn_summary"],
        frames["bottlenecks"],
        frames["unmet"],
        cast(Kpis, kpis),  # the keys the readers use were checked by _check_kpis
        opened,
        frames["phases"],
    )
