"""How big the workbook's columns and rows are and how each sheet prints.

Widths come from the values and the header pieces, wrapped text makes rows taller
(LibreOffice does not grow them), the columns a person reads come first, and
:func:`print_setup` picks the paper and scale so print stays readable.
"""

from __future__ import annotations

import functools
import re

import pandas as pd

from estates_opt.outputs.xlsx import PAPER_A3, PAPER_A4, Sheet

#: Widest a table column gets (characters); longer names wrap. The "Why" text wraps at 32.
MAX_WIDTH, WHY_WIDTH = 30, 32
#: Narrowest a table column gets (characters); headers wrap between words and after / or -.
MIN_WIDTH = 8
#: Printing: the smallest scale a sheet is printed at (x 11 pt: at least 7.7 pt text), the
#: points one unit of column width takes when printed at 100% (LibreOffice and Excel, with a
#: little to spare) and the printable width of A4 and A3 landscape within the margins.
MIN_PRINT_SCALE = 0.7
POINTS_PER_WIDTH = 7.1
PRINTABLE_POINTS = {PAPER_A4: 841.89 - 0.8 * 72, PAPER_A3: 1190.55 - 0.8 * 72}


#: The columns a person reads, in the order they read them: these come first in a sheet.
#: In the sheets of :data:`PRINT_READING_ONLY` only these are printed (the print area);
#: the others (codes, ids, counts, the largest source alone, travel) follow them, for
#: filtering. A printed move says who, what, from where (every source, with its hours),
#: to where, how many sessions, in which phase and why: what a team acts on.
READING_ORDER = {
    "Moves": [
        "pcn_name",
        "service",
        "from_sites",
        "to_site",
        "to_band",
        "sessions_per_week",
        "phase",
        "why",
    ],
    "PCNs": [
        "pcn_name",
        "borough",
        "registered_patients",
        "demand_hours",
        "met_hours",
        "unmet_hours",
        "travel_before_km",
        "travel_after_km",
        "hours_moved",
        "enhanced_access_contract_met",
        "enhanced_access_evening_hours",
        "enhanced_access_saturday_hours",
        "enhanced_access_total_shortfall_hours",
    ],
    "Utilisation": ["name", "kind", "room_type", "band"],
    "Bottlenecks": [
        "name",
        "kind",
        "room_type",
        "band",
        "capacity_hours",
        "cap",
        "after_hours",
        "after_utilisation",
        "shadow_price_gbp_per_room_hour",
        "fixed_hours",
        "room_hours_before_saving",
    ],
}
PRINT_READING_ONLY = frozenset({"Moves", "PCNs", "Bottlenecks"})

#: Set widths of some columns of a sheet (characters); text in them wraps at that width.
#: The printed Moves fit A4 landscape at :data:`MIN_PRINT_SCALE` (the sources, one a
#: line, get the room); a PCN's name (NEL's longest: 39 capitals) reads on one line.
SET_WIDTHS: dict[str, dict[str, float]] = {
    "Moves": {
        "pcn_name": 16,
        "service": 18,
        "from_sites": 45,
        "to_site": 17,
        "to_band": 8,
        "sessions_per_week": 9,
        "phase": 7,
        "why": 36,
    },
    "PCNs": {"pcn_name": 44},
}
#: Columns shown centred: a right-aligned phase number would touch the "Why" text beside it.
CENTRED = frozenset({"phase"})


#: Height of one line of wrapped text (points).
LINE_HEIGHT = 14.5


#: Widths of characters (digit widths, about the wider of Calibri and of DejaVu Sans, which
#: LibreOffice prints Calibri with when it is not installed); any other character: 1.
_WIDTHS = (
    dict.fromkeys("ijl.,:;'|!", 0.5)
    | dict.fromkeys("frt()-/", 0.7)
    | dict.fromkeys("IJ", 0.65)
    | dict.fromkeys("sz", 0.85)
    | dict.fromkeys("abcdeghknopquvxy", 0.97)
    | dict.fromkeys("EFLPSTYZ", 1.0)
    | dict.fromkeys("ABCKRVX", 1.12)
    | dict.fromkeys("DGHNOQU", 1.28)
    | dict.fromkeys("mw&", 1.5)
    | dict.fromkeys("MW%", 1.75)
)


