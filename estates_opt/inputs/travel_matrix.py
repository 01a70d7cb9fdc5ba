"""Reading a travel matrix file (for example from r5py) into PCN-to-site travel.

A scenario's ``[travel] matrix`` replaces the straight-line travel of
:mod:`estates_opt.inputs.travel`: the file is refused if it is not a table,
every row is checked (value, band, site, repeats), and LSOA origins are
averaged to their PCN, weighted by population.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from estates_opt.errors import InputDataError, Problem
from estates_opt.inputs.files import read_text_table
from estates_opt.paths import kind_of
from estates_opt.schema import BANDS


def read_travel_matrix(
    path: Path,
    lsoas: pd.DataFrame,
    site_ids: set[str],
    unit: str = "km",
    km_per_minute: float = 0.3,
) -> pd.DataFrame:
    """Read a travel matrix (CSV or Parquet) into ``pcn_code, site_id, band, travel_km``.

    Origins may be LSOA codes (aggregated to PCNs, population-weighted) or PCN
    codes. A PCN-site pair that is absent is unreachable; a PCN whose LSOAs are
    only partly present for a site cannot be aggregated and is an error. Without
    any band in the file the table has no ``band`` column, like
    :func:`pcn_site_travel`'s (travel is the same in every band). Three steps:
    read the file, check its rows, aggregate LSOAs to PCNs.
    """
    frame, columns = _read_matrix_file(path)
    long = _check_matrix_rows(path.name, frame, columns, site_ids, unit, km_per_minute)
    table = _matrix_by_pcn(path.name, long, lsoas, columns.origin)
    if not table["band"].astype(str).ne("").any():
        table = table.drop(columns="band")
    return table


@dataclass(frozen=True)
class _MatrixColumns:
    origin: str
    site: str
    value: str
    band: str | None


#: File signatures of formats that are not a table, with what to tell the user.
_NOT_A_TABLE = (
    (b"SQLite format 3\x00", "a GeoPackage/SQLite database"),
    (b"PK\x03\x04", "a zip archive (an Excel workbook?)"),
)


def _sniff_format(path: Path) -> str | None:
    """What the file is, if it is plainly not CSV or Parquet (read from its first bytes)."""
    with path.open("rb") as handle:
        head = handle.read(64)
    if path.suffix.lower() == ".parquet" and head.startswith(b"PAR1"):
        return None
    for magic, what in _NOT_A_TABLE:
        if head.startswith(magic):
            return what
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if path.suffix.lower() in (".geojson", ".json") or text.startswith((b"{", b"[")):
        return "GeoJSON/JSON"
    return None


def _read_matrix_file(path: Path) -> tuple[pd.DataFrame, _MatrixColumns]:
    """The matrix as text cells, and which column holds what; refuse what is not a table."""
    name = path.name
    what = kind_of(path)
    if what is not None:
        problem = (
            f"travel matrix not found at {path}."
            if what == "missing"
            else f"travel matrix at {path} is {what}."
        )
        raise InputDataError([Problem(name, problem, fix="correct travel.matrix in the scenario.")])
    fmt = _sniff_format(path)
    if fmt is not None:
        raise InputDataError(
            [
                Problem(
                    name,
                    f"is {fmt}, not a table: a travel matrix is CSV (or Parquet) with one row per "
                    "origin and site.",
                    fix="export it as CSV with columns origin, site_id, travel_km (see "
                    "models/README.md, [travel]).",
                )
            ]
        )
    frame, problems = read_text_table(path)
    if frame is None:
        raise InputDataError(problems)
    lower = {c.lower(): c for c in frame.columns}
    origin = next((lower[c] for c in ("origin", "lsoa_code", "pcn_code") if c in lower), None)
    value = next(
        (lower[c] for c in ("travel_km", "km", "travel_minutes", "minutes") if c in lower), None
    )
    if origin is None:
        problems.append(
            Problem(
                name,
                "has no origin column.",
                column="origin",
                fix="name it origin, lsoa_code or pcn_code.",
            )
        )
    if "site_id" not in lower:
        problems.append(
            Problem(name, "has no site_id column.", column="site_id", fix="add a site_id column.")
        )
    if value is None:
        problems.append(
            Problem(
                name,
                "has no travel column.",
                column="travel_km",
                fix="name it travel_km or travel_minutes.",
            )
        )
    if problems or origin is None or value is None:
        raise InputDataError(problems)
    return frame, _MatrixColumns(origin, lower["site_id"], value, lower.get("band"))


def _check_matrix_rows(
    name: str,
    frame: pd.DataFrame,
    columns: _MatrixColumns,
    site_ids: set[str],
    unit: str,
    km_per_minute: float,
) -> pd.DataFrame:
    """Every row's value, band and site checked; the long ``origin, site_id, band, travel_km``."""
    problems: list[Problem] = []
    values = pd.to_numeric(frame[columns.value], errors="coerce")
    for line in frame.index[~np.isfinite(values.to_numpy(dtype=float)) | (values < 0).to_numpy()]:
        problems.append(
            Problem(
                name,
                f"'{frame.at[line, columns.value]}' is not a non-negative number.",
                row=f"line {line}",
                column=columns.value,
                fix="enter the travel as a number >= 0, or leave the pair out if unreachable.",
            )
        )
    band = frame[columns.band] if columns.band else pd.Series("", index=frame.index)
    for line in frame.index[~band.isin(["", *BANDS])]:
        problems.append(
            Problem(
                name,
                f"unknown band '{band[line]}'.",
                row=f"line {line}",
                column="band",
                fix=f"use one of {', '.join(BANDS)} or leave empty.",
            )
        )
    sites = frame[columns.site]
    for line in frame.index[~sites.isin(list(site_ids))]:
        problems.append(
            Problem(
                name,
                f"unknown site '{sites[line]}'.",
                row=f"line {line}",
                column="site_id",
                fix="use a site_id from premises.",
            )
        )
    problems += _repeated_pairs(name, frame, columns.origin, sites, band)
    if problems:
        raise InputDataError(problems)
    is_minutes = unit == "minutes" or "minute" in columns.value.lower()
    km = values.to_numpy(dtype=float) * (km_per_minute if is_minutes else 1.0)
    return pd.DataFrame(
        {
            "origin": frame[columns.origin].to_numpy(),
            "site_id": sites.to_numpy(),
            "band": band.to_numpy(),
            "travel_km": km,
        }
    )


