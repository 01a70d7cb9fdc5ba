"""Copies of a real dataset side by side: a bigger instance with the real one's structure.

The benchmark's "20x NEL" is 20 copies of ``geodata/nel`` laid out on a grid
70 km apart (so no copy's sites are in reach of another's; each copy is an
independent block of the model), every id suffixed ``_2``, ``_3``... after the
first copy. Services are shared: they are a catalogue, not places.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from estates_opt.schema import PROJECTED_CRS
from estates_opt.synthetic.files import cached_folder, write_dataset

#: Columns holding an id that another file refers to (suffixed per copy).
ID_COLUMNS = (
    "site_id",
    "pcn_code",
    "catchment_pcn_code",
    "hub_site_id",
    "lsoa_code",
    "ods_code",
    "borough",
    "borough_code",
)
#: Name columns suffixed too, so copies read apart in outputs.
NAME_COLUMNS = ("pcn_name", "lsoa_name")
#: Grid spacing between copies (metres, British National Grid) and copies per grid row.
SPACING_M, PER_ROW = 70_000.0, 5
#: Version of this module's output, for the cache marker.
REPLICA_VERSION = "1"


def _suffixed(frame: pd.DataFrame, suffix: str) -> pd.DataFrame:
    out = frame.copy()
    for column in (*ID_COLUMNS, *NAME_COLUMNS):
        if column in out.columns:
            values = out[column]
            present = values.notna() & (values.astype(str) != "")
            out[column] = values.where(~present, values.astype(str) + suffix)
    return out


def _nulls_as_none(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Missing properties as None (JSON null), not NaN (which JSON does not allow)."""
    out = frame.copy()
    for column in out.columns:
        if column != out.geometry.name and out[column].isna().any():
            out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out


def replicate_tables(source: str | Path, copies: int) -> dict[str, pd.DataFrame]:
    """The dataset in ``source`` repeated ``copies`` times (ids suffixed, shapes shifted)."""
    source = Path(source)
    tables: dict[str, list[pd.DataFrame]] = {}
    for path in sorted(source.iterdir()):
        if path.suffix == ".csv":
            frame: pd.DataFrame = pd.read_csv(path, dtype=str, keep_default_na=False)
        elif path.suffix == ".geojson":
            frame = _nulls_as_none(gpd.read_file(path, engine="pyogrio").to_crs(PROJECTED_CRS))
        else:
            continue
        name = path.stem
        for k in range(copies):
            if name == "services":
                if k == 0:
                    tables[name] = [frame]
                continue
            copy = _suffixed(frame, f"_{k + 1}") if k else frame.copy()
            if isinstance(copy, gpd.GeoDataFrame):
                dx = -(k % PER_ROW) * SPACING_M
                dy = (k // PER_ROW) * SPACING_M
                copy = copy.set_geometry(copy.geometry.translate(dx, dy))
            tables.setdefault(name, []).append(copy)
    out: dict[str, pd.DataFrame] = {}
    for name, parts in tables.items():
        joined = pd.concat(parts, ignore_index=True)
        if isinstance(parts[0], gpd.GeoDataFrame):
            joined = gpd.GeoDataFrame(joined, geometry=parts[0].geometry.name, crs=PROJECTED_CRS)
        out[name] = joined
    return out


def replicated_dataset(source: str | Path, copies: int, cache: str | Path) -> Path:
    """The folder of ``copies`` copies of ``source``, written once under ``cache``."""
    source = Path(source)
    target = Path(cache) / f"{source.name}-x{copies}"

    def write(staging: Path) -> None:
        write_dataset(replicate_tables(source, copies), staging)
        (staging / "ATTRIBUTION.txt").write_text(
            f"{copies} copies of {source.name}, shifted apart (estates_opt.synthetic.replicate)."
            "\n\n" + (source / "ATTRIBUTION.txt").read_text(encoding="utf-8"),
            encoding="utf-8",
        )

    return cached_folder(target, REPLICA_VERSION, write)
