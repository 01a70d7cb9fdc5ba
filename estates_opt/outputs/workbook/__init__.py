"""The planner's workbook: a plan as ``plan.xlsx`` for checking and taking into a spreadsheet.

Sheets: Summary, Moves, Utilisation, PCNs, Bottlenecks, Assumptions (and
any later sheet, such as Phases). Each table sheet has readable headers, set
column widths, number formats (percent for utilisation, ``0.0`` for hours,
pounds for prices), a frozen header row and is an Excel Table (filters,
banded rows); utilisation is coloured (over capacity red, above 85% amber,
under 40% blue). Every sheet prints landscape at a readable scale (at
least :data:`MIN_PRINT_SCALE` of 11 pt): on A4 fitted to the page width where
that allows it, else on A3; wide sheets put the columns a person reads first
and print only those (:data:`READING_ORDER`), headers wrap onto several lines
over narrow number columns, the header row repeats on each page and a footer
names the sheet and page. Text that comes from input data can never become a formula:
a string starting with ``= + - @`` (or a tab or carriage return) is stored as
text with Excel's quote prefix. The file is written atomically.

The file is written by :mod:`estates_opt.outputs.xlsx`, which turns whole
columns into SpreadsheetML at once (no object per cell), so every row of every
table is in the workbook even at England scale (about a million cells in 2 s).

Here: :mod:`.formats` (headers, number formats, cell values), :mod:`.layout` (widths,
row heights, printing), :mod:`.summary` (the Summary and Assumptions rows),
:mod:`.sheets` (each kind of sheet) and :mod:`.write` (the workbook put together).
"""

from estates_opt.outputs.workbook.formats import number_format, safe_text
from estates_opt.outputs.workbook.layout import (
    MIN_PRINT_SCALE,
    POINTS_PER_WIDTH,
    PRINTABLE_POINTS,
    print_setup,
)
from estates_opt.outputs.workbook.sheets import table_sheet
from estates_opt.outputs.workbook.summary import summary_rows
from estates_opt.outputs.workbook.write import write_workbook
from estates_opt.text import FORMULA_PREFIXES

__all__ = [
    "FORMULA_PREFIXES",
    "MIN_PRINT_SCALE",
    "POINTS_PER_WIDTH",
    "PRINTABLE_POINTS",
    "number_format",
    "print_setup",
    "safe_text",
    "summary_rows",
    "table_sheet",
    "write_workbook",
]
