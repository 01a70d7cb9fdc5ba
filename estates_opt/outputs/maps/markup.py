"""Escaping and number formatting for the HTML written in Python (panels, titles, the index).

Every string from the data is escaped here before it reaches a page; numbers that are
missing or not numbers show as an en dash.
"""

from __future__ import annotations

import html
from typing import Any

from estates_opt.text import escape_control


def esc(value: Any) -> str:
    """``value`` as HTML-escaped text (None as the empty string)."""
    # control characters (an ESC in ATTRIBUTION.txt) as text: `cat page.html` stays inert
    return html.escape(escape_control("" if value is None else str(value), keep="\n"))


def num(value: Any, digits: int = 0) -> str:
    """``value`` with thousands separators and ``digits`` decimals, or an en dash."""
    if value is None:
        return "&ndash;"
    try:
        return f"{float(value):,.{digits}f}"
    except (TypeError, ValueError):
        return "&ndash;"