def _repeated_pairs(
    name: str, frame: pd.DataFrame, origin_col: str, sites: pd.Series, band: pd.Series
) -> list[Problem]:
    pairs = pd.DataFrame({"o": frame[origin_col], "s": sites, "b": band})
    repeated = pairs.duplicated(keep="first")
    first_line: dict[tuple, object] = {}
    for line, key in zip(frame.index, map(tuple, pairs.to_numpy()), strict=True):
        first_line.setdefault(key, line)
    problems = []
    for line in frame.index[repeated.to_numpy()]:
        origin, site, slot = pairs.loc[line]
        problems.append(
            Problem(
                name,
                f"gives travel from {origin} to site {site}"
                + (f" in the {slot} band" if slot else "")
                + f" more than once (first on line {first_line[(origin, site, slot)]}).",
                row=f"line {line}",
                column=origin_col,
                fix="keep one row per origin, site and band.",
            )
        )
    return problems


def _matrix_by_pcn(
    name: str, long: pd.DataFrame, lsoas: pd.DataFrame, origin_col: str
) -> pd.DataFrame:
    """PCN origins as they are; LSOA origins averaged to their PCN, weighted by population."""
    pcn_of_lsoa = dict(zip(lsoas["lsoa_code"], lsoas["pcn_code"], strict=True))
    pcn_codes = set(lsoas["pcn_code"])
    if long["origin"].isin(pcn_codes).all():
        table = long.rename(columns={"origin": "pcn_code"})
    else:
        table = _lsoas_to_pcns(name, long, lsoas, origin_col, pcn_of_lsoa, pcn_codes)
    missing = sorted(pcn_codes - set(table["pcn_code"]))
    if missing:
        raise InputDataError(
            [
                Problem(
                    name,
                    f"has no rows for PCN {p}, so it could reach no site.",
                    column=origin_col,
                    fix="add its rows.",
                )
                for p in missing[:20]
            ]
        )
    return table.sort_values(["pcn_code", "site_id", "band"]).reset_index(drop=True)


def _lsoas_to_pcns(
    name: str,
    long: pd.DataFrame,
    lsoas: pd.DataFrame,
    origin_col: str,
    pcn_of_lsoa: dict[str, str],
    pcn_codes: set[str],
) -> pd.DataFrame:
    unknown = sorted(set(long["origin"]) - set(pcn_of_lsoa) - pcn_codes)
    if unknown:
        raise InputDataError(
            [
                Problem(
                    name,
                    f"origin '{u}' is neither an LSOA nor a PCN code.",
                    column=origin_col,
                    fix="use lsoa_code values from lsoas or pcn_code values from pcns.",
                )
                for u in unknown[:20]
            ]
        )
    pop = lsoas.set_index("lsoa_code")["population"].astype(float)
    long = long.assign(pcn_code=long["origin"].map(pcn_of_lsoa), pop=long["origin"].map(pop))
    size = lsoas.groupby("pcn_code")["lsoa_code"].size()
    counts = long.groupby(["pcn_code", "site_id", "band"])["origin"].nunique()
    partial = counts[counts.to_numpy() != size.reindex(counts.index.get_level_values(0)).to_numpy()]
    if len(partial):
        raise InputDataError(
            [
                Problem(
                    name,
                    f"PCN {p} has travel to site {s} for only {n} of its "
                    f"{size[p]} LSOAs, so it cannot be averaged.",
                    column=origin_col,
                    fix="give every LSOA of the PCN a row for that site, or none.",
                )
                for (p, s, _b), n in list(partial.items())[:20]
            ]
        )
    # Sum in a fixed order (by PCN, site, band, then origin) so row order never moves a digit.
    long = long.sort_values(["pcn_code", "site_id", "band", "origin"], kind="stable")
    long["w"] = long["pop"] * long["travel_km"]
    sums = long.groupby(["pcn_code", "site_id", "band"], as_index=False)[["w", "pop"]].sum()
    sums["travel_km"] = sums["w"] / sums["pop"].where(sums["pop"] > 0)
    return sums[["pcn_code", "site_id", "band", "travel_km"]]
