"""Checking a dataset's optional ``basemap/`` folder, the background the maps draw.

The maps read these layers only after the whole solve, so a truncated layer or a licence
note that is not UTF-8 must be found here, when the dataset is read: ``validate`` and
``solve`` then refuse it before solving, naming the file.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from estates_opt.errors import Problem
from estates_opt.inputs.files import read_text_note
from estates_opt.inputs.geojson import read_geo_table
from estates_opt.paths import exists_as_something, kind_of
from estates_opt.schema import BASEMAP_FOLDER, BASEMAP_LAYERS

#: The basemap's licence note, shown with the dataset's own attribution on every map page.
BASEMAP_ATTRIBUTION = "ATTRIBUTION.txt"


def basemap_problems(directory: Path) -> list[Problem]:
    """What is wrong with ``directory``'s basemap layers and note (none without a folder).

    Each layer the maps draw must be a readable GeoJSON FeatureCollection (it may have no
    features) and the note UTF-8 text; files the maps do not read are not looked at.
    """
    folder = directory / BASEMAP_FOLDER
    if not folder.is_dir():
        return []
    problems: list[Problem] = []
    for layer in BASEMAP_LAYERS:
        path = folder / f"{layer}.geojson"
        label = f"{BASEMAP_FOLDER}/{path.name}"
        what = kind_of(path)
        if what is None:  # a regular file: read it as the maps will
            frame, found = read_geo_table(path, allow_empty=True)  # an area may have no rail
            problems += [replace(p, file=label) for p in found]
            if frame is not None and "geometry" not in frame:
                problems.append(
                    Problem(label, "has no geometry.", fix="export the layer again as GeoJSON.")
                )
        elif exists_as_something(path):
            problems.append(
                Problem(
                    label,
                    f"is {what}.",
                    fix="put the layer's GeoJSON file there, or remove it (the maps then "
                    "draw no such layer).",
                )
            )
    note = folder / BASEMAP_ATTRIBUTION
    if kind_of(note) is None:
        _, problem = read_text_note(note, f"{BASEMAP_FOLDER}/{BASEMAP_ATTRIBUTION}")
        if problem is not None:
            problems.append(problem)
    return problems