def _text_width(text: str, *, bold: bool = False) -> float:
    """About how many column-width units (digit widths) ``text`` takes when printed.

    Letters differ (i and l are half a digit, M and W near two), bold is a little
    wider; erring a little wide, so a row is never too short for its wrapped text.
    """
    width = sum(_WIDTHS.get(ch, 1.0) for ch in text)
    return width * 1.1 if bold else width


@functools.lru_cache(maxsize=1 << 16)
def _word_width(word: str) -> float:
    """:func:`_text_width` of a word, remembered: words repeat (a million cells at England)."""
    return _text_width(word)


def wrapped_lines(text: str, width: float) -> int:
    """Lines a text takes wrapped at ``width`` characters (words kept whole, line breaks kept)."""
    return sum(_wrapped_line_count(line, width) for line in text.split("\n"))


def _wrapped_line_count(text: str, width: float) -> int:
    """Lines one line of text (no line break in it) takes wrapped at ``width``.

    A word longer than a line is split where it does not fit, as a spreadsheet does.
    """
    count, used, room = 1, 0.0, max(width - 0.25, 1.0)
    for word in text.split():
        need = _word_width(word) + (0.5 if used else 0)
        if used and used + need > room:
            count, used, need = count + 1, 0.0, _word_width(word)
        while need > room:
            count, need = count + 1, need - room
        used += need
    return count


def _header_pieces(label: str) -> list[str]:
    """The pieces a header may wrap between: words, also after a hyphen."""
    return [p for p in re.split(r"\s+|(?<=-)", label) if p]


def column_width(label: str, texts: list[str]) -> float:
    """A column's width: its longest value (cut at 30) or header piece, with a margin.

    Headers wrap, so a long header over short numbers makes a narrow column of
    several header lines rather than a wide one.
    """
    longest = max((min(len(t), 30) for t in texts), default=0)
    piece = max((len(p) for p in _header_pieces(label)), default=0) + 1  # bold is wider
    return float(min(max(MIN_WIDTH, longest + 2, piece + 2), 60))


def header_lines(label: str, width: float) -> int:
    """Lines a wrapped bold header takes in a column ``width`` characters wide.

    Words wrap at spaces and after a hyphen (no space is needed there); a word
    longer than the line is split where it does not fit, as a spreadsheet does.
    """
    count, used, room = 1, 0.0, max(width - 1, 1.0)
    for word in label.split():
        for k, piece in enumerate(re.split(r"(?<=-)", word)):
            need = _text_width(piece, bold=True) + (0.5 if used and k == 0 else 0)
            if used and used + need > room:
                count, used = count + 1, 0.0
                need = _text_width(piece, bold=True)
            while need > room:
                count, need = count + 1, need - room
            used += need
    return count


def reading_order(title: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the columns a person reads (:data:`READING_ORDER`) first."""
    first = [c for c in READING_ORDER.get(title, []) if c in frame.columns]
    return frame[first + [c for c in frame.columns if c not in first]]


def print_setup(sheet: Sheet, columns: int, printed: int = 0) -> None:
    """Paper, scale and print area, so that every printed column reads at
    :data:`MIN_PRINT_SCALE` or more.

    The first ``printed`` of the sheet's ``columns`` are printed (0: all of them),
    on A4 landscape fitted to the width where that allows the scale, else on A3. A
    sheet too wide even for A3 prints at the minimum scale, its columns split across
    pages with the header row on each.
    """
    printed = printed if 0 < printed < columns else columns
    if printed < columns:
        sheet.print_columns = printed
    need = sum(sheet.widths.get(j, 8.43) for j in range(1, printed + 1)) * POINTS_PER_WIDTH
    for paper in (PAPER_A4, PAPER_A3):
        if PRINTABLE_POINTS[paper] >= need * MIN_PRINT_SCALE:
            sheet.paper = paper
            return
    sheet.paper = PAPER_A3
    sheet.fit_width = False
    sheet.scale = round(MIN_PRINT_SCALE * 100)
