"""What an ``.xlsx`` file is made of before it is written: sheets, cell styles, column letters.

:class:`Sheet` holds a worksheet's rows (already cell XML) and its settings;
:class:`CellStyle` is one cell format. The book (:mod:`.book`) fills them and the
parts (:mod:`.parts`) write them out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: SpreadsheetML paper sizes.
PAPER_A4, PAPER_A3 = 9, 8


def column_letter(index: int) -> str:
    """Excel's letters for a 1-based column number (1 -> A, 27 -> AA)."""
    letters = ""
    while index > 0:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


@dataclass(frozen=True)
class CellStyle:
    """One cell format: number format, header look, alignment and quote prefix.

    ``left`` and ``center`` set the horizontal alignment (else text left, numbers right).
    """

    number_format: str | None = None
    header: bool = False
    wrap: bool = False
    top: bool = False
    left: bool = False
    quote: bool = False
    center: bool = False


@dataclass
class Sheet:
    """One worksheet: rows of cell XML plus the sheet's settings."""

    title: str
    #: ``<row>`` elements (already XML), in order, row 1 first.
    rows: list[str] = field(default_factory=list)
    max_row: int = 0
    max_column: int = 0
    widths: dict[int, float] = field(default_factory=dict)
    heights: dict[int, float] = field(default_factory=dict)
    freeze_header: bool = True
    #: ``A1:K20``: an Excel Table (``table_name``) or, without a name, a plain filter.
    filter_ref: str | None = None
    table_name: str | None = None
    table_columns: list[str] = field(default_factory=list)
    #: (range, [(operator, [formulas], dxf index)]) conditional fills.
    conditional: list[tuple[str, list[tuple[str, list[str], int]]]] = field(default_factory=list)
    footer: str = ""
    #: Print set-up: paper (``PAPER_A4`` or ``PAPER_A3``, landscape), fitted to the page
    #: width or printed at ``scale`` percent, and the columns printed (1..``print_columns``;
    #: 0 prints them all, the others stay in the sheet for filtering).
    paper: int = 9
    fit_width: bool = True
    scale: int = 100
    print_columns: int = 0
