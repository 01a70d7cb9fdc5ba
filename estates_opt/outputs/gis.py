"""GIS extras for ``plan.gpkg``: a moves layer and QGIS styles (the ``layer_styles`` table).

QGIS opens a GeoPackage layer with the style marked ``useAsDefault`` in its
``layer_styles`` table, so a planner who drags ``plan.gpkg`` into QGIS sees
buildings coloured by kind, catchments labelled, flows and moves drawn, with
no styling work. The styles are QML (QGIS's own style format) written here
from the same colours as the web maps.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString

from estates_opt.errors import OutputWriteError
from estates_opt.outputs.files import GPKG_FIXED_DATE, _gdal_config
from estates_opt.outputs.maps.style import CATEGORY_STYLE, KIND_STYLE, sessions
from estates_opt.results.explain import MOVE_COLUMNS
from estates_opt.schema import GEOGRAPHIC_CRS, REHOUSED_CATEGORY

if TYPE_CHECKING:
    from estates_opt.results.plan import Plan

log = logging.getLogger(__name__)

#: Columns of the moves layer, in order: ``move_id`` (the line of moves.csv, 1 for the
#: first), then moves.csv's (what moved, for whom, from where to where, in which band, how
#: many sessions, why, in which phase), with the kind of service (its colour in QGIS) and
#: the PCN's name beside its code.
MOVES_COLUMNS = [
    "move_id",
    *(
        column
        for name in MOVE_COLUMNS
        for column in (
            (name, "category")
            if name == "service"
            else (name, "pcn_name")
            if name == "pcn_code"
            else (name,)
        )
    ),
]

#: Columns of the flows layer, in order: one feature per allocation of the plan (a PCN's
#: service in a building and band), with today's hours there and, where a relocation
#: brings it there, the ``move_id`` (the line of moves.csv, as in the moves layer), its
#: phase and the hours and sessions it moves in; empty where nothing moved.
FLOW_COLUMNS = [
    "pcn_code",
    "pcn_name",
    "service_id",
    "service",
    "category",
    "site_id",
    "site",
    "band",
    "hours_per_week",
    "sessions_per_week",
    "baseline_hours_per_week",
    "move_id",
    "phase",
    "moved_hours_per_week",
    "moved_sessions_per_week",
]

#: The key a flow shares with the moves.csv line (a relocation) that brings it.
_FLOW_KEY = ["service_id", "pcn_code", "site_id", "band"]


def _move_ids(moves: pd.DataFrame) -> pd.Series:
    """Each relocation's line of moves.csv (1 for the first), as written."""
    return pd.Series(np.arange(1, len(moves) + 1), index=moves.index, dtype="int64")


def flows_layer(plan: Plan) -> gpd.GeoDataFrame:
    """One line per allocation with hours, from the PCN's catchment to the building (WGS84).

    A flow that a relocation brings (same service, PCN, building and band as a line of
    moves.csv) carries that line's ``move_id`` and phase; allocations in a building the
    dataset no longer has are left out (there is nowhere to draw them).
    """
    ds = plan.dataset
    crs = ds.pcns.crs
    placed = plan.allocations[plan.allocations["hours_per_week"] > 0]
    premises = ds.premises.drop_duplicates("site_id").set_index("site_id")
    site_pt = premises.geometry
    catchment = ds.pcns.drop_duplicates("pcn_code").set_index("pcn_code").geometry
    placed = placed[
        placed["site_id"].isin(site_pt.index) & placed["pcn_code"].isin(catchment.index)
    ]
    if placed.empty:
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in FLOW_COLUMNS})
        return gpd.GeoDataFrame(empty, geometry=gpd.GeoSeries([], crs=crs)).to_crs(GEOGRAPHIC_CRS)
    flows = placed.groupby(_FLOW_KEY, as_index=False, sort=False)[
        ["hours_per_week", "baseline_hours_per_week"]
    ].sum()
    flows["sessions_per_week"] = [
        sessions(float(h), str(b))
        for h, b in zip(flows["hours_per_week"], flows["band"], strict=True)
    ]
    names = dict(zip(plan.pcn_summary["pcn_code"], plan.pcn_summary["pcn_name"], strict=False))
    services = ds.services.drop_duplicates("service_id").set_index("service_id")
    flows["pcn_name"] = flows["pcn_code"].map(names)
    flows["service"] = flows["service_id"].map(services["name"])
    flows["category"] = flows["service_id"].map(services["category"])
    flows["site"] = flows["site_id"].map(premises["name"])
    moves = plan.moves
    arriving = pd.DataFrame(
        {
            "service_id": moves["service_id"],
            "pcn_code": moves["pcn_code"],
            "site_id": moves["to_site_id"],
            "band": moves["to_band"],
            "move_id": _move_ids(moves),
            "phase": moves["phase"],
            "moved_hours_per_week": moves["hours_per_week"],
            "moved_sessions_per_week": moves["sessions_per_week"],
        }
    )
    flows = flows.merge(arriving, on=_FLOW_KEY, how="left", validate="one_to_one")
    flows["move_id"] = flows["move_id"].astype("Int64")
    flows["phase"] = flows["phase"].astype("Int64")
    flows = flows.sort_values(["pcn_code", "service_id", "site_id", "band"], kind="stable")
    start = catchment.representative_point().reindex(flows["pcn_code"].to_numpy()).to_numpy()
    end = site_pt.reindex(flows["site_id"].to_numpy()).to_numpy()
    coords = np.stack(
        [
            shapely.get_coordinates(shapely.point_on_surface(start)),
            shapely.get_coordinates(shapely.point_on_surface(end)),
        ],
        1,
    )
    frame = gpd.GeoDataFrame(
        flows[FLOW_COLUMNS].reset_index(drop=True), geometry=shapely.linestrings(coords), crs=crs
    )
    return frame.to_crs(GEOGRAPHIC_CRS)


