"""The comparison page's charts laid out as numbers, and how a change is judged and shown.

The page (:mod:`.page`) draws each chart as SVG from the records made here: positions,
lengths and labels are worked out in Python, so the template only places them. Whether
a change is better or worse, and how a value reads for people, is decided here too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from estates_opt.outputs.comparison.table import Value, finite_number
from estates_opt.schema import SITE_KINDS

#: Each scenario's colour, the reference first.
PALETTE = ("#005eb8", "#ed8b00", "#009639", "#7c2855", "#41b6e6", "#ffb81c", "#330072", "#768692")
#: How a change is coloured: better, worse, neither.
GOOD, BAD, NEUTRAL = "good", "bad", "neutral"

#: Headline KPIs: what a planner compares first, with a readable label.
HEADLINES = {
    "status": "Solver status",
    "objective": "Objective (all terms)",
    "objective.cost": "Room cost",
    "objective.travel": "Travel (valued)",
    "travel_km_after": "Mean travel after",
    "travel_km_after.deprived_imd_1_2": "Travel, most deprived fifth (IMD 1-2)",
    "travel_km_after.imd_gap_1_2_minus_9_10": "Travel gap, IMD 1-2 minus 9-10",
    "unmet_hours": "Unmet demand",
    "enhanced_access_all_met": "Enhanced access met everywhere",
    "hours_moved": "Hours moved",
    "relocations": "Relocations (clinics moved)",
    "buildings_used_after": "Buildings used after",
    "site_bands_opened": "Buildings opened in a new band",
}
#: Rows charted as "change against the reference" (numbers only).
CHANGE_ROWS = [k for k in HEADLINES if k not in ("status", "enhanced_access_all_met")]


def direction(key: str) -> int:
    """-1 if a lower value is better (cost, travel, unmet, gap), +1 if higher, 0 if neither."""
    if key.startswith(("objective", "unmet_hours", "travel_km")) or key == "gap":
        return -1
    if key == "enhanced_access_all_met":
        return 1
    return 0


def judge(key: str, difference: Value) -> str:
    """Whether a change against the reference is good, bad or neither, for colouring."""
    if isinstance(difference, str) or difference is None:
        return NEUTRAL
    number = finite_number(difference)
    sign = direction(key)
    if number is None or sign == 0 or abs(number) < 5e-5:
        return NEUTRAL
    return GOOD if number * sign > 0 else BAD


def show(value: Value, unit: str, *, change: bool = False) -> str:
    """A value for people: thousands separators, units, signs on changes (−, not -)."""
    number = finite_number(value)
    if number is None:
        return "" if value is None else str(value)
    sign = "+" if change and number > 0 else ("−" if number < 0 else "")
    size = abs(number)
    if unit == "GBP-eq/week":
        text = f"£{size:,.0f}/wk"
    elif unit == "hours/week":
        text = f"{size:,.1f} h/wk"
    elif unit == "km":
        text = f"{size:,.2f} km"
    elif unit == "fraction":
        text = f"{size * 100:.1f} pt" if change else f"{size:.1%}"
    elif unit == "count":
        text = f"{size:,.0f}"
    else:
        text = f"{size:,.4g}"
    return sign + text


def _label(key: str) -> str:
    return HEADLINES.get(key, key)


def _nice(value: float) -> float:
    return _nice_ceiling(value) if value > 0 else 1.0


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x a power of ten at or above ``value`` (axis maximum)."""
    if not value > 0 or not math.isfinite(value):
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= value - 1e-12)


def _text_px(text: str, size: float = 11) -> float:
    """Rough width (px) of a chart label in the page's sans-serif at ``size`` px."""
    return len(text) * size * 0.56


def _change_chart(table: pd.DataFrame, names: Sequence[str]) -> dict[str, Any] | None:
    """Each headline KPI's change against the reference: one scale per KPI, centred on 0."""
    others = names[1:]
    if not others:
        return None
    half, row_h, label_w = 230.0, 20, 300
    panels, y = [], 28
    for key in CHANGE_ROWS:
        if key not in table.index:
            continue
        unit = str(table.at[key, "unit"])
        diffs = [finite_number(table.at[key, f"{n} - {names[0]}"]) for n in others]
        if all(d is None for d in diffs):
            continue
        scale = _nice(max(abs(d) for d in diffs if d is not None))
        bars = []
        for i, (name, d) in enumerate(zip(others, diffs, strict=True)):
            if d is None:
                continue
            w = half * abs(d) / scale
            text = show(d, unit, change=True)
            # A fall's label goes left of its bar unless it would run into the measure's
            # name; then right of the zero line, where rises' labels go.
            left_of_bar = d < 0 and _text_px(f"{name} {text}") <= half - w - 8
            bars.append(
                {
                    "x": label_w + half - (w if d < 0 else 0),
                    "y": y + i * row_h,
                    "w": max(w, 1.0),
                    "text": text,
                    "tx": label_w + half + (-w - 4 if left_of_bar else (w if d >= 0 else 0) + 4),
                    "anchor": "end" if left_of_bar else "start",
                    "css": judge(key, d),
                    "name": name,
                }
            )
        height = row_h * len(others)
        panels.append(
            {
                "label": _label(key),
                "y": y,
                "h": height,
                "bars": bars,
                "scale": show(scale, unit, change=True),
                "mscale": show(-scale, unit, change=True),
            }
        )
        y += height + 22
    return {
        "width": label_w + 2 * half + 230,
        "height": y + 10,
        "panels": panels,
        "mid": label_w + half,
        "left": label_w,
        "right": label_w + 2 * half,
        "legend": [(n, PALETTE[(i + 1) % len(PALETTE)]) for i, n in enumerate(others)],
    }


