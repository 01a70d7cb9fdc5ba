"""The validated input dataset: read it once, check everything, project once.

:func:`read_dataset` is the only way the rest of the package gets input data;
everything downstream may assume ids are unique, references resolve, numbers
are finite and non-negative and geometries are valid and in EPSG:27700.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd

from estates_opt.errors import Problem
from estates_opt.inputs import cache as dataset_cache
from estates_opt.inputs.basemap import basemap_problems
from estates_opt.inputs.cells import coerce_columns
from estates_opt.inputs.cross_file import check_cross_file
from estates_opt.inputs.files import (
    not_a_file,
    read_attribution,
    read_text_table,
    resolve_input,
)
from estates_opt.inputs.geojson import read_geo_table
from estates_opt.inputs.geometry_checks import check_geometry
from estates_opt.inputs.opening import opening_rooms
from estates_opt.inputs.patients import WEIGHTED_BY_PATIENTS, located_summary, travel_weighting
from estates_opt.inputs.problems import ProblemCollector, raise_if_problems
from estates_opt.schema import (
    GEOGRAPHIC_CRS,
    INPUT_FILES,
    OPENING,
    PROJECTED_CRS,
    ROOM_TYPES,
    FileSpec,
)

__all__ = [
    "SPECS",
    "Dataset",
    "baseline_room_use",
    "canonical_order",
    "dataset_from_tables",
    "kind_utilisation",
    "opening_rooms",
    "read_dataset",
    "summarise",
    "utilisation_by_kind",
    "validate",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Dataset:
    """Validated inputs; geometries in British National Grid metres (EPSG:27700)."""

    premises: gpd.GeoDataFrame
    capacity: pd.DataFrame
    opening: pd.DataFrame
    pcns: gpd.GeoDataFrame
    lsoas: gpd.GeoDataFrame
    services: pd.DataFrame
    demand: pd.DataFrame
    baseline: pd.DataFrame
    boroughs: gpd.GeoDataFrame | None = None
    source: str = ""
    attribution: str = ""
    #: (site_id, band, reason, name) of every room band a scenario closed or shut
    #: (:func:`estates_opt.inputs.changes.apply_scenario`); empty for the dataset as read.
    closed_slots: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["site_id", "band", "reason", "name"])
    )
    #: patients.csv (registered patients by PCN and home LSOA) if the dataset has it: travel
    #: is then weighted by where each PCN's patients live (:mod:`estates_opt.inputs.patients`).
    patients: pd.DataFrame | None = None

    def __repr__(self) -> str:
        kinds = self.premises["kind"].value_counts().to_dict()
        return (
            f"Dataset(source={self.source!r}, sites={len(self.premises)} {kinds}, "
            f"pcns={len(self.pcns)}, lsoas={len(self.lsoas)}, services={len(self.services)})"
        )


def read_dataset(path: str | Path) -> Dataset:
    """Read and validate a dataset folder in the public input format.

    Raises :class:`~estates_opt.errors.InputDataError` (or a subclass) listing
    every problem found; input files are only read, never modified. A dataset
    that passed every check is kept in the user's cache and reused while its
    files are unchanged (:mod:`estates_opt.inputs.cache`).
    """
    directory = Path(path)
    caching = dataset_cache.cache_folder() is not None  # off: no hashing of the files
    key = dataset_cache.dataset_key(directory) if caching and directory.is_dir() else None
    cached = dataset_cache.load(key)
    if isinstance(cached, Dataset):
        return replace(cached, source=str(directory))
    dataset = _read_and_check(directory)
    if key is not None and dataset_cache.dataset_key(directory) == key:  # unchanged meanwhile
        dataset_cache.store(key, dataset)
    return dataset


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Reading makes a million small lists and strings and no reference cycles: the cyclic
    garbage collector's passes over them (a fifth of the read) find nothing to free."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _read_and_check(directory: Path) -> Dataset:
    with _no_cycle_collection():
        return _read_and_check_files(directory)


def _read_and_check_files(directory: Path) -> Dataset:
    started = time.perf_counter()
    problems = ProblemCollector()
    if not directory.is_dir():
        problems.schema.append(
            Problem(
                str(directory),
                "is not a folder." if directory.exists() else "does not exist.",
                fix="give the dataset folder's path.",
            )
        )
        raise_if_problems(problems, str(directory))
    raw: dict[str, pd.DataFrame] = {}
    files: dict[str, str] = {}
    for spec in INPUT_FILES:
        found = resolve_input(directory, spec)
        if found is None:
            odd = not_a_file(directory, spec)
            if odd is not None:
                problems.schema.append(odd)
            elif not spec.optional:
                problems.schema.append(
                    Problem(
                        spec.name,
                        f"is missing from {directory}.",
                        fix=f"add {spec.name} ({spec.description}); see geodata/README.md.",
                    )
                )
            continue
        if spec.format == "geojson":
            kinds = {c.name: c.kind for c in spec.columns}
            frame, found_problems = read_geo_table(found, spec.key, kinds=kinds)
        else:
            frame, found_problems = read_text_table(found)
        problems.schema.extend(found_problems)
        if frame is not None and len(frame) == 0 and not spec.optional:
            problems.schema.append(
                Problem(
                    found.name,
                    "has a header but no data rows.",
                    fix=f"add the rows ({spec.description}); see geodata/README.md.",
                )
            )
            frame = None
        if frame is not None:
            raw[_table_name(spec)] = frame
            files[_table_name(spec)] = found.name
    attribution, note_problems = read_attribution(directory)
    problems.schema.extend(note_problems)
    problems.schema.extend(basemap_problems(directory))  # the maps draw it after the solve
    dataset = dataset_from_tables(
        raw,
        source=str(directory),
        attribution=attribution,
        problems=problems,
        files=files,
    )
    log.info(
        "read dataset %s: %d sites, %d PCNs, %d LSOAs in %.2f s",
        directory,
        len(dataset.premises),
        len(dataset.pcns),
        len(dataset.lsoas),
        time.perf_counter() - started,
    )
    return dataset


def _table_name(spec: FileSpec) -> str:
    return Path(spec.name).stem


def dataset_from_tables(
    tables: dict[str, pd.DataFrame],
    *,
    source: str = "<in memory>",
    attribution: str = "",
    problems: ProblemCollector | None = None,
    files: dict[str, str] | None = None,
) -> Dataset:
    """Validate tables keyed by file stem (``premises``, ``capacity``...) into a Dataset.

    Lets notebooks and tests build a dataset from frames with exactly the
    checks :func:`read_dataset` applies to files. ``files`` names the file each
    table was read from: the rule that GeoJSON holds longitude/latitude applies
    only to tables read from ``.geojson`` files, so frames built in code may
    carry any CRS that projects (for example ``synthetic.generate``'s EPSG:27700).
    """
    problems = problems if problems is not None else ProblemCollector()
    typed: dict[str, pd.DataFrame] = {}
    for spec in INPUT_FILES:
        name = _table_name(spec)
        frame = tables.get(name)
        if frame is None:
            reported = any(Path(p.file).stem == name for p in problems.all())
            if not spec.optional and not reported:
                problems.schema.append(Problem(spec.name, "is missing.", fix="provide it."))
            continue
        label = spec.name
        if spec.format == "geojson":
            if not isinstance(frame, gpd.GeoDataFrame):
                problems.schema.append(Problem(label, "has no geometry column."))
                continue
            if frame.index.name != "feature":
                frame = frame.copy()
                frame.index = pd.RangeIndex(1, len(frame) + 1, name="feature")
            source_file = (files or {}).get(name, "")
            check_geometry(
                frame, spec, problems, label, geojson_file=source_file.endswith(".geojson")
            )
        elif frame.index.name != "line":
            frame = frame.copy()
            frame.index = pd.RangeIndex(2, len(frame) + 2, name="line")
        typed[name] = coerce_columns(frame, spec, problems, label)
    check_cross_file(typed, problems)
    if files:
        problems = problems.naming_files(
            {
                spec.name: files[_table_name(spec)]
                for spec in INPUT_FILES
                if _table_name(spec) in files
            }
        )
    raise_if_problems(problems, source)
    typed = {name: canonical_order(frame, SPECS[name]) for name, frame in typed.items()}

    premises = _project(typed["premises"])
    lonlat = typed["premises"].geometry.to_crs(GEOGRAPHIC_CRS)
    premises["lon"] = lonlat.x.round(6).to_numpy()
    premises["lat"] = lonlat.y.round(6).to_numpy()
    opening = typed.get("opening")
    if opening is None:
        opening = pd.DataFrame({c.name: pd.Series(dtype=_dtype(c.kind)) for c in OPENING.columns})
    boroughs = typed.get("boroughs")
    patients = typed.get("patients")
    return Dataset(
        premises=_reset(premises),
        capacity=_reset(typed["capacity"]),
        opening=_reset(opening),
        pcns=_reset(_project(typed["pcns"])),
        lsoas=_reset(_project(typed["lsoas"])),
        services=_reset(typed["services"]),
        demand=_reset(typed["demand"]),
        baseline=_reset(typed["baseline"]),
        boroughs=_reset(_project(boroughs)) if boroughs is not None else None,
        source=source,
        attribution=attribution,
        patients=_reset(patients) if patients is not None else None,
    )


SPECS = {_table_name(spec): spec for spec in INPUT_FILES}


def canonical_order(frame: pd.DataFrame, spec: FileSpec) -> pd.DataFrame:
    """``frame``'s rows in one order whatever order the file had them in.

    Rows sort by the file's key (:attr:`FileSpec.sort_columns`), enumerated
    columns (band, room type...) in their schema order: the same data in any row
    order then builds the same model and writes byte-identical outputs.
    """
    columns = [c for c in spec.sort_columns if c in frame.columns]
    if not columns or len(frame) < 2:
        return frame
    ranks = {c.name: {v: i for i, v in enumerate(c.allowed)} for c in spec.columns if c.allowed}

    def rank(values: pd.Series) -> np.ndarray:
        """Integers that order like the column's sort key (schema rank, else its text)."""
        if values.name in ranks:
            known = ranks[str(values.name)]
            return values.map(known).fillna(len(known)).to_numpy(dtype=float)
        if pd.api.types.infer_dtype(values, skipna=False) != "string":
            values = values.astype(str)
        return pd.factorize(values.to_numpy(dtype=object), sort=True)[0]

    # np.lexsort is stable and takes its last key first: ties keep the file's order.
    order = np.lexsort([rank(frame[c]) for c in reversed(columns)])
    return frame.take(order)


def _dtype(kind: str) -> str:
    return {"float": "float64", "int": "Int64", "bool": "boolean"}.get(kind, "object")


def _project(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return frame.to_crs(PROJECTED_CRS)


#: A table or a geo-table: :func:`_reset` hands back the kind it was given.
_Frame = TypeVar("_Frame", bound=pd.DataFrame)


def _reset(frame: _Frame) -> _Frame:
    """``frame`` numbered 0..n-1, as every Dataset table is (positions equal index labels)."""
    return frame.reset_index(drop=True)


# --- summaries -----------------------------------------------------------------


def baseline_room_use(dataset: Dataset) -> pd.DataFrame:
    """Today's movable hours per (site, room type, band), from baseline.csv."""
    rooms = dataset.services.set_index("service_id")["room_type"]
    use = dataset.baseline.assign(room_type=dataset.baseline["service_id"].map(rooms))
    return (
        use.groupby(["site_id", "room_type", "band"], as_index=False)["hours_per_week"]
        .sum()
        .rename(columns={"hours_per_week": "baseline_hours"})
    )


def kind_utilisation(
    rooms: pd.DataFrame, used: Sequence[str], *, by_band: bool = True
) -> pd.DataFrame:
    """Utilisation by site kind: the hours of the ``used`` columns over capacity hours.

    The one definition behind every figure of utilisation by kind (the dataset summary,
    kpis.json, the strategy gap, phases.csv, the comparison). ``rooms`` has a row per room
    slot with ``kind``, ``band``, ``capacity_hours`` and the ``used`` columns; the result
    has their sums per kind and band (per kind over all bands if not ``by_band``) and
    ``utilisation``, NaN where a kind has no capacity.
    """
    keys = ["kind", "band"] if by_band else ["kind"]
    table = rooms.groupby(keys, as_index=False)[["capacity_hours", *used]].sum()
    hours = table[used[0]]
    for column in used[1:]:
        hours = hours + table[column]
    table["utilisation"] = hours / table["capacity_hours"].where(table["capacity_hours"] > 0)
    return table


def utilisation_by_kind(dataset: Dataset) -> pd.DataFrame:
    """Today's utilisation (fixed + baseline) / capacity by site kind and band."""
    cap = dataset.capacity.merge(
        baseline_room_use(dataset), on=["site_id", "room_type", "band"], how="left"
    ).fillna({"baseline_hours": 0.0})
    cap["kind"] = cap["site_id"].map(dataset.premises.set_index("site_id")["kind"])
    return kind_utilisation(cap, ("fixed_hours", "baseline_hours"))


def summarise(dataset: Dataset) -> dict[str, object]:
    """Headline counts a planner checks first: sites, PCNs, population, capacity, demand."""
    services = dataset.services.set_index("service_id")
    demand = dataset.demand.assign(category=dataset.demand["service_id"].map(services["category"]))
    return {
        "source": dataset.source,
        "sites_by_kind": dataset.premises["kind"].value_counts().sort_index().to_dict(),
        "pcns": len(dataset.pcns),
        "lsoas": len(dataset.lsoas),
        "population": float(dataset.lsoas["population"].sum()),
        "registered_patients": float(dataset.pcns["registered_patients"].sum()),
        "services": len(dataset.services),
        "room_types": sorted(set(dataset.capacity["room_type"]) & set(ROOM_TYPES)),
        "utilisation": utilisation_by_kind(dataset),
        "demand_by_category": demand.groupby("category")["hours_per_week"].sum().to_dict(),
        "opening_options": len(dataset.opening),
        # patients.csv makes [travel] weighting = "patients" possible; the scenario chooses.
        "patient_weighting_available": travel_weighting(dataset.patients) == WEIGHTED_BY_PATIENTS,
        "patients_located": located_summary(dataset.lsoas, dataset.patients),
    }


def validate(path: str | Path) -> dict[str, object]:
    """Check a dataset folder; its headline counts if sound, else raise listing every problem.

    The same check as ``estates-opt validate``: it never modifies the files.
    """
    return summarise(read_dataset(path))