def moves_layer(plan: Plan) -> gpd.GeoDataFrame:
    """One line per relocation (a line of moves.csv), from the building it leaves (its
    largest source, ``from_site``; ``from_sites`` lists them all) to the one it goes to (WGS84).

    A move out of a building the scenario closes starts at its PCN's catchment
    (the closed building is no longer in the dataset).
    """
    ds = plan.dataset
    moves = plan.moves.copy()
    crs = ds.premises.crs
    if moves.empty:
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in MOVES_COLUMNS})
        return gpd.GeoDataFrame(empty, geometry=gpd.GeoSeries([], crs=crs)).to_crs(GEOGRAPHIC_CRS)
    names = dict(zip(plan.pcn_summary["pcn_code"], plan.pcn_summary["pcn_name"], strict=False))
    category = ds.services.set_index("service_id")["category"]
    moves["pcn_name"] = moves["pcn_code"].map(names)
    moves["category"] = moves["service_id"].map(category)
    if "sessions_per_week" not in moves.columns:
        moves["sessions_per_week"] = [
            sessions(float(h), str(b))
            for h, b in zip(moves["hours_per_week"], moves["to_band"], strict=True)
        ]
    site = ds.premises.set_index("site_id").geometry
    catchment = ds.pcns.set_index("pcn_code").geometry.representative_point()
    moves["move_id"] = _move_ids(moves)
    frame = gpd.GeoDataFrame(
        moves.reindex(columns=MOVES_COLUMNS), geometry=_move_lines(moves, site, catchment), crs=crs
    )
    frame = frame[frame.geometry.notna()].sort_values(
        ["pcn_code", "sessions_per_week", "service_id"], ascending=[True, False, True]
    )
    return frame.to_crs(GEOGRAPHIC_CRS)


def _move_lines(moves: pd.DataFrame, site: gpd.GeoSeries, catchment: gpd.GeoSeries) -> list:
    """Each move's line from its building (else its PCN's catchment) to the one it goes to."""
    site = site[~site.index.duplicated()]
    catchment = catchment[~catchment.index.duplicated()]
    start = site.reindex(moves["from_site_id"].to_numpy()).to_numpy()
    fallback = catchment.reindex(moves["pcn_code"].to_numpy()).to_numpy()
    start = np.where(shapely.is_missing(start), fallback, start)
    end = site.reindex(moves["to_site_id"].to_numpy()).to_numpy()
    points = np.concatenate([start, end])
    if not (shapely.get_type_id(points[~shapely.is_missing(points)]) == 0).all():
        return [  # not all points: join whatever the shapes are, one by one
            LineString([a, b]) if a is not None and b is not None else None
            for a, b in zip(start, end, strict=True)
        ]
    ok = ~(shapely.is_missing(start) | shapely.is_missing(end))
    lines = np.full(len(moves), None, dtype=object)
    if ok.any():
        coords = np.stack([shapely.get_coordinates(start[ok]), shapely.get_coordinates(end[ok])], 1)
        lines[ok] = shapely.linestrings(coords)
    return list(lines)


# --- QGIS styles -----------------------------------------------------------------