def _dot_chart(
    table: pd.DataFrame, names: Sequence[str], rows: Sequence[tuple[str, str]]
) -> dict[str, Any] | None:
    """Values per scenario on an axis fitted to the data (not 0-100%), so differences show."""
    values = [
        (label, [finite_number(table.at[key, n]) if key in table.index else None for n in names])
        for key, label in rows
    ]
    numbers = [v for _, vs in values for v in vs if v is not None]
    if not numbers:
        return None
    low, high = min(numbers), max(numbers)
    pad = max((high - low) * 0.15, 0.01)
    low = math.floor((low - pad) * 20) / 20
    high = math.ceil((high + pad) * 20) / 20
    left, width, row_h = 170, 640, 26
    ticks = [low + (high - low) * i / 5 for i in range(6)]

    def x(v: float) -> float:
        return left + width * (v - low) / (high - low)

    lines = []
    for i, (label, vs) in enumerate(values):
        y = 30 + i * row_h
        dots = [
            {
                "x": x(v),
                "colour": PALETTE[j % len(PALETTE)],
                "name": names[j],
                "text": f"{v:.1%}",
                "ref": j == 0,
            }
            for j, v in enumerate(vs)
            if v is not None
        ]
        lines.append({"label": label, "y": y, "dots": dots})
    return {
        "width": left + width + 40,
        "height": 30 + row_h * len(values) + 30,
        "left": left,
        "right": left + width,
        "bottom": 30 + row_h * len(values) - 8,
        "ticks": [{"x": x(t), "text": f"{t:.0%}"} for t in ticks],
        "lines": lines,
    }


def _line_chart(table: pd.DataFrame, names: Sequence[str]) -> dict[str, Any] | None:
    """Mean travel after by IMD decile, one line per scenario, the axis fitted to the data."""
    deciles = list(range(1, 11))
    series = [
        [
            finite_number(table.at[f"travel_km_after.imd_{d}", n])
            if f"travel_km_after.imd_{d}" in table.index
            else None
            for d in deciles
        ]
        for n in names
    ]
    numbers = [v for vs in series for v in vs if v is not None]
    if not numbers:
        return None
    step = _nice(max((max(numbers) - min(numbers)) / 4, 0.05))
    low = math.floor(min(numbers) / step) * step
    high = math.ceil(max(numbers) / step) * step
    high = high if high > low else low + step
    left, top, width, height = 60, 20, 700, 220

    def px(i: int) -> float:
        return left + width * i / 9

    def py(v: float) -> float:
        return top + height - height * (v - low) / (high - low)

    ticks = []
    t = low
    while t <= high + 1e-9:
        ticks.append({"y": py(t), "text": f"{t:.2f} km"})
        t += step
    lines = []
    for j, vs in enumerate(series):
        points = [(px(i), py(v)) for i, v in enumerate(vs) if v is not None]
        lines.append(
            {
                "name": names[j],
                "colour": PALETTE[j % len(PALETTE)],
                "points": " ".join(f"{a:.1f},{b:.1f}" for a, b in points),
                "dots": [{"x": a, "y": b} for a, b in points],
            }
        )
    return {
        "width": left + width + 40,
        "height": top + height + 60,
        "left": left,
        "right": left + width,
        "top": top,
        "bottom": top + height,
        "ticks": ticks,
        "deciles": [{"x": px(i), "text": str(d)} for i, d in enumerate(deciles)],
        "lines": lines,
    }


def chart_data(table: pd.DataFrame, names: Sequence[str]) -> dict[str, Any]:
    """Every chart of the page laid out as numbers, for the template (``None``: no chart)."""
    kinds = [k for k in SITE_KINDS if f"utilisation_after.{k}.weekday" in table.index]
    label = {
        "gp_practice": "GP practices",
        "pcn_hub": "PCN hubs",
        "community": "Community",
        "acute": "Acute hospitals",
    }
    dots = [
        (
            f"{title}, by kind of building",
            _dot_chart(
                table, names, [(f"utilisation_after.{k}.{band}", label.get(k, k)) for k in kinds]
            ),
        )
        for title, band in (
            ("Weekday utilisation after", "weekday"),
            ("Utilisation after, all bands", "all_bands"),
        )
    ]
    return {
        "names": list(names),
        "change": _change_chart(table, names),
        "dots": dots,
        "travel": _line_chart(table, names),
        "palette": PALETTE,
    }
