"""The maps' colour keys, labels and sizes, shared by the data records, the pages and the GIS export.

Kept apart from the records so the GIS layers (:mod:`estates_opt.outputs.gis`) can use
the same colours and session lengths without pulling in the page data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from estates_opt.schema import CATEGORY_LABELS, SESSION_HOURS, SITE_KIND_LABELS

#: Marker fill per site kind: label and colour.
KIND_STYLE: dict[str, tuple[str, str]] = {
    kind: (SITE_KIND_LABELS[kind], colour)
    for kind, colour in (
        ("gp_practice", "#2b8cbe"),
        ("pcn_hub", "#88419d"),
        ("community", "#41ab5d"),
        ("acute", "#d95f0e"),
    )
}
#: Flow line per service category: label, colour and SVG dash pattern.
CATEGORY_STYLE: dict[str, tuple[str, str, str]] = {
    category: (CATEGORY_LABELS[category], colour, dash)
    for category, colour, dash in (
        ("pcn_clinic", "#e7298a", ""),
        ("outpatient_outreach", "#1b9e77", "9 5"),
        ("enhanced_access", "#b8860b", "3 5"),
    )
}
BAND_LABELS = {
    "weekday": "Weekday core (08:00-18:30)",
    "evening": "Weekday evening (18:30-20:00)",
    "saturday": "Saturday (09:00-17:00)",
    "sunday": "Sunday",
}
ROOM_LABELS = {
    "consulting": "consulting",
    "treatment": "treatment",
    "group": "group",
    "diagnostics": "diagnostics",
}
#: Utilisation gauge colours: within capacity, and over it (more booked than the rooms hold).
GAUGE_COLOURS = {"ok": "#252525", "over": "#d7191c", "track": "#ffffff"}
NO_DATA = "#e0e0e0"

POPULATION_COLOURS = ("#fbfbfb", "#e6e6e6", "#cfcfcf", "#b5b5b5", "#969696")
UNMET_COLOURS = ("#ffffff", "#fcbba1", "#fc9272", "#ef3b2c", "#a50f15")
TRAVEL_BREAKS = (-1.0, -0.3, 0.0, 0.3, 1.0)
TRAVEL_COLOURS = ("#01665e", "#5ab4ac", "#c7eae5", "#f6e8c3", "#d8b365", "#8c510a")
TRAVEL_LABELS = (
    "over 1 km shorter",
    "0.3-1 km shorter",
    "up to 0.3 km shorter",
    "up to 0.3 km longer",
    "0.3-1 km longer",
    "over 1 km longer",
)
#: IMD decile 1 (most deprived 10%) ... 10 (least deprived).
IMD_COLOURS = (
    "#a50026",
    "#d73027",
    "#f46d43",
    "#fdae61",
    "#fee090",
    "#e0f3f8",
    "#abd9e9",
    "#74add1",
    "#4575b4",
    "#313695",
)


def marker_radius(capacity_hours: float) -> float:
    """Circle radius (px) growing with the square root of weekly room-hours (area ~ capacity)."""
    return round(3.0 + 1.1 * math.sqrt(max(capacity_hours, 0.0) / 40.0), 1)


def sessions(hours: float, band: str) -> float:
    """Hours per week in ``band`` as sessions (4 h core, 1.5 h evening)."""
    return hours / SESSION_HOURS.get(band, 4.0)


@dataclass(frozen=True)
class Legend:
    """One colour key: (colour, label) pairs, in display order."""

    title: str
    items: list[tuple[str, str]]

    def record(self) -> dict[str, Any]:
        """The legend as a JSON-ready record for the page script."""
        return {"title": self.title, "items": [list(i) for i in self.items]}