def _rgb(colour: str, alpha: int = 255) -> str:
    colour = colour.lstrip("#")
    r, g, b = (int(colour[i : i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},{alpha}"


def _options(values: dict[str, str]) -> str:
    inner = "".join(
        f'<Option name="{html.escape(k)}" type="QString" value="{html.escape(v)}"/>'
        for k, v in values.items()
    )
    return f'<Option type="Map">{inner}</Option>'


def _symbol(kind: str, name: str, colour: str, *, dash: str = "", width: str = "0.6") -> str:
    if kind == "marker":
        layer = (
            "SimpleMarker",
            {
                "name": "circle",
                "color": _rgb(colour),
                "outline_color": "255,255,255,255",
                "outline_width": "0.3",
                "size": "2.8",
            },
        )
    elif kind == "line":
        line = {"line_color": _rgb(colour, 200), "line_width": width, "capstyle": "round"}
        if dash:
            line |= {"use_custom_dash": "1", "customdash": dash.replace(" ", ";")}
        layer = "SimpleLine", line
    else:
        layer = (
            "SimpleFill",
            {
                "color": _rgb(colour, 60),
                "outline_color": "60,60,60,255",
                "outline_width": "0.4",
                "style": "solid",
            },
        )
    cls, options = layer
    return (
        f'<symbol type="{kind}" name="{name}" alpha="1" clip_to_extent="1" force_rhr="0">'
        f'<layer class="{cls}" enabled="1" locked="0" pass="0">{_options(options)}</layer>'
        "</symbol>"
    )


def _categorised(attribute: str, kind: str, styles: dict[str, tuple[str, str, str]]) -> str:
    categories, symbols = [], []
    for i, (value, (label, colour, dash)) in enumerate(styles.items()):
        categories.append(
            f'<category render="true" symbol="{i}" value="{html.escape(value)}" '
            f'label="{html.escape(label)}"/>'
        )
        symbols.append(_symbol(kind, str(i), colour, dash=dash, width="0.8"))
    return (
        f'<renderer-v2 type="categorizedSymbol" attr="{attribute}" symbollevels="0" '
        f'enableorderby="0" forceraster="0"><categories>{"".join(categories)}</categories>'
        f"<symbols>{''.join(symbols)}</symbols></renderer-v2>"
    )


def _single(kind: str, colour: str) -> str:
    return (
        '<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" forceraster="0">'
        f"<symbols>{_symbol(kind, '0', colour)}</symbols></renderer-v2>"
    )


def _labels(field: str) -> str:
    return (
        '<labeling type="simple"><settings calloutType="simple">'
        f'<text-style fieldName="{field}" fontSize="8" textColor="40,40,40,255" '
        'isExpression="0"><text-buffer bufferDraw="1" bufferSize="0.8" '
        'bufferColor="255,255,255,255"/></text-style><placement placement="1"/>'
        "</settings></labeling>"
    )


def _qml(renderer: str, labels: str = "") -> str:
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>"
        '<qgis version="3.28.0" styleCategories="Symbology|Labeling">'
        f"{renderer}{labels}<labelsEnabled>{1 if labels else 0}</labelsEnabled></qgis>"
    )


def layer_qml() -> dict[str, tuple[str, str]]:
    """The style of each ``plan.gpkg`` layer: (description, QML), so QGIS opens it styled."""
    kinds = {k: (label, colour, "") for k, (label, colour) in KIND_STYLE.items()}
    # Fixed work rehoused from a closed building moves and flows too: drawn, in grey.
    categories = dict(CATEGORY_STYLE) | {REHOUSED_CATEGORY: ("Fixed work rehoused", "#666666", "")}
    return {
        "sites": ("Buildings coloured by kind", _qml(_categorised("kind", "marker", kinds))),
        "pcns": ("PCN catchments, named", _qml(_single("fill", "#bdbdbd"), _labels("pcn_name"))),
        "flows": (
            "Where each PCN's sessions run with the plan, coloured by kind of service",
            _qml(_categorised("category", "line", categories)),
        ),
        "moves": (
            "What moved, coloured by kind of service",
            _qml(_categorised("category", "line", categories)),
        ),
    }


def write_layer_styles(path: Path, layers: dict[str, gpd.GeoDataFrame]) -> None:
    """Add QGIS's ``layer_styles`` table to a GeoPackage: one default style per layer."""
    styles = layer_qml()
    rows = [
        {
            "f_table_catalog": "",
            "f_table_schema": "",
            "f_table_name": name,
            "f_geometry_column": "geom",
            "styleName": f"estates-opt {name}",
            "styleQML": styles[name][1],
            "styleSLD": "",
            "useAsDefault": True,
            "description": styles[name][0],
            "owner": "estates-opt",
            "ui": "",
            "update_time": "2000-01-01T00:00:00Z",
        }
        for name in layers
        if name in styles
    ]
    if not rows:
        return
    import pyogrio

    try:
        # The same fixed date as the other layers: the same plan gives the same bytes.
        with _gdal_config(OGR_CURRENT_DATE=GPKG_FIXED_DATE):
            pyogrio.write_dataframe(pd.DataFrame(rows), path, layer="layer_styles", driver="GPKG")
    except Exception as exc:  # GDAL reports a full disk as its own error types
        raise OutputWriteError(path, exc) from None
    log.info("wrote QGIS styles for %d layers to %s", len(rows), path)
