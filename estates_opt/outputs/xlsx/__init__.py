"""A small, fast ``.xlsx`` writer: whole columns to SpreadsheetML text, no cell objects.

The planner's workbook at England scale has about a million cells; a general
library that builds a Python object per cell (and a style per object) took 20 s
to write it. This writer knows only what the workbook needs and turns each
column of a table into cell XML in one pass, with a handful of shared styles:

* cell styles: a bold white-on-blue header, number formats, top alignment with
  or without wrapping, and Excel's *quote prefix* for text that looks like a
  formula (so it is stored, shown and edited as text, never run);
* per sheet: column widths, row heights, a frozen header row, an Excel Table
  (filter buttons, banded rows) or a plain filter, conditional fills, and the
  print set-up (A4 or A3 landscape, one page wide or a set scale, a print area of
  the first columns, header row repeated on every page, margins, a footer with the
  sheet name and page number);
* fixed document and zip dates, so the same content gives the same bytes.

Text cells are inline strings (``t="inlineStr"``), XML-escaped; the caller
removes control characters XML cannot hold (see ``estates_opt.text``). Excel's
limits are kept, as a file beyond them is one Excel offers to "repair": text longer
than a cell holds (32,767 characters) is cut to fit, ending "… (cut: N characters)",
and no row is taller than 409 points.

:mod:`.sheet` holds what a sheet is made of, :mod:`.book` fills it and zips the
file, :mod:`.parts` writes the XML of each part.
"""

from estates_opt.outputs.xlsx.book import Book, frame_values
from estates_opt.outputs.xlsx.sheet import PAPER_A3, PAPER_A4, CellStyle, Sheet, column_letter

__all__ = ["PAPER_A3", "PAPER_A4", "Book", "CellStyle", "Sheet", "column_letter", "frame_values"]
