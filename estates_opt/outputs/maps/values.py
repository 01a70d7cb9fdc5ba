"""Plan-table cells -> JSON-safe numbers and text, shared by every record builder.

Plan tables carry NaN, None and numpy scalars; the browser's payload must hold only
finite rounded numbers, ``null`` and strings.
"""

from __future__ import annotations

import math
from typing import Any

#: Hours below this are solver noise, not an allocation.
EPS = 1e-6


def to_num(value: Any, digits: int = 1) -> float | None:
    """``value`` rounded to ``digits``, or None if it is missing or not a finite number."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return round(x, digits) if math.isfinite(x) else None


def to_text(value: Any) -> str:
    """``value`` as a string, with None and NaN as the empty string."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)
